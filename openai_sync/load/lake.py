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
from .store import Rows, held, where


class LakeStore:
    def __init__(self, pipeline: Any) -> None:
        from dlt.common.libs.deltalake import get_delta_tables

        self._get = lambda name: get_delta_tables(pipeline, name)[name]

    def keys(self, table: Table, rows: Rows) -> list[tuple]:
        """The primary keys of the selected rows."""
        cond, args = where(rows)
        with duckdb.connect() as con:
            con.register("t", self._get(table.name).to_pyarrow_table())
            return con.execute(f"SELECT {', '.join(table.row_key)} FROM t WHERE {cond}".replace("%s", "?"),
                               args).fetchall()

    def content(self, table: Table, rows: Rows, key: tuple[str, ...], column: str) -> dict[tuple, Any] | None:
        data = self._get(table.name).to_pyarrow_table()
        if column not in data.column_names:
            return None
        cond, args = where(rows)
        with duckdb.connect() as con:
            con.register("t", data)
            return held(con.execute(f"SELECT {', '.join(key)}, {column} FROM t WHERE {cond}".replace("%s", "?"),
                                    args).fetchall())

    def mark_keys(self, table: Table, keys: list[tuple], values: dict[str, Any]) -> None:
        """Merge `values` into the rows of `keys`, in one commit; columns the Delta table lacks are left out."""
        delta = self._get(table.name)
        have = {f.name for f in delta.schema().to_arrow()}
        values = {c: v for c, v in values.items() if c in have}
        pk = list(table.row_key)
        source = pa.table({**{c: [k[i] for k in keys] for i, c in enumerate(pk)},
                           **{f"v_{c}": pa.array([v] * len(keys)) for c, v in values.items()}})
        # null-safe for the organization: a server that does not say which organization leaves it null
        on = " AND ".join(f"(t.{c} IS NOT DISTINCT FROM s.{c})" if c == "organization_id" else f"(t.{c} = s.{c})"
                          for c in pk)
        (delta.merge(source, on, source_alias="s", target_alias="t")
         .when_matched_update(updates={c: f"s.v_{c}" for c in values}).execute())

    def mark(self, table: Table, rows: Rows, values: dict[str, Any]) -> int:
        if rows.scopes == ():
            return 0
        keys = self.keys(table, rows)
        if keys:
            self.mark_keys(table, keys, values)
        return len(keys)
