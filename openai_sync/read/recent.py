"""The `recent` way of reading a project list: newest first, down to the newest object of the last run, plus
the objects that were still open then (re-read by id). Objects in a terminal state never change again, and
these cannot be deleted, so nothing else needs reading. A table whose objects may be listed after their
creation (`late_seconds`: stored chat completions) is read that far below the last run's newest object."""

from __future__ import annotations

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
                state: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """New objects (newest first, down to the last run's newest) and the ones still open then.

    `fields`: the scope's fields, which fill the table's path and retrieve path. Returns the objects and the
    scope's next state; the caller commits that state only on success."""
    watermark = state.get("watermark")
    open_ids = list(state.get("open", []))
    # objects created in the watermark's second that were already read (and are not open): skip them
    known = set(state.get("at_watermark", [])) - set(open_ids)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    floor = None if watermark is None else watermark - table.late_seconds
    for page in list_pages(client, fill(table.path, fields), list_params(table), limit=table.page_limit,
                           envelope=table.envelope, label=table.name):
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
                items.append(it)
        if older:
            break
    for oid in open_ids:  # objects open at the last run: re-read, they may have finished since
        if oid in seen:
            continue
        try:
            items.append(client.get(fill(table.retrieve, {**fields, "id": oid}), label=table.name))
        except ApiProblem as e:
            if "404" not in str(e):
                raise
            # gone: nothing to update (these objects cannot be deleted, but a project can be)
        seen.add(oid)
    return items, _next_state(table, items, watermark, known)


def _next_state(table: Table, items: list[dict[str, Any]], watermark: int | None, known: set[str]) -> dict[str, Any]:
    newest = max([created(table, it) for it in items] + ([watermark] if watermark is not None else []),
                 default=None)
    at_newest = {it["id"] for it in items if created(table, it) == newest}
    if newest == watermark:
        at_newest |= known
    still_open = [it["id"] for it in items if table.terminal and it.get("status") not in table.terminal]
    return {"watermark": newest, "open": still_open, "at_watermark": sorted(at_newest)}
