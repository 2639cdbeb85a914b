"""Strategies `fanout` and `settings`: per object of an organization parent table (a user, a project, a
group, or a fan-out's own objects: a project's users), its children's listing, or its settings folded into
one row; parents in parallel. One parent's failure is recorded for that parent alone; the others are read
and loaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..api.errors import SyncError
from ..api.pagination import list_pages
from ..api.parallel import fan_out
from ..catalog import PARENTS, Table, crosses_keys, fill
from .context import ReadContext, fanout_scopes, org_children, planned_scopes
from .ledger import PartialFailure, Scope
from .projects import project_parent_scopes
from .rows import to_row


def read_fanout(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    plan = ctx.feed.plan(table.name)
    if table.mode == "settings" and not table.parent:  # the organization's own settings: one row
        if plan is not None:  # the change feed: nothing touched them
            ctx.ledger.unread(table.name)
            ctx.feed.done(table, state)
            return
        client = ctx.org_client()
        item = {prefix: client.get(path, label=table.name) for prefix, path in table.settings_paths}
        yield [to_row(table, item, ctx.org_id, ctx.synced_at)]
        ctx.ledger.listed(table.name, (), 1)
        ctx.feed.done(table, state)
        return
    assert table.parent and table.parent_column
    client = ctx.org_client()  # the runner gives a table that crosses keys usable project keys, or refuses it
    scopes, unread = ((project_parent_scopes(ctx, table), {}) if crosses_keys(table) else
                      fanout_scopes(ctx, table) if plan is None else planned_scopes(ctx, table, plan))

    def children(scope: Scope) -> Iterator[list[dict[str, Any]]]:
        if table.mode == "settings":
            item = {prefix: client.get(fill(path, dict(scope)), label=table.name)
                    for prefix, path in table.settings_paths}
            yield [_row(ctx, table, scope, item)]
            return
        if table.name in PARENTS:  # one listing, shared with the fan-outs below it (it records itself)
            yield [_row(ctx, table, scope, it) for it in org_children(ctx, table, scope)]
            return
        yield [row for page in scope_pages(ctx, table, scope, client) for row in page]

    rows_of: dict[Scope, int] = {}
    listed: list[str] = []  # the parents read, for a listing of some only (Feed.done)
    failures = [f"{_named(s)}: {e}" for s, e in unread.items()]
    retry = [_named(s) for s in unread]  # parents to read again next run
    for s, e in unread.items():
        ctx.ledger.failed(table.name, s, str(e))
    for ev in fan_out(scopes, children, ctx.concurrency, table.name, isolate=SyncError):
        if ev.error is not None:
            failures.append(f"{_named(ev.key)}: {ev.error}")
            retry.append(_named(ev.key))
            ctx.ledger.failed(table.name, ev.key, str(ev.error))
        elif ev.done:
            if plan is not None:
                listed.append(_named(ev.key))
            if table.name not in PARENTS:
                ctx.ledger.listed(table.name, ev.key, rows_of.get(ev.key, 0))
        elif ev.item:
            rows_of[ev.key] = rows_of.get(ev.key, 0) + len(ev.item)
            yield ev.item
    ctx.feed.done(table, state, retry, listed=listed)
    if failures:
        raise PartialFailure(f"{len(failures)} of {len(scopes) + len(unread)} listings failed; first: {failures[0]}")


def _row(ctx: ReadContext, table: Table, scope: Scope, item: dict[str, Any]) -> dict[str, Any]:
    """An object of one parent's listing as a row: with the parent's id, and its own parent's (a project's)."""
    return to_row(table, item, ctx.org_id, ctx.synced_at, scope[-1][1], dict(scope[:-1]) or None)


def scope_pages(ctx: ReadContext, table: Table, scope: Scope, client: Any) -> Iterator[list[dict[str, Any]]]:
    """One parent's listing of a fan-out, page by page, as rows (also what load/feed.py compares one holder by)."""
    for page in list_pages(client, fill(table.path, dict(scope)), dict(table.params), limit=table.page_limit,
                           envelope=table.envelope, label=table.name):
        yield [_row(ctx, table, scope, it) for it in page]


def _named(scope: Scope) -> str:
    """A scope as its values: `user-1`, or `proj_1/user-1` below a fan-out."""
    return "/".join(v for _c, v in scope)
