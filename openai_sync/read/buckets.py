"""Strategy `buckets`: usage and cost buckets from the table's cursor (or the start) to now.

A range longer than one page is cut into bucket ranges read in parallel. Pages are as large as the API
allows, unless the organization's buckets hold so many results that a page would not fit the memory bound
(RESULTS_PER_PAGE): a first sync probes the newest bucket of each range once; later runs remember the fullest
bucket they read. The cursor (in the table's dlt state) moves only when every range was read: next time,
every bucket that ended less than the lookback before this run is read again (OpenAI restates them). A run cut
short (its time budget, a failing range) keeps the ranges of final buckets it read whole (`done`): the next run
reads only the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..api.pagination import bucket_pages, page_data
from ..api.parallel import BIG_PAGES, fan_out, gaps, merged, split_range
from ..catalog import COSTS_PAGE, USAGE_PAGE, WIDTH_SECONDS, Table
from .bucket_arrow import usage_page
from .bucket_rows import buckets_to_arrow, floor_to
from .context import ReadContext, history_start
from .costs import costs_ranges

RESULTS_PER_PAGE = 30_000  # a page's results held at once, per worker: bounds memory whatever the organization


def read_buckets(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[Any]:
    width = ctx.width_for(table)
    if state.get("width") != width:
        state.clear()  # a new width is a new series of buckets: read from the start
        state["width"] = width  # now: the ranges a run cut short keeps are of this width
    start = floor_to(int(state.get("cursor") or history_start(ctx)), width)
    final_before = ctx.now - ctx.lookback_seconds
    w = WIDTH_SECONDS[width]
    most = COSTS_PAGE if table.mode == "costs" else USAGE_PAGE[width]
    known: dict[str, int] = dict(state.get("results_per_bucket") or {})  # the fullest bucket each grouping had
    fullest: dict[str, int] = {}
    lock = threading.Lock()
    streams, spans = [], []
    done = list(state.get("done") or [])  # bucket ranges a run cut short read whole: not read again
    for lo, hi, group_by in costs_ranges(ctx, table, start, state) if table.mode == "costs" else [
            (start, None, table.group_by)]:
        base: dict[str, Any] = {"bucket_width": width, "group_by": list(group_by)}
        end = hi if hi is not None else floor_to(ctx.now, width) + w  # the bucket in progress included
        n = -(-(end - lo) // w)
        grouping = ",".join(group_by)
        if n <= 1:
            per_page = most
        elif grouping in known:  # what the last run saw: no probe on an incremental run
            per_page = _page_size(known[grouping], most)
        else:
            per_page = _page_size(_newest_bucket_results(ctx, table, base, end - w), most)

        def note(results: int, g: str = grouping) -> None:
            with lock:
                fullest[g] = max(fullest.get(g, 0), results)

        for ga, gb in gaps(lo, end, done):
            for a, b in split_range(ga, gb, -(-((gb - ga) // w) // per_page), align=w):
                last = b == end and hi is None  # open-ended: buckets the API adds while we read are not cut off
                params = {**base, "start_time": a, "limit": per_page, **({} if last else {"end_time": b})}
                spans.append((a, b, last))
                streams.append(lambda p=params, until=(ctx.now if last else b), note=note: _arrow_pages(
                    ctx, table, p, until, width, final_before, note))
    # Arrow pages: every table's waiting pages share one bound (api/parallel.py)
    for ev in fan_out(range(len(streams)), lambda i: streams[i](), ctx.concurrency, table.name, shared=BIG_PAGES):
        if not ev.done:
            yield ev.item
            continue
        a, b, last = spans[ev.key]
        if not last and b <= final_before:  # final buckets, every page handed on: a cut-short run keeps them
            state["done"] = merged([*(state.get("done") or []), [a, b]])
    state.pop("done", None)
    state["cursor"] = max(start, floor_to(final_before, width))
    state["results_per_bucket"] = known | fullest
    state["group_by"] = ",".join(table.group_by)  # a change of dimensions reloads the table (load/pipeline.py)


def _page_size(results_per_bucket: int, most: int) -> int:
    """How many buckets a page may hold to stay within RESULTS_PER_PAGE (at least one, at most the API's)."""
    return max(1, min(most, RESULTS_PER_PAGE // max(1, results_per_bucket)))


def _newest_bucket_results(ctx: ReadContext, table: Table, base: dict[str, Any], last_bucket: int) -> int:
    """The probe: one request for the newest complete bucket tells how many results a bucket has (the newest
    is the fullest: an organization grows)."""
    probe = ctx.org_client().get(table.path, {**base, "start_time": last_bucket - WIDTH_SECONDS[base["bucket_width"]],
                                              "end_time": last_bucket, "limit": 1}, label=table.name)
    return sum(len(b.get("results") or []) for b in page_data(probe, table.path))


def _arrow_pages(ctx: ReadContext, table: Table, params: dict[str, Any], until: int, width: str,
                 final_before: int, note: Callable[[int], None]) -> Iterator[Any]:
    """One bucket range's pages as Arrow tables, built in the worker that read them. `note` hears the most
    results a bucket of each page held, which sizes the next run's pages."""

    def arrow(page: list[dict[str, Any]]) -> Any:
        note(max((len(b.get("results") or []) for b in page if isinstance(b, dict)), default=0))
        return buckets_to_arrow(table, page, width=width, dims=table.group_by, final_before=final_before,
                                organization_id=ctx.org_id, synced_at=ctx.synced_at)

    def straight(body: bytes) -> tuple[Any, Any, Any, bool, Any] | None:  # no Python object per result
        got = usage_page(table, body, width=width, dims=table.group_by, final_before=final_before,
                         organization_id=ctx.org_id, synced_at=ctx.synced_at)
        if got is None:
            return None
        note(got.most)
        return got.has_more, got.next_page, got.last_end, got.any_data, got.rows

    for tbl in bucket_pages(ctx.org_client(), table.path, params, until=until, label=table.name, digest=arrow,
                            raw=straight if table.mode == "usage" else None):
        if tbl is not None:
            yield tbl
