"""The `openai-sync` command."""

from __future__ import annotations

import json
import os
import sys
import time
from enum import StrEnum
from typing import Annotated, Any

import typer
from dlt.pipeline.exceptions import PipelineStepFailed
from rich.console import Console
from rich.table import Table as RichTable
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.25 carries its own copy of click
    from typer._click.exceptions import NoSuchOption, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoSuchOption, UsageError

from . import __version__, destinations
from .catalog import select
from .checks import FAIL, PASS, WARN, Check, run_checks, verdict
from .client import DEFAULT_BASE_URL, SyncError, mask, scrub
from .config import (
    DEFAULT_CONFIG,
    SCHEMA_RE,
    ConfigError,
    ProjectKey,
    Resolved,
    Secrets,
    check_key_format,
    default_connection,
    key_problems,
    parse_project_keys,
    parse_widths,
    resolve,
    save,
)
from .pipeline import DEFAULT_START, SyncConfig, sync
from .report import Progress, overall_status, result_json, row_counts, run_queries, summary_table
from .simulator.faults import KINDS as FAULT_KINDS


class _Group(TyperGroup):
    """An unknown command is answered with the list of the valid ones."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as e:
            said = e.message if e.message.endswith((".", "?")) else e.message + "."
            e.message = f"{said} Commands: {', '.join(self.commands)}."
            raise


class _Command(TyperCommand):
    """An unknown option is answered with the list of the command's valid options."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except NoSuchOption as e:
            valid = [o for p in self.get_params(ctx) for o in p.opts if o.startswith("--")]
            near = f" (did you mean {' or '.join(e.possibilities)}?)" if e.possibilities else ""
            e.message = f"{e.message.rstrip('.')}{near}. Valid options: {', '.join(valid)}."
            e.possibilities = None  # type: ignore[misc]
            raise


app = typer.Typer(
    cls=_Group,
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
    xlarge = "xlarge"


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


@app.command(cls=_Command, epilog="""
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
    faults: Annotated[str, typer.Option(help="Faults to inject, KIND:RATE[@ENDPOINT],... with KIND one of "
                                             f"{', '.join(FAULT_KINDS)}, RATE the fraction of requests (0..1) and "
                                             "ENDPOINT an optional route "
                                             "or path prefix such as /organization/users.")] = "",
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


def _fail(message: str, as_json: bool, code: int = 2) -> typer.Exit:
    if as_json:
        print(json.dumps({"status": "error", "error": message}))
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _resolve(flags: dict[str, Any], as_json: bool) -> Resolved:
    try:
        return resolve(flags)
    except ConfigError as e:
        raise _fail(str(e), as_json) from None


def _sync_config(r: Resolved) -> SyncConfig:
    s = r.settings
    default_w, per_w = parse_widths(s.bucket_width)
    start = s.start_epoch()
    return SyncConfig(admin_key=r.secrets.admin_key, base_url=s.base_url, destination=destinations.normalize(
        s.destination), schema=s.schema_name, tables=s.tables, concurrency=s.concurrency, bucket_width=default_w,
        bucket_widths=per_w, start_date=start if start is not None else DEFAULT_START,
        lookback_seconds=int(s.lookback_hours * 3600), pipelines_dir=s.state_dir,
        project_keys=r.secrets.project_keys, chat_completion_content=s.chat_completion_content,
        exclude_tables=s.exclude_tables or [], block_columns=s.block_columns or [],
        hash_columns=s.hash_columns or [], hash_key=r.secrets.hash_key, history_tables=s.history_tables or [],
        time_budget=s.time_budget_minutes * 60 if s.time_budget_minutes else None)


def _keys(cfg: SyncConfig) -> list[str | None]:
    return [cfg.admin_key, cfg.hash_key, *(pk.key for pk in cfg.project_keys)]


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


def _run_sync(cfg: SyncConfig, as_json: bool) -> tuple[int, Any]:
    """Run one sync and print its outcome; returns (exit code, run)."""
    err = Console(stderr=True)
    started = time.monotonic()
    try:
        n = len(select(cfg.tables))
        if not as_json and err.is_terminal:
            with Progress(err, n) as prog:
                results, run = sync(cfg, prog)
        else:
            results, run = sync(cfg)
    except (SyncError, ValueError) as e:
        raise _fail(str(e), as_json) from None
    except PipelineStepFailed as e:
        msg = (f"loading into {destinations.shown(cfg.destination)} failed at the {e.step} step: "
               f"{type(e.exception).__name__}: {_first_lines(e.exception)}. Nothing of this run is half-loaded: "
               "each table's merge is atomic, and the next run loads what this one could not.")
        raise _fail(_cut(scrub(msg, *_keys(cfg))), as_json, 1) from None
    except Exception as e:  # anything else: one sentence, never a traceback (which could quote a key)
        msg = (f"the sync stopped unexpectedly: {type(e).__name__}: {_first_lines(e)}. The destination is as the "
               "last completed load left it; the next run resumes. If it persists, report this message.")
        raise _fail(_cut(scrub(msg, *_keys(cfg))), as_json, 1) from None
    seconds = time.monotonic() - started
    if as_json:
        print(json.dumps(result_json(results, run, seconds, destinations.shown(cfg.destination), cfg.schema)))
    else:
        Console().print(summary_table(results))
        for r in results:
            if r.error:
                err.print(f"[red]{r.name}:[/] {r.error}", highlight=False)
        for problem in run.key_problems:
            err.print(f"[red]key:[/] {problem}", highlight=False)
        for note in run.notes:
            err.print(f"[yellow]note:[/] {note}", highlight=False)
    status = overall_status(results)
    return (0 if status == "ok" else 1), run


Connection = Annotated[str | None, typer.Option("--connection", "-c", help="The named connection of the config "
                                                "file to use (default: its default_connection).")]
ConfigPath = Annotated[str | None, typer.Option("--config", help=f"The config file (default ./{DEFAULT_CONFIG}, "
                                                "or OPENAI_SYNC_CONFIG); keys live beside it in *.secrets.toml.")]
BaseUrl = Annotated[str | None, typer.Option("--base-url", help="API base URL (data-residency hosts, proxies, the "
                                             f"simulator). Env OPENAI_BASE_URL; default {DEFAULT_BASE_URL}.")]
Destination = Annotated[str | None, typer.Option(help="duckdb:///PATH (default duckdb:///./openai_sync.duckdb), "
                                                 "postgresql://USER@HOST:PORT/DB, or a dlt destination name. "
                                                 "Env OPENAI_SYNC_DESTINATION.")]
Schema = Annotated[str | None, typer.Option(help="The destination schema (dataset); default openai. "
                                            "Env OPENAI_SYNC_SCHEMA.")]
Tables = Annotated[str | None, typer.Option(help="Comma-separated tables to sync (default: all).")]
Exclude = Annotated[str | None, typer.Option("--exclude", help="Comma-separated tables not to sync (setting "
                                             "exclude_tables).")]
History = Annotated[str | None, typer.Option("--history", help="Comma-separated tables to keep in history mode "
                                             "(every version, with _valid_from / _valid_to; setting history_tables).")]
Budget = Annotated[float | None, typer.Option("--time-budget", help="Minutes the run may spend reading the API "
                                             "(setting time_budget_minutes). When it runs out, what was read is "
                                             "loaded and the unfinished tables are reported (the next run reads "
                                             "them again from their watermarks).",
                                             min=0.01)]
Concurrency = Annotated[int | None, typer.Option(help="At most this many API requests in flight (default 8).",
                                                 min=1, max=64)]
Width = Annotated[str | None, typer.Option("--bucket-width", help="Usage bucket width: 1d (default), 1h or 1m; per "
                                           "table with NAME=W, e.g. '1h,usage_completions=1m'.")]
Start = Annotated[str | None, typer.Option(help="First day of usage and costs on a first sync, YYYY-MM-DD "
                                                "(default 2020-01-01: the full history).")]
Lookback = Annotated[float | None, typer.Option(help="Re-read usage buckets that ended less than this many hours "
                                                "ago (default 24; OpenAI restates recent buckets).", min=0)]
StateDir = Annotated[str | None, typer.Option(help="Where dlt keeps its local working state "
                                                   "(default ~/.dlt/pipelines).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object with the result instead of tables.")]


def _flags(**kw: Any) -> dict[str, Any]:
    for name in ("tables", "exclude_tables", "history_tables"):
        if kw.get(name) is not None:
            kw[name] = [t.strip() for t in kw[name].split(",") if t.strip()]
    return kw


@app.command("sync", cls=_Command, epilog="""
Examples (keys come from the environment or the secrets file, never from the command line):

  export OPENAI_ADMIN_KEY=...        # a read-only Admin key, sk-admin-...

  openai-sync sync                                   # everything into ./openai_sync.duckdb

  openai-sync sync --connection prod                 # a connection saved by `openai-sync setup`

  openai-sync sync --destination postgresql://loader@db:5432/analytics --schema openai

  openai-sync sync --tables usage_completions,costs --bucket-width 1h --json

Exit codes: 0 every table synced; 1 some table failed (the others were loaded); 2 bad key or
configuration (nothing was written).
""")
def sync_cmd(
    connection: Connection = None,
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    tables: Tables = None,
    exclude: Exclude = None,
    history: History = None,
    concurrency: Concurrency = None,
    time_budget: Budget = None,
    bucket_width: Width = None,
    start_date: Start = None,
    lookback_hours: Lookback = None,
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
                        concurrency=concurrency, time_budget_minutes=time_budget, bucket_width=bucket_width,
                        start_date=start_date, lookback_hours=lookback_hours, state_dir=state_dir), as_json)
    code, _ = _run_sync(_sync_config(r), as_json)
    raise typer.Exit(code)


@app.command("resync", cls=_Command, epilog="""
Examples:

  openai-sync resync users                           # drop users and list them again

  openai-sync resync audit_logs usage_completions    # forget their watermarks: the whole history again

  openai-sync resync batches --connection prod --json

Other tables, their rows and their state are not touched.
""")
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
    as_json: AsJson = False,
) -> None:
    """Reload tables from scratch: drop them and their incremental state, then sync them again."""
    r = _resolve(_flags(connection=connection, config=config, base_url=base_url, destination=destination,
                        schema=schema, tables=",".join(names), concurrency=concurrency, bucket_width=bucket_width,
                        start_date=start_date, state_dir=state_dir), as_json)
    cfg = _sync_config(r)
    cfg.resync = True
    code, _ = _run_sync(cfg, as_json)
    raise typer.Exit(code)


SYMBOL = {PASS: "[green]✔ pass[/]", WARN: "[yellow]! warn[/]", FAIL: "[red]✖ fail[/]"}


def _print_checks(checks: list[Check], as_json: bool, r: Resolved) -> str:
    result = verdict(checks)
    if as_json:
        print(json.dumps({"status": result, "connection": r.name, "checks": [c.as_dict() for c in checks]}))
    else:
        out = Console(highlight=False)
        for c in checks:
            out.print(f"{SYMBOL[c.status]}  [bold]{c.name}[/]: {c.message}")
        out.print("\n[green]All checks passed.[/]" if result == "ok" else "\n[red]Some checks failed[/]: fix them "
                  "and run `openai-sync test` again.")
    return result


@app.command("test", cls=_Command, epilog="""
Examples:

  openai-sync test                       # the default connection of ./openai-sync.toml, keys from its secrets

  openai-sync test --connection prod --json

Exit code 0 when no check fails (warnings allowed), 1 otherwise.
""")
def test_cmd(
    connection: Connection = None,
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    as_json: AsJson = False,
) -> None:
    """Run the Save & Test checks without loading anything: keys, permissions, audit logging, projects
    without a key, destination. Each prints pass, warn or fail with what to do."""
    try:
        r = resolve(_flags(connection=connection, config=config, base_url=base_url, destination=destination,
                           schema=schema))
    except ConfigError as e:
        checks = [Check("configuration", FAIL, str(e))]
        if as_json:
            print(json.dumps({"status": "failed", "connection": connection, "checks": [c.as_dict() for c in checks]}))
        else:
            Console(highlight=False).print(f"{SYMBOL[FAIL]}  [bold]configuration[/]: {e}")
        raise typer.Exit(1) from None
    checks = run_checks(r)
    raise typer.Exit(0 if _print_checks(checks, as_json, r) == "ok" else 1)


def _ask_keys(console: Console, known: Secrets) -> Secrets:
    """Ask for the keys without echo; Enter keeps the keys already known (secrets file or environment)."""
    keep = f"Enter to keep {mask(known.admin_key)}" if known.admin_key else "Enter to skip"
    while True:
        admin = typer.prompt(f"Admin key (sk-admin-..., input hidden; {keep})", default="", hide_input=True,
                             show_default=False).strip() or known.admin_key
        try:
            if admin:
                check_key_format(admin, "that Admin key")
            break
        except ConfigError as e:
            console.print(f"[red]{e}[/]")
    keys: list[ProjectKey] = []
    while True:
        done = (f"Enter to keep the {len(known.project_keys)} known" if known.project_keys and not keys
                else "Enter when done")
        k = typer.prompt(f"Project key {len(keys) + 1} (sk-proj-... or PROJECT_ID=KEY, input hidden; {done})",
                         default="", hide_input=True, show_default=False).strip()
        if not k:
            break
        try:
            keys.extend(parse_project_keys([k], "that input"))
        except ConfigError as e:
            console.print(f"[red]{e}[/]")
            continue
        console.print(f"  added {mask(keys[-1].key)}")
    return Secrets(admin, keys or known.project_keys)


@app.command("setup", cls=_Command, epilog="""
Examples:

  openai-sync setup                                  # asks for everything; keys are read without echo

  OPENAI_ADMIN_KEY=... OPENAI_PROJECT_KEYS=... openai-sync setup --non-interactive \\
      --connection prod --destination postgresql://loader@db:5432/analytics --schema openai

The configuration goes to ./openai-sync.toml (or --config); the keys to openai-sync.secrets.toml beside it,
readable by you alone (mode 0600).
""")
def setup_cmd(
    connection: Annotated[str, typer.Option("--connection", "-c", help="Name of the connection to save.")
                          ] = "default",
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    non_interactive: Annotated[bool, typer.Option("--non-interactive", help="Ask nothing: settings from flags "
                                                  "and environment, keys from OPENAI_ADMIN_KEY and "
                                                  "OPENAI_PROJECT_KEYS.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Save even when a check fails.")] = False,
    as_json: AsJson = False,
) -> None:
    """Set up a connection: destination schema, destination, Admin key, project keys; run the checks; save."""
    console = Console(stderr=as_json, highlight=False)
    interactive = not non_interactive and sys.stdin.isatty()
    flags = _flags(connection=connection, config=config, base_url=base_url, destination=destination, schema=schema)
    try:
        r = resolve(flags, allow_new=True)
    except ConfigError as e:
        if not interactive:
            raise _fail(str(e), as_json) from None
        try:  # a bad schema or destination is asked again below; anything else is for the user to fix first
            asked = {"OPENAI_SYNC_SCHEMA", "OPENAI_SYNC_DESTINATION"}
            r = resolve({**flags, "schema": None, "destination": None},
                        {k: v for k, v in os.environ.items() if k not in asked}, allow_new=True)
        except ConfigError:
            raise _fail(str(e), as_json) from None
        console.print(f"[yellow]note:[/] {e}")
    if interactive:
        console.print("[bold]openai-sync setup[/]: a connection named "
                      f"[bold]{connection}[/], saved in {r.config_path}")
        default = schema if schema and SCHEMA_RE.fullmatch(schema) else r.settings.schema_name
        while True:
            schema = typer.prompt("Destination schema", default=default)
            if SCHEMA_RE.fullmatch(schema):
                break
            console.print("[red]Use letters, digits and _, not starting with a digit (at most 63).[/]")
        destination = typer.prompt("Destination: a DuckDB path, a postgresql:// DSN, or a dlt destination name",
                                   default=destination or r.settings.destination)
        secrets = _ask_keys(console, r.secrets)
        flags.update(schema=schema, destination=destinations.normalize(destination))
    else:
        secrets = r.secrets
    for problem in key_problems(secrets):
        console.print(f"[yellow]note:[/] {problem}; the checks below say what to do.")
    try:
        settings = resolve(flags, allow_new=True).settings
    except ConfigError as e:
        raise _fail(str(e), as_json) from None
    resolved = Resolved(connection, settings, secrets, r.config_path, {})
    checks = run_checks(resolved)
    result = _print_checks(checks, as_json, resolved)
    if result != "ok" and not force and not (
            interactive and typer.confirm("Some checks failed. Save this configuration anyway?", default=False)):
        console.print("Nothing saved.")
        raise typer.Exit(1)
    try:
        sec = save(r.config_path, connection, settings, secrets)
    except (OSError, ConfigError) as e:
        raise _fail(f"could not save to {r.config_path}: {getattr(e, 'strerror', None) or e}", as_json) from None
    used = "" if default_connection(r.config_path) == connection else f" --connection {connection}"
    console.print(f"Saved connection {connection!r}: settings in {r.config_path}, keys in {sec} (mode 0600).\n"
                  f"Next: openai-sync sync{used}")
    raise typer.Exit(0 if result == "ok" else 1)


@app.command(cls=_Command, epilog="""
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
        # the Admin key and every project's key; which key belongs to which project is looked up, as for you
        cfg = SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                         destination=destinations.normalize(destination), pipelines_dir=state_dir,
                         project_keys=[ProjectKey(k) for k in sim.world.project_keys.values()])
        code, run = _run_sync(cfg, as_json)
    if run is None or as_json:
        raise typer.Exit(code)
    counts = row_counts(run.pipeline, [t.name for t in select(None, admin=True, project=True)])
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
