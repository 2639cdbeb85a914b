"""One sync run: read the catalog's tables through the API and load them with dlt.

Design:
- every table is a dlt resource built from its catalog entry; independent resources are extracted in
  parallel, and a fan-out (per project, per user, per group) lists its parents' children in parallel;
  one gate shared by every client bounds the requests in flight, whatever runs them;
- merge on the primary key everywhere, so re-reading a row (a restated usage bucket, an audit event
  seen twice) updates it in place and never duplicates it;
- incremental state (the audit watermark, each usage table's re-read cursor) lives in dlt's resource
  state, which is committed with the data of the load that used it: a failed or killed run does not
  move any watermark;
- `_deleted` on full-listing tables: after a load, rows of a completely listed table (or of a
  completely listed parent, in a fan-out) that this run did not write are marked deleted. An
  incomplete listing marks nothing.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity

from . import catalog, destinations, history
from .catalog import COSTS_API_KEY_GROUPING_FROM, COSTS_PAGE, USAGE_PAGE, Table
from .client import Client, Gate, KeyProblem, SyncError, key_kind, mask, redacted_matches
from .pagination import bucket_pages, list_pages
from .privacy import ColumnPolicy, PolicyError
from .projects import ProjectKeyInfo, ProjectReader, commit_state, key_index, project_resource
from .usage import buckets_to_arrow, floor_to

DEFAULT_DESTINATION = destinations.DEFAULT
DEFAULT_START = 1577836800  # 2020-01-01: a new user gets the full history
TIMESTAMP_FIELDS = {"created", "effective_at"}


@dataclass
class SyncConfig:
    admin_key: str | None
    base_url: str = "https://api.openai.com/v1"
    destination: str = DEFAULT_DESTINATION
    schema: str = "openai"
    tables: list[str] | None = None
    exclude_tables: list[str] = field(default_factory=list)
    concurrency: int = 8
    bucket_width: str = "1d"
    bucket_widths: dict[str, str] = field(default_factory=dict)  # per usage table
    start_date: int = DEFAULT_START
    lookback_seconds: int = 86400
    pipelines_dir: str | None = None
    max_retries: int = 6
    project_keys: list[Any] = field(default_factory=list)  # config.ProjectKey: key and optional project id
    chat_completion_content: bool = False  # opt-in: stored completions' messages can hold user data
    resync: bool = False  # reload `tables` from scratch: drop them and their state first
    block_columns: list[str] = field(default_factory=list)
    hash_columns: list[str] = field(default_factory=list)
    hash_key: str | None = None
    history_tables: list[str] = field(default_factory=list)  # SCD2: every version kept (history.py)

    def width_for(self, table: Table) -> str:
        if table.mode == "costs":
            return "1d"
        return self.bucket_widths.get(table.name, self.bucket_width)


@dataclass
class TableResult:
    name: str
    rows: int = 0
    requests: int = 0
    status: str = "ok"  # ok | failed
    error: str | None = None
    deleted: int = 0
    seconds: float = 0.0


class Run:
    """What one run knows and counts, shared by every resource (thread-safe)."""

    def __init__(self, cfg: SyncConfig, client: Client) -> None:
        self.cfg = cfg
        self.client = client
        self.synced_at = datetime.now(UTC)
        self.now = client.server_time or int(time.time())
        self.lock = threading.Lock()
        self.rows: Counter[str] = Counter()
        self.errors: dict[str, str] = {}
        self.complete: dict[str, bool] = {}
        self.complete_parents: dict[str, list[str]] = {}
        self.keep_parents: dict[str, set[str]] = {}  # history fan-outs: parents whose rows stay current
        self.history: set[str] = set(cfg.history_tables)
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self._parents: dict[str, list[dict[str, Any]]] = {}
        self.pipeline: Any = None
        self.clients: list[Client] = [client]
        self.key_problems: list[str] = []
        self.notes: list[str] = []
        self.reader: ProjectReader | None = None
        self.policy = ColumnPolicy(cfg.block_columns, cfg.hash_columns, cfg.hash_key)
        self._parent_locks: dict[str, threading.Lock] = {t.name: threading.Lock() for t in catalog.ORG_TABLES}

    @property
    def org_id(self) -> str | None:
        return self.client.organization_id

    def soft_delete(self, table: Table) -> bool:
        return table.soft_delete and table.name not in self.history

    def count(self, table: str, n: int) -> None:
        with self.lock:
            self.rows[table] += n

    def fail(self, table: str, err: Exception) -> None:
        with self.lock:
            self.errors.setdefault(table, str(err))

    def parent_items(self, name: str) -> list[dict[str, Any]]:
        """The complete raw listing of a parent table, fetched once per run."""
        with self._parent_locks[name]:
            if name not in self._parents:
                t = catalog.TABLES[name]
                items: list[dict[str, Any]] = []
                for page in list_pages(self.client, t.path, dict(t.params), limit=t.page_limit,
                                       envelope=t.envelope, label=t.name):
                    items.extend(page)
                self._parents[name] = items
            return self._parents[name]


# ---- rows ------------------------------------------------------------------------------------------
def _is_ts_field(name: str) -> bool:
    return name.endswith("_at") or name in TIMESTAMP_FIELDS


def flatten(obj: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """1:1 nested objects become `a__b` columns; epoch fields become UTC timestamps; lists stay as they are
    (JSON columns)."""
    out = {} if out is None else out
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            flatten(v, f"{name}__", out)
        elif isinstance(v, int | float) and not isinstance(v, bool) and _is_ts_field(k):
            out[name] = datetime.fromtimestamp(v, tz=UTC)
        else:
            out[name] = v
    return out


def to_row(run: Run, table: Table, item: dict[str, Any], parent_id: str | None = None,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {k: v for k, v in item.items() if k != "object"}
    json_values = {c: item.pop(c) for c in table.json_columns if c in item}
    row = flatten(item)
    row.update(json_values)
    if table.parent_column and parent_id is not None:
        row[table.parent_column] = parent_id
    row["organization_id"] = run.org_id
    row["_synced_at"] = run.synced_at
    if run.soft_delete(table):
        row["_deleted"] = False
    if extra:
        row.update(extra)
    row = run.policy.row(table, row) if run.policy else row  # blocking and hashing: last, and once
    if table.name in run.history:
        row[history.VERSION] = history.version_hash(row)
    return row


def audit_row(run: Run, table: Table, ev: dict[str, Any]) -> dict[str, Any]:
    """Actor and project flattened; the per-type detail object folded into one JSON column."""
    ev = dict(ev)
    detail = ev.pop(ev.get("type", ""), None)
    return to_row(run, table, ev, extra={"event_data": detail})


# ---- resources ---------------------------------------------------------------------------------------
def _guard(run: Run, table: Table, gen: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    """Run one table's extraction; a failure is recorded for that table and does not stop the others."""
    run.started[table.name] = time.monotonic()
    try:
        yield from gen()
    except SyncError as e:
        run.fail(table.name, e)
    finally:
        run.finished[table.name] = time.monotonic()


def full_listing(run: Run, table: Table) -> Iterator[Any]:
    if table.name in catalog.PARENTS:  # one listing, shared with the fan-outs that need it
        items = run.parent_items(table.name)
        rows = [to_row(run, table, it) for it in items]
        run.count(table.name, len(rows))
        yield rows
    else:
        whole: list[dict[str, Any]] = []
        for page in list_pages(run.client, table.path, dict(table.params), limit=table.page_limit,
                               envelope=table.envelope, label=table.name):
            rows = [to_row(run, table, it) for it in page]
            run.count(table.name, len(rows))
            if table.name in run.history:
                whole.extend(rows)  # SCD2 retires what a load lacks: only a whole listing may be loaded
            else:
                yield rows
        if whole:
            yield whole
    run.complete[table.name] = True


def fan_out(run: Run, table: Table) -> Iterator[Any]:
    parents = [p["id"] for p in run.parent_items(table.parent)]  # type: ignore[arg-type]
    done: list[str] = []
    failures: list[str] = []
    keep: set[str] = set()

    def one(pid: str) -> list[dict[str, Any]]:
        if table.mode == "settings":
            item: dict[str, Any] = {}
            for prefix, path in table.settings_paths:
                item[prefix] = run.client.get(path.format(parent=pid), label=table.name)
            return [to_row(run, table, item, pid)]
        rows = []
        for page in list_pages(run.client, table.path.format(parent=pid), dict(table.params),
                               limit=table.page_limit, envelope=table.envelope, label=table.name):
            rows.extend(to_row(run, table, it, pid) for it in page)
        return rows

    with ThreadPoolExecutor(max_workers=max(1, run.cfg.concurrency), thread_name_prefix=table.name) as pool:
        futures = {pool.submit(one, pid): pid for pid in parents}
        for fut in as_completed(futures):
            pid = futures[fut]
            try:
                rows = fut.result()
            except SyncError as e:
                failures.append(f"{pid}: {e}")
                keep.add(pid)
                continue
            done.append(pid)
            run.count(table.name, len(rows))
            if rows:
                keep.add(pid)
                yield rows
    run.complete_parents[table.name] = done
    run.keep_parents[table.name] = keep
    if failures:
        raise SyncError(f"{len(failures)} of {len(parents)} listings failed; first: {failures[0]}")


def audit_logs(run: Run, table: Table) -> Iterator[Any]:
    state = dlt.current.resource_state()
    watermark = state.get("watermark")
    params: dict[str, Any] = {}
    if watermark is not None:
        # gte, not gt: events of the same second may arrive later; merge on id keeps each one once
        params["effective_at"] = {"gte": int(watermark)}
    newest = watermark
    for page in list_pages(run.client, table.path, params, limit=table.page_limit, label=table.name):
        rows = [audit_row(run, table, ev) for ev in page]
        for ev in page:
            t = ev.get("effective_at")
            if isinstance(t, int) and (newest is None or t > newest):
                newest = t
        run.count(table.name, len(rows))
        yield rows
    # newest-first pages: the watermark moves only once every page down to the old one was read
    if newest is not None:
        state["watermark"] = newest
    run.complete[table.name] = True


def usage_start(run: Run) -> int:
    """Where a first sync begins: start_date, or the organization's first project if that is later
    (no usage can be older than the project it belongs to), to spare empty pages."""
    start = run.cfg.start_date
    try:
        created = [p.get("created_at") for p in run.parent_items("projects")]
        created = [c for c in created if isinstance(c, int)]
        if created:
            start = max(start, min(created))
    except SyncError:
        pass  # the projects table reports its own failure; fall back to start_date
    return start


def buckets(run: Run, table: Table) -> Iterator[Any]:
    state = dlt.current.resource_state()
    width = run.cfg.width_for(table)
    if state.get("width") != width:
        state.clear()  # a new width is a new series of buckets: read from the start
    start = floor_to(int(state.get("cursor") or usage_start(run)), width)
    final_before = run.now - run.cfg.lookback_seconds
    dims = table.group_by
    ranges = _costs_ranges(start, dims) if table.mode == "costs" else [(start, None, dims)]
    for lo, hi, group_by in ranges:
        params: dict[str, Any] = {"start_time": lo, "bucket_width": width, "group_by": list(group_by),
                                  "limit": COSTS_PAGE if table.mode == "costs" else USAGE_PAGE[width]}
        if hi is not None:
            params["end_time"] = hi
        for page in bucket_pages(run.client, table.path, params, until=hi or run.now, label=table.name):
            tbl = buckets_to_arrow(table, page, width=width, dims=dims, final_before=final_before,
                                   organization_id=run.org_id, synced_at=run.synced_at)
            if tbl is not None:
                if run.policy:
                    tbl = run.policy.arrow(table, tbl)
                run.count(table.name, tbl.num_rows)
                yield tbl
    # next time, re-read every bucket that ended less than the lookback before this run
    state["width"] = width
    state["cursor"] = max(start, floor_to(final_before, width))
    run.complete[table.name] = True


def _costs_ranges(start: int, dims: tuple[str, ...]) -> list[tuple[int, int | None, tuple[str, ...]]]:
    """Costs refuse api_key_id grouping before 2025-12-06: split there instead of losing the grouping."""
    if start >= COSTS_API_KEY_GROUPING_FROM or "api_key_id" not in dims:
        return [(start, None, dims)]
    return [(start, COSTS_API_KEY_GROUPING_FROM, tuple(d for d in dims if d != "api_key_id")),
            (COSTS_API_KEY_GROUPING_FROM, None, dims)]


def _hints(table: Table, soft_delete: bool) -> dict[str, Any]:
    cols: dict[str, Any] = {c: {"data_type": "json"} for c in table.json_columns}
    cols.update({c: {"data_type": "timestamp", "timezone": True} for c in table.timestamp_columns})
    cols.update({c: {"data_type": "text"} for c in table.text_columns})
    cols["_synced_at"] = {"data_type": "timestamp", "nullable": False}
    if soft_delete:
        cols["_deleted"] = {"data_type": "bool", "nullable": False}
    for c in table.primary_key:
        cols[c] = {"data_type": "text", "nullable": False}
    cols["organization_id"] = {"data_type": "text"}
    return cols


def make_resource(run: Run, table: Table) -> Any:
    if table.key == "project":
        return dlt.resource(
            _guard(run, table, lambda: project_resource(run, run.reader, table)),
            name=table.name, primary_key=list(table.primary_key), write_disposition="merge",
            max_table_nesting=0, columns=_hints(table, run.soft_delete(table)), parallelized=True,
        )
    if table.name in run.history:
        return dlt.resource(
            _guard(run, table, lambda: (fan_out if table.parent else full_listing)(run, table)),
            name=table.name, primary_key=list(table.primary_key), max_table_nesting=0,
            write_disposition=history.write_disposition(run.synced_at), merge_key=table.parent_column or (),
            columns=_hints(table, False), parallelized=True,
        )
    if table.mode == "audit":
        gen = audit_logs
    elif table.mode in ("usage", "costs"):
        gen = buckets
    elif table.parent:
        gen = fan_out
    else:
        gen = full_listing
    return dlt.resource(
        _guard(run, table, lambda: gen(run, table)),
        name=table.name, primary_key=list(table.primary_key), write_disposition="merge",
        max_table_nesting=0, columns=_hints(table, run.soft_delete(table)), parallelized=True,
    )


def pipeline_name(cfg: SyncConfig) -> str:
    digest = hashlib.blake2b(f"{destinations.identity(cfg.destination)}|{cfg.schema}".encode(),
                             digest_size=5).hexdigest()
    return f"openai_sync_{cfg.schema}_{digest}"


# ---- the run ------------------------------------------------------------------------------------------
def _forget_local_state_of_a_new_destination(pipeline: Any) -> Any:
    """The destination holds the authoritative state. If it has none for this pipeline (a new or emptied
    destination), local state left by earlier runs must not turn the first load into an increment."""
    if not pipeline.has_data:
        return pipeline  # no local state either: nothing to forget
    try:
        with pipeline.sql_client() as sql:
            table = sql.make_qualified_table_name("_dlt_pipeline_state")
            found = sql.execute_sql(f"SELECT count(*) FROM {table} WHERE pipeline_name = %s", pipeline.pipeline_name)
            known = bool(found and found[0][0])
    except DestinationUndefinedEntity:
        known = False
    return pipeline if known else pipeline.drop()


def _history_switched(pipeline: Any, run: Run, tables: list[Table]) -> list[str]:
    """Tables whose history mode differs from what the destination holds: they are rebuilt from scratch
    (a table of current rows has no versions to continue, and a table of versions cannot be merged by key)."""
    capable = [t for t in tables if history.capable(t)]
    if not capable:
        return []
    switched = []
    with pipeline.sql_client() as sql:
        for t in capable:
            stored = history.stored_mode(sql, pipeline.dataset_name, t.name)
            if stored is not None and stored != (t.name in run.history):
                switched.append(t.name)
                run.notes.append(f"{t.name}: history mode turned {'on' if t.name in run.history else 'off'}, so "
                                 "the table was rebuilt from a full listing" + (" (its history starts now)"
                                                                                if t.name in run.history else ""))
    return switched


def preflight(cfg: SyncConfig, tables: list[Table], gate: Gate | None = None) -> Client:
    """Check the Admin key before anything is written: present, of the right kind, accepted, scoped."""
    if not cfg.admin_key:
        raise KeyProblem("no Admin key: set OPENAI_ADMIN_KEY to a read-only Admin key (sk-admin-...), created "
                         "by an organization owner at https://platform.openai.com/settings/organization/admin-keys.")
    if key_kind(cfg.admin_key) == "project":
        raise KeyProblem(f"the Admin key {mask(cfg.admin_key)} is a project key (sk-proj-...). Organization "
                         "tables need a read-only Admin key (sk-admin-...); project keys go in "
                         "OPENAI_PROJECT_KEYS.")
    client = Client(cfg.base_url, cfg.admin_key, admin=True, max_concurrency=cfg.concurrency,
                    max_retries=cfg.max_retries, gate=gate)
    modes = {t.mode for t in tables if t.key == "admin"}
    # one cheap request per permission the selected tables need
    client.get("/organization/projects", {"limit": 1}, label="preflight")
    if modes & {"usage", "costs"}:
        client.get("/organization/usage/completions", {"start_time": (client.server_time or int(time.time()))
                                                       - 86400, "limit": 1}, label="preflight")
    if "audit" in modes:
        client.get("/organization/audit_logs", {"limit": 1}, label="preflight")
    return client


def identify_project_keys(cfg: SyncConfig, admin: Client | None, gate: Gate,
                          notes: list[str] | None = None) -> tuple[list[ProjectKeyInfo], list[str]]:
    """Each project key with its project: given explicitly (PROJECT_ID=KEY), or found among the redacted
    values of the projects' keys that the Admin key lists. Returns the usable keys and, per unusable key,
    a sentence saying why and what to do. Keys of archived projects are skipped with a note."""
    notes = [] if notes is None else notes
    infos: list[ProjectKeyInfo] = []
    problems: list[str] = []
    redacted: dict[str, list[str]] | None = None
    archived: set[str] = set()
    for pk in cfg.project_keys:
        if key_kind(pk.key) == "admin":
            problems.append(f"the project key {mask(pk.key)} is an Admin key (sk-admin-...); use it as the Admin key "
                            "(OPENAI_ADMIN_KEY) instead")
            continue
        pid = pk.project_id
        if admin is not None:
            if redacted is None:
                projects, redacted = key_index(admin, "identify project keys")
                archived = {p["id"] for p in projects if p.get("archived_at") or p.get("status") == "archived"}
            found = [p for p, vals in redacted.items() if any(redacted_matches(v, pk.key) for v in vals)]
            if pid is not None and found and pid not in found:
                problems.append(f"the project key {mask(pk.key)} was given for project {pid}, but it belongs to "
                                f"{found[0]}; fix its PROJECT_ID=KEY entry")
                continue
            pid = pid or (found[0] if len(found) == 1 else None)
        if pid is None:
            problems.append(f"the project of key {mask(pk.key)} is unknown"
                            + (" (no project lists a key like it)" if admin is not None else " (no Admin key to look "
                               "it up)") + "; give it as PROJECT_ID=KEY in OPENAI_PROJECT_KEYS or the secrets file")
            continue
        if pid in archived:
            notes.append(f"project {pid} is archived, so its key {mask(pk.key)} no longer works: its project "
                         "tables keep the data of the last sync")
            continue
        infos.append(ProjectKeyInfo(pid, Client(cfg.base_url, pk.key, admin=False, max_concurrency=cfg.concurrency,
                                                max_retries=cfg.max_retries, gate=gate)))
    return infos, problems


def _scope_condition(t: Table, scopes: list[tuple[str, str | None]]) -> tuple[str, list[Any]]:
    """SQL selecting the rows of completely listed scopes (project, or project and parent object)."""
    if t.parent:
        cond = " OR ".join(f"(project_id = %s AND {t.parent_column} = %s)" for _ in scopes)
        args = [x for pid, parent in scopes for x in (pid, parent)]
    else:
        cond = f"project_id IN ({', '.join(['%s'] * len(scopes))})"
        args = [pid for pid, _ in scopes]
    return f"AND ({cond})", args


def _cascade(sql: Any, name: str, t: Table, run: Run) -> int:
    """Children of a parent that a complete listing no longer has (a deleted vector store's files) are gone."""
    assert run.reader is not None and t.parent_column and t.parent
    failed = run.reader.failed.get(t.parent) or {}
    n = 0
    for (parent_table, pid), ids in run.reader.parent_ids.items():
        if parent_table != t.parent or pid in failed:
            continue
        keep = f"AND {t.parent_column} NOT IN ({', '.join(['%s'] * len(ids))})" if ids else ""
        where = f"WHERE _deleted = FALSE AND project_id = %s {keep}"
        found = sql.execute_sql(f"SELECT count(*) FROM {name} {where}", pid, *ids)
        sql.execute_sql(f"UPDATE {name} SET _deleted = TRUE {where}", pid, *ids)
        n += int(found[0][0]) if found else 0
    return n


def apply_soft_deletes(pipeline: Any, run: Run, tables: list[Table], results: dict[str, TableResult]) -> None:
    schema_tables = pipeline.default_schema.tables
    with pipeline.sql_client() as sql:
        for t in tables:
            if t.name in run.history and t.name in schema_tables:
                name = sql.make_qualified_table_name(t.name)
                history.retire_unseen(sql, t, name, run.synced_at, complete=bool(run.complete.get(t.name)),
                                      written=run.rows[t.name],
                                      keep_parents=run.keep_parents.get(t.name) if t.parent else None)
                results[t.name].deleted = history.gone_count(sql, t, name, run.synced_at)
                continue
            if not run.soft_delete(t) or t.name not in schema_tables:
                continue
            name = sql.make_qualified_table_name(t.name)
            if t.key == "project":
                scopes = run.reader.complete_scopes.get(t.name, []) if run.reader else []
                failed = (run.reader.failed.get(t.name) or {}) if run.reader else {}
                scopes = [sc for sc in scopes if sc[0] not in failed]
                if not scopes:
                    continue
                where, args = _scope_condition(t, scopes)
                args = [run.synced_at, *args]
            elif t.parent:
                parents = run.complete_parents.get(t.name) or []
                if not parents:
                    continue
                marks = ", ".join(["%s"] * len(parents))
                where = f"AND {t.parent_column} IN ({marks})"
                args: list[Any] = [run.synced_at, *parents]
            elif run.complete.get(t.name):
                where, args = "", [run.synced_at]
            else:
                continue
            deleted = 0
            if t.key == "project" and t.parent and run.reader:
                deleted += _cascade(sql, name, t, run)
            q = f"UPDATE {name} SET _deleted = TRUE WHERE _deleted = FALSE AND _synced_at < %s {where}"
            before = sql.execute_sql(f"SELECT count(*) FROM {name} WHERE _deleted = FALSE AND _synced_at < %s "
                                     f"{where}", *args)
            sql.execute_sql(q, *args)
            results[t.name].deleted = deleted + (int(before[0][0]) if before else 0)


def sync(cfg: SyncConfig, progress: Callable[[Run], None] | None = None) -> tuple[list[TableResult], Run]:
    """One sync run. Raises SyncError (nothing written) when the key or the destination is unusable."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # dlt's chatter; the summary says what matters
    if cfg.resync and not cfg.tables:
        raise SyncError("resync needs the tables to reload, e.g. openai-sync resync users audit_logs")
    try:
        ColumnPolicy(cfg.block_columns, cfg.hash_columns, cfg.hash_key)  # a bad policy stops the run here
    except PolicyError as e:
        raise SyncError(str(e)) from None
    for name in cfg.history_tables:
        if name not in catalog.TABLES or not history.capable(catalog.TABLES[name]):
            ok = ", ".join(t.name for t in catalog.ORG_TABLES if history.capable(t))
            raise SyncError(f"history mode is not available for {name!r}: it is for organization tables that are "
                            f"listed whole each run ({ok})")
    if destinations.kind(cfg.destination) == "filesystem":
        raise SyncError(destinations.FILESYSTEM_NOT_YET)
    collision = destinations.duckdb_collision(cfg.destination, cfg.schema)
    if collision:
        raise SyncError(collision)  # before anything is read or written
    has_admin, has_project = bool(cfg.admin_key), bool(cfg.project_keys)
    if not has_admin and not has_project:
        preflight(cfg, [])  # says what is missing
    tables = [t for t in catalog.select(cfg.tables, admin=has_admin, project=has_project)
              if t.name not in cfg.exclude_tables]
    if not tables:
        raise SyncError("no table left to sync: every selected table is excluded (exclude_tables / --exclude)")
    if cfg.tables and not has_project and any(t.key == "project" for t in tables):
        raise KeyProblem("project tables were asked for, but there is no project key: set OPENAI_PROJECT_KEYS "
                         "(comma-separated, KEY or PROJECT_ID=KEY) or add keys with openai-sync setup.")
    gate = Gate(cfg.concurrency)
    wants_projects = any(t.key == "project" for t in tables)
    # the Admin key is also how project keys are matched to their projects
    needs_admin = any(t.key == "admin" for t in tables) or (has_admin and wants_projects)
    admin = preflight(cfg, tables, gate) if needs_admin else None
    notes: list[str] = []
    infos, key_problems = identify_project_keys(cfg, admin, gate, notes) if wants_projects else ([], [])
    if wants_projects and not infos:
        raise KeyProblem("no usable project key: " + "; ".join(key_problems))
    client = admin or infos[0].client
    run = Run(cfg, client)
    run.clients = [c for c in [admin, *[i.client for i in infos]] if c is not None]
    run.key_problems = key_problems
    run.notes = notes
    run.reader = ProjectReader(run, infos, {t.name for t in tables if t.key == "project"} if cfg.resync
                               else None) if wants_projects else None
    pipeline = dlt.pipeline(pipeline_name(cfg), destination=destinations.make(cfg.destination),
                            dataset_name=cfg.schema, pipelines_dir=cfg.pipelines_dir)
    pipeline = _forget_local_state_of_a_new_destination(pipeline)
    run.pipeline = pipeline
    rebuild = [] if cfg.resync else _history_switched(pipeline, run, tables)
    resources = [make_resource(run, t) for t in tables if t.name not in rebuild]
    stop = threading.Event()
    ticker = None
    if progress is not None:
        def tick() -> None:
            while not stop.wait(0.25):
                progress(run)
        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
    try:
        # a package left by a killed run is loaded first, then this run's data
        # a resync drops the selected tables and their resource state (watermarks, cursors) first
        if rebuild:  # history mode turned on or off: those tables are rebuilt, in a package of their own
            pipeline.extract([make_resource(run, t) for t in tables if t.name in rebuild],
                             workers=max(1, cfg.concurrency), loader_file_format="parquet", refresh="drop_resources")
        if resources:
            pipeline.extract(resources, workers=max(1, cfg.concurrency), loader_file_format="parquet",
                             refresh="drop_resources" if cfg.resync else None)
        if run.reader is not None:  # after all the data: the project tables' state, for what fully succeeded
            pipeline.extract(dlt.resource(commit_state(run.reader), name="openai_sync_project_state"))
        pipeline.normalize()
        pipeline.load()
    finally:
        stop.set()
        if ticker:
            ticker.join()
    results = {t.name: TableResult(t.name, rows=run.rows[t.name], requests=sum(c.requests[t.name] for c in run.clients),
                                   seconds=run.finished.get(t.name, 0) - run.started.get(t.name, 0))
               for t in tables}
    apply_soft_deletes(pipeline, run, tables, results)
    for name, err in run.errors.items():
        if name in results:
            results[name].status = "failed"
            results[name].error = err
    return list(results.values()), run

