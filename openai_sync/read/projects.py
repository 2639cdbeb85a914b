"""Strategy `project`: each project's own objects, read with that project's key (SPEC 4.2).

Every row carries `project_id`. Projects are read in parallel (one shared bound on requests in flight), and
a project whose key fails is recorded on its own while the other projects' tables still load. Per project,
a table is read `full` (every object) or `recent` (see recent.py), page by page; a child table is read for
each parent object this run read: all of them for a full parent, the new and the still-open ones for a recent
parent (output items of a run that just completed, ...), the parents of every project in parallel. Parents
are read once per project and shared by their children (as the fields the children read with).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from typing import Any

from ..access import ProjectAccess
from ..api.errors import SyncError
from ..api.pagination import list_pages
from ..api.parallel import fan_out, gather
from ..catalog import ALL_TABLES, PROJECT_PARENTS, TABLES, Table, fill, placeholders
from .context import ReadContext
from .ledger import PartialFailure, Scope
from .recent import list_params, read_recent
from .rows import to_row

STATE_KEY = "project_tables"  # the project tables' state in dlt's source state: table -> scope -> state


Unit = tuple[ProjectAccess, dict[str, Any] | None]  # a project, or one parent object of a project


def read_project_table(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """One table across every project with a key; a failing project does not stop the others. `state`: the
    project tables' state as the last run committed it (read only: see load/resources.py)."""
    drop = () if ctx.chat_completion_content else table.drop_columns

    def rows(unit: Unit) -> Iterator[list[dict[str, Any]]]:
        extra = {"project_id": unit[0].project_id}
        for page in _stream(ctx, unit, table, state):
            yield [to_row(table, {k: v for k, v in it.items() if k not in drop}, ctx.org_id, ctx.synced_at,
                          extra=extra) for it in page]

    failures: dict[str, str] = {}

    def failed(access: ProjectAccess, error: Exception) -> None:
        failures.setdefault(access.project_id, str(error))
        ctx.ledger.failed(table.name, (("project_id", access.project_id),), str(error))

    # projects (or their parent objects) in parallel, page by page, each page read once it has a place
    # (api/parallel.py): what is held at once is a few pages, never a project's 100,000 files or 2,000 completions
    try:
        for ev in fan_out(_units(ctx, table, state, failed), rows, ctx.concurrency, table.name, isolate=SyncError):
            if ev.error is not None:
                failed(ev.key[0], ev.error)
            elif ev.item:
                yield ev.item
    except Exception as e:  # unexpected: which projects it reached is unknown, so no project's state may move
        for access in ctx.projects:
            ctx.ledger.failed(table.name, (("project_id", access.project_id),), f"{type(e).__name__}")
        raise
    if failures:
        pid, err = next(iter(failures.items()))
        raise PartialFailure(f"{len(failures)} of {len(ctx.projects)} projects failed; {pid}: {err}")


def _units(ctx: ReadContext, table: Table, state: dict[str, Any],
           failed: Callable[[ProjectAccess, Exception], None]) -> list[Unit]:
    """What a table's reading fans out over: each project, or, for a child table, each parent object of each
    project (read once per project and shared with the parent's table; a project whose parents cannot be listed
    is failed here)."""
    if not table.parent or table.name in PROJECT_PARENTS:
        return [(access, None) for access in ctx.projects]
    parent = TABLES[table.parent]

    def parents(access: ProjectAccess) -> Iterator[list[Unit]]:
        yield [(access, p) for p in _parent_items(ctx, access, parent, state)]

    units: list[Unit] = []
    for ev in fan_out(ctx.projects, parents, ctx.concurrency, table.name, isolate=SyncError):
        if ev.error is not None:
            failed(ev.key, ev.error)
        elif ev.item:
            units.extend(ev.item)
    return units


def _stream(ctx: ReadContext, unit: Unit, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    access, parent = unit
    if table.name in PROJECT_PARENTS:  # one list, shared with the children
        yield _parent_items(ctx, access, table, state, own=True)
    elif parent is not None:
        yield from _children(ctx, access, table, parent, state)
    else:
        yield from _scope(ctx, access, table, {}, None, state)


def _parent_items(ctx: ReadContext, access: ProjectAccess, table: Table, state: dict[str, Any],
                  own: bool = False) -> list[dict[str, Any]]:
    """A parent table's objects of one project, read once; `own`: the parent's table itself asks (it takes the
    whole objects, and the cache keeps for the children only the fields they read with)."""
    return ctx.parents.get((table.name, access.project_id), lambda: _items(ctx, access, table, state),
                           _slim(table) if own else None)


def _slim(parent: Table) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """What the children of a parent need of its objects: the id and the fields their paths name (a run's
    `eval_id`), not an eval run's data source and results, held for 300 projects until every child is read."""
    keep = _child_fields(parent.name)
    return lambda items: [{k: v for k, v in it.items() if k in keep} for it in items]


@functools.cache
def _child_fields(parent: str) -> frozenset[str]:
    return frozenset({"id"} | {f for t in ALL_TABLES if t.parent == parent
                               for template in (t.path, t.retrieve) for f in placeholders(template)})


def project_parent_scopes(ctx: ReadContext, table: Table) -> list[Scope]:
    """The scopes of an organization table whose parents are project objects (the fine-tuned models that project
    keys list), one per distinct parent: the listing is shared with the parent's own table. A project whose
    listing fails contributes nothing here; the parent's table reports it."""
    assert table.parent and table.parent_column
    parent = TABLES[table.parent]
    assert not parent.parent and parent.mode == "full"  # a complete listing per project, no state

    def ids(access: ProjectAccess) -> Iterator[list[str]]:
        yield [it["id"] for it in _parent_items(ctx, access, parent, {})
               if str(it.get("id", "")).startswith(table.parent_prefix)]

    seen: dict[str, None] = {}
    for ev in fan_out(ctx.projects, ids, ctx.concurrency, table.name, isolate=SyncError):
        if ev.item:
            seen.update(dict.fromkeys(ev.item))
    return [((table.parent_column, i),) for i in seen]


def _items(ctx: ReadContext, access: ProjectAccess, table: Table, state: dict[str, Any]) -> list[dict[str, Any]]:
    """All the objects a parent table reads for one project this run (held: its children's tables share them)."""
    if not table.parent:
        return [it for page in _scope(ctx, access, table, {}, None, state) for it in page]
    parents = _parent_items(ctx, access, TABLES[table.parent], state)

    def children(p: dict[str, Any]) -> list[dict[str, Any]]:
        return [it for page in _children(ctx, access, table, p, state) for it in page]

    # children of several parents in parallel (the gate still bounds the requests in flight)
    chunks = gather(range(len(parents)), lambda i: children(parents[i]), ctx.concurrency, table.name)
    return [it for chunk in chunks for it in chunk]


def _children(ctx: ReadContext, access: ProjectAccess, table: Table, parent: dict[str, Any],
              state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """One parent object's children, page by page (the parent's fields fill the child's path)."""
    assert table.parent_column
    return _scope(ctx, access, table, {**parent, table.parent_column: parent["id"]}, parent["id"], state)


def _scope(ctx: ReadContext, access: ProjectAccess, table: Table, fields: dict[str, Any], parent_id: str | None,
           state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """The objects of one scope, page by page: a project, or one parent object of a project. What the scope's
    reading means for the ledger (a complete listing, the next state) is recorded after its last page."""
    pid = access.project_id
    scope: Scope = (("project_id", pid),) + (((table.parent_column, parent_id),) if parent_id is not None else ())
    tally = _Tally(table, parent_id)
    if table.mode == "recent":
        key = f"{pid}/{parent_id or ''}"  # the state's key: kept as it is, since destinations hold it
        old = {} if table.name in ctx.fresh else state.get(table.name, {}).get(key, {})
        last = old.get("reconciled_at")
        whole = bool(table.reconcile_seconds) and (last is None or ctx.now - last >= table.reconcile_seconds)
        nxt = yield from tally.pages(read_recent(access.client, table, fields, {} if whole else old))  # {}: all
        if table.reconcile_seconds:
            nxt["reconciled_at"] = ctx.now if whole else last
            nxt["whole_at"] = ctx.synced_at.isoformat() if whole else old.get("whole_at")
        if whole:  # a complete listing: what it no longer has was deleted at the source
            ctx.ledger.listed(table.name, scope, tally.n)
        elif old.get("whole_at"):  # the last complete listing's deletions again: a kill may have cut them short
            ctx.ledger.listed(table.name, scope, 0, before=datetime.fromisoformat(old["whole_at"]))
        ctx.ledger.advance(table.name, key, nxt)
    else:
        yield from tally.pages(list_pages(access.client, fill(table.path, fields), list_params(table),
                                          limit=table.page_limit, envelope=table.envelope, label=table.name))
        ctx.ledger.listed(table.name, scope, tally.n, tally.ids)


class _Tally:
    """Counts a scope's objects as its pages pass (and a parent table's ids); marks each with its parent."""

    def __init__(self, table: Table, parent_id: str | None) -> None:
        self.column = table.parent_column if parent_id is not None else None
        self.parent_id = parent_id
        self.n = 0
        self.ids: list[str] | None = [] if table.name in PROJECT_PARENTS else None

    def pages(self, pages: Iterator[list[dict[str, Any]]]) -> Generator[list[dict[str, Any]], None, Any]:
        """The pages as they are, then what their generator returned."""
        while True:
            try:
                page = next(pages)
            except StopIteration as stop:
                return stop.value
            self.n += len(page)
            if self.ids is not None:
                self.ids.extend(it.get("id") for it in page)  # type: ignore[misc]
            if self.column:
                for it in page:
                    it.setdefault(self.column, self.parent_id)
            yield page
