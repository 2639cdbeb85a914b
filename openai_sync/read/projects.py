"""Strategy `project`: each project's own objects, read with that project's key (SPEC 4.2).

Every row carries `project_id`. Projects are read in parallel (one shared bound on requests in flight), and
a project whose key fails is recorded on its own while the other projects' tables still load. Per project,
a table is read `full` (every object, streamed page by page where it can be) or `recent` (see recent.py);
a child table is read for each parent object this run read: all of them for a full parent, the new and the
still-open ones for a recent parent (output items of a run that just completed, ...). Parents are read once
per project and shared by their children.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..access import ProjectAccess
from ..api.errors import SyncError
from ..api.pagination import list_pages
from ..api.parallel import fan_out, gather
from ..catalog import PROJECT_PARENTS, TABLES, Table, fill
from .context import ReadContext
from .ledger import PartialFailure, Scope
from .recent import list_params, read_recent
from .rows import to_row

STATE_KEY = "project_tables"  # the project tables' state in dlt's source state: table -> scope -> state


def read_project_table(ctx: ReadContext, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """One table across every project with a key; a failing project does not stop the others. `state`: the
    project tables' state as the last run committed it (read only: see load/resources.py)."""
    drop = () if ctx.chat_completion_content else table.drop_columns

    def rows(access: ProjectAccess) -> Iterator[list[dict[str, Any]]]:
        extra = {"project_id": access.project_id}
        for page in _stream(ctx, access, table, state):
            yield [to_row(table, {k: v for k, v in it.items() if k not in drop}, ctx.org_id, ctx.synced_at,
                          extra=extra) for it in page]

    failures: dict[str, str] = {}
    # projects in parallel; their pages pass through a bounded queue, so that a project with 100,000 files is
    # never held in memory whole
    try:
        for ev in fan_out(ctx.projects, rows, ctx.concurrency, table.name, isolate=SyncError):
            if ev.error is not None:
                failures[ev.key.project_id] = str(ev.error)
                ctx.ledger.failed(table.name, (("project_id", ev.key.project_id),), str(ev.error))
            elif ev.item:
                yield ev.item
    except Exception as e:  # unexpected: which projects it reached is unknown, so no project's state may move
        for access in ctx.projects:
            ctx.ledger.failed(table.name, (("project_id", access.project_id),), f"{type(e).__name__}")
        raise
    if failures:
        pid, err = next(iter(failures.items()))
        raise PartialFailure(f"{len(failures)} of {len(ctx.projects)} projects failed; {pid}: {err}")


def _stream(ctx: ReadContext, access: ProjectAccess, table: Table,
            state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """A table's objects for one project, page by page where possible (files: 100k objects in 10 pages)."""
    if table.name in PROJECT_PARENTS:
        yield _parent_items(ctx, access, table, state)
    elif table.parent or table.mode == "recent":
        yield _items(ctx, access, table, state)
    else:
        n = 0
        for page in list_pages(access.client, table.path, list_params(table), limit=table.page_limit,
                               envelope=table.envelope, label=table.name):
            n += len(page)
            yield page
        ctx.ledger.listed(table.name, (("project_id", access.project_id),), n)


def _parent_items(ctx: ReadContext, access: ProjectAccess, table: Table, state: dict[str, Any]) -> list[dict[str, Any]]:
    return ctx.parents.get((table.name, access.project_id), lambda: _items(ctx, access, table, state))


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
    """All the objects a table reads for one project this run (a parent's, a child's, or a recent table's)."""
    if not table.parent:
        return _scope(ctx, access, table, {}, None, state)
    assert table.parent_column
    parents = _parent_items(ctx, access, TABLES[table.parent], state)

    def children(p: dict[str, Any]) -> list[dict[str, Any]]:
        return _scope(ctx, access, table, {**p, table.parent_column: p["id"]}, p["id"], state)

    # children of several parents in parallel (the gate still bounds the requests in flight)
    chunks = gather(range(len(parents)), lambda i: children(parents[i]), ctx.concurrency, table.name)
    return [it for chunk in chunks for it in chunk]


def _scope(ctx: ReadContext, access: ProjectAccess, table: Table, fields: dict[str, Any], parent_id: str | None,
           state: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of one scope: a project, or one parent object of a project."""
    pid = access.project_id
    scope: Scope = (("project_id", pid),) + (((table.parent_column, parent_id),) if parent_id is not None else ())
    if table.mode == "recent":
        key = f"{pid}/{parent_id or ''}"  # the state's key: kept as it is, since destinations hold it
        old = {} if table.name in ctx.fresh else state.get(table.name, {}).get(key, {})
        last = old.get("reconciled_at")
        whole = bool(table.reconcile_seconds) and (last is None or ctx.now - last >= table.reconcile_seconds)
        items, nxt = read_recent(access.client, table, fields, {} if whole else old)  # {}: every object
        if table.reconcile_seconds:
            nxt["reconciled_at"] = ctx.now if whole else last
            nxt["whole_at"] = ctx.synced_at.isoformat() if whole else old.get("whole_at")
        if whole:  # a complete listing: what it no longer has was deleted at the source
            ctx.ledger.listed(table.name, scope, len(items))
        elif old.get("whole_at"):  # the last complete listing's deletions again: a kill may have cut them short
            ctx.ledger.listed(table.name, scope, 0, before=datetime.fromisoformat(old["whole_at"]))
        ctx.ledger.advance(table.name, key, nxt)
    else:
        items = [it for page in list_pages(access.client, fill(table.path, fields), list_params(table),
                                           limit=table.page_limit, envelope=table.envelope, label=table.name)
                 for it in page]
        ids = [it.get("id") for it in items] if table.name in PROJECT_PARENTS else None
        ctx.ledger.listed(table.name, scope, len(items), ids)
    if table.parent_column and parent_id is not None:
        for it in items:
            it.setdefault(table.parent_column, parent_id)
    return items
