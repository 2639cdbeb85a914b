"""Ordered collections of simulated objects, and cursor pagination over them.

A collection is a sequence of slots in creation order. Each slot knows its id, when it appears
(`created`) and when it disappears (`gone`), and renders its JSON for a given clock value. Small
collections hold their items in a list; big ones (files, audit events, stored completions) build
each item from its index on demand, so a million-object collection costs nothing until it is read.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Render = Callable[[int], dict[str, Any]]


@dataclass(slots=True)
class Item:
    id: str
    created: int
    gone: int | None
    render: Render
    tags: dict[str, Any] | None = None  # filterable attributes (purpose, status, ...)

    def alive(self, now: int) -> bool:
        return self.created <= now and (self.gone is None or now < self.gone)


class Seq:
    """A collection of `n` slots, ordered by `created` (non-decreasing)."""

    def __init__(
        self,
        n: int,
        make: Callable[[int], Item],
        index_of: Callable[[str], int | None],
        created_at: Callable[[int], int] | None = None,
    ) -> None:
        self.n = n
        self.make = make
        self._index_of = index_of
        self._created_at = created_at or (lambda i: make(i).created)

    @classmethod
    def of(cls, items: list[Item]) -> Seq:
        items = sorted(items, key=lambda it: (it.created, it.id))
        pos = {it.id: i for i, it in enumerate(items)}
        created = [it.created for it in items]
        return cls(len(items), items.__getitem__, pos.get, created.__getitem__)

    def __len__(self) -> int:
        return self.n

    def index_of(self, obj_id: str) -> int | None:
        i = self._index_of(obj_id)
        return i if i is not None and 0 <= i < self.n else None

    def bound(self, t: int) -> int:
        """Number of leading slots created at or before t (created is monotonic)."""
        return bisect.bisect_right(range(self.n), t, key=self._created_at)

    def alive(self, now: int) -> list[Item]:
        out = []
        for i in range(self.bound(now)):
            it = self.make(i)
            if it.alive(now):
                out.append(it)
        return out

    def get(self, obj_id: str, now: int) -> Item | None:
        i = self.index_of(obj_id)
        if i is None:
            return None
        it = self.make(i)
        return it if it.alive(now) else None


class CursorError(ValueError):
    """A pagination cursor that names no object of the collection."""


def paginate(
    seq: Seq,
    now: int,
    *,
    limit: int,
    order: str = "asc",
    after: str | None = None,
    before: str | None = None,
    lo: int = 0,
    hi: int | None = None,
    keep: Callable[[Item], bool] | None = None,
) -> tuple[list[Item], bool]:
    """One page of live items within slots [lo, hi), in `order`, after or before a cursor.

    Returns the items and whether more exist beyond the page in the direction of travel.
    """
    hi = seq.bound(now) if hi is None else min(hi, seq.bound(now))
    step = 1 if order == "asc" else -1
    reverse_result = False
    if after is not None:
        idx = seq.index_of(after)
        if idx is None:
            raise CursorError(after)
        start = idx + step
    elif before is not None:
        idx = seq.index_of(before)
        if idx is None:
            raise CursorError(before)
        # walk backwards from the cursor, then restore the list's order
        step = -step
        start = idx + step
        reverse_result = True
    else:
        start = lo if step == 1 else hi - 1
    # a cursor outside the window [lo, hi) (an audit-log cursor older or newer than the effective_at
    # range) starts the walk at the window's edge instead of ending it at once
    start = max(start, lo) if step == 1 else min(start, hi - 1)
    out: list[Item] = []
    i = start
    has_more = False
    while lo <= i < hi:
        it = seq.make(i)
        if it.alive(now) and (keep is None or keep(it)):
            if len(out) == limit:
                has_more = True
                break
            out.append(it)
        i += step
    if reverse_result:
        out.reverse()
    return out, has_more

