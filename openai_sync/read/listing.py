"""Strategy `listing`: every object of a top-level organization list, whenever the change feed says it may have
changed (read/feed.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..api.pagination import list_pages
from ..catalog import PARENTS, Table
from .context import ReadContext, org_parent
from .ledger import WHOLE
from .rows import to_row


def read_listing(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    if ctx.feed.plan(table.name) is not None:  # the change feed: nothing touched it (read whole, or not at all)
        ctx.ledger.unread(table.name)
        ctx.feed.done(table, state)
        return
    if table.name in PARENTS:  # one listing, shared with the fan-outs that need it (it records itself)
        yield [to_row(table, it, ctx.org_id, ctx.synced_at) for it in org_parent(ctx, table.name)]
        ctx.feed.done(table, state)
        return
    n = 0
    for page in list_pages(ctx.org_client(), table.path, dict(table.params), limit=table.page_limit,
                           envelope=table.envelope, label=table.name):
        rows = [to_row(table, it, ctx.org_id, ctx.synced_at) for it in page]
        n += len(rows)
        yield rows
    ctx.ledger.listed(table.name, WHOLE, n)
    ctx.feed.done(table, state)
