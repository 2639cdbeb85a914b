"""`openai-sync export focus`: the `focus_costs` analytics view (FOCUS 1.2 Cost and Usage rows) written to one
Parquet or CSV file, streamed in batches and renamed into place only when whole."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .analytics import SUFFIX
from .load import destinations
from .load.reading import Reader, Unreadable

FORMATS = (".parquet", ".csv")
VIEW = "focus_costs"


class ExportError(Exception):
    """Why no export can be made, in a sentence."""


@dataclass
class Exported:
    path: Path
    rows: int = 0
    billed: dict[str, Decimal] = field(default_factory=dict)  # BillingCurrency -> sum of BilledCost
    size: int = 0


def export(destination: str, schema: str, output: Path) -> Exported:
    """Write the destination's FOCUS rows to `output` (.parquet or .csv)."""
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"{output} must end in .parquet or .csv (the file's format is taken from its name)")
    if not output.parent.is_dir():
        raise ExportError(f"{output.parent} is not a folder: create it, or choose another --output")
    done = Exported(output)
    part = output.with_name(f".{output.name}.part")
    try:
        with Reader(destination, schema + SUFFIX, schema) as r:
            if not r.has(VIEW, analytics=True):
                raise ExportError(f"{destinations.shown(destination)} has no {schema}{SUFFIX}.{VIEW} view: run "
                                  "`openai-sync sync` first (each sync makes it, when the costs table is synced)")
            query = f'SELECT * FROM {{a}}.{VIEW} ORDER BY "ChargePeriodStart", "x_CostId"'
            if r.kind == "duckdb":  # DuckDB writes the file itself, in parallel, at its own speed
                _duckdb_copy(r, query, suffix, part, done)
            else:
                (_parquet if suffix == ".parquet" else _csv)(_counted(r.batches(query), done), part)
        os.replace(part, output)
    except Unreadable as e:
        raise ExportError(str(e)) from None
    finally:
        part.unlink(missing_ok=True)
    done.size = output.stat().st_size
    return done


def _duckdb_copy(r: Reader, query: str, suffix: str, part: Path, done: Exported) -> None:
    r.con.execute("SET TimeZone = 'UTC'")  # timestamps written in UTC, as FOCUS wants them
    target = "'" + str(part).replace("'", "''") + "'"
    options = ("FORMAT parquet, COMPRESSION zstd" if suffix == ".parquet" else
               "FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ'")
    r.con.execute(f"COPY ({r.text(query)}) TO {target} ({options})").fetchall()
    for currency, billed, rows in r.rows(f'SELECT "BillingCurrency", sum("BilledCost"), count(*) FROM {{a}}.{VIEW} '
                                         'GROUP BY 1'):
        done.billed[currency] = Decimal(billed or 0)
        done.rows += rows


def _counted(batches: Iterator[tuple[list[str], list[tuple[Any, ...]]]], done: Exported) -> Iterator[
        tuple[list[str], list[tuple[Any, ...]]]]:
    for names, rows in batches:
        cost, currency = names.index("BilledCost"), names.index("BillingCurrency")
        for row in rows:
            done.billed[row[currency]] = done.billed.get(row[currency], Decimal(0)) + (row[cost] or 0)
        done.rows += len(rows)
        yield names, rows


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    if name.endswith(("Cost", "Price")):
        return pa.decimal128(38, 12)
    if name.endswith("Quantity"):
        return pa.decimal128(38, 6)
    if name.endswith(("Start", "End")):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _parquet(batches: Iterator[tuple[list[str], list[tuple[Any, ...]]]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for names, rows in batches:
            if writer is None:
                schema = pa.schema([(n, _arrow_type(n)) for n in names])
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            columns = list(zip(*rows, strict=True)) or [() for _ in names]  # no rows: a file with the columns
            writer.write_table(pa.Table.from_arrays(
                [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema))
    finally:
        if writer is not None:
            writer.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):  # FOCUS's date-time format: ISO 8601 in UTC, to the second
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value, "f")  # never scientific notation
    return str(value)


def _csv(batches: Iterator[tuple[list[str], list[tuple[Any, ...]]]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        for i, (names, rows) in enumerate(batches):
            if i == 0:
                out.writerow(names)
            out.writerows([_cell(v) for v in row] for row in rows)
