"""One end-to-end suite, several destinations: a DuckDB file, or a fresh schema in the real PostgreSQL on
127.0.0.1:5432. Tests write their SQL for DuckDB with the schema `openai`; `Dest.q` adapts it."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
KINDS = ("duckdb", "postgres")

# DuckDB's information_schema type names -> PostgreSQL's
PG_TYPES = {"VARCHAR": "character varying", "BIGINT": "bigint", "BOOLEAN": "boolean", "JSON": "json",
            "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "DECIMAL": "numeric", "DOUBLE": "double precision"}


class Dest:
    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp
        if kind == "duckdb":
            self.schema = "openai"
            self.destination = f"duckdb:///{tmp}/out.duckdb"
        else:
            self.schema = "openai_t" + uuid.uuid4().hex[:10]
            self.destination = PG_DSN

    def sql(self, text: str) -> str:
        text = text.replace("openai.", f"{self.schema}.").replace("table_schema = 'openai'",
                                                                 f"table_schema = '{self.schema}'")
        if self.kind == "postgres":
            text = re.sub(r"epoch\(([^()]*)\)::BIGINT", r"CAST(EXTRACT(EPOCH FROM \1) AS BIGINT)", text)
            text = re.sub(r"epoch\(([^()]*)\)", r"EXTRACT(EPOCH FROM \1)", text)
            text = text.replace("::VARCHAR", "::text")
        return text

    def q(self, text: str) -> list[tuple]:
        if self.kind == "duckdb":
            with duckdb.connect(str(self.tmp / "out.duckdb"), read_only=True) as con:
                return con.sql(self.sql(text)).fetchall()
        con = psycopg2.connect(PG_DSN)
        try:
            with con.cursor() as cur:
                cur.execute(self.sql(text))
                return cur.fetchall()
        finally:
            con.close()

    def exec(self, text: str) -> None:
        """Change the destination by hand (as a user might), outside any sync."""
        if self.kind == "duckdb":
            with duckdb.connect(str(self.tmp / "out.duckdb")) as con:
                con.execute(self.sql(text))
            return
        con = psycopg2.connect(PG_DSN)
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(self.sql(text))
        finally:
            con.close()

    def one(self, text: str) -> Any:
        return self.q(text)[0][0]

    def type_name(self, duckdb_name: str) -> str:
        if self.kind == "duckdb":
            return duckdb_name
        return PG_TYPES.get(duckdb_name.split("(")[0], duckdb_name.lower())

    def wipe(self) -> None:
        """Empty the destination (a new or emptied warehouse)."""
        if self.kind == "duckdb":
            (self.tmp / "out.duckdb").unlink()
            return
        con = psycopg2.connect(PG_DSN)
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE; "
                            f"DROP SCHEMA IF EXISTS {self.schema}_staging CASCADE; "
                            f"DROP SCHEMA IF EXISTS {self.schema}_analytics CASCADE")
        finally:
            con.close()

    def tables(self) -> list[str]:
        return sorted(r[0] for r in self.q("SELECT table_name FROM information_schema.tables WHERE "
                                           "table_schema = 'openai' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'"))

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every table's rows as the user sees them: current rows only (not soft-deleted), without the
        system columns that say when or by which load a row was written."""
        out: dict[str, list[tuple]] = {}
        for t in self.tables():
            cols = [r[0] for r in self.q(f"SELECT column_name FROM information_schema.columns WHERE "
                                         f"table_schema = 'openai' AND table_name = '{t}' ORDER BY column_name")]
            data = [c for c in cols if not c.startswith("_")]
            where = "WHERE NOT _deleted" if "_deleted" in cols else ""
            select = ", ".join(f"CAST({c} AS VARCHAR)" for c in data)
            out[t] = sorted(self.q(f"SELECT {select} FROM openai.{t} {where}"), key=repr)
        return out


class LakeDest(Dest):
    """The filesystem destination (Delta tables), read through an in-memory DuckDB: each Delta table becomes
    a view `openai.<table>`, so the same queries and snapshots work."""

    def __init__(self, tmp: Path) -> None:
        self.kind = "lake"
        self.tmp = tmp
        self.schema = "openai"
        self.destination = f"filesystem:///{tmp}/lake"

    _con: Any = None
    _version: tuple = ()

    def q(self, text: str) -> list[tuple]:
        from deltalake import DeltaTable

        root = self.tmp / "lake" / self.schema
        tables = [d for d in sorted(root.iterdir()) if (d / "_delta_log").exists()] if root.exists() else []
        version = tuple((d.name, len(list((d / "_delta_log").iterdir()))) for d in tables)
        if self._con is None or version != self._version:  # read the tables again only after a commit
            if self._con is not None:
                self._con.close()
            self._con, self._version = duckdb.connect(), version
            self._con.execute("CREATE SCHEMA openai")
            for d in tables:
                self._con.register(f"t_{d.name}", DeltaTable(str(d)).to_pyarrow_table())
                self._con.execute(f"CREATE VIEW openai.{d.name} AS SELECT * FROM t_{d.name}")
        return self._con.sql(text).fetchall()
