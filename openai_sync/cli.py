"""The `openai-sync` command."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from . import __version__

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
