"""`openai-sync simulator` and `openai-sync demo`: the only commands that load the simulator, and only when
they run (or show their help). The sync, Save & Test and setup never import it (tests/test_architecture.py)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from .common import Command, app


class SimulatorCommand(Command):
    """The simulator's options name its fault kinds, which live with the simulator: filled in on demand."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for p in params:
            if "{fault_kinds}" in (getattr(p, "help", None) or ""):
                from ..simulator.faults import KINDS

                p.help = p.help.replace("{fault_kinds}", ", ".join(KINDS))
        return params


class SizeName(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"
    xlarge = "xlarge"



@app.command(cls=SimulatorCommand, epilog="""
Examples:

  openai-sync simulator                       # small org on a free port

  openai-sync simulator --port 8765 --size large --latency-ms 80 --rate-limit 50

  openai-sync simulator --faults 429:0.05,500:0.01,drop:0.01

It serves until stopped: run it in the background and read the JSON line it prints first (bash, jq), e.g.

  openai-sync simulator --size medium > sim.json & SIM=$!

  until [ -s sim.json ]; do sleep 0.1; done      # the line: base_url, admin_key, project_keys

  export OPENAI_BASE_URL=$(jq -r .base_url sim.json) OPENAI_ADMIN_KEY=$(jq -r .admin_key sim.json)

  openai-sync sync --destination duckdb:///./sim.duckdb

  kill $SIM
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
                                             "{fault_kinds}, RATE the fraction of requests (0..1) and "
                                             "ENDPOINT an optional route "
                                             "or path prefix such as /organization/users.")] = "",
    now: Annotated[int | None, typer.Option(help="Initial clock (Unix seconds, floored to the hour); "
                                                 "default: the current time.")] = None,
    no_audit_logging: Annotated[bool, typer.Option(
        "--no-audit-logging", help="Simulate an org whose audit logging is off.")] = False,
    audit_delay: Annotated[str, typer.Option(
        "--audit-delay", help="List audit events late, as the real API writes its log asynchronously: "
                              "SHARE:SECONDS,... e.g. 0.15:300,0.05:1200 (15 % of the events up to 5 minutes "
                              "after their effective_at, 5 % up to 20; the rest at once).")] = "",
) -> None:
    """Serve a simulated OpenAI Platform API on loopback.

    Prints one JSON line on stdout, {"base_url", "admin_key", "project_keys"}, then serves until interrupted.

    Control endpoints: GET /_sim/stats, POST /_sim/stats/reset, GET /_sim/clock, POST /_sim/advance?hours=N,
    POST /_sim/keys, POST /_sim/faults (see README).
    """
    from ..simulator import World, parse_faults
    from ..simulator.server import BindError, serve_forever

    try:
        rules = parse_faults(faults)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--faults") from None
    try:
        world = World(seed=seed, size=size.value, now=now, audit_logging=not no_audit_logging,
                      audit_delay=audit_delay)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--audit-delay") from None

    def announce(info: dict) -> None:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()

    try:
        serve_forever(world, host, port, latency_ms, rate_limit, rules, announce)
    except BindError as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None

