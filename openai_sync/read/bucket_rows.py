"""Usage and cost buckets as rows (SPEC 4.3), built as Arrow tables for fast loading.

No bucket result has an id, so each row gets a synthetic one: a hash of (table, bucket start, bucket
width, every group_by dimension, with a sentinel for null). Metric values are not in the hash, so a
restated bucket updates its row in place. `final` says whether the bucket had ended more than the
lookback before the run that wrote it.

Columns have the types the catalog declares (catalog.bucket_columns, from the SDK's types), whatever a page
holds: a metric null on every row of a page is still an integer column. A value that does not fit its
column's type goes to a variant column beside it (`input_tokens__v_text` for "12"), as dlt does for
dictionary rows; a field nobody declared becomes a column of the type its values have.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa

from ..api.errors import ApiProblem
from ..catalog import WIDTH_SECONDS, Table, bucket_columns

NULL = "\x00null"  # the sentinel for a null dimension: no real value contains a NUL byte
TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(38, 12)
PICO = Decimal("1e-12")
ARROW = {"timestamp": TS, "text": pa.string(), "bool": pa.bool_(), "bigint": pa.int64(), "double": pa.float64(),
         "decimal": MONEY}
INT64 = 2**63


def bucket_id(table: str, start_time: int, width: str, dims: tuple[str, ...], values: dict[str, Any]) -> str:
    parts = [table, str(start_time), width]
    for d in dims:
        v = values.get(d)
        parts.append(f"{d}={NULL if v is None else v}")
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def floor_to(t: int, width: str) -> int:
    w = WIDTH_SECONDS[width]
    return t // w * w


def value_type(v: Any) -> str:
    """dlt's name for the type of a JSON value."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "bigint"
    if isinstance(v, float):
        return "double"
    return "text"


def _fits(kind: str, v: Any) -> Any:
    """The value as a `kind` column holds it, or raises ValueError when it does not fit."""
    t = value_type(v)
    if kind == t or (kind == "double" and t == "bigint"):
        return float(v) if kind == "double" else v
    if kind == "decimal" and t in ("bigint", "double"):
        try:  # from the JSON number's shortest repr, to the column's 12 decimal places (a picodollar)
            return Decimal(repr(float(v))).quantize(PICO)
        except (InvalidOperation, OverflowError):
            raise ValueError(v) from None
    raise ValueError(v)


def _variant(v: Any) -> Any:
    return orjson.dumps(v).decode() if isinstance(v, dict | list) else v


def buckets_to_arrow(table: Table, buckets: list[dict[str, Any]], *, width: str, dims: tuple[str, ...],
                     final_before: int, organization_id: str | None, synced_at: datetime) -> pa.Table | None:
    """One Arrow table for a page of buckets; None when the page holds no results."""
    declared = bucket_columns(table)
    cols: dict[str, list[Any]] = {}
    n = 0

    def put(k: str, v: Any) -> None:
        col = cols.get(k)
        if col is None:
            col = cols[k] = [None] * n
        col.append(v)

    for b in buckets:
        if not isinstance(b.get("start_time"), int) or not isinstance(b.get("end_time"), int):
            raise ApiProblem(f"GET {table.path} returned a bucket without its start_time or end_time; the "
                             f"{table.name} table was not finished. If it persists, report it.")
        start, end = b["start_time"], b["end_time"]
        for r in b.get("results") or []:
            row = {k: v for k, v in r.items() if k != "object"}
            amount = row.pop("amount", None)
            if isinstance(amount, dict):  # costs: money as a decimal, never a float
                row["amount"], row["currency"] = amount.get("value"), amount.get("currency")
            elif amount is not None:
                row["amount"] = amount
            row |= {"id": bucket_id(table.name, start, width, dims, row), "start_time": start, "end_time": end,
                    "bucket_width": width, "final": end <= final_before}
            for k, v in row.items():
                _place(table, declared, k, v, put)
            n += 1
            for col in cols.values():
                if len(col) < n:
                    col.append(None)
    if n == 0:
        return None
    arrays = {k: _array(table, declared.get(k), k, v) for k, v in cols.items()}
    for k, kind in declared.items():  # every declared column, even when a page has it null throughout
        if k not in arrays:
            arrays[k] = pa.nulls(n, ARROW[kind])
    arrays["organization_id"] = pa.array([organization_id] * n, pa.string())
    arrays["_synced_at"] = pa.array([synced_at] * n, TS)
    return pa.table(arrays)


def _place(table: Table, declared: dict[str, str], k: str, v: Any, put: Any) -> None:
    if type(v) in (int, float) and not -INT64 <= v < INT64:  # as read/rows.py refuses it in any other table
        raise ApiProblem(f"GET {table.path} returned {k} = {v:.3g}, beyond any 64-bit integer; that page of "
                         f"{table.name} was not loaded and the table was not finished.")
    kind = declared.get(k)
    if v is None or kind is None or kind == "timestamp" or k == "id":
        put(k, v)
        return
    try:
        put(k, _fits(kind, v))
    except ValueError:
        put(f"{k}__v_{value_type(v)}", _variant(v))


def _array(table: Table, kind: str | None, k: str, values: list[Any]) -> pa.Array:
    if k in ("start_time", "end_time"):
        return pa.array([None if x is None else x * 1_000_000 for x in values], pa.int64()).cast(TS)
    if kind is not None:
        return pa.array(values, ARROW[kind])
    # a field nobody declared: the type its values have; mixed or nested values as text
    kinds = {value_type(x) for x in values if x is not None}
    if len(kinds) == 1 and kinds != {"text"}:
        return pa.array(values, ARROW[kinds.pop()])
    if kinds == {"bigint", "double"}:
        return pa.array([None if x is None else float(x) for x in values], pa.float64())
    return pa.array([x if x is None or isinstance(x, str) else orjson.dumps(x).decode() for x in values],
                    pa.string())
