"""What every reader is given: the run's clients and knobs (frozen), the ledger it writes its facts into, and
the cache of parent listings that the tables fanning out over them share."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from .. import changes
from ..access import ProjectAccess
from ..api.client import Client
from ..api.errors import NotFound, SyncError
from ..api.pagination import list_pages, page_data
from ..api.parallel import fan_out
from ..catalog import PARENTS, TABLES, Table, bucket_width, fill, object_path
from .feed import Feed
from .ledger import WHOLE, Ledger, Scope

T = TypeVar("T")


class ParentCache:
    """Each parent's objects, read once per run and scope (one per organization table, one per project and
    table), whichever table asks first; the others wait for that read. A failed read is not kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._items: dict[Hashable, Any] = {}

    def get(self, key: Hashable, read: Callable[[], T], slim: Callable[[T], T] | None = None) -> T:
        """The objects, read now or before. With `slim` (the parent's own table asking): they are returned whole,
        and the cache keeps from then on only what the children read with (their ids, their paths' fields)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            items = self._items[key] if key in self._items else read()
            self._items[key] = items if slim is None else slim(items)
            return items

    def clear(self) -> None:
        """Forget every listing (the readers are done: what they held goes back to the allocator)."""
        with self._lock:
            self._items.clear()
            self._locks.clear()


@dataclass(frozen=True)
class ReadContext:
    admin: Client | None  # the Admin key's client (organization tables)
    projects: tuple[ProjectAccess, ...]  # each usable project key (project tables)
    primary: Client  # whose organization id every row carries
    ledger: Ledger
    concurrency: int
    now: int  # the API's clock when the run began
    synced_at: datetime
    start_date: int  # where a first sync of usage, costs and the audit log begins
    lookback_seconds: int
    audit_lookback_seconds: int = 3600
    bucket_width: str = "1d"
    bucket_widths: dict[str, str] = field(default_factory=dict)
    fresh: frozenset[str] = frozenset()  # project tables read from scratch (resync): their state is ignored
    chat_completion_content: bool = False
    parents: ParentCache = field(default_factory=ParentCache)
    feed: Feed = field(default_factory=Feed)  # which listings this run reads (read/feed.py; filled by the load)

    @property
    def org_id(self) -> str | None:
        return self.primary.organization_id

    def width_for(self, table: Table) -> str:
        return bucket_width(table, self.bucket_width, self.bucket_widths)

    def done_reading(self) -> None:
        """Extraction is over: the parents' listings and every key's connections go (the ledger stays)."""
        self.parents.clear()
        for c in {id(c): c for c in [self.admin, self.primary, *(p.client for p in self.projects)] if c}.values():
            c.close()

    def org_client(self) -> Client:
        if self.admin is None:
            raise SyncError("organization tables need the Admin key")
        return self.admin


def org_parent(ctx: ReadContext, name: str) -> list[dict[str, Any]]:
    """The complete raw listing of an organization parent table (users, projects, groups), read once per run."""

    def read() -> list[dict[str, Any]]:
        t = TABLES[name]
        items = [it for page in list_pages(ctx.org_client(), t.path, dict(t.params), limit=t.page_limit,
                                           envelope=t.envelope, label=t.name) for it in page]
        ctx.ledger.listed(name, WHOLE, len(items), [it.get("id") for it in items])
        return items

    assert name in PARENTS
    return ctx.parents.get(name, read)


@dataclass(frozen=True)
class Retrieved:
    items: list[dict[str, Any]]  # the objects found (none gone: else the table's plan is now a complete listing)
    failed: dict[str, str]  # id -> why it could not be read (retried next run)


def retrieved(ctx: ReadContext, name: str, ids: frozenset[str]) -> Retrieved:
    """Some objects of a top-level table, each retrieved by its id (changes.RETRIEVE), once per run, for the table
    and the fan-outs below it. An object found gone (404) makes the run list the table whole instead (its plan
    becomes None): the listing is what marks the object and its children gone, and a server that does not serve
    objects one by one costs listings, never rows."""
    t = TABLES[name]

    def one(object_id: str) -> Iterator[dict[str, Any] | None]:
        try:
            yield ctx.org_client().get(object_path(t, object_id), label=name)
        except NotFound:
            yield None

    def read() -> Retrieved:
        items, failed, gone = [], {}, []
        for ev in fan_out(sorted(ids), one, ctx.concurrency, name, isolate=SyncError):
            if ev.error is not None:
                failed[ev.key] = str(ev.error)
                ctx.ledger.failed(name, (("id", ev.key),), str(ev.error))
            elif not ev.done:
                if ev.item is None:
                    gone.append(ev.key)
                else:
                    items.append(ev.item)
        if gone and (items or _serves_by_id(ctx, t, set(gone))):
            ctx.ledger.gone(name, gone)  # marked after the load, with their children and the rows naming them
        elif gone:
            ctx.feed.list_whole(name, f"{len(gone)} object{'s' if len(gone) != 1 else ''} named by the audit log "
                                      "gone")
        return Retrieved(items, failed)

    return ctx.parents.get((name, "by id", ids), read)


def _serves_by_id(ctx: ReadContext, t: Table, gone: set[str]) -> bool:
    """Whether the server serves the table's objects one by one, so that a 404 means gone: the first object of
    its listing, retrieved by its id (two requests; a server without the route answers 404 for every id)."""
    try:
        first = page_data(ctx.org_client().get(t.path, {**dict(t.params), "limit": 1}, label=t.name), t.path)[:1]
        if not first or not isinstance(first[0], dict) or not first[0].get("id") or str(first[0]["id"]) in gone:
            return False
        ctx.org_client().get(object_path(t, first[0]["id"]), label=t.name)
    except SyncError:  # NotFound among them: no such route, or no telling
        return False
    return True


def org_children(ctx: ReadContext, table: Table, scope: Scope) -> list[dict[str, Any]]:
    """One scope's complete listing of a fan-out table that is itself a parent (a project's users, the parents
    of their project roles), read once per run and scope, whichever table asks first. Its ids are recorded
    for the children's cascade (the roles of a user who left the project)."""

    def read() -> list[dict[str, Any]]:
        items = [it for page in list_pages(ctx.org_client(), fill(table.path, dict(scope)), dict(table.params),
                                           limit=table.page_limit, envelope=table.envelope, label=table.name)
                 for it in page]
        ctx.ledger.listed(table.name, scope, len(items), [it.get(table.primary_key[-1]) for it in items])
        return items

    assert table.name in PARENTS
    return ctx.parents.get((table.name, scope), read)


def fanout_scopes(ctx: ReadContext, table: Table) -> tuple[list[Scope], dict[Scope, SyncError]]:
    """The scopes a fan-out table is read in, one per object of its parent, as the columns that select its rows:
    `(("user_id", "user-1"),)`; below a fan-out, its parent's scope too: `(("project_id", "proj_1"), ("user_id",
    "user-1"))`. Also the parent's scopes that could not be listed (their children cannot be read), with why."""
    assert table.parent and table.parent_column
    parent = TABLES[table.parent]
    key = parent.primary_key[-1]  # the parent object's own id (a project group's is its group_id)
    if not parent.parent:
        return [((table.parent_column, it[key]),) for it in org_parent(ctx, parent.name)], {}
    outer, failed = fanout_scopes(ctx, parent)
    return _below(ctx, table, outer, failed, lambda _up, _it: True)


def _below(ctx: ReadContext, table: Table, outer: list[Scope], failed: dict[Scope, SyncError],
           keep: Callable[[str, dict[str, Any]], bool]) -> tuple[list[Scope], dict[Scope, SyncError]]:
    """Below a fan-out: the scopes of the parent objects each outer scope lists (those `keep` takes, given the
    outer scope's id and the object), and the outer scopes that could not be listed."""
    assert table.parent and table.parent_column
    parent = TABLES[table.parent]
    key = parent.primary_key[-1]
    scopes: list[Scope] = []
    for ev in fan_out(outer, lambda s: iter((org_children(ctx, parent, s),)), ctx.concurrency, table.name,
                      isolate=SyncError):
        if ev.error is not None:
            failed[ev.key] = ev.error  # type: ignore[assignment]
        elif not ev.done:
            up = "/".join(v for _c, v in ev.key)
            scopes += [(*ev.key, (table.parent_column, it[key])) for it in ev.item or () if keep(up, it)]
    return scopes, failed


def planned_scopes(ctx: ReadContext, table: Table, ids: frozenset[str]) -> tuple[list[Scope], dict[Scope, SyncError]]:
    """The scopes of a fan-out that the change feed names (`fanout_scopes` for some parents only): parent ids,
    `P/U` below a fan-out, or changes.NEW (parents added since the table's last run). A parent listed this run
    anyway narrows them to the objects it still has (the children of one that is gone are marked by the cascade)."""
    assert table.parent and table.parent_column
    parent = TABLES[table.parent]
    key = parent.primary_key[-1]
    since = ctx.feed.since.get(table.name, 0)

    def added(it: dict[str, Any]) -> bool:
        t = it.get("added_at", it.get("created_at"))
        return isinstance(t, int | float) and t >= since

    if not parent.parent:
        direct = {i for i in ids if i != changes.NEW}
        if ctx.feed.plan(parent.name):  # retrieved by id: one found gone has no children left to list
            retrieved(ctx, parent.name, ctx.feed.plan(parent.name) or frozenset())
            direct -= ctx.ledger.gone_ids(parent.name)  # their rows are marked gone with them (load/deletes.py)
        if ctx.feed.plan(parent.name) is None or changes.NEW in ids:
            objects = org_parent(ctx, parent.name)
            direct &= {str(o.get(key)) for o in objects}
            direct |= {str(o[key]) for o in objects if changes.NEW in ids and added(o)}
        return [((table.parent_column, i),) for i in sorted(direct)], {}
    pairs = {tuple(i.split("/", 1)) for i in ids if "/" in i}
    whole = {i for i in ids if "/" not in i and i != changes.NEW}
    if changes.NEW in ids:
        outer, failed = fanout_scopes(ctx, parent)
    else:
        outer, failed = planned_scopes(ctx, parent, frozenset({p for p, _u in pairs} | whole))
    return _below(ctx, table, outer, failed, lambda up, it: up in whole or (up, str(it[key])) in pairs
                  or (changes.NEW in ids and added(it)))


def history_start(ctx: ReadContext) -> int:
    """Where a first sync begins: start_date, or the organization's first project if that is later (no usage
    can be older than the project it belongs to), to spare empty pages."""
    start = ctx.start_date
    try:
        created = [p.get("created_at") for p in org_parent(ctx, "projects")]
    except SyncError:
        return start  # the projects table reports its own failure; fall back to start_date
    created = [c for c in created if isinstance(c, int)]
    return max(start, min(created)) if created else start
