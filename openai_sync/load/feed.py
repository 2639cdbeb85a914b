"""The change feed's side of a load: each table's plan decided before the readers run (read/feed.py), from the
state the destination holds, and the feed's state committed after every data resource, with them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

from .. import changes
from ..api.errors import SyncError
from ..api.pagination import page_data
from ..catalog import TABLES, Table, object_path, scope_columns
from ..read import feed
from ..read.context import ReadContext
from ..read.fanout import scope_pages
from .reconcile import CONTENT, content_hash
from .resources import LoadPlan
from .store import LIVE, Rows, SqlStore

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
                 None if plan.lake else _holders(pipeline, plan, ctx), _invitee(client))


def _marked(pipeline: Any) -> str:
    path = Path(pipeline.working_dir) / MARKED
    return path.read_text().strip() if path.is_file() else ""


def finished(pipeline: Any, state: feed.Feed) -> None:
    """This run's load and marks are done: the next run may continue from its feed state."""
    if state.next_state:
        (Path(pipeline.working_dir) / MARKED).write_text(state.run)


def _holders(pipeline: Any, plan: LoadPlan, ctx: ReadContext) -> feed.Holders:
    """The parents of the rows naming an object, as the destination holds them (the users holding a role). For an
    event that changes every such row alike, one of them is listed first: unchanged there, unchanged everywhere."""

    def holders(t: Table, column: str, value: str, recent: frozenset[str] | None) -> set[str] | None:
        if t.name not in (pipeline.default_schema.tables if pipeline.default_schema_name else {}):
            return set()  # nothing loaded yet: nothing names it
        live = LIVE[plan.live(t)]
        cols = scope_columns(t)
        with pipeline.sql_client() as sql:
            name = sql.make_qualified_table_name(t.name)
            rows = sql.execute_sql(f"SELECT DISTINCT {', '.join(cols)} FROM {name} WHERE {column} = %s AND {live} "
                                   "AND organization_id IS NOT DISTINCT FROM %s", value, plan.organization)
        found = {"/".join(str(v) for v in r) for r in rows or ()}
        # a holder listed alone lately may have been listed after the change: it cannot tell for the others
        tellers = sorted(h for h in found if not _covered(h, recent)) if recent is not None else []
        if len(found) > 1 and tellers and _unchanged(pipeline, plan, ctx, t, column, value, tellers[0]):
            return set()
        return found

    return holders


def _invitee(client: Any) -> feed.Invitee:
    """An accepted invite's member and projects: the invite retrieved by its id (its email and projects), then the
    users listing filtered by that email; once per invite, whatever tables ask."""
    known: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {}

    def lookup(invite_id: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        try:
            invite = client.get(object_path(TABLES["invites"], invite_id), label="invites")
            email = invite.get("email")
            if not isinstance(email, str) or not email:
                return None
            path = TABLES["users"].path
            users = page_data(client.get(path, {"emails": [email], "limit": 100}, label="users"), path)
        except SyncError:  # gone, refused, failing: the tables fall back (changes.INVITED)
            return None
        projects = invite.get("projects") if isinstance(invite.get("projects"), list) else []
        return (tuple(str(u["id"]) for u in users if isinstance(u, dict) and u.get("id")),
                tuple(str(p["id"]) for p in projects if isinstance(p, dict) and p.get("id")))

    def invitee(invite_id: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        if invite_id not in known:
            known[invite_id] = lookup(invite_id)
        return known[invite_id]

    return invitee


def _covered(holder: str, listed: frozenset[str] | None) -> bool:
    """Whether a listing of `listed` read the holder's rows (`P/G`'s in a listing of P's groups' roles too)."""
    parts = holder.split("/")
    return any("/".join(parts[:n]) in (listed or ()) for n in range(1, len(parts) + 1))


def _unchanged(pipeline: Any, plan: LoadPlan, ctx: ReadContext, t: Table, column: str, value: str,
               holder: str) -> bool:
    """Whether one holder's rows naming the object, listed now, hash as the destination holds them (the hash a
    reconciliation compares: the same row made the same way, blocked and hashed columns included)."""
    scope = tuple(zip(scope_columns(t), holder.split("/"), strict=True))
    try:
        rows = [row for page in scope_pages(ctx, t, scope, ctx.admin) for row in page]
    except SyncError:
        return False  # the holders are listed, and this one's trouble is recorded there
    ignore = plan.history_ignore.get(t.name, frozenset())
    now: dict[tuple[str, ...], str] = {}
    for row in rows:
        if str(row.get(column)) != value:
            continue
        if plan.policy:
            plan.policy.row(t, row)
        now[tuple(str(row.get(c)) for c in t.primary_key)] = content_hash(t, row, ignore)
    with pipeline.sql_client() as sql:
        held = SqlStore(sql).content(t, Rows(plan.live(t), plan.organization, ((*scope, (column, value)),)),
                                     t.primary_key, CONTENT)
    return bool(now) and held is not None and now == {tuple(str(v) for v in k): h for k, h in held.items()}


def commit(state: feed.Feed) -> Any:
    """A resource without rows that moves the feed's state: loaded with this run's data, or not at all."""

    def move() -> Iterator[Any]:
        dlt.current.source_state()[feed.STATE_KEY] = state.next_state
        yield from ()

    return dlt.resource(move(), name="openai_sync_change_feed")
