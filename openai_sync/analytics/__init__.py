"""Answers, not only tables: SQL models over the synced tables, kept as views in `<schema>_analytics` after every
sync, so that any BI tool sees them without extra tooling.

Each model is written once (models/*.sql, DuckDB's dialect) with two placeholders, `{{ source('TABLE') }}` (the
table) and `{{ current('TABLE') }}` (its current rows: not soft-deleted, or the current version in history
mode), and rendered for the destination's dialect by sqlglot. A model whose tables the destination does not
hold (not synced) is left out, and said so."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot

MODELS = {p.stem: p for p in sorted((Path(__file__).parent / "models").glob("*.sql"))}
PLACEHOLDER = re.compile(r"\{\{\s*(source|current|ref)\('(\w+)'\)\s*\}\}")
DIALECTS = {"duckdb": "duckdb", "postgres": "postgres"}  # dlt's destination -> sqlglot's dialect
SUFFIX = "_analytics"


@dataclass
class Refreshed:
    schema: str
    views: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # model -> the tables it lacks, or its error
    refused: dict[str, str] = field(default_factory=dict)  # model -> why the destination refused its view


def needs(model: str) -> set[str]:
    """The synced tables a model reads."""
    return {m.group(2) for m in PLACEHOLDER.finditer(MODELS[model].read_text()) if m.group(1) != "ref"}


def refs(model: str) -> set[str]:
    """The models a model reads (made before it)."""
    return {m.group(2) for m in PLACEHOLDER.finditer(MODELS[model].read_text()) if m.group(1) == "ref"}


def ordered() -> list[str]:
    """The models, each after those it reads."""
    out: list[str] = []
    while len(out) < len(MODELS):
        ready = [m for m in MODELS if m not in out and refs(m) <= set(out)]
        if not ready:
            raise ValueError(f"the models read each other in a circle: {sorted(set(MODELS) - set(out))}")
        out += ready
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def render(model: str, schema: str, dialect: str, columns: dict[str, set[str]]) -> str:
    """The model's SELECT over `schema`, in `dialect`; `columns` are each table's columns (history mode or not)."""

    def table(m: re.Match[str]) -> str:
        kind, name = m.groups()
        if kind == "ref":
            return f"{_quote(schema + SUFFIX)}.{_quote(name)}"
        qualified = f"{_quote(schema)}.{_quote(name)}"
        cols = columns.get(name, set())
        if kind == "source" or not ({"_valid_to", "_deleted"} & cols):
            return qualified
        live = "_valid_to IS NULL" if "_valid_to" in cols else "_deleted IS NOT TRUE"
        return f"(SELECT * FROM {qualified} WHERE {live})"

    text = PLACEHOLDER.sub(table, MODELS[model].read_text())
    return sqlglot.transpile(text, read="duckdb", write=dialect, pretty=True)[0]


def refresh(sql: Any, schema: str, dialect: str) -> Refreshed:
    """(Re)create every model's view in `<schema>_analytics` through a dlt SQL client, in one transaction. A view
    the destination refuses (a column an older or another API server never sent, say) is left out with its error,
    and the others are made without it: one model's trouble never stops the rest."""
    rows = sql.execute_sql("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
                           schema) or []
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    refused: dict[str, str] = {}
    while True:
        done, statements = _plan(schema, dialect, columns, refused)
        failing: str | None = None
        try:
            with sql.begin_transaction():
                for model, statement in statements:
                    failing = model
                    sql.execute_sql(statement)
            done.refused = dict(refused)
            return done
        except Exception as e:
            if failing is None or failing in refused:
                raise
            refused[failing] = "refused: " + (str(e).strip().splitlines() or [""])[0][:200]


def _plan(schema: str, dialect: str, columns: dict[str, set[str]],
          refused: dict[str, str]) -> tuple[Refreshed, list[tuple[str | None, str]]]:
    """The statements (each with the model it makes) that replace the views, less those refused."""
    target = schema + SUFFIX
    done = Refreshed(target)
    statements: list[tuple[str | None, str]] = [(None, f"CREATE SCHEMA IF NOT EXISTS {_quote(target)}")]
    # a view's columns may change: each is replaced whole, those reading others dropped first
    statements += [(None, f"DROP VIEW IF EXISTS {_quote(target)}.{_quote(m)}") for m in reversed(ordered())]
    for model in ordered():
        missing = sorted(needs(model) - set(columns)) + sorted(refs(model) & set(done.skipped))
        if model in refused:
            missing.append(refused[model])
        if missing:
            done.skipped[model] = missing
            continue
        statements.append((model, f"CREATE VIEW {_quote(target)}.{_quote(model)} AS\n"
                                  f"{render(model, schema, dialect, columns)}"))
        done.views.append(model)
    return done, statements


def drop(sql: Any, schema: str) -> None:
    """Drop the views before a load that drops or renames tables (PostgreSQL refuses while a view reads them);
    the run's refresh makes them again."""
    target = _quote(schema + SUFFIX)
    with sql.begin_transaction():
        for model in reversed(ordered()):
            sql.execute_sql(f"DROP VIEW IF EXISTS {target}.{_quote(model)}")
