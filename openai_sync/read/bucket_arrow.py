"""A page of usage buckets parsed straight into Arrow, without a Python object per result.

A usage page holds up to 30,000 results (read/buckets.py). Parsed as Python dicts, each page's results take tens
of MB of the small-object allocator's arenas, which stay mapped for the rest of the run once later objects
land in them (docs/performance.md). Arrow's JSON reader parses the body in C++ into columns of the types the
catalog declares, and the rows come out as `bucket_rows.buckets_to_arrow` makes them: the same columns, values,
synthetic ids and `final`.

Only what the reader can take exactly takes this path: a page whose values do not fit their declared types (a
number as text, a fraction in a count, a value beyond 64 bits), a field nobody declared that is not a plain
number, text or boolean, a result that is not an object, or anything else unexpected returns None, and the page
is parsed the general way (orjson, then `buckets_to_arrow`), with its variant columns and its errors. Costs are
always parsed the general way: their amounts are decimals made from the JSON number's shortest repr, which
Arrow's reader does not make.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..catalog import Table, bucket_columns
from .bucket_rows import ARROW, NULL, TS

MADE = ("id", "start_time", "end_time", "bucket_width", "final", "organization_id", "_synced_at", "amount")
PLAIN = {pa.int64(): pa.int64(), pa.float64(): pa.float64(), pa.string(): pa.string(), pa.bool_(): pa.bool_(),
         pa.null(): pa.string()}  # an undeclared field's inferred type -> its column's (as bucket_rows makes it)
FAILED = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowKeyError, pa.ArrowIndexError)


class Page(NamedTuple):
    has_more: Any
    next_page: Any
    last_end: Any
    any_data: bool
    most: int  # the most results a bucket of the page held
    rows: pa.Table | None


def _schema(table: Table) -> pa.Schema:
    declared = bucket_columns(table)
    result = pa.struct([(k, ARROW[kind]) for k, kind in declared.items() if k not in MADE])
    bucket = pa.struct([("start_time", pa.int64()), ("end_time", pa.int64()), ("results", pa.list_(result))])
    return pa.schema([("data", pa.list_(bucket)), ("has_more", pa.bool_()), ("next_page", pa.string())])


def usage_page(table: Table, body: bytes, *, width: str, dims: tuple[str, ...], final_before: int,
               organization_id: str | None, synced_at: datetime) -> Page | None:
    """The page's cursor and its rows as one Arrow table; None when the page must be parsed the general way."""
    if table.mode != "usage" or not body:
        return None
    options = pj.ParseOptions(explicit_schema=_schema(table), unexpected_field_behavior="infer",
                              newlines_in_values=True)
    try:
        page = pj.read_json(pa.BufferReader(body), read_options=pj.ReadOptions(block_size=len(body) + 1),
                            parse_options=options)
        return _rows(table, page, width, dims, final_before, organization_id, synced_at)
    except FAILED:
        return None


def _rows(table: Table, page: pa.Table, width: str, dims: tuple[str, ...], final_before: int,
          organization_id: str | None, synced_at: datetime) -> Page | None:
    if page.num_rows != 1:
        return None
    data = page.column("data").combine_chunks()
    if data.null_count:
        return None
    buckets = data.flatten()
    starts, ends = buckets.field("start_time"), buckets.field("end_time")
    if buckets.null_count or starts.null_count or ends.null_count:
        return None  # the general way says what is wrong with it
    lists = buckets.field("results")
    lengths = pc.list_value_length(lists).fill_null(0)
    meta = (page.column("has_more")[0].as_py(), page.column("next_page")[0].as_py(),
            ends[len(ends) - 1].as_py() if len(ends) else None, len(buckets) > 0,
            pc.max(lengths).as_py() or 0 if len(lengths) else 0)
    results = lists.flatten()
    n = len(results)
    if n == 0:
        return Page(*meta, None)
    if results.null_count:
        return None
    arrays: dict[str, pa.Array] = {}
    declared = bucket_columns(table)
    for field, col in zip(results.type, results.flatten(), strict=True):  # flatten: the slice's own rows
        if field.name == "object":
            continue
        if field.name in MADE:
            return None
        if field.name not in declared:
            if field.type not in PLAIN:
                return None  # nested, a list, a date the reader recognised: the general way makes it text
            col = col.cast(PLAIN[field.type])
        arrays[field.name] = col
    parent = pc.list_parent_indices(lists)
    start, end = pc.take(starts, parent), pc.take(ends, parent)
    arrays["id"] = _ids(table.name, width, dims, start, arrays)
    arrays["start_time"] = pc.multiply(start, 1_000_000).cast(TS)
    arrays["end_time"] = pc.multiply(end, 1_000_000).cast(TS)
    arrays["bucket_width"] = pa.array([width] * n, pa.string())
    arrays["final"] = pc.less_equal(end, final_before)
    arrays["organization_id"] = pa.array([organization_id] * n, pa.string())
    arrays["_synced_at"] = pa.array([synced_at] * n, TS)
    return Page(*meta, pa.table(arrays))


def _ids(name: str, width: str, dims: tuple[str, ...], start: pa.Array, arrays: dict[str, pa.Array]) -> pa.Array:
    """`bucket_rows.bucket_id` of every row: the same text hashed, built column by column."""
    parts: list[Any] = [name, pc.cast(start, pa.string()), width]
    for d in dims:
        col = arrays.get(d)
        if col is None:
            text: Any = NULL
        else:
            if pa.types.is_boolean(col.type):  # as Python writes it: True, False
                col = pc.if_else(col, "True", "False")
            elif not pa.types.is_string(col.type):
                col = pc.cast(col, pa.string())
            text = pc.fill_null(col, NULL)
        parts.append(pc.binary_join_element_wise(f"{d}=", text, ""))
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    return pa.array([hashlib.blake2b(s.encode(), digest_size=16).hexdigest() for s in joined.to_pylist()],
                    pa.string())
