"""Costs: the groupings the API accepts only for some time ranges, and how the ranges are cut around them.

- `api_key_id`: refused for ranges that start before 2025-12-06 (a fixed date: catalog).
- `user_id` together with `project_id`: "depends on the organization and requested time range" (SDK); unsupported
  combinations answer 400. The day from which it is accepted is found once, by asking for one day at a time
  (the newest, then a binary search down to the oldest day read), and kept in the table's state.

A range that starts before a dimension is accepted is read without that dimension, so no request fails and
no dimension is lost where the API has it. Each bucket is always read with the same grouping (the cut days do
not move), so its rows keep their synthetic ids from run to run; the sum of a day's rows is its cost either way.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..api.errors import ApiProblem
from ..catalog import COSTS_API_KEY_GROUPING_FROM, WIDTH_SECONDS, Table
from .context import ReadContext

DAY = WIDTH_SECONDS["1d"]
USER_WITH_PROJECT = "user_with_project_from"  # in the table's state: the first day accepted, or None (never yet)
USER_CHECKED = "user_with_project_checked"  # the day it was last found refused: asked again a day later


def costs_ranges(ctx: ReadContext, table: Table, start: int, state: dict[str, Any]
                 ) -> list[tuple[int, int | None, tuple[str, ...]]]:
    """[(from, to or None for open-ended, group_by)]: each range's grouping is what the API accepts for it."""
    since: dict[str, int | None] = {}
    if "api_key_id" in table.group_by:
        since["api_key_id"] = COSTS_API_KEY_GROUPING_FROM
    if {"user_id", "project_id"} <= set(table.group_by):
        since["user_id"] = user_with_project_from(ctx, table, start, state)
    return split_by_availability(start, table.group_by, since)


def split_by_availability(start: int, dims: tuple[str, ...], since: dict[str, int | None]
                          ) -> list[tuple[int, int | None, tuple[str, ...]]]:
    """Cut [start, open) where a dimension becomes available (`since`: its first accepted time, None: never)."""
    cuts = sorted({t for t in since.values() if t is not None and t > start})
    bounds: list[int | None] = [start, *cuts, None]
    out = []
    for a, b in itertools.pairwise(bounds):
        assert a is not None
        unavailable = {d for d, t in since.items() if t is None or a < t}
        out.append((a, b, tuple(d for d in dims if d not in unavailable)))
    return out


def user_with_project_from(ctx: ReadContext, table: Table, start: int, state: dict[str, Any]) -> int | None:
    """The first day whose costs the API groups by user_id together with project_id (None: not even today)."""
    known = state.get(USER_WITH_PROJECT, "unknown")
    if isinstance(known, int):
        return known
    newest = ctx.now // DAY * DAY - DAY  # the last complete day
    oldest = start // DAY * DAY
    if known is None and state.get(USER_CHECKED) == newest:
        return None  # refused today already: asked again tomorrow, the organization may get it
    if newest < oldest or not _accepts(ctx, table, newest):
        state[USER_WITH_PROJECT], state[USER_CHECKED] = None, newest
        if known == "unknown":
            ctx.ledger.note(f"{table.name}: the API does not group costs by user_id together with project_id for "
                            "this organization, so user_id stays empty (each cost row keeps its project)")
        return None
    lo, hi = oldest, newest  # refused before lo? accepted at hi
    if _accepts(ctx, table, lo):
        hi = lo
    while hi - lo > DAY:
        mid = (lo + hi) // 2 // DAY * DAY
        lo, hi = (lo, mid) if _accepts(ctx, table, mid) else (mid, hi)
    state[USER_WITH_PROJECT] = hi
    if hi > oldest:
        ctx.ledger.note(f"{table.name}: the API groups costs by user_id together with project_id from {_day(hi)} "
                        f"only; costs before it have no user_id (each keeps its project)")
    return hi


def _accepts(ctx: ReadContext, table: Table, day: int) -> bool:
    try:
        ctx.org_client().get(table.path, {"start_time": day, "end_time": day + DAY, "bucket_width": "1d",
                                          "group_by": ["project_id", "user_id"], "limit": 1}, label=table.name)
    except ApiProblem as e:
        if "answered 400" in str(e) and "user_id" in str(e):
            return False
        raise
    return True


def _day(t: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d")
