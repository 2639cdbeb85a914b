"""Column blocking and keyed column hashing (SPEC 5), per `table.column`.

A blocked column never reaches the destination. A hashed column holds HMAC-SHA256(key, value) in hex:
the same input gives the same hash in every run and every destination (so it still joins: hash
`users.email` and `audit_logs.actor__session__user__email` with the same key), but the value cannot be
read back without guessing it. The key is a secret (`hash_key` in the secrets file, or
OPENAI_SYNC_HASH_KEY); changing it changes every hash.

Either part of an entry may be a pattern (`*`, `?`, `[...]`, as in file names): `*.*email*` is every column
of every table whose name holds "email". Hashing also reaches inside JSON values (`audit_logs.event_data`,
lists): the value of any key, at any depth, whose name matches an entry of the table is hashed in place,
so `*.*email*` hashes the `email` of an `invite.sent` event too. A list is hashed value by value (a list of
email addresses stays a list, of hashes, that joins `users.email`). Patterns never match the connector's own
columns (`_synced_at`, `_deleted`, ...).
"""

from __future__ import annotations

import hashlib
import hmac
from fnmatch import fnmatchcase
from typing import Any

import orjson
import pyarrow as pa

from ..catalog import TABLES, Table

SYSTEM = {"_synced_at", "_deleted"}  # what may never be blocked (with each table's primary key)
GLOB = set("*?[")


class PolicyError(ValueError):
    pass


def keyed_hash(key: bytes, value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _parse(entries: list[str], what: str) -> dict[str, set[str]]:
    """TABLE.COLUMN entries by table; a table pattern stands for every table it matches."""
    out: dict[str, set[str]] = {}
    for e in entries:
        table, _, column = e.strip().partition(".")
        if not column:
            raise PolicyError(f"{what} entry {e!r} must be TABLE.COLUMN, e.g. users.email (or a pattern: *.*email*)")
        tables = [t for t in TABLES if fnmatchcase(t, table)] if GLOB & set(table) else [table]
        if not tables or tables[0] not in TABLES:
            raise PolicyError(f"{what} entry {e!r}: unknown table {table!r}; valid tables: {', '.join(TABLES)}")
        for t in tables:
            out.setdefault(t, set()).add(column)
    return out


class _Columns:
    """The column names (and JSON keys) one table's entries match: exact names, and patterns."""

    def __init__(self, entries: set[str]) -> None:
        self.names = {e for e in entries if not GLOB & set(e)}
        self.patterns = [e for e in entries if GLOB & set(e)]
        self._seen: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        hit = self._seen.get(name)
        if hit is None:
            hit = self._seen[name] = name in self.names or (
                not name.startswith("_") and any(fnmatchcase(name, p) for p in self.patterns))
        return hit


class ColumnPolicy:
    def __init__(self, block: list[str] | None = None, hash_: list[str] | None = None,
                 key: str | None = None) -> None:
        self.block = _parse(block or [], "block_columns")
        self.hash = _parse(hash_ or [], "hash_columns")
        self._blocked = {t: _Columns(c) for t, c in self.block.items()}
        self._hashed = {t: _Columns(c) for t, c in self.hash.items()}
        for table, matches in self._blocked.items():
            pk = sorted(c for c in (*TABLES[table].primary_key, *SYSTEM) if matches(c))
            if pk:
                raise PolicyError(f"{table}.{pk[0]} is part of the primary key (or a system column) "
                                  f"of {table} and cannot be blocked; hash it instead, or block another column")
        if self.hash and not key:
            raise PolicyError("hash_columns needs a key: set hash_key in the secrets file or OPENAI_SYNC_HASH_KEY "
                              "(any long random string; keep it, since changing it changes every hash)")
        self.key = (key or "").encode()

    def __bool__(self) -> bool:
        return bool(self.block or self.hash)

    def _hashed_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._hashed_value(v) for v in value]
        return keyed_hash(self.key, value)

    def _inside(self, matches: _Columns, value: Any) -> Any:
        """A JSON value with the value of every matching key hashed, at any depth."""
        if isinstance(value, dict):
            return {k: self._hashed_value(v) if matches(k) else self._inside(matches, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._inside(matches, v) for v in value]
        return value

    def row(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        blocked = self._blocked.get(table.name)
        if blocked:
            for c in [c for c in row if blocked(c)]:
                del row[c]
        hashed = self._hashed.get(table.name)
        if hashed:
            for c, v in row.items():
                if hashed(c):
                    row[c] = self._hashed_value(v)
                elif isinstance(v, dict | list):
                    row[c] = self._inside(hashed, v)
        return row

    def arrow(self, table: Table, tbl: pa.Table) -> pa.Table:
        blocked, hashed = self._blocked.get(table.name), self._hashed.get(table.name)
        if blocked:
            tbl = tbl.drop_columns([c for c in tbl.column_names if blocked(c)])
        if hashed:
            for c in [c for c in tbl.column_names if hashed(c)]:
                values = [keyed_hash(self.key, v) for v in tbl.column(c).to_pylist()]
                tbl = tbl.set_column(tbl.column_names.index(c), c, pa.array(values, pa.string()))
        return tbl
