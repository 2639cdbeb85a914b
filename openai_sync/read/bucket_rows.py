"""Usage and cost buckets as rows (SPEC 4.3), built as Arrow tables for fast loading.

No bucket result has an id, so each row gets a synthetic one: a hash of (table, bucket start, bucket
width, every group_by dimension, with a sentinel for null). Metric values are not in the hash, so a
restated bucket updates its row in place. `final` says whether the bucket had ended more than the
lookback before the run that wrote it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..api.errors import ApiProblem
from ..catalog import WIDTH_SECONDS, Table

NULL = "\x00null"  # the sentinel for a null dimension: no real value contains a NUL byte
TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(38, 12)


def bucket_id(table: str, start_time: int, width: str, dims: tuple[str, ...], values: dict[str, Any]) -> str:
    parts = [table, str(start_time), width]
    for d in dims:
        v = values.get(d)
        parts.append(f"{d}={NULL if v is None else v}")
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def floor_to(t: int, width: str) -> int:
    w = WIDTH_SECONDS[width]
    return t // w * w


def buckets_to_arrow(table: Table, buckets: list[dict[str, Any]], *, width: str, dims: tuple[str, ...],
                     final_before: int, organization_id: str | None, synced_at: datetime) -> pa.Table | None:
    """One Arrow table for a page of buckets; None when the page holds no results."""
    cols: dict[str, list[Any]] = {}
    n = 0
    for b in buckets:
        if not isinstance(b.get("start_time"), int) or not isinstance(b.get("end_time"), int):
            raise ApiProblem(f"GET {table.path} returned a bucket without its start_time or end_time; the "
                             f"{table.name} table was not finished. If it persists, report it.")
        start, end = b["start_time"], b["end_time"]
        for r in b.get("results") or []:
            row = {k: v for k, v in r.items() if k != "object"}
            amount = row.pop("amount", None)
            if isinstance(amount, dict):  # costs: money as a decimal, never a float
                value = amount.get("value")
                row["amount"] = None if value is None else Decimal(repr(float(value)))
                row["currency"] = amount.get("currency")
            row["id"] = bucket_id(table.name, start, width, dims, row)
            row["start_time"] = start
            row["end_time"] = end
            row["bucket_width"] = width
            row["final"] = end <= final_before
            for k, v in row.items():
                col = cols.get(k)
                if col is None:
                    col = cols[k] = [None] * n
                col.append(v)
            n += 1
            for col in cols.values():
                if len(col) < n:
                    col.append(None)
    if n == 0:
        return None
    arrays: dict[str, pa.Array] = {}
    for k, v in cols.items():
        if k in ("start_time", "end_time"):
            arrays[k] = pa.array([x * 1_000_000 for x in v], pa.int64()).cast(TS)
        elif k == "amount":
            arrays[k] = pa.array(v, MONEY)
        elif k in dims or k in ("id", "bucket_width", "currency", "line_item", "quantity_unit"):
            arrays[k] = pa.array(v, pa.bool_() if k == "batch" else pa.string())
        elif k == "quantity":
            arrays[k] = pa.array(v, pa.float64())
        else:
            # metrics are int64, including any the API adds later; a field that is null on every row is a
            # dimension that was not grouped by (user_id, api_source, ...): text
            arr = pa.array(v)
            if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
                top = pc.max(pc.abs(arr)).as_py()
                if top is not None and top >= 2**63:  # JSON parsers turn such integers into floats
                    raise ApiProblem(f"GET {table.path} returned {k} = {top:.3g}, beyond any 64-bit integer; "
                                     f"that page of {table.name} was not loaded and the table was not finished.")
            arrays[k] = arr.cast(pa.string()) if arr.type == pa.null() else arr
    for d in dims:  # every dimension is a column, even when a page has it null throughout
        if d not in arrays:
            arrays[d] = pa.nulls(n, pa.bool_() if d == "batch" else pa.string())
    arrays["organization_id"] = pa.array([organization_id] * n, pa.string())
    arrays["_synced_at"] = pa.array([synced_at] * n, TS)
    return pa.table(arrays)

