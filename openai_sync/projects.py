"""Project tables (SPEC 4.2): each project's own objects, read with that project's key.

Every row carries `project_id`; primary keys are (project_id, id). Projects are read in parallel (one
shared bound on requests in flight), and a project whose key fails is reported on its own while the
other projects' tables still load. The strategies are declared per table in the catalog:
- full: every object each run; per project (or per parent object), what a complete listing no longer
  has is marked `_deleted`;
- recent: newest first, down to the newest object of the last run, plus the objects still open then
  (re-read by id); terminal objects are never read again. The state (watermark and open ids, per project
  and per parent) is dlt source state. It is committed once, after every table was read, and only for
  the projects where nothing failed: a parent's watermark never moves past objects whose children
  (the output items of a run that just completed, ...) were not read.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dlt

from .catalog import PROJECT_PARENTS, TABLES, Table
from .client import ApiProblem, Client, SyncError
from .pagination import list_pages

if TYPE_CHECKING:
    from .pipeline import Run


STATE_KEY = "project_tables"


@dataclass
class ProjectKeyInfo:
    project_id: str
    client: Client


def key_index(admin: Client, label: str) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Every project (archived included) and the redacted values of its API keys, as the Admin key sees
    them: how a project key is matched to its project. One listing, then one per project, in parallel."""
    projects = [p for page in list_pages(admin, "/organization/projects", {"include_archived": "true"}, limit=100,
                                         label=label) for p in page]

    def redacted(pid: str) -> list[str]:
        return [k.get("redacted_value", "") for page in list_pages(
            admin, f"/organization/projects/{pid}/api_keys", {}, limit=100, label=label) for k in page]

    ids = [p["id"] for p in projects]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return projects, dict(zip(ids, pool.map(redacted, ids), strict=True))


def _params(table: Table) -> dict[str, Any]:
    params = dict(table.params)
    if table.order_param:
        params["order"] = "desc"
    return params


def _pages(client: Client, table: Table, path: str) -> Iterator[list[dict[str, Any]]]:
    return list_pages(client, path, _params(table), limit=table.page_limit, envelope=table.envelope,
                      label=table.name)


def _created(table: Table, item: dict[str, Any]) -> int:
    v = item.get(table.created_field)
    return int(v) if isinstance(v, int | float) else 0


def read_recent(client: Client, table: Table, path: str, state: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                                                        dict[str, Any]]:
    """New objects (newest first, down to the last run's newest) and the ones still open then.

    Returns the objects and the scope's next state; the caller commits that state only on success."""
    watermark = state.get("watermark")
    open_ids = list(state.get("open", []))
    # objects created in the watermark's second that were already read (and are not open): skip them
    known = set(state.get("at_watermark", [])) - set(open_ids)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for page in _pages(client, table, path):
        older = False
        for it in page:
            created = _created(table, it)
            if watermark is not None and created < watermark:
                older = True  # everything after this is older still: already read
                break
            if created == watermark and it.get("id") in known:
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
            items.append(client.get(table.retrieve.format(id=oid, **_path_fields(path)), label=table.name))
        except ApiProblem as e:
            if "404" not in str(e):
                raise
            # gone: nothing to update (these objects cannot be deleted, but a project can be)
        seen.add(oid)
    newest = max([_created(table, it) for it in items] + ([watermark] if watermark is not None else []),
                 default=None)
    at_newest = {it["id"] for it in items if _created(table, it) == newest}
    if newest == watermark:
        at_newest |= known
    still_open = [it["id"] for it in items if table.terminal and it.get("status") not in table.terminal]
    return items, {"watermark": newest, "open": still_open, "at_watermark": sorted(at_newest)}


def _path_fields(path: str) -> dict[str, str]:
    """Ids in a child path (/evals/{eval_id}/runs ...), for formatting its retrieve path."""
    parts = path.strip("/").split("/")
    out = {}
    if len(parts) >= 2 and parts[0] == "evals":
        out["eval_id"] = parts[1]
    return out


class ProjectReader:
    """Reads each project's objects once per run; parents are kept for their children."""

    def __init__(self, run: Run, keys: list[ProjectKeyInfo], fresh: set[str] | None = None) -> None:
        self.run = run
        self.keys = keys
        # tables read from scratch (a resync): their state is ignored; `resync` also replaces it whole
        self.fresh = set(fresh or ())
        for name in list(self.fresh):  # a child's parents must be read whole too, or children are missed
            parent = TABLES[name].parent
            while parent:
                self.fresh.add(parent)
                parent = TABLES[parent].parent
        self.resync = set(fresh or ())
        self.lock = threading.Lock()
        self._parents: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._parent_locks: dict[tuple[str, str], threading.Lock] = {}
        self.next_state: dict[tuple[str, str], dict[str, Any]] = {}  # (table, scope) -> state to commit
        self.failed: dict[str, dict[str, str]] = {}  # table -> project -> error
        self.complete_scopes: dict[str, list[tuple[str, str | None]]] = {}  # table -> (project, parent id)
        # (parent table, project) -> the ids of a complete listing: children of any other parent are gone
        self.parent_ids: dict[tuple[str, str], list[str]] = {}

    def parent_items(self, key: ProjectKeyInfo, name: str, state: dict[str, Any]) -> list[dict[str, Any]]:
        ck = (name, key.project_id)
        with self.lock:
            lock = self._parent_locks.setdefault(ck, threading.Lock())
        with lock:
            if ck not in self._parents:
                items = self._read(key, TABLES[name], state)
                self._parents[ck] = items
                if TABLES[name].mode == "full" and not TABLES[name].parent:
                    with self.lock:
                        self.parent_ids[ck] = [it["id"] for it in items]
            return self._parents[ck]

    def _read(self, key: ProjectKeyInfo, table: Table, state: dict[str, Any]) -> list[dict[str, Any]]:
        """All the objects a table reads for one project this run (a parent's, or a small table's)."""
        if table.parent:
            parents = self.parent_items(key, table.parent, state)
            if len(parents) <= 1:
                return [it for p in parents for it in self._scope(key, table, table.path.format(**p), p["id"], state)]
            # children of several parents in parallel (the gate still bounds the requests in flight)
            with ThreadPoolExecutor(max_workers=min(len(parents), max(1, self.run.cfg.concurrency))) as pool:
                chunks = pool.map(lambda p: self._scope(key, table, table.path.format(**p), p["id"], state), parents)
                return [it for chunk in chunks for it in chunk]
        return self._scope(key, table, table.path, None, state)

    def _scope(self, key: ProjectKeyInfo, table: Table, path: str, parent_id: str | None,
               state: dict[str, Any]) -> list[dict[str, Any]]:
        if table.mode == "recent":
            scope = f"{key.project_id}/{parent_id or ''}"
            old = {} if table.name in self.fresh else state.get(table.name, {}).get(scope, {})
            items, nxt = read_recent(key.client, table, path, old)
            with self.lock:
                self.next_state[(table.name, scope)] = nxt
        else:
            items = [it for page in _pages(key.client, table, path) for it in page]
            with self.lock:
                self.complete_scopes.setdefault(table.name, []).append((key.project_id, parent_id))
        if table.parent_column and parent_id is not None:
            for it in items:
                it.setdefault(table.parent_column, parent_id)
        return items

    def stream(self, key: ProjectKeyInfo, table: Table, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """A table's objects for one project, page by page where possible (files: 100k objects in 10 pages)."""
        if table.name in PROJECT_PARENTS or table.parent or table.mode == "recent":
            items = (self.parent_items(key, table.name, state) if table.name in PROJECT_PARENTS
                     else self._read(key, table, state))
            yield items
            return
        yield from _pages(key.client, table, table.path)
        with self.lock:
            self.complete_scopes.setdefault(table.name, []).append((key.project_id, None))


def project_resource(run: Run, reader: ProjectReader, table: Table) -> Iterator[Any]:
    """One table across every project with a key; a failing project does not stop the others."""
    from .pipeline import to_row

    state = dlt.current.source_state().get(STATE_KEY, {})  # read only here: see commit_state

    drop = () if run.cfg.chat_completion_content else table.drop_columns

    def rows_of(key: ProjectKeyInfo, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for it in page:
            rows.append(to_row(run, table, {k: v for k, v in it.items() if k not in drop},
                               extra={"project_id": key.project_id}))
        return rows

    # Projects are read in parallel; their pages pass through a bounded queue, so that a project with
    # 100,000 files is never held in memory whole.
    pages: queue.Queue[tuple[str, str, Any]] = queue.Queue(maxsize=2 * max(1, run.cfg.concurrency))

    def work(key: ProjectKeyInfo) -> None:
        try:
            for page in reader.stream(key, table, state):
                pages.put(("rows", key.project_id, rows_of(key, page)))
            pages.put(("done", key.project_id, None))
        except SyncError as e:
            pages.put(("error", key.project_id, str(e)))

    failures: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, run.cfg.concurrency), thread_name_prefix=table.name) as pool:
        for k in reader.keys:
            pool.submit(work, k)
        pending = len(reader.keys)
        while pending:
            kind, pid, payload = pages.get()
            if kind == "rows":
                run.count(table.name, len(payload))
                if payload:
                    yield payload
            else:
                pending -= 1
                if kind == "error":
                    failures[pid] = payload
    if failures:
        with reader.lock:
            reader.failed[table.name] = failures
        first = next(iter(failures.items()))
        raise SyncError(f"{len(failures)} of {len(reader.keys)} projects failed; {first[0]}: {first[1]}")


def commit_state(reader: ProjectReader) -> Iterator[Any]:
    """A resource without rows: moves the project tables' state forward for the projects that fully
    succeeded. Extracted after every data resource, so it is loaded after (and with) their data."""
    failed = {pid for per_project in reader.failed.values() for pid in per_project}
    state = dlt.current.source_state().setdefault(STATE_KEY, {})
    for name in reader.resync:
        state[name] = {}  # a resynced table starts over: no scope of the old state survives
    for (name, scope), nxt in reader.next_state.items():
        if scope.split("/")[0] not in failed:
            state.setdefault(name, {})[scope] = nxt
    yield from ()
