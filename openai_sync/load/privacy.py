"""Column blocking and keyed column hashing (SPEC 5), per `table.column`.

A blocked column never reaches the destination. A hashed column holds HMAC-SHA256(key, value) in hex:
the same input gives the same hash in every run and every destination (so it still joins: hash
`users.email` and `audit_logs.actor__session__user__email` with the same key), but the value cannot be
read back without guessing it. The key is a secret (`hash_key` in the secrets file, or
OPENAI_SYNC_HASH_KEY); changing it changes every hash.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pyarrow as pa

from ..catalog import TABLES, Table


class PolicyError(ValueError):
    pass


def keyed_hash(key: bytes, value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _parse(entries: list[str], what: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in entries:
        table, _, column = e.strip().partition(".")
        if not column:
            raise PolicyError(f"{what} entry {e!r} must be TABLE.COLUMN, e.g. users.email")
        if table not in TABLES:
            raise PolicyError(f"{what} entry {e!r}: unknown table {table!r}; valid tables: {', '.join(TABLES)}")
        out.setdefault(table, set()).add(column)
    return out


class ColumnPolicy:
    def __init__(self, block: list[str] | None = None, hash_: list[str] | None = None,
                 key: str | None = None) -> None:
        self.block = _parse(block or [], "block_columns")
        self.hash = _parse(hash_ or [], "hash_columns")
        for table, cols in self.block.items():
            pk = set(TABLES[table].primary_key) | {"_synced_at", "_deleted"}
            if cols & pk:
                raise PolicyError(f"{table}.{sorted(cols & pk)[0]} is part of the primary key (or a system column) "
                                  f"of {table} and cannot be blocked; hash it instead, or block another column")
        if self.hash and not key:
            raise PolicyError("hash_columns needs a key: set hash_key in the secrets file or OPENAI_SYNC_HASH_KEY "
                              "(any long random string; keep it, since changing it changes every hash)")
        self.key = (key or "").encode()

    def __bool__(self) -> bool:
        return bool(self.block or self.hash)

    def row(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        for c in self.block.get(table.name, ()):
            row.pop(c, None)
        for c in self.hash.get(table.name, ()):
            if c in row:
                row[c] = keyed_hash(self.key, row[c])
        return row

    def arrow(self, table: Table, tbl: pa.Table) -> pa.Table:
        blocked = [c for c in self.block.get(table.name, ()) if c in tbl.column_names]
        if blocked:
            tbl = tbl.drop_columns(blocked)
        for c in self.hash.get(table.name, ()):
            if c in tbl.column_names:
                values = [keyed_hash(self.key, v) for v in tbl.column(c).to_pylist()]
                tbl = tbl.set_column(tbl.column_names.index(c), c, pa.array(values, pa.string()))
        return tbl
