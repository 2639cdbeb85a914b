"""Arrow pages made to agree with the columns the destination (or this run's earlier pages) already have.

dlt turns dictionary rows whose value does not fit a column into a variant column (`name__v_text`), but it
refuses an Arrow table whose column type differs from the one before (IncompatibleArrowSchema), and that
stops the whole extract step: no table at all would load. So each Arrow page is conformed first: a column
keeps the type it first had; values that cannot be cast to it move to the variant column of their own type.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

ARROW = {"text": pa.string(), "bigint": pa.int64(), "double": pa.float64(), "bool": pa.bool_(),
         "timestamp": pa.timestamp("us", tz="UTC"), "decimal": pa.decimal128(38, 12)}


def dlt_type(t: pa.DataType) -> str | None:
    """dlt's name for an Arrow type (None: one this module leaves as it is)."""
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return "decimal"
    return None


def conform(tbl: pa.Table, types: dict[str, str]) -> pa.Table:
    """`tbl` with every column of the type `types` has for it; `types` learns the columns it did not know."""
    for i, field in enumerate(tbl.schema):
        have = dlt_type(field.type)
        want = types.get(field.name)
        if have is None:
            continue
        if want is None or want not in ARROW:
            types.setdefault(field.name, have)
            continue
        if want == have and field.type == ARROW[want]:
            continue
        col = tbl.column(i)
        try:
            tbl = tbl.set_column(i, field.name, pc.cast(col, ARROW[want], safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            variant = f"{field.name}__v_{have}"
            tbl = tbl.set_column(i, field.name, pa.nulls(len(tbl), ARROW[want]))
            moved = col if variant not in tbl.column_names else pc.coalesce(tbl.column(variant), col)
            tbl = _put(tbl, variant, moved)
            types.setdefault(variant, have)
    return tbl


def _put(tbl: pa.Table, name: str, col: pa.ChunkedArray | pa.Array) -> pa.Table:
    if name in tbl.column_names:
        return tbl.set_column(tbl.column_names.index(name), name, col)
    return tbl.append_column(name, col)
