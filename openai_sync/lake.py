"""The filesystem destination as Delta tables: the few statements openai-sync runs after a load.

A lake has no SQL engine that can write (dlt's DuckDB views over Delta need DuckDB's `delta` extension,
downloaded at run time). `LakeSQL` answers the same `execute_sql` calls as dlt's SQL clients for what
`pipeline.apply_soft_deletes` needs: a SELECT runs in an in-memory DuckDB over the table read as Arrow,
and an `UPDATE t SET col = value WHERE ...` selects the matching primary keys the same way, then
merges the new value into the Delta table in one commit (delta-rs).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pyarrow as pa

from . import catalog

_UPDATE = re.compile(r"UPDATE (\w+) SET (\w+) = (TRUE|FALSE) WHERE (.*)", re.S | re.I)
_FROM = re.compile(r"\bFROM (\w+)", re.I)


class LakeSQL:
    def __init__(self, pipeline: Any) -> None:
        from dlt.common.libs.deltalake import get_delta_tables

        self._get = lambda name: get_delta_tables(pipeline, name)[name]

    def __enter__(self) -> LakeSQL:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def make_qualified_table_name(name: str) -> str:
        return name

    def execute_sql(self, sql: str, *args: Any) -> list[tuple]:
        m = _UPDATE.fullmatch(sql.strip())
        if m is None:
            return self._select(sql, args)
        name, column, value, where = m.groups()
        pk = list(catalog.TABLES[name].primary_key)
        rows = self._select(f"SELECT {', '.join(pk)} FROM {name} WHERE {where}", args)
        if rows:
            source = pa.table({c: [r[i] for r in rows] for i, c in enumerate(pk)})
            on = " AND ".join(f"t.{c} = s.{c}" for c in pk)
            (self._get(name).merge(source, on, source_alias="s", target_alias="t")
             .when_matched_update(updates={column: value.lower()}).execute())
        return []

    def _select(self, sql: str, args: tuple[Any, ...]) -> list[tuple]:
        names = set(_FROM.findall(sql))
        with duckdb.connect() as con:
            for name in names:
                con.register(name, self._get(name).to_pyarrow_table())
            return con.execute(sql.replace("%s", "?"), list(args)).fetchall()
