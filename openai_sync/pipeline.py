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

import contextlib
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
from dlt.pipeline.exceptions import PipelineStepFailed

from . import catalog, destinations, history, locks, memory
from .catalog import COSTS_API_KEY_GROUPING_FROM, COSTS_PAGE, USAGE_PAGE, WIDTH_SECONDS, Table
from .client import ApiProblem, Client, Gate, KeyProblem, SyncError, key_kind, mask, redacted_matches, scrub
from .lake import LakeSQL
from .pagination import bucket_pages, list_pages, page_data
from .parallel import interleave, split_range
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
    time_budget: float | None = None  # seconds: no request starts after that; what was read is loaded
    deadline: float | None = field(default=None, init=False)  # time.monotonic() when the budget runs out

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
        self.untouched: set[str] = set()  # tables this run must leave exactly as they are
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
    _check(table, row)
    row = run.policy.row(table, row) if run.policy else row  # blocking and hashing: last, and once
    if table.name in run.history:
        row[history.VERSION] = history.version_hash(row)
    return row


INT64 = 2**63


def _check(table: Table, row: dict[str, Any]) -> None:
    """Refuse what no table can hold: an object without its primary key, a number beyond 64 bits. The table
    fails with the reason; rows of earlier pages are loaded, its watermark does not move."""
    for c in table.primary_key:
        if row.get(c) is None:
            raise ApiProblem(f"GET {table.path} returned an object without its {c!r} (its primary key); the "
                             f"{table.name} table was not finished. If it persists, report it.")
    for k, v in row.items():  # JSON parsers turn integers beyond 64 bits into floats
        if type(v) in (int, float) and not -INT64 <= v < INT64:
            raise ApiProblem(f"GET {table.path} returned {k} = {v:.3g} for {table.name} {row.get('id')!r}, beyond "
                             "any 64-bit integer column; that object was not loaded and the table was not finished.")


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
    except Exception as e:  # a response of an unexpected shape fails its table, not the whole run
        detail = scrub(f"{type(e).__name__}: {e}", *(c.key for c in run.clients))[:300]  # scrub, then cut
        run.fail(table.name, ApiProblem(f"reading {table.name} failed unexpectedly ({detail}), most likely on data "
                                        "of a shape the API did not send before; the table was not finished and "
                                        "its watermark did not move. If it persists, report this message."))
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
    """The audit log from the watermark (or the beginning) to now. It is one newest-first cursor chain, so a
    first sync of a large organization would be thousands of requests one after another: after the first
    page, the rest of the range is cut into `effective_at` windows read in parallel."""
    state = dlt.current.resource_state()
    watermark = state.get("watermark")
    lo = int(watermark) if watermark is not None else None
    # gte, not gt: events of the same second may arrive later; merge on id keeps each one once
    bounds: dict[str, int] = {"gte": lo} if lo is not None else {}
    newest = watermark

    seen: set[str] = set()  # events of the first page's oldest second, which the windows read again

    def rows(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal newest
        page = [ev for ev in page if ev.get("id") not in seen]  # one row per event in a load (Delta needs it)
        for ev in page:
            t = ev.get("effective_at")
            if isinstance(t, int) and (newest is None or t > newest):
                newest = t
        out = [audit_row(run, table, ev) for ev in page]
        run.count(table.name, len(out))
        return out

    first = run.client.get(table.path, {**({"effective_at": bounds} if bounds else {}), "limit": table.page_limit},
                           label=table.name)
    data = page_data(first, table.path)
    yield rows(data)
    stamps = [ev["effective_at"] for ev in data if isinstance(ev.get("effective_at"), int)]
    if first.get("has_more") and stamps:
        oldest = min(stamps)
        seen.update(ev.get("id") for ev in data if ev.get("effective_at") == oldest)
        floor = lo if lo is not None else min(usage_start(run), oldest)
        # windows of about 16 pages each (as the first page's density estimates them): each window's last page
        # is partial, so more windows cost more requests; at most 4 per worker
        density = len(data) / max(1, max(stamps) - oldest)
        pages_left = density * max(0, oldest - floor) / table.page_limit
        windows = split_range(floor, oldest + 1, max(1, min(4 * run.cfg.concurrency, int(pages_left // 16))))

        def window(i: int, a: int, b: int) -> Callable[[], Iterator[list[dict[str, Any]]]]:
            w = {"lt": b} | ({"gte": a} if i or lo is not None else {})  # the oldest window is open below
            return lambda: list_pages(run.client, table.path, {"effective_at": w}, limit=table.page_limit,
                                      label=table.name)

        for page in interleave([window(i, a, b) for i, (a, b) in enumerate(windows)], run.cfg.concurrency,
                               table.name):
            yield rows(page)
    # the watermark moves only once every window down to the old one was read
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


RESULTS_PER_PAGE = 30_000  # a page's results held at once, per worker: bounds memory whatever the organization


def buckets(run: Run, table: Table) -> Iterator[Any]:
    """Usage or cost buckets from the cursor (or the start) to now. A range longer than one page is cut into
    bucket ranges read in parallel; pages are as large as the API allows, unless the organization's buckets
    hold so many results that a page would not fit the memory bound (RESULTS_PER_PAGE)."""
    state = dlt.current.resource_state()
    width = run.cfg.width_for(table)
    if state.get("width") != width:
        state.clear()  # a new width is a new series of buckets: read from the start
    start = floor_to(int(state.get("cursor") or usage_start(run)), width)
    final_before = run.now - run.cfg.lookback_seconds
    dims = table.group_by
    w = WIDTH_SECONDS[width]
    most = COSTS_PAGE if table.mode == "costs" else USAGE_PAGE[width]
    known: dict[str, int] = dict(state.get("results_per_bucket") or {})  # the fullest bucket each grouping had
    fullest: dict[str, int] = {}
    lock = threading.Lock()
    streams = []
    for lo, hi, group_by in _costs_ranges(start, dims) if table.mode == "costs" else [(start, None, dims)]:
        base: dict[str, Any] = {"bucket_width": width, "group_by": list(group_by)}
        end = hi if hi is not None else floor_to(run.now, width) + w  # the bucket in progress included
        n = -(-(end - lo) // w)
        grouping = ",".join(group_by)
        if n <= 1:
            per_page = most
        elif grouping in known:  # what the last run saw: no probe on an incremental run
            per_page = _page_size(known[grouping], most)
        else:
            per_page = _page_size(_newest_bucket_results(run, table, base, end - w), most)

        def note(results: int, g: str = grouping) -> None:
            with lock:
                fullest[g] = max(fullest.get(g, 0), results)

        for a, b in split_range(lo, end, -(-n // per_page), align=w):
            last = b == end and hi is None  # open-ended: buckets the API adds while we read are not cut off
            params = {**base, "start_time": a, "limit": per_page, **({} if last else {"end_time": b})}
            streams.append(lambda p=params, until=(run.now if last else b), note=note: _arrow_pages(
                run, table, p, until, width, final_before, note))
    for tbl in interleave(streams, run.cfg.concurrency, table.name):
        run.count(table.name, tbl.num_rows)
        yield tbl
    # next time, re-read every bucket that ended less than the lookback before this run
    state["width"] = width
    state["cursor"] = max(start, floor_to(final_before, width))
    state["results_per_bucket"] = known | fullest
    run.complete[table.name] = True


def _page_size(results_per_bucket: int, most: int) -> int:
    """How many buckets a page may hold to stay within RESULTS_PER_PAGE (at least one, at most the API's)."""
    return max(1, min(most, RESULTS_PER_PAGE // max(1, results_per_bucket)))


def _newest_bucket_results(run: Run, table: Table, base: dict[str, Any], last_bucket: int) -> int:
    """The probe: one request for the newest complete bucket tells how many results a bucket has (the newest
    is the fullest: an organization grows)."""
    probe = run.client.get(table.path, {**base, "start_time": last_bucket - WIDTH_SECONDS[base["bucket_width"]],
                                        "end_time": last_bucket, "limit": 1}, label=table.name)
    return sum(len(b.get("results") or []) for b in page_data(probe, table.path))


def _arrow_pages(run: Run, table: Table, params: dict[str, Any], until: int, width: str,
                 final_before: int, note: Callable[[int], None]) -> Iterator[Any]:
    """One bucket range's pages as Arrow tables, built in the worker that read them. `note` hears the most
    results a bucket of each page held, which sizes the next run's pages."""

    def arrow(page: list[dict[str, Any]]) -> Any:
        note(max((len(b.get("results") or []) for b in page if isinstance(b, dict)), default=0))
        tbl = buckets_to_arrow(table, page, width=width, dims=table.group_by, final_before=final_before,
                               organization_id=run.org_id, synced_at=run.synced_at)
        return run.policy.arrow(table, tbl) if run.policy and tbl is not None else tbl

    for tbl in bucket_pages(run.client, table.path, params, until=until, label=table.name, digest=arrow):
        if tbl is not None:
            yield tbl


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


def make_resource(run: Run, table: Table, rows: list[Any] | None = None) -> Any:
    """The dlt resource of a table; `rows`: pages already read (a table rebuilt for a history-mode switch)."""
    resource = _resource(run, table, rows)
    if destinations.kind(run.cfg.destination) == "filesystem":
        # Delta tables: delta-rs merges by primary key (dlt's upsert); plain Parquet files cannot merge
        resource.apply_hints(table_format="delta", write_disposition={"disposition": "merge", "strategy": "upsert"})
    return resource


def _resource(run: Run, table: Table, rows: list[Any] | None = None) -> Any:
    if table.key == "project":
        return dlt.resource(
            _guard(run, table, lambda: project_resource(run, run.reader, table)),
            name=table.name, primary_key=list(table.primary_key), write_disposition="merge",
            max_table_nesting=0, columns=_hints(table, run.soft_delete(table)), parallelized=True,
        )
    if rows is not None:
        gen: Callable[..., Iterator[Any]] = lambda _run, _table: iter(rows)  # noqa: E731
    elif table.mode == "audit":
        gen = audit_logs
    elif table.mode in ("usage", "costs"):
        gen = buckets
    elif table.parent:
        gen = fan_out
    else:
        gen = full_listing
    if table.name in run.history:
        return dlt.resource(
            _guard(run, table, lambda: gen(run, table)),
            name=table.name, primary_key=list(table.primary_key), max_table_nesting=0,
            write_disposition=history.write_disposition(run.synced_at), merge_key=table.parent_column or (),
            columns=_hints(table, False), parallelized=True,
        )
    return dlt.resource(
        _guard(run, table, lambda: gen(run, table)),
        name=table.name, primary_key=list(table.primary_key), write_disposition="merge",
        max_table_nesting=0, columns=_hints(table, run.soft_delete(table)), parallelized=True,
    )


def pipeline_name(cfg: SyncConfig) -> str:
    # the password is not part of a destination's identity (nor may a hash of it reach dlt's state)
    digest = hashlib.blake2b(f"{destinations.shown(destinations.identity(cfg.destination))}|{cfg.schema}".encode(),
                             digest_size=5).hexdigest()
    return f"openai_sync_{cfg.schema}_{digest}"


# ---- the run ------------------------------------------------------------------------------------------
def _forget_local_state_of_a_new_destination(pipeline: Any) -> Any:
    """The destination holds the authoritative state. If it has none for this pipeline (a new or emptied
    destination), local state left by earlier runs must not turn the first load into an increment."""
    if not pipeline.has_data:
        return pipeline  # no local state either: nothing to forget
    try:
        with pipeline.destination_client() as client:
            known = client.get_stored_state(pipeline.pipeline_name) is not None  # type: ignore[attr-defined]
    except DestinationUndefinedEntity:
        known = False
    return pipeline if known else pipeline.drop()


def _rebuilt(run: Run, tables: list[Table]) -> list[Any]:
    """Resources for the tables a history-mode switch rebuilds. Dropping a table is only safe once its whole
    listing was read: each is read first, and one whose listing failed is left as it is (and fails)."""
    out = []
    for t in tables:
        gen = fan_out if t.parent else full_listing
        pages: list[Any] = []
        try:
            pages = list(gen(run, t))
        except SyncError as e:
            run.fail(t.name, e)
        if t.name in run.errors:
            run.notes.append(f"{t.name}: not rebuilt for the history-mode switch, since its listing failed; the "
                             "table is as it was, and the next run tries again")
            run.untouched.add(t.name)
            continue
        out.append(make_resource(run, t, [r for page in pages for r in page]
                                 if pages and isinstance(pages[0], list) else pages))
    return out


def _history_switched(pipeline: Any, run: Run, tables: list[Table]) -> list[str]:
    """Tables whose history mode differs from what the destination holds: they are rebuilt from scratch
    (a table of current rows has no versions to continue, and a table of versions cannot be merged by key)."""
    capable = [t for t in tables if history.capable(t)]
    if not capable:
        return []
    switched = []
    with pipeline.sql_client() as sql:
        for t in capable:
            stored = history.stored_mode(sql, sql.dataset_name, t.name)  # as dlt normalized it
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
                    max_retries=cfg.max_retries, gate=gate, deadline=cfg.deadline)
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
                                                max_retries=cfg.max_retries, gate=gate, deadline=cfg.deadline)))
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
    lake = destinations.kind(run.cfg.destination) == "filesystem"
    with (LakeSQL(pipeline) if lake else pipeline.sql_client()) as sql:
        for t in tables:
            if t.name in run.untouched:
                continue
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
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")  # dlt logs tracebacks; our messages say it
    memory.configure()
    cfg.deadline = time.monotonic() + cfg.time_budget if cfg.time_budget else None
    if cfg.resync and not cfg.tables:
        raise SyncError("resync needs the tables to reload, e.g. openai-sync resync users audit_logs")
    try:
        ColumnPolicy(cfg.block_columns, cfg.hash_columns, cfg.hash_key)  # a bad policy stops the run here
    except PolicyError as e:
        raise SyncError(str(e)) from None
    wrong, ok = history.refused(cfg.history_tables)
    if wrong:
        raise SyncError(f"history mode is not available for {wrong[0]!r}: it is for organization tables that are "
                        f"listed whole each run ({', '.join(ok)})")
    if destinations.kind(cfg.destination) == "filesystem" and cfg.history_tables:
        raise SyncError(destinations.LAKE_NO_HISTORY)
    collision = destinations.duckdb_collision(cfg.destination, cfg.schema)
    if collision:
        raise SyncError(collision)  # before anything is read or written
    what = f"{destinations.shown(cfg.destination)} schema {cfg.schema}"
    pg = destinations.normalize(cfg.destination) if destinations.kind(cfg.destination) == "postgres" else None
    with locks.exclusive(pipeline_name(cfg), cfg.pipelines_dir, what, pg, schema=cfg.schema):  # before any request
        run, tables = _start(cfg)
        return _sync_locked(cfg, run, tables, progress)


def _start(cfg: SyncConfig) -> tuple[Run, list[Table]]:
    """Check the keys and the destination, and identify the project keys: the run, and its tables."""
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
    if destinations.kind(cfg.destination) != "named":  # reachable and writable, before any data is read
        from .checks import FAIL, check_destination

        if destinations.kind(cfg.destination) == "duckdb":
            with contextlib.suppress(OSError):  # the check below says why the folder cannot be used
                destinations.duckdb_path(cfg.destination).parent.mkdir(parents=True, exist_ok=True)
        found = check_destination(cfg.destination, cfg.schema)
        if found.status == FAIL:
            raise SyncError(found.message)
    return run, tables


def _load(pipeline: dlt.Pipeline, run: Run) -> None:
    """Load the package. A DuckDB load that outgrew the buffer pool's cap is retried once without it: the cap
    keeps a sync's memory flat (bench/perf.py), and an unusually large merge may need more than it allows."""
    try:
        pipeline.load()
    except PipelineStepFailed as e:
        if not (destinations.out_of_memory(e) and destinations.lift_memory_cap(pipeline.destination)):
            raise
        run.notes.append(f"DuckDB needed more memory than its {destinations.DUCKDB_MEMORY} cap to load this run's "
                         "data; the load was retried with DuckDB's default (80 % of the machine's memory)")
        pipeline.load()


def _sync_locked(cfg: SyncConfig, run: Run, tables: list[Table],
                 progress: Callable[[Run], None] | None) -> tuple[list[TableResult], Run]:
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
        # history mode turned on or off: those tables are rebuilt, in a package of their own
        rebuilt = _rebuilt(run, [t for t in tables if t.name in rebuild]) if rebuild else []
        if rebuilt:
            pipeline.extract(rebuilt, workers=max(1, cfg.concurrency), loader_file_format="parquet",
                             refresh="drop_resources")
        if resources:
            pipeline.extract(resources, workers=max(1, cfg.concurrency), loader_file_format="parquet",
                             refresh="drop_resources" if cfg.resync else None)
        if run.reader is not None:  # after all the data: the project tables' state, for what fully succeeded
            pipeline.extract(dlt.resource(commit_state(run.reader), name="openai_sync_project_state"))
        memory.trim()  # what extraction freed, before normalize and load take theirs
        pipeline.normalize()
        memory.trim()
        _load(pipeline, run)
    finally:
        stop.set()
        if ticker:
            ticker.join()
    results = {t.name: TableResult(t.name, rows=run.rows[t.name], requests=sum(c.requests[t.name] for c in run.clients),
                                   seconds=run.finished.get(t.name, 0) - run.started.get(t.name, 0))
               for t in tables}
    apply_soft_deletes(pipeline, run, tables, results)
    limited = sum(c.throttle.throttled for c in run.clients)
    if limited:
        run.notes.append(f"the API rate-limited {limited} requests (429); the sync slowed down and waited as asked "
                         "by Retry-After and x-ratelimit-* instead of giving up")
    for name, err in run.errors.items():
        if name in results:
            results[name].status = "failed"
            results[name].error = err
    return list(results.values()), run

