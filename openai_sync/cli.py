"""The `openai-sync` command."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from dlt.pipeline.exceptions import PipelineStepFailed
from rich.console import Console
from rich.table import Table as RichTable

from . import __version__
from .catalog import TABLES, WIDTH_SECONDS, select
from .client import DEFAULT_BASE_URL, SyncError
from .pipeline import DEFAULT_DESTINATION, DEFAULT_START, SyncConfig, sync
from .report import Progress, overall_status, result_json, row_counts, run_queries, summary_table

app = typer.Typer(
    name="openai-sync",
    help="Sync an OpenAI Platform organization's data (usage, costs, audit logs, projects, ...) "
         "into a warehouse.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class SizeName(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"openai-sync {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """openai-sync: copy an OpenAI organization's data into DuckDB, PostgreSQL or any dlt destination."""


@app.command(epilog="""
Examples:

  openai-sync simulator                       # small org on a free port

  openai-sync simulator --port 8765 --size large --latency-ms 80 --rate-limit 50

  openai-sync simulator --faults 429:0.05,500:0.01,drop:0.01

Then point the SDK or the connector at the printed base_url, e.g.
  eval "$(openai-sync simulator | jq -r '"export OPENAI_BASE_URL=\\(.base_url)"')"
""")
def simulator(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback only is sensible).")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535)] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic organization.")] = 0,
    size: Annotated[SizeName, typer.Option(help="Size of the organization.")] = SizeName.small,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request, in milliseconds.",
                                              min=0)] = 0.0,
    rate_limit: Annotated[float | None, typer.Option(help="Requests per second allowed per key (429 beyond).",
                                                      min=0.001)] = None,
    faults: Annotated[str, typer.Option(help="Faults to inject, KIND:RATE[@ENDPOINT],... with KIND one of 429, "
                                             "500, 502, 503, slow, drop, malformed, html, stuck, nocursor, RATE "
                                             "the fraction of requests (0..1) and ENDPOINT an optional route or "
                                             "path prefix such as /organization/users.")] = "",
    now: Annotated[int | None, typer.Option(help="Initial clock (Unix seconds, floored to the hour); "
                                                 "default: the current time.")] = None,
    no_audit_logging: Annotated[bool, typer.Option(
        "--no-audit-logging", help="Simulate an org whose audit logging is off.")] = False,
) -> None:
    """Serve a simulated OpenAI Platform API on loopback.

    Prints one JSON line on stdout, {"base_url", "admin_key", "project_keys"}, then serves until interrupted.

    Control endpoints: GET /_sim/stats, POST /_sim/stats/reset, GET /_sim/clock, POST /_sim/advance?hours=N,
    POST /_sim/keys, POST /_sim/faults (see README).
    """
    from .simulator import World, parse_faults
    from .simulator.server import BindError, serve_forever

    try:
        rules = parse_faults(faults)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--faults") from None
    world = World(seed=seed, size=size.value, now=now, audit_logging=not no_audit_logging)

    def announce(info: dict) -> None:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()

    try:
        serve_forever(world, host, port, latency_ms, rate_limit, rules, announce)
    except BindError as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None


TABLE_NAMES = "audit_logs, usage_*, costs, users, projects, project_*, ... (see the README)"


def _parse_date(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD (UTC).") from None
    return int((d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp())


def _widths(value: str) -> tuple[str, dict[str, str]]:
    """`1d`, or `1h,usage_completions=1m`: a default width and per-table ones."""
    default, per = "1d", {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, w = part.rpartition("=")
        if w not in WIDTH_SECONDS:
            raise typer.BadParameter(f"bucket width {w!r} is not one of 1m, 1h, 1d.", param_hint="--bucket-width")
        if name:
            if name not in TABLES or TABLES[name].mode != "usage":
                usage = ", ".join(t for t in TABLES if TABLES[t].mode == "usage")
                raise typer.BadParameter(f"{name!r} is not a usage table; usage tables: {usage}.",
                                         param_hint="--bucket-width")
            per[name] = w
        else:
            default = w
    return default, per


def _run_sync(cfg: SyncConfig, as_json: bool) -> tuple[int, Any]:
    """Run one sync and print its outcome; returns (exit code, run)."""
    err = Console(stderr=True)
    started = time.monotonic()
    try:
        n = len(select(cfg.tables))
        show = not as_json and err.is_terminal
        if show:
            with Progress(err, n) as prog:
                results, run = sync(cfg, prog)
        else:
            results, run = sync(cfg)
    except (SyncError, ValueError) as e:
        if as_json:
            print(json.dumps({"status": "error", "error": str(e)}))
        err.print(f"[red]error:[/] {e}", highlight=False)
        return 2, None
    except PipelineStepFailed as e:
        msg = f"loading into {cfg.destination} failed at the {e.step} step: {type(e.exception).__name__}: {e.exception}"
        if as_json:
            print(json.dumps({"status": "error", "error": msg}))
        err.print(f"[red]error:[/] {msg}", highlight=False)
        return 1, None
    seconds = time.monotonic() - started
    if as_json:
        print(json.dumps(result_json(results, run, seconds, cfg.destination, cfg.schema)))
    else:
        Console().print(summary_table(results))
        for r in results:
            if r.error:
                err.print(f"[red]{r.name}:[/] {r.error}", highlight=False)
    status = overall_status(results)
    return (0 if status == "ok" else 1), run


def _config(admin_key: str | None, base_url: str, destination: str, schema: str, tables: str | None,
            concurrency: int, bucket_width: str, start_date: str | None, lookback_hours: float,
            state_dir: str | None) -> SyncConfig:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise typer.BadParameter(f"{schema!r} is not a valid schema name (letters, digits and _, not starting "
                                 "with a digit).", param_hint="--schema")
    names = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
    if names:
        unknown = [n for n in names if n not in TABLES]
        if unknown:
            raise typer.BadParameter(f"unknown table(s) {', '.join(unknown)}; valid tables: {', '.join(TABLES)}.",
                                     param_hint="--tables")
    default_w, per_w = _widths(bucket_width)
    start = _parse_date(start_date)
    return SyncConfig(admin_key=admin_key, base_url=base_url, destination=destination, schema=schema,
                      tables=names, concurrency=concurrency, bucket_width=default_w, bucket_widths=per_w,
                      start_date=start if start is not None else DEFAULT_START,
                      lookback_seconds=int(lookback_hours * 3600), pipelines_dir=state_dir)


BaseUrl = Annotated[str, typer.Option("--base-url", envvar="OPENAI_BASE_URL",
                                      help="API base URL (data-residency hosts, proxies, the simulator).")]
Schema = Annotated[str, typer.Option(help="The destination schema (dataset) to load into.")]
Tables = Annotated[str | None, typer.Option(help="Comma-separated tables to sync (default: all).")]
Concurrency = Annotated[int, typer.Option(help="At most this many API requests in flight.", min=1, max=64)]
Width = Annotated[str, typer.Option("--bucket-width", help="Usage bucket width: 1d, 1h or 1m; per table with "
                                                           "NAME=W, e.g. '1h,usage_completions=1m'.")]
Start = Annotated[str | None, typer.Option(help="First day of usage and costs on a first sync, YYYY-MM-DD "
                                                "(default 2020-01-01: the full history).")]
Lookback = Annotated[float, typer.Option(help="Re-read usage buckets that ended less than this many hours ago "
                                              "(OpenAI restates recent buckets).", min=0)]
StateDir = Annotated[str | None, typer.Option(help="Where dlt keeps its local working state "
                                                   "(default ~/.dlt/pipelines).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object with the result instead of tables.")]


@app.command("sync", epilog="""
Examples (the key is read from the environment, never from the command line):

  export OPENAI_ADMIN_KEY=...        # a read-only Admin key, sk-admin-...

  openai-sync sync                                   # everything into ./openai.duckdb

  openai-sync sync --destination postgresql://loader@db:5432/analytics --schema openai

  openai-sync sync --tables usage_completions,costs --bucket-width 1h --json

Exit codes: 0 every table synced; 1 some table failed (the others were loaded); 2 bad key or
configuration (nothing was written).
""")
def sync_cmd(
    base_url: BaseUrl = DEFAULT_BASE_URL,
    destination: Annotated[str, typer.Option(help="duckdb:///PATH, postgresql://USER@HOST:PORT/DB, "
                                                  "filesystem:///PATH, or a dlt destination name.")
                           ] = DEFAULT_DESTINATION,
    schema: Schema = "openai",
    tables: Tables = None,
    concurrency: Concurrency = 8,
    bucket_width: Width = "1d",
    start_date: Start = None,
    lookback_hours: Lookback = 24.0,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Sync the organization's tables (audit logs, usage, costs, users, projects, ...) into the destination.

    Reads the Admin key from OPENAI_ADMIN_KEY. Incremental: usage and costs resume where the last run
    stopped (re-reading the lookback window), audit logs from the newest event loaded.
    """
    cfg = _config(os.environ.get("OPENAI_ADMIN_KEY") or None, base_url, destination, schema, tables, concurrency,
                  bucket_width, start_date, lookback_hours, state_dir)
    code, _ = _run_sync(cfg, as_json)
    raise typer.Exit(code)


@app.command(epilog="""
Examples:

  openai-sync demo                                   # into ./openai_demo.duckdb

  openai-sync demo --destination duckdb:///tmp/demo.duckdb
""")
def demo(
    destination: Annotated[str, typer.Option(help="Where to load the demo data.")] = "duckdb:///./openai_demo.duckdb",
    size: Annotated[SizeName, typer.Option(help="Size of the simulated organization.")] = SizeName.medium,
    seed: Annotated[int, typer.Option(help="Seed of the simulated organization.")] = 42,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Run the whole product on its embedded defaults: a simulated organization, synced into DuckDB.

    Starts the OpenAI Platform simulator in-process (no key, no network), syncs it, then prints the row
    count of every table and three example queries with their results.
    """
    from .simulator import Simulator, World

    console = Console()
    with Simulator(World(seed=seed, size=size.value)) as sim:
        if not as_json:
            console.print(f"[bold]openai-sync demo[/]: a simulated {size.value} organization at {sim.base_url}, "
                          f"synced into {destination}")
        cfg = _config(sim.world.admin_key, sim.base_url, destination, "openai", None, 8, "1d", None, 24.0,
                      state_dir)
        code, run = _run_sync(cfg, as_json)
    if run is None or as_json:
        raise typer.Exit(code)
    counts = row_counts(run.pipeline, [t.name for t in select(None)])
    console.print("\n[bold]rows per table[/]")
    t = RichTable()
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in counts.items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    for title, cols, rows in run_queries(run.pipeline):
        console.print(f"\n[bold]{title}[/]")
        q = RichTable()
        for c in cols:
            q.add_column(c)
        for r in rows:
            q.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in r])
        console.print(q)
    if destination.startswith("duckdb:///"):
        path = destination.removeprefix("duckdb:///")
        console.print(f"\nThe data is in {path}, schema openai. Query it with DuckDB, for example:\n"
                      f"  uv run python -c \"import duckdb; print(duckdb.connect('{path}').sql("
                      f"'SELECT * FROM openai.costs ORDER BY start_time DESC LIMIT 5'))\"", highlight=False)
    raise typer.Exit(code)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
