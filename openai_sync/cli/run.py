"""`openai-sync sync` and `openai-sync resync`: a run's settings resolved into its configuration, the run,
and its outcome printed (a summary table, or one JSON object) with an exit code that agrees with it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..outcome import attempt, sync_config
from .common import (
    INTERRUPTED,
    All,
    AsJson,
    AuditLookback,
    BaseUrl,
    Budget,
    Command,
    Concurrency,
    ConfigPath,
    Connection,
    Destination,
    Exclude,
    History,
    HistoryOff,
    Lookback,
    MaxRequests,
    Parallel,
    Reconcile,
    Schema,
    Start,
    StateDir,
    Tables,
    Width,
    Yes,
    _fail,
    _flags,
    _resolve,
    app,
    interrupted,
    on_interrupt,
)

if TYPE_CHECKING:  # the runner imports dlt and the SDK: loaded when a sync starts, not for `--help`
    from ..runner import RunReport, SyncConfig


def run_sync(cfg: SyncConfig, as_json: bool) -> tuple[int, RunReport | None]:
    """Run one sync and print its outcome; returns (exit code, the run's report)."""
    from ..report import Progress, summary_table

    err = Console(stderr=True)
    try:
        if not as_json and err.is_terminal:
            with Progress(err) as prog:
                done = attempt(cfg, prog)
        else:
            done = attempt(cfg)
    except KeyboardInterrupt:  # dlt's wrapped interrupt, raised bare by attempt (common.on_interrupt)
        raise interrupted(INTERRUPTED, as_json) from None
    if done.report is None:  # nothing written: the sentence, and in JSON its kind (key, busy, config, load, ...)
        if as_json:
            print(json.dumps(done.result))
        raise _fail(done.result["error"], False, done.code)
    run = done.report
    if as_json:
        print(json.dumps(done.result))
    else:
        Console().print(summary_table(done.results))
        for r in done.results:
            if r.error:
                err.print(f"[red]{r.name}:[/] {escape(r.error)}", highlight=False)
        for problem in run.key_problems:
            err.print(f"[red]key:[/] {escape(problem)}", highlight=False)
        for warning in run.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        for note in run.notes:
            err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    return done.code, run


@app.command("sync", cls=Command, epilog="""
Examples (keys come from the environment or the secrets file, never from the command line):

  export OPENAI_ADMIN_KEY=...        # a read-only Admin key, sk-admin-...

  openai-sync sync                                   # everything into ./openai_sync.duckdb

  openai-sync sync --connection prod                 # a connection saved by `openai-sync setup`

  openai-sync sync --destination postgresql://loader@db:5432/analytics --schema openai

  openai-sync sync --tables usage_completions,costs --bucket-width 1h --json

  openai-sync sync --all                             # every connection of the config file, in parallel

Exit codes: 0 every table synced; 1 some table, project or key failed (the others were loaded); 2 bad
key or configuration (nothing was written).
""")
@on_interrupt(INTERRUPTED)
def sync_cmd(
    connection: Connection = None,
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    tables: Tables = None,
    exclude: Exclude = None,
    history: History = None,
    history_off: HistoryOff = None,
    yes: Yes = False,
    reconcile: Reconcile = False,
    concurrency: Concurrency = None,
    time_budget: Budget = None,
    bucket_width: Width = None,
    start_date: Start = None,
    lookback_hours: Lookback = None,
    audit_lookback_minutes: AuditLookback = None,
    state_dir: StateDir = None,
    as_json: AsJson = False,
    every: All = False,
    parallel: Parallel = None,
    max_requests: MaxRequests = None,
) -> None:
    """Sync the organization's tables (audit logs, usage, costs, users, projects, ...) into the destination.

    Settings come from flags, then the environment, then the config file (see `openai-sync setup`).
    Incremental: usage and costs resume where the last run stopped (re-reading the lookback window),
    audit logs from the newest event loaded.
    """
    if every:
        passed = {"--tables": tables, "--exclude": exclude, "--time-budget": time_budget, "--state-dir": state_dir,
                  "--lookback-hours": lookback_hours, "--audit-lookback-minutes": audit_lookback_minutes,
                  "--start-date": start_date, "--bucket-width": bucket_width}
        own = {"--connection": connection, "--base-url": base_url, "--destination": destination, "--schema": schema,
               "--history": history, "--history-off": history_off, "--concurrency": concurrency}
        raise typer.Exit(sync_all(config, passed, own, parallel or 4, max_requests or 32, yes, as_json, reconcile))
    if parallel is not None or max_requests is not None:  # one run has --concurrency; these are for --all
        flag = "--parallel" if parallel is not None else "--max-requests"
        raise _fail(f"{flag} is for syncing every connection (--all); one connection's requests in flight are "
                    "its --concurrency", as_json)
    r = _resolve(_flags(connection=connection, config=config, base_url=base_url, destination=destination,
                        schema=schema, tables=tables, exclude_tables=exclude, history_tables=history,
                        history_off_tables=history_off, concurrency=concurrency, time_budget_minutes=time_budget,
                        bucket_width=bucket_width, start_date=start_date, lookback_hours=lookback_hours,
                        audit_lookback_minutes=audit_lookback_minutes, state_dir=state_dir), as_json)
    code, _ = run_sync(replace(sync_config(r, yes), reconcile=reconcile), as_json)
    raise typer.Exit(code)


def sync_all(config: str | None, passed: dict[str, object], own: dict[str, object], parallel: int,
             max_requests: int, yes: bool, as_json: bool, reconcile: bool = False) -> int:
    """`sync --all`: every connection of the config file (fleet.py); one summary, the worst exit code."""
    from ..config import ConfigError, connection_names, resolve
    from ..fleet import Fleet, Ran, worst

    named = [flag for flag, value in own.items() if value]
    if named:
        raise _fail(f"{named[0]} names one connection's own setting; with --all each connection's come from the "
                    "config file (drop it, or sync that connection alone with --connection NAME)", as_json)
    try:
        path, names = connection_names({"config": config})
        connections = [resolve({"config": str(path), "connection": n}) for n in names]
    except ConfigError as e:
        raise _fail(str(e), as_json) from None
    args = [str(a) for flag, value in passed.items() if value is not None for a in (flag, value)]
    args += ["--yes"] if yes else []
    args += ["--reconcile"] if reconcile else []
    err = Console(stderr=True)

    def done(ran: Ran) -> None:
        if not as_json:
            err.print(f"{ran.name}: {ran.result.get('status')} in {ran.seconds:.1f} s", highlight=False)

    fleet = Fleet(connections, path, args, parallel, max_requests, on_done=done)
    try:
        ran = fleet.run()
    except KeyboardInterrupt:
        raise interrupted(INTERRUPTED, as_json) from None
    code = worst([r.code for r in ran])
    if as_json:
        print(json.dumps({"status": {0: "ok", 1: "partial", 2: "error", 130: "interrupted"}.get(code, "error"),
                          "connections": {r.name: r.result for r in ran}}))
    else:
        from ..report import fleet_table

        Console().print(fleet_table(ran))
        for r in ran:
            for line in [r.result.get("error"), *(t.get("error") for t in r.result.get("tables", []))]:
                if line:
                    err.print(f"[red]{escape(r.name)}:[/] {escape(str(line))}", highlight=False)
    return code


@app.command("resync", cls=Command, epilog="""
Examples:

  openai-sync resync users                           # drop users and list them again

  openai-sync resync audit_logs usage_completions    # forget their watermarks: the whole history again

  openai-sync resync batches --connection prod --json

Other tables, their rows and their state are not touched. A table in history mode stays in it, and its
versions are first renamed to <table>_history_<YYYYMMDD_HHMMSS>: kept, never dropped.
""")
@on_interrupt(INTERRUPTED)
def resync_cmd(
    names: Annotated[list[str], typer.Argument(metavar="TABLE...", help="The tables to reload from scratch.")],
    connection: Connection = None,
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    concurrency: Concurrency = None,
    bucket_width: Width = None,
    start_date: Start = None,
    state_dir: StateDir = None,
    yes: Yes = False,
    as_json: AsJson = False,
) -> None:
    """Reload tables from scratch: drop them and their incremental state, then sync them again."""
    r = _resolve(_flags(connection=connection, config=config, base_url=base_url, destination=destination,
                        schema=schema, tables=",".join(names), concurrency=concurrency, bucket_width=bucket_width,
                        start_date=start_date, state_dir=state_dir), as_json)
    code, _ = run_sync(replace(sync_config(r, yes), resync=True), as_json)
    raise typer.Exit(code)
