"""Read-only queries of a destination for the report and the exports: a DuckDB file opened read-only (never while a
sync writes it), or PostgreSQL. Queries are written in DuckDB's dialect with `{a}` (the analytics schema) and `{s}`
(the synced one), and rendered for PostgreSQL by sqlglot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import sqlglot

from . import destinations


class Unreadable(Exception):
    """Why the destination cannot be read, in a sentence."""


# words after a table that are not its alias: an organization's subquery gets the table's name as its alias there
NOT_ALIASES = {"", "where", "order", "group", "join", "left", "right", "inner", "full", "cross", "limit", "on",
               "union", "having"}


class Reader:
    def __init__(self, destination: str, analytics: str, schema: str, organization: str | None = None) -> None:
        self.destination = destinations.normalize(destination)
        self.kind = destinations.kind(self.destination)
        self.a, self.s = analytics, schema
        self.organization = organization  # every table and view read as this organization's rows only
        if self.kind not in ("duckdb", "postgres"):
            raise Unreadable("only DuckDB and PostgreSQL destinations can be read here; query the analytics views of "
                              f"{destinations.shown(destination)} with your own tools")
        self.con: Any = None
        self._columns: dict[str, set[str]] = {}

    def __enter__(self) -> Reader:
        if self.kind == "duckdb":
            import duckdb

            path = destinations.duckdb_path(self.destination)
            if not path.exists():
                raise Unreadable(f"{path} does not exist: run `openai-sync sync` first")
            try:
                self.con = duckdb.connect(str(path), read_only=True)
            except duckdb.Error as e:
                raise Unreadable(f"{path} cannot be opened ({str(e).splitlines()[0]}); is a sync writing it?") \
                    from None
        else:
            import psycopg2

            try:
                self.con = psycopg2.connect(self.destination, connect_timeout=10)
            except psycopg2.Error as e:
                raise Unreadable(f"{destinations.shown(self.destination)} cannot be reached: "
                                  f"{str(e).strip().splitlines()[0]}") from None
        for schema, table, column in self._q("SELECT table_schema, table_name, column_name FROM "
                                             "information_schema.columns WHERE table_schema IN (%s, %s)",
                                             (self.a, self.s)):
            self._columns.setdefault(f"{schema}.{table}", set()).add(column)
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "duckdb":
            return self.con.execute(sql.replace("%s", "?"), list(args)).fetchall()
        with self.con.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def has(self, table: str, analytics: bool = False) -> bool:
        return f"{self.a if analytics else self.s}.{table}" in self._columns

    def column(self, table: str, column: str) -> bool:
        return column in self._columns.get(f"{self.s}.{table}", set())

    def scoped(self, sql: str) -> str:
        """`sql` with every {a}.TABLE and {s}.TABLE read as the organization's rows only."""
        if not self.organization:
            return sql
        literal = "'" + self.organization.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"

        def one(m: re.Match[str]) -> str:
            where, name, after = m.groups()
            alias = f" AS {name}" if after.lower() in NOT_ALIASES else ""
            return f"(SELECT * FROM {{{where}}}.{name} WHERE organization_id = {literal}){alias}"

        return re.sub(r"\{(a|s)\}\.(\w+)(?=\s*(\w*))", one, sql)

    def text(self, sql: str) -> str:
        """`sql` (DuckDB's dialect, {a} and {s}) as the destination runs it: scoped, named, in its dialect."""
        text = self.scoped(sql).format(a=f'"{self.a}"', s=f'"{self.s}"')
        return sqlglot.transpile(text, read="duckdb", write="postgres")[0] if self.kind == "postgres" else text

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self._q(self.text(sql))

    def batches(self, sql: str, size: int = 10_000) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """The query's column names and rows, `size` rows at a time (at least one batch, perhaps empty), so that a
        large result never sits in memory."""
        cur = self.con.cursor()
        try:
            cur.execute(self.text(sql))
            names = [d[0] for d in cur.description]
            rows = cur.fetchmany(size)
            yield names, rows  # once even when empty, so that the names are known
            while rows := cur.fetchmany(size):
                yield names, rows
        finally:
            cur.close()

    def one(self, sql: str) -> Any:
        found = self.rows(sql)
        return found[0][0] if found else None
