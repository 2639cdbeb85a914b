"""What every command shares: the app, its error messages for unknown commands and options, the options
common to several commands, and how a failure is printed."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.25 carries its own copy of click
    from typer._click.exceptions import NoSuchOption, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoSuchOption, UsageError

from .. import __version__
from ..api.keys import DEFAULT_BASE_URL
from ..config import DEFAULT_CONFIG, ConfigError, Resolved, resolve

F = TypeVar("F", bound=Callable[..., Any])

# the order in which `--help` and error messages list the commands (each module registers its own)
COMMANDS = ("simulator", "sync", "resync", "test", "setup", "report", "export", "serve", "password", "demo")


class Group(TyperGroup):
    """The commands in a fixed order; an unknown command is answered with the list of the valid ones."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(self.commands, key=lambda n: COMMANDS.index(n) if n in COMMANDS else len(COMMANDS))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as e:
            said = e.message if e.message.endswith((".", "?")) else e.message + "."
            e.message = f"{said} Commands: {', '.join(self.list_commands(ctx))}."
            raise


class Command(TyperCommand):
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
    cls=Group,
    name="openai-sync",
    help="Sync an OpenAI Platform organization's data (usage, costs, audit logs, projects, ...) "
         "into a warehouse.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)



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



def _fail(message: str, as_json: bool, code: int = 2) -> typer.Exit:
    if as_json:
        print(json.dumps({"status": "error", "error": message}))
    Console(stderr=True).print(f"[red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


INTERRUPTED = "interrupted; nothing is half-loaded; the next run resumes"


def interrupted(message: str, as_json: bool) -> typer.Exit:
    """Ctrl-C: one sentence and exit 130 (128 + SIGINT, as shells report a command ended by Ctrl-C)."""
    if as_json:
        print(json.dumps({"status": "interrupted", "error": message}))
    Console(stderr=True).print(f"[yellow]{message}[/]", highlight=False)
    return typer.Exit(130)


def on_interrupt(message: str) -> Callable[[F], F]:
    """A command that a Ctrl-C ends with `message`, whatever it was doing (importing dlt, reading, loading).
    For a sync the message holds: each table's merge is atomic, and a load package dlt had begun is finished
    by the next run, which reads again from the watermarks the last completed load left."""

    def wrap(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except (KeyboardInterrupt, typer.Abort):  # Abort: a prompt's Ctrl-C (or end of input), as typer says it
                raise interrupted(message, bool(kwargs.get("as_json"))) from None

        return run  # type: ignore[return-value]

    return wrap


def _resolve(flags: dict[str, Any], as_json: bool) -> Resolved:
    try:
        return resolve(flags)
    except ConfigError as e:
        raise _fail(str(e), as_json) from None



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
HistoryOff = Annotated[str | None, typer.Option("--history-off", help="Comma-separated tables to take out of "
                                                "history mode (setting history_off_tables; needs --yes): each "
                                                "becomes a table of current rows, its versions kept in "
                                                "<table>_history_<YYYYMMDD_HHMMSS>. A history table not named here "
                                                "stays in history mode.")]
Yes = Annotated[bool, typer.Option("--yes", help="Confirm --history-off (history_off_tables).")]
Reconcile = Annotated[bool, typer.Option("--reconcile", help="List every organization table whole this run, whatever "
                                                             "the audit log says changed, and report as notes what "
                                                             "the change feed missed (scheduled by reconcile_every).")]
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
AuditLookback = Annotated[float | None, typer.Option("--audit-lookback-minutes", help="Re-read audit events of "
                                                    "this many minutes before the newest one loaded (default 60; the "
                                                    "API lists some events minutes late).", min=0)]
StateDir = Annotated[str | None, typer.Option(help="Where dlt keeps its local working state (default: dlt's "
                                                   "pipelines folder, ~/.dlt/pipelines, or /var/dlt/pipelines when "
                                                   "run as root; $DLT_DATA_DIR/pipelines if DLT_DATA_DIR is set).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object with the result instead of tables.")]
All = Annotated[bool, typer.Option("--all", help="Sync every connection of the config file (one per organization), "
                                                 "in parallel; one summary, the worst exit code.")]
Parallel = Annotated[int | None, typer.Option("--parallel", min=1, max=64, help="With --all: at most this many "
                                                                                 "connections at once (default 4).")]
MaxRequests = Annotated[int | None, typer.Option("--max-requests", min=1, max=1024, help="With --all: at most this "
                                                 "many API requests in flight across all connections (default 32).")]


def _flags(**kw: Any) -> dict[str, Any]:
    for name in ("tables", "exclude_tables", "history_tables", "history_off_tables"):
        if kw.get(name) is not None:
            kw[name] = [t.strip() for t in kw[name].split(",") if t.strip()]
    return kw

