"""Strategy `audit`: the audit log from its watermark (or the beginning) to now.

It is one newest-first cursor chain, so a first sync of a large organization would be thousands of requests
one after another: after the first page, the rest of the range is cut into `effective_at` windows read in
parallel. The watermark (in the table's dlt state) moves only once every window was read.

OpenAI writes the audit log asynchronously: an event can be listed minutes after its effective_at, later
than events that happened after it. So each run reads from `audit_lookback_seconds` before the watermark
(the newest effective_at loaded): an event listed at most that late after the run before is read by the
next run; merge on id keeps each event once. The cost is a page or two per run.

When the change feed read the audit log from at least as far back this run, its events are used as they are.

A run cut short (its time budget, a failing window) keeps the windows it finished in its state (`done`: ranges
of effective_at read whole and loaded); the next run reads only what lies between them, and the watermark moves
once nothing is left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..api.pagination import list_pages, page_data
from ..api.parallel import fan_out, gaps, merged, split_range
from ..catalog import Table
from .context import ReadContext, history_start
from .rows import audit_row

PAGES_PER_WINDOW = 16  # each window's last page is partial: more windows cost more requests


def read_audit(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    client = ctx.org_client()
    watermark = state.get("watermark")
    lo = int(watermark) - ctx.audit_lookback_seconds if watermark is not None else None
    # gte, not gt: events of the same second may arrive later; merge on id keeps each one once
    bounds: dict[str, int] = {"gte": lo} if lo is not None else {}
    newest = watermark
    seen: set[str] = set()  # events of the first page's oldest second, which the windows read again

    def rows(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal newest
        page = [ev for ev in page if ev.get("id") not in seen]  # one row per event in a load (Delta needs it)
        for ev in page:
            t = ev.get("effective_at")
            if isinstance(t, int) and (newest is None or t > newest):
                newest = t
        return [audit_row(table, ev, ctx.org_id, ctx.synced_at) for ev in page]

    if lo is not None and ctx.feed.lo is not None and ctx.feed.events is not None and ctx.feed.lo <= lo:
        # the change feed read this range already, this run (read/feed.py): the same events, no request
        for i in range(0, len(ctx.feed.events), table.page_limit):
            yield rows([ev for ev in ctx.feed.events[i:i + table.page_limit]
                        if isinstance(ev.get("effective_at"), int) and ev["effective_at"] >= lo])
        if newest is not None:
            state["watermark"] = newest
        state.pop("done", None)
        return
    first = client.get(table.path, {**({"effective_at": bounds} if bounds else {}), "limit": table.page_limit},
                       label=table.name)
    data = page_data(first, table.path)
    yield rows(data)
    stamps = [ev["effective_at"] for ev in data if isinstance(ev.get("effective_at"), int)]
    if first.get("has_more") and stamps:
        oldest = min(stamps)
        seen.update(ev.get("id") for ev in data if ev.get("effective_at") == oldest)
        floor = lo if lo is not None else min(history_start(ctx), oldest)
        # windows of about 16 pages each, as the first page's density estimates them; at most 4 per worker
        density = len(data) / max(1, max(stamps) - oldest)
        pages_left = density * max(0, oldest - floor) / table.page_limit
        parts = max(1, min(4 * ctx.concurrency, int(pages_left // PAGES_PER_WINDOW)))
        done = [tuple(r) for r in state.get("done") or []]
        windows = windows_between(floor, oldest + 1, done, parts)

        def window(a: int, b: int) -> Callable[[], Iterator[list[dict[str, Any]]]]:
            w = {"lt": b} | ({"gte": a} if a > floor or lo is not None else {})  # the oldest is open below
            return lambda: list_pages(client, table.path, {"effective_at": w}, limit=table.page_limit,
                                      label=table.name)

        streams = [window(a, b) for a, b in windows]
        for ev in fan_out(range(len(streams)), lambda i: streams[i](), ctx.concurrency, table.name):
            if ev.done:  # read whole, and every page of it handed on: a later run need not read it again
                state["done"] = merged([*(state.get("done") or []), windows[ev.key]])
            else:
                yield rows(ev.item)  # type: ignore[arg-type]
    if newest is not None:
        state["watermark"] = newest
    state.pop("done", None)


def windows_between(lo: int, hi: int, done: list[Any], parts: int) -> list[tuple[int, int]]:
    """[lo, hi) less the ranges already read, cut into about `parts` windows in proportion to each gap's length."""
    left = gaps(lo, hi, done)
    total = sum(b - a for a, b in left) or 1
    return [w for a, b in left for w in split_range(a, b, max(1, round(parts * (b - a) / total)))]
