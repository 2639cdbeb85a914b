"""Strategy `listing`: every object of a top-level organization list, whenever the change feed says it may have
changed (read/feed.py); or, when the feed names fewer objects than the listing has pages, each of them by its id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..api.pagination import list_pages
from ..catalog import PARENTS, Table
from .context import ReadContext, org_parent, retrieved
from .ledger import WHOLE, PartialFailure
from .rows import to_row


def read_listing(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    plan = ctx.feed.plan(table.name)
    if plan:  # the change feed names a few objects: each is retrieved (one found gone: the table is listed whole)
        got = retrieved(ctx, table.name, plan)
        if ctx.feed.plan(table.name) is not None:
            yield [to_row(table, it, ctx.org_id, ctx.synced_at) for it in got.items]
            ctx.ledger.retrieved(table.name)
            ctx.feed.done(table, state, got.failed)
            if got.failed:
                one, why = next(iter(got.failed.items()))
                raise PartialFailure(f"{len(got.failed)} of {len(plan)} objects could not be read; {one}: {why}")
            return
    elif plan is not None:  # the change feed: nothing touched it
        ctx.ledger.unread(table.name)
        ctx.feed.done(table, state)
        return
    if table.name in PARENTS:  # one listing, shared with the fan-outs that need it (it records itself)
        items = org_parent(ctx, table.name)
        yield [to_row(table, it, ctx.org_id, ctx.synced_at) for it in items]
        ctx.feed.done(table, state, rows=len(items))
        return
    n = 0
    for page in list_pages(ctx.org_client(), table.path, dict(table.params), limit=table.page_limit,
                           envelope=table.envelope, label=table.name):
        rows = [to_row(table, it, ctx.org_id, ctx.synced_at) for it in page]
        n += len(rows)
        yield rows
    ctx.ledger.listed(table.name, WHOLE, n)
    ctx.feed.done(table, state, rows=n)
