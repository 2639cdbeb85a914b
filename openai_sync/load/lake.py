"""The filesystem destination as Delta tables: marking rows after a load without a SQL engine that writes.

A lake has no SQL engine that can write (dlt's DuckDB views over Delta need DuckDB's `delta` extension,
downloaded at run time). `LakeStore.mark` selects the primary keys of the rows to mark in an in-memory DuckDB
over the table read as Arrow, then `mark_keys` merges the new value into the Delta table by key, in one
commit (delta-rs).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from ..catalog import Table
from .store import Rows, where


class LakeStore:
    def __init__(self, pipeline: Any) -> None:
        from dlt.common.libs.deltalake import get_delta_tables

        self._get = lambda name: get_delta_tables(pipeline, name)[name]

    def keys(self, table: Table, rows: Rows) -> list[tuple]:
        """The primary keys of the selected rows."""
        cond, args = where(rows)
        with duckdb.connect() as con:
            con.register("t", self._get(table.name).to_pyarrow_table())
            return con.execute(f"SELECT {', '.join(table.primary_key)} FROM t WHERE {cond}".replace("%s", "?"),
                               args).fetchall()

    def mark_keys(self, table: Table, keys: list[tuple], column: str, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"the lake marks boolean columns only, not {column} = {value!r}")
        pk = list(table.primary_key)
        source = pa.table({c: [k[i] for k in keys] for i, c in enumerate(pk)})
        on = " AND ".join(f"t.{c} = s.{c}" for c in pk)
        (self._get(table.name).merge(source, on, source_alias="s", target_alias="t")
         .when_matched_update(updates={column: "true" if value else "false"}).execute())

    def mark(self, table: Table, rows: Rows, column: str, value: Any) -> int:
        if rows.scopes == ():
            return 0
        keys = self.keys(table, rows)
        if keys:
            self.mark_keys(table, keys, column, value)
        return len(keys)
