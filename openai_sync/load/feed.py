"""The change feed's side of a load: each table's plan decided before the readers run (read/feed.py), from the
state the destination holds, and the feed's state committed after every data resource, with them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

from .. import changes
from ..catalog import Table, scope_columns
from ..read import feed
from ..read.context import ReadContext
from .resources import LoadPlan
from .store import LIVE

MARKED = "openai_sync_feed_marked"  # beside dlt's local state: the last run whose load and marks all finished


def prepare_run(pipeline: Any, plan: LoadPlan, ctx: ReadContext, tables: list[Table]) -> None:
    source = pipeline.state.get("sources", {}).get(pipeline.default_schema_name or "", {})
    resources = source.get("resources", {})
    feed_state = source.get(feed.STATE_KEY) or {}
    if feed_state.get("run") and feed_state["run"] != _marked(pipeline):
        # the run that committed this state was stopped after its extract, before its soft deletes were marked (or
        # this machine never saw it finish): what it read is loaded, what it found gone is not known to be marked
        feed_state = {**feed_state, "unfinished": True}
    # history mode retires what a load lacks within the table (dlt's scd2): its objects are never read one by one
    settings = dataclasses.replace(plan.feed, resync=plan.resync, retrieve=changes.RETRIEVE - plan.history)
    client = ctx.admin if ctx.admin is not None else None
    if client is None:
        return
    feed.prepare(ctx.feed, client, ctx.now, ctx.audit_lookback_seconds, tables, feed_state, resources, settings,
                 None if plan.lake else _holders(pipeline, plan))


def _marked(pipeline: Any) -> str:
    path = Path(pipeline.working_dir) / MARKED
    return path.read_text().strip() if path.is_file() else ""


def finished(pipeline: Any, state: feed.Feed) -> None:
    """This run's load and marks are done: the next run may continue from its feed state."""
    if state.next_state:
        (Path(pipeline.working_dir) / MARKED).write_text(state.run)


def _holders(pipeline: Any, plan: LoadPlan) -> feed.Holders:
    """The parents of the rows naming an object, as the destination holds them (the users holding a role)."""

    def holders(t: Table, column: str, value: str) -> set[str] | None:
        if t.name not in (pipeline.default_schema.tables if pipeline.default_schema_name else {}):
            return set()  # nothing loaded yet: nothing names it
        live = LIVE[plan.live(t)]
        cols = scope_columns(t)
        with pipeline.sql_client() as sql:
            name = sql.make_qualified_table_name(t.name)
            rows = sql.execute_sql(f"SELECT DISTINCT {', '.join(cols)} FROM {name} WHERE {column} = %s AND {live} "
                                   "AND organization_id IS NOT DISTINCT FROM %s", value, plan.organization)
        return {"/".join(str(v) for v in r) for r in rows or ()}

    return holders


def commit(state: feed.Feed) -> Any:
    """A resource without rows that moves the feed's state: loaded with this run's data, or not at all."""

    def move() -> Iterator[Any]:
        dlt.current.source_state()[feed.STATE_KEY] = state.next_state
        yield from ()

    return dlt.resource(move(), name="openai_sync_change_feed")
