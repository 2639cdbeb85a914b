"""`openai-sync sync` and `openai-sync resync`: a run's settings resolved into its configuration, the run,
and its outcome printed (a summary table, or one JSON object) with an exit code that agrees with it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..api.errors import SyncError
from ..api.keys import scrub
from ..config import Resolved, parse_widths
from ..load import destinations
from .common import (
    INTERRUPTED,
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


def _sync_config(r: Resolved, yes: bool = False) -> SyncConfig:
    from ..runner import DEFAULT_START, SyncConfig

    s = r.settings
    default_w, per_w = parse_widths(s.bucket_width)
    start = s.start_epoch()
    return SyncConfig(admin_key=r.secrets.admin_key, base_url=s.base_url, destination=destinations.normalize(
        s.destination), schema=s.schema_name, tables=s.tables, concurrency=s.concurrency, bucket_width=default_w,
        bucket_widths=per_w, start_date=start if start is not None else DEFAULT_START,
        lookback_seconds=int(s.lookback_hours * 3600), audit_lookback_seconds=int(s.audit_lookback_minutes * 60),
        pipelines_dir=s.state_dir,
        project_keys=r.secrets.project_keys, chat_completion_content=s.chat_completion_content,
        exclude_tables=s.exclude_tables or [], block_columns=s.block_columns or [],
        hash_columns=s.hash_columns or [], hash_key=r.secrets.hash_key, history_tables=s.history_tables or [],
        history_ignore_columns=s.history_ignore_columns or [],
        history_off_tables=s.history_off_tables or [], confirm_history_off=yes,
        time_budget=s.time_budget_minutes * 60 if s.time_budget_minutes else None)


HINTS = {"No space left on device": "the disk holding the destination is full: free some space (or choose another "
                                     "destination) and run again",
         "Read-only file system": "the destination is on a read-only file system",
         "Permission denied": "this user may not write the destination"}


def _cut(text: str, most: int = 1200) -> str:
    return text if len(text) <= most else text[:most] + "…"


def _first_lines(e: BaseException, n: int = 3) -> str:
    """What went wrong, in a sentence: a traceback quoted in a message is cut down to its last line, the
    exception that started it, and a known operating-system failure is named first."""
    text = str(e).strip()
    hint = next((h for cause, h in HINTS.items() if cause in text), None)
    if "Traceback (most recent call last)" in text:
        last = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "Traceback"))]
        text = last[-1] if last else text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out = " ".join(lines[:n]) or type(e).__name__  # cut after the caller scrubbed keys: see _cut
    return f"{hint} ({out})" if hint else out


def _by_interrupt(e: BaseException) -> bool:
    """Whether a Ctrl-C is behind the error: dlt wraps it (KeyboardInterrupt, or its SignalReceivedException)."""
    seen: BaseException | None = e
    for _ in range(20):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt) or type(seen).__name__ == "SignalReceivedException":
            return True
        seen = getattr(seen, "exception", None) or seen.__cause__ or seen.__context__
    return False


def run_sync(cfg: SyncConfig, as_json: bool) -> tuple[int, RunReport]:
    """Run one sync and print its outcome; returns (exit code, the run's report)."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    from ..report import Progress, exit_code, result_json, summary_table
    from ..runner import sync

    err = Console(stderr=True)
    started = time.monotonic()
    try:
        if not as_json and err.is_terminal:
            with Progress(err) as prog:
                results, run = sync(cfg, prog)
        else:
            results, run = sync(cfg)
    except (SyncError, ValueError) as e:
        raise _fail(str(e), as_json) from None
    except PipelineStepFailed as e:
        if _by_interrupt(e):  # a bare KeyboardInterrupt is the commands' (common.on_interrupt)
            raise interrupted(INTERRUPTED, as_json) from None
        msg = (f"loading into {destinations.shown(cfg.destination)} failed at the {e.step} step: "
               f"{type(e.exception).__name__}: {_first_lines(e.exception)}. Nothing of this run is half-loaded: "
               "each table's merge is atomic, and the next run loads what this one could not.")
        raise _fail(_cut(scrub(msg, *cfg.secrets())), as_json, 1) from None
    except Exception as e:  # anything else: one sentence, never a traceback (which could quote a key)
        msg = (f"the sync stopped unexpectedly: {type(e).__name__}: {_first_lines(e)}. The destination is as the "
               "last completed load left it; the next run resumes. If it persists, report this message.")
        raise _fail(_cut(scrub(msg, *cfg.secrets())), as_json, 1) from None
    seconds = time.monotonic() - started
    if as_json:
        print(json.dumps(result_json(results, run, seconds, destinations.shown(cfg.destination), cfg.schema)))
    else:
        Console().print(summary_table(results))
        for r in results:
            if r.error:
                err.print(f"[red]{r.name}:[/] {escape(r.error)}", highlight=False)
        for problem in run.key_problems:
            err.print(f"[red]key:[/] {escape(problem)}", highlight=False)
        for warning in run.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        for note in run.notes:
            err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    return exit_code(results, run), run



@app.command("sync", cls=Command, epilog="""
Examples (keys come from the environment or the secrets file, never from the command line):

  export OPENAI_ADMIN_KEY=...        # a read-only Admin key, sk-admin-...

  openai-sync sync                                   # everything into ./openai_sync.duckdb

  openai-sync sync --connection prod                 # a connection saved by `openai-sync setup`

  openai-sync sync --destination postgresql://loader@db:5432/analytics --schema openai

  openai-sync sync --tables usage_completions,costs --bucket-width 1h --json

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
    concurrency: Concurrency = None,
    time_budget: Budget = None,
    bucket_width: Width = None,
    start_date: Start = None,
    lookback_hours: Lookback = None,
    audit_lookback_minutes: AuditLookback = None,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Sync the organization's tables (audit logs, usage, costs, users, projects, ...) into the destination.

    Settings come from flags, then the environment, then the config file (see `openai-sync setup`).
    Incremental: usage and costs resume where the last run stopped (re-reading the lookback window),
    audit logs from the newest event loaded.
    """
    r = _resolve(_flags(connection=connection, config=config, base_url=base_url, destination=destination,
                        schema=schema, tables=tables, exclude_tables=exclude, history_tables=history,
                        history_off_tables=history_off, concurrency=concurrency, time_budget_minutes=time_budget,
                        bucket_width=bucket_width, start_date=start_date, lookback_hours=lookback_hours,
                        audit_lookback_minutes=audit_lookback_minutes, state_dir=state_dir), as_json)
    code, _ = run_sync(_sync_config(r, yes), as_json)
    raise typer.Exit(code)


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
    code, _ = run_sync(replace(_sync_config(r, yes), resync=True), as_json)
    raise typer.Exit(code)
