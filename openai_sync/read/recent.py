"""The `recent` way of reading a project list: newest first, down to the newest object of the last run, plus
the objects that were still open then (re-read by id). Objects in a terminal state never change again, and
these cannot be deleted, so nothing else needs reading. A table whose objects may be listed after their
creation (`late_seconds`: stored chat completions) is read that far below the last run's newest object."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..api.client import Client
from ..api.errors import ApiProblem
from ..api.pagination import list_pages
from ..catalog import Table, fill


def list_params(table: Table) -> dict[str, Any]:
    params = dict(table.params)
    if table.order_param:
        params["order"] = "desc"
    return params


def created(table: Table, item: dict[str, Any]) -> int:
    v = item.get(table.created_field)
    return int(v) if isinstance(v, int | float) else 0


def read_recent(client: Client, table: Table, fields: dict[str, str],
                state: dict[str, Any]) -> Generator[list[dict[str, Any]], None, dict[str, Any]]:
    """New objects (newest first, down to the last run's newest) and the ones still open then, page by page
    (a project's 2,000 stored completions are never held at once).

    `fields`: the scope's fields, which fill the table's path and retrieve path. Returns (as the generator's
    value) the scope's next state; the caller commits that state only on success."""
    watermark = state.get("watermark")
    open_ids = list(state.get("open", []))
    # objects created in the watermark's second that were already read (and are not open): skip them
    known = set(state.get("at_watermark", [])) - set(open_ids)
    seen: set[str] = set()
    nxt = _NextState(table)
    floor = None if watermark is None else watermark - table.late_seconds
    for page in list_pages(client, fill(table.path, fields), list_params(table), limit=table.page_limit,
                           envelope=table.envelope, label=table.name):
        fresh: list[dict[str, Any]] = []
        older = False
        for it in page:
            when = created(table, it)
            if floor is not None and when < floor:
                older = True  # everything after this is older still: already read
                break
            if when == watermark and it.get("id") in known:
                continue
            if it.get("id") not in seen:
                seen.add(it["id"])
                fresh.append(nxt.add(it))
        if fresh:
            yield fresh
        if older:
            break
    reread: list[dict[str, Any]] = []
    for oid in open_ids:  # objects open at the last run: re-read, they may have finished since
        if oid in seen:
            continue
        try:
            reread.append(nxt.add(client.get(fill(table.retrieve, {**fields, "id": oid}), label=table.name)))
        except ApiProblem as e:
            if "404" not in str(e):
                raise
            # gone: nothing to update (these objects cannot be deleted, but a project can be)
        seen.add(oid)
        if len(reread) >= REREAD_PAGE:
            yield reread
            reread = []
    if reread:
        yield reread
    return nxt.state(watermark, known)


REREAD_PAGE = 100  # objects re-read by id, passed on this many at a time


class _NextState:
    """The scope's next state, built as objects pass: the newest creation time, the objects created in that
    second (the next run skips them), and the objects still open."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.newest: int | None = None
        self.at_newest: set[str] = set()
        self.still_open: list[str] = []

    def add(self, it: dict[str, Any]) -> dict[str, Any]:
        when = created(self.table, it)
        if self.newest is None or when > self.newest:
            self.newest, self.at_newest = when, {it["id"]}
        elif when == self.newest:
            self.at_newest.add(it["id"])
        if self.table.terminal and it.get("status") not in self.table.terminal:
            self.still_open.append(it["id"])
        return it

    def state(self, watermark: int | None, known: set[str]) -> dict[str, Any]:
        newest = max([w for w in (self.newest, watermark) if w is not None], default=None)
        at_newest = set(self.at_newest) if self.newest == newest else set()
        if newest == watermark:
            at_newest |= known
        return {"watermark": newest, "open": self.still_open, "at_watermark": sorted(at_newest)}
