"""Strategies `fanout` and `settings`: per object of an organization parent table (a user, a project, a
group), its children's listing, or its settings folded into one row; parents in parallel. One parent's
failure is recorded for that parent alone; the others are read and loaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..api.errors import SyncError
from ..api.pagination import list_pages
from ..api.parallel import fan_out
from ..catalog import Table, fill
from .context import ReadContext, org_parent
from .ledger import PartialFailure, scope_of
from .rows import to_row


def read_fanout(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    assert table.parent and table.parent_column
    parents = [p["id"] for p in org_parent(ctx, table.parent)]
    client = ctx.org_client()

    def children(pid: str) -> Iterator[list[dict[str, Any]]]:
        fields = {table.parent_column: pid}
        if table.mode == "settings":
            item = {prefix: client.get(fill(path, fields), label=table.name) for prefix, path in table.settings_paths}
            yield [to_row(table, item, ctx.org_id, ctx.synced_at, pid)]
            return
        rows: list[dict[str, Any]] = []
        for page in list_pages(client, fill(table.path, fields), dict(table.params), limit=table.page_limit,
                               envelope=table.envelope, label=table.name):
            rows.extend(to_row(table, it, ctx.org_id, ctx.synced_at, pid) for it in page)
        yield rows

    rows_of: dict[str, int] = {}
    failures: list[str] = []
    for ev in fan_out(parents, children, ctx.concurrency, table.name, isolate=SyncError):
        scope = scope_of(**{table.parent_column: ev.key})
        if ev.error is not None:
            failures.append(f"{ev.key}: {ev.error}")
            ctx.ledger.failed(table.name, scope, str(ev.error))
        elif ev.done:
            ctx.ledger.listed(table.name, scope, rows_of.get(ev.key, 0))
        elif ev.item:
            rows_of[ev.key] = rows_of.get(ev.key, 0) + len(ev.item)
            yield ev.item
    if failures:
        raise PartialFailure(f"{len(failures)} of {len(parents)} listings failed; first: {failures[0]}")
