"""API objects as rows: pure functions, no I/O.

1:1 nested objects become `a__b` columns; epoch fields become UTC timestamps; lists and the catalog's JSON
columns stay whole (one JSON column each). Every row carries the organization and the run's `_synced_at`.
What no table can hold (an object without its primary key, a number beyond 64 bits) fails its table with a
sentence. What reaches the destination beyond this (blocked and hashed columns, `_deleted`, the history
version) is the load layer's business.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..api.errors import ApiProblem
from ..catalog import Table

TIMESTAMP_FIELDS = {"created", "effective_at"}
INT64 = 2**63


def _is_ts_field(name: str) -> bool:
    return name.endswith("_at") or name in TIMESTAMP_FIELDS


def flatten(obj: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None,
            whole: tuple[str, ...] = ()) -> dict[str, Any]:
    """1:1 nested objects become `a__b` columns; epoch fields become UTC timestamps; lists stay as they are
    (JSON columns), and so do the nested objects named in `whole` (an uploaded JWKS: `verification__jwks`)."""
    out = {} if out is None else out
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v and name not in whole:
            flatten(v, f"{name}__", out, whole)
        elif isinstance(v, int | float) and not isinstance(v, bool) and _is_ts_field(k):
            out[name] = datetime.fromtimestamp(v, tz=UTC)
        else:
            out[name] = v
    return out


def to_row(table: Table, item: dict[str, Any], org_id: str | None, synced_at: datetime,
           parent_id: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {k: v for k, v in item.items() if k != "object"}
    json_values = {c: item.pop(c) for c in table.json_columns if c in item}
    row = flatten(item, whole=table.json_columns)
    row.update(json_values)
    if table.parent_column and parent_id is not None:
        row[table.parent_column] = parent_id
    row["organization_id"] = org_id
    row["_synced_at"] = synced_at
    if extra:
        row.update(extra)
    # A JSON column may hold a bare string ("all", "auto"). dlt takes a str bound for a JSON column as JSON text:
    # it parses it once and hands the result to the destination as it is, and a value it cannot parse goes to a
    # variant column beside the declared one. Encoded twice, the destination receives the JSON string "all".
    for c in table.json_columns:
        if isinstance(row.get(c), str):
            row[c] = json.dumps(json.dumps(row[c]))
    check(table, row)
    return row


def check(table: Table, row: dict[str, Any]) -> None:
    """Refuse what no table can hold: an object without its primary key, a number beyond 64 bits. The table
    fails with the reason; rows of earlier pages are loaded, its watermark does not move."""
    for c in table.primary_key:
        if row.get(c) is None:
            raise ApiProblem(f"GET {table.path} returned an object without its {c!r} (its primary key); the "
                             f"{table.name} table was not finished. If it persists, report it.")
    for k, v in row.items():  # JSON parsers turn integers beyond 64 bits into floats
        if type(v) in (int, float) and not -INT64 <= v < INT64:
            raise ApiProblem(f"GET {table.path} returned {k} = {v:.3g} for {table.name} {row.get('id')!r}, beyond "
                             "any 64-bit integer column; that object was not loaded and the table was not finished.")


def audit_row(table: Table, ev: dict[str, Any], org_id: str | None, synced_at: datetime) -> dict[str, Any]:
    """Actor and project flattened; the per-type detail object folded into one JSON column."""
    ev = dict(ev)
    detail = ev.pop(ev.get("type", ""), None)
    return to_row(table, ev, org_id, synced_at, extra={"event_data": detail})
