"""Marking rows after a load (`_deleted`, `_valid_to`), whatever holds them.

Which rows is data (`Rows`), never SQL text that another module parses: a SQL destination renders it into a
WHERE clause; the lake (lake.py) selects the matching primary keys and merges the new value by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from ..catalog import Table
from ..read.ledger import Scope

# `IS NOT TRUE`: a table that gained `_deleted` later (chat_completions) has it null on its older rows
DELETED_AT = "_deleted_at"  # when a soft delete was seen (the run's _synced_at)
LIVE = {"deleted": "_deleted IS NOT TRUE", "history": "_valid_to IS NULL", "all": "TRUE"}
Live = Literal["deleted", "history", "all"]


@dataclass(frozen=True)
class Rows:
    """Rows of one organization (its id, or None: rows without one) that are still current (`live`: not
    `_deleted`, or the current history version), within any of `scopes` (None: anywhere; a scope is column =
    value pairs, () the whole table), whose `outside` column is none of its values, and synced before a time."""

    live: Live
    organization: str | None
    scopes: tuple[Scope, ...] | None = None
    outside: tuple[str, tuple[str, ...]] | None = None
    synced_before: datetime | None = None


def where(rows: Rows) -> tuple[str, list[Any]]:
    """The WHERE clause selecting `rows`, with %s placeholders, and its arguments."""
    parts, args = [LIVE[rows.live], "organization_id IS NOT DISTINCT FROM %s"], [rows.organization]
    if rows.synced_before is not None:
        parts.append("_synced_at < %s")
        args.append(rows.synced_before)
    if rows.scopes is not None and () not in rows.scopes:
        columns = {tuple(c for c, _v in s) for s in rows.scopes}
        if len(columns) == 1 and len(next(iter(columns))) == 1:  # one column: an IN list
            parts.append(f"{next(iter(columns))[0]} IN ({', '.join(['%s'] * len(rows.scopes))})")
            args += [s[0][1] for s in rows.scopes]
        else:
            parts.append("(" + " OR ".join("(" + " AND ".join(f"{c} = %s" for c, _v in s) + ")"
                                           for s in rows.scopes) + ")")
            args += [v for s in rows.scopes for _c, v in s]
    if rows.outside is not None and rows.outside[1]:
        column, values = rows.outside
        parts.append(f"{column} NOT IN ({', '.join(['%s'] * len(values))})")
        args += list(values)
    return " AND ".join(parts), args


class Store(Protocol):
    def content(self, table: Table, rows: Rows, key: tuple[str, ...], column: str) -> dict[tuple[Any, ...], Any] | None:
        """Each selected row's `column` by its key; None when the stored table does not have that column."""
        ...

    def mark(self, table: Table, rows: Rows, values: dict[str, Any]) -> int:
        """Set each column of `values` on the selected rows; how many there were. A column the stored table does
        not have yet (`_deleted_at` on a table last loaded by an older version) is left out: it is added by the
        table's next load."""
        ...


def held(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], str | None]:
    return {tuple(r[:-1]): r[-1] for r in rows}


class SqlStore:
    """DuckDB, PostgreSQL and the other SQL destinations, through dlt's SQL client."""

    def __init__(self, sql: Any) -> None:
        self.sql = sql
        self.columns: dict[str, set[str]] = {}

    def _columns(self, table: Table) -> set[str]:
        if table.name not in self.columns:
            name = self.sql.make_qualified_table_name(table.name)
            with self.sql.execute_query(f"SELECT * FROM {name} WHERE 1 = 0") as cur:
                self.columns[table.name] = {d[0].lower() for d in cur.description}
        return self.columns[table.name]

    def content(self, table: Table, rows: Rows, key: tuple[str, ...], column: str) -> dict[tuple[Any, ...], Any] | None:
        if column not in self._columns(table):
            return None
        cond, args = where(rows)
        name = self.sql.make_qualified_table_name(table.name)
        return held(self.sql.execute_sql(f"SELECT {', '.join(key)}, {column} FROM {name} WHERE {cond}", *args) or [])

    def mark(self, table: Table, rows: Rows, values: dict[str, Any]) -> int:
        if rows.scopes == ():
            return 0
        name = self.sql.make_qualified_table_name(table.name)
        self._columns(table)
        values = {c: v for c, v in values.items() if c.lower() in self.columns[table.name]}
        cond, args = where(rows)
        found = self.sql.execute_sql(f"SELECT count(*) FROM {name} WHERE {cond}", *args)
        sets = ", ".join(f"{c} = %s" for c in values)
        self.sql.execute_sql(f"UPDATE {name} SET {sets} WHERE {cond}", *values.values(), *args)
        return int(found[0][0]) if found else 0
