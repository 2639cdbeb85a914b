"""`openai-sync report`: the self-contained HTML report of a connection's destination."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .common import Command, ConfigPath, Connection, Destination, Schema, _fail, _flags, _resolve, app

Output = Annotated[str, typer.Option("--output", "-o", help="Where to write the HTML file.")]


@app.command(cls=Command, epilog="""
Examples:

  openai-sync report                                 # ./openai_report.html from the default connection

  openai-sync report --connection prod --output /srv/www/openai.html
""")
def report(connection: Connection = None, config: ConfigPath = None, destination: Destination = None,
           schema: Schema = None, output: Output = "openai_report.html") -> None:
    """Write one HTML file (opens offline) with spend, forecast, anomalies, usage against cost, the security
    review and the project objects, from the analytics views the last sync made."""
    from ..html_report import ReportError, build, write

    r = _resolve(_flags(connection=connection, config=config, destination=destination, schema=schema), False)
    began = time.monotonic()
    try:
        size = write(build(r.settings.destination, r.settings.schema_name), Path(output))
    except ReportError as e:
        raise _fail(str(e), False) from None
    Console(stderr=True).print(f"Wrote {Path(output).absolute()} ({size / 1024:,.0f} KB in "
                               f"{time.monotonic() - began:.1f} s).", highlight=False, soft_wrap=True)
