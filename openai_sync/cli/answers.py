"""`openai-sync report`: the self-contained HTML report of a connection's destination."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .common import Command, ConfigPath, Connection, Destination, Group, Schema, _fail, _flags, _resolve, app

Output = Annotated[str, typer.Option("--output", "-o", help="Where to write the HTML file.")]
Organization = Annotated[str | None, typer.Option("--organization", help="Only this organization's data, where "
                                                                          "several share the schema (org-...).")]
Pdf = Annotated[str | None, typer.Option("--pdf", help="Also print the report to this PDF file (needs Chromium or "
                                                       "Chrome).")]


@app.command(cls=Command, epilog="""
Examples:

  openai-sync report                                 # ./openai_report.html from the default connection

  openai-sync report --connection prod --output /srv/www/openai.html

  openai-sync report --pdf openai_report.pdf        # the HTML file, and the same printed to PDF
""")
def report(connection: Connection = None, config: ConfigPath = None, destination: Destination = None,
           schema: Schema = None, output: Output = "openai_report.html", pdf: Pdf = None,
           organization: Organization = None) -> None:
    """Write one HTML file (opens offline) with spend, forecast, anomalies, usage against cost, the security
    review and the project objects, from the analytics views the last sync made."""
    from ..html_report import ReportError, build, write

    r = _resolve(_flags(connection=connection, config=config, destination=destination, schema=schema), False)
    began = time.monotonic()
    try:
        size = write(build(r.settings.destination, r.settings.schema_name, organization), Path(output))
    except ReportError as e:
        raise _fail(str(e), False) from None
    say = Console(stderr=True)
    say.print(f"Wrote {Path(output).absolute()} ({size / 1024:,.0f} KB in {time.monotonic() - began:.1f} s).",
              highlight=False, soft_wrap=True)
    if pdf:
        from ..html_report.pdf import print_pdf

        began = time.monotonic()
        try:
            size = print_pdf(Path(output), Path(pdf))
        except ReportError as e:
            raise _fail(str(e), False) from None
        say.print(f"Wrote {Path(pdf).absolute()} ({size / 1024:,.0f} KB in {time.monotonic() - began:.1f} s).",
                  highlight=False, soft_wrap=True)


exporter = typer.Typer(cls=Group, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                       help="Write the synced data in a standard format (FOCUS 1.2 for costs).")
app.add_typer(exporter, name="export")

FocusOutput = Annotated[str, typer.Option("--output", "-o", help="The file to write: .parquet or .csv (the name "
                                                                  "says the format).")]


@exporter.command(cls=Command, epilog="""
Examples:

  openai-sync export focus                           # ./openai_focus.parquet from the default connection

  openai-sync export focus --output costs.csv --connection prod
""")
def focus(connection: Connection = None, config: ConfigPath = None, destination: Destination = None,
          schema: Schema = None, output: FocusOutput = "openai_focus.parquet") -> None:
    """Write the costs as FOCUS 1.2 Cost and Usage rows, to Parquet or CSV.

    One row per costs row (BilledCost sums to the costs table); OpenAI's project, key, user and model as x_
    columns; read from the focus_costs view the last sync made."""
    from ..focus_export import ExportError, export

    r = _resolve(_flags(connection=connection, config=config, destination=destination, schema=schema), False)
    began = time.monotonic()
    try:
        done = export(r.settings.destination, r.settings.schema_name, Path(output))
    except ExportError as e:
        raise _fail(str(e), False) from None
    billed = ", ".join(f"{total:,.2f} {currency}" for currency, total in sorted(done.billed.items())) or "nothing"
    Console(stderr=True).print(f"Wrote {done.path.absolute()}: {done.rows:,} FOCUS rows, BilledCost {billed} "
                               f"({done.size / 1024:,.0f} KB in {time.monotonic() - began:.1f} s).",
                               highlight=False, soft_wrap=True)
