"""`openai-sync demo`: the whole product on its embedded defaults, a simulated organization synced into DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from ..api.keys import ProjectKey
from ..catalog import select
from ..load import destinations
from .common import INTERRUPTED, AsJson, Command, StateDir, app, on_interrupt
from .run import run_sync
from .simulated import SizeName


@app.command(cls=Command, epilog="""
Examples:

  openai-sync demo                                   # into ./openai_demo.duckdb

  openai-sync demo --destination duckdb:///tmp/demo.duckdb   # into /tmp/demo.duckdb (an absolute path)

  openai-sync demo --serve                           # the service and its console at http://127.0.0.1:8765
""")
@on_interrupt(INTERRUPTED)
def demo(
    destination: Annotated[str, typer.Option(help="Where to load the demo data.")] = "duckdb:///./openai_demo.duckdb",
    size: Annotated[SizeName, typer.Option(help="Size of the simulated organization.")] = SizeName.medium,
    seed: Annotated[int, typer.Option(help="Seed of the simulated organization.")] = 42,
    state_dir: StateDir = None,
    as_json: AsJson = False,
    serve: Annotated[bool, typer.Option("--serve", help="Start the service and its console on the demo "
                                                        "organization instead of one sync (Ctrl-C stops it).")] = False,
    port: Annotated[int, typer.Option(help="The console's port, with --serve.", min=1, max=65535)] = 8765,
) -> None:
    """Run the whole product on its embedded defaults: a simulated organization, synced into DuckDB.

    Starts the OpenAI Platform simulator in-process (no key, no network), syncs it, then prints the row
    count of every table and three example queries with their results.
    """
    from ..report import row_counts, run_queries
    from ..runner import SyncConfig
    from ..simulator import Simulator, World

    if serve:
        raise typer.Exit(_serve(World(seed=seed, size=size.value), destination, port, state_dir))
    console = Console()
    with Simulator(World(seed=seed, size=size.value)) as sim:
        if not as_json:
            console.print(f"[bold]openai-sync demo[/]: a simulated {size.value} organization at {sim.base_url}, "
                          f"synced into {destinations.shown(destination)}")
        # the Admin key and every project's key; which key belongs to which project is looked up, as for you
        cfg = SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                         destination=destinations.normalize(destination), pipelines_dir=state_dir,
                         project_keys=[ProjectKey(k) for k in sim.world.project_keys.values()])
        code, run = run_sync(cfg, as_json)
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
    _report(console, destination)
    if destinations.kind(destination) == "duckdb":
        # the file dlt wrote: duckdb:///tmp/x.duckdb is /tmp/x.duckdb, duckdb:///./x.duckdb is relative to here
        path = destinations.duckdb_path(destination)
        console.print(f"\nThe data is in {path}, schema openai. Query it with DuckDB, for example:\n"
                      f"  uv run python -c \"import duckdb; print(duckdb.connect('{path}').sql("
                      f"'SELECT * FROM openai.costs ORDER BY start_time DESC LIMIT 5'))\"",
                      highlight=False, soft_wrap=True)  # not broken across lines: it is to be copied
    raise typer.Exit(code)


def _report(console: Console, destination: str) -> None:
    """The demo's report, ./openai_report.html, and its path."""
    from ..html_report import ReportError, build, write

    try:
        report = Path("openai_report.html").absolute()
        write(build(destination, "openai"), report)
        console.print(f"\nThe report (spend, forecast, anomalies, keys, audit): {report}", highlight=False,
                      soft_wrap=True)
    except ReportError as e:
        console.print(f"\n[yellow]no report:[/] {e}", highlight=False)


def _serve(world: Any, destination: str, port: int, state_dir: str | None) -> int:
    """The simulator, and the service with its console on it: a connection `demo` in ./openai_demo_service/."""
    from ..config import ConfigError, ProjectKey, Secrets, Settings
    from ..config_files import save
    from ..service.serve import serve
    from ..simulator import Simulator

    folder = Path("openai_demo_service").absolute()
    config = folder / "openai-sync.toml"
    with Simulator(world) as sim:
        save(config, "demo", Settings.model_validate({"destination": destination, "base_url": sim.base_url,
                                                      "sync_frequency": "5m", "state_dir": state_dir}),
             Secrets(admin_key=sim.world.admin_key,
                     project_keys=[ProjectKey(k) for k in sim.world.project_keys.values()]))
        Console().print(f"[bold]openai-sync demo --serve[/]: a simulated {world.size_name} organization at "
                        f"{sim.base_url}; the console is at [bold]http://127.0.0.1:{port}[/] (the connection 'demo', "
                        f"syncing every 5 minutes into {destinations.shown(destination)}; its files in {folder}). "
                        "Ctrl-C stops it.",
                        highlight=False, soft_wrap=True)
        try:
            return serve(config, "127.0.0.1", port, 30.0)
        except ConfigError as e:
            Console(stderr=True).print(f"[red]error:[/] {e}", highlight=False)
            return 2
