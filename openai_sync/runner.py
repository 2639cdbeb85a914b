"""One sync run: its frozen configuration, the tables it selects, and `sync()`, which wires the layers.

The path of a run: refuse what cannot work (before anything is read or written); take the connection's lock;
check the keys (access.py) and the destination; then load (load/pipeline.py), which runs each table's reader
(read/) inside dlt's extract step, and marks what complete listings no longer have. What the run read is in
its ledger (read/ledger.py); the result per table and the run's report are made from it. `sync()` never
changes its configuration.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import analytics, catalog, memory
from .access import NO_ADMIN_KEY, ProjectKeys, open_project_keys, organization_of, preflight
from .api.client import Client, ClientOptions, now_from
from .api.errors import KeyProblem, SyncError
from .api.keys import ProjectKey
from .api.reach import unreachable
from .api.throttle import Gate
from .catalog import Table
from .load import destinations, history, locks
from .load.destination_check import FAIL, check_destination
from .load.pipeline import load_tables, schema_turn
from .load.pipeline import pipeline_name as _pipeline_name
from .load.privacy import ColumnPolicy, PolicyError
from .load.resources import LoadPlan
from .read.context import ReadContext
from .read.feed import Settings as FeedSettings
from .read.ledger import Ledger

DEFAULT_DESTINATION = destinations.DEFAULT
DEFAULT_START = 1577836800  # 2020-01-01: a new user gets the full history


def _tuple(v: Any) -> tuple[Any, ...] | None:
    return None if v is None else tuple(v)


@dataclass(frozen=True)
class SyncConfig:
    admin_key: str | None
    base_url: str = "https://api.openai.com/v1"
    destination: str = DEFAULT_DESTINATION
    schema: str = "openai"
    tables: tuple[str, ...] | None = None
    exclude_tables: tuple[str, ...] = ()
    concurrency: int = 8
    bucket_width: str = "1d"
    bucket_widths: dict[str, str] = field(default_factory=dict)  # per usage table
    start_date: int = DEFAULT_START
    lookback_seconds: int = 86400
    audit_lookback_seconds: int = 3600  # audit events listed late: each run re-reads this much before its watermark
    pipelines_dir: str | None = None
    max_retries: int = 6
    project_keys: tuple[ProjectKey, ...] = ()  # each key, with its project id when the user gave it
    chat_completion_content: bool = False  # opt-in: stored completions' messages can hold user data
    resync: bool = False  # reload `tables` from scratch: drop them and their state first
    block_columns: tuple[str, ...] = ()
    hash_columns: tuple[str, ...] = ()
    hash_key: str | None = None
    history_tables: tuple[str, ...] = ()  # SCD2: every version kept (load/history.py)
    # history tables made plain again, their versions kept in a renamed table; only with confirm_history_off
    history_off_tables: tuple[str, ...] = ()
    confirm_history_off: bool = False  # --yes: the user said so, not a setting a file could carry unseen
    history_ignore_columns: tuple[str, ...] = ()  # TABLE.COLUMN left out of the version hash (still updated)
    time_budget: float | None = None  # seconds: no request starts after that; what was read is loaded
    reconcile: bool = False  # read every organization table whole this run (sync --reconcile)
    reconcile_every: int = 86400  # seconds between complete listings; between them the audit log says what changed
    volatile_every: int = 86400  # seconds between listings of what the audit log does not record (last_used_at)

    def __post_init__(self) -> None:  # lists given by callers become tuples: the configuration cannot change
        for name in ("tables", "exclude_tables", "project_keys", "block_columns", "hash_columns", "history_tables",
                     "history_off_tables", "history_ignore_columns"):
            value = _tuple(getattr(self, name))
            object.__setattr__(self, name, () if value is None and name != "tables" else value)

    def width_for(self, table: Table) -> str:
        return catalog.bucket_width(table, self.bucket_width, self.bucket_widths)

    def secrets(self) -> tuple[str, ...]:
        return tuple(k for k in (self.admin_key, self.hash_key, *(p.key for p in self.project_keys)) if k)


@dataclass
class TableResult:
    name: str
    rows: int = 0
    requests: int = 0
    status: str = "ok"  # ok | failed
    error: str | None = None
    deleted: int = 0
    seconds: float = 0.0
    read: str = ""  # an organization table under the change feed: whole (why), some parents, or unchanged


@dataclass(frozen=True)
class Status:
    """A run's progress, as a live display shows it."""

    done: int
    total: int
    rows: int
    requests: int
    throttled: int


@dataclass
class RunReport:
    """What a run did beyond its tables: who it used, what to tell the user, where the data went."""

    client: Client  # the Admin key's (or the first project key's)
    clients: list[Client]
    projects: list[str]  # the projects read with their own keys
    tables: list[str]
    key_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pipeline: Any = None
    warnings: list[str] = field(default_factory=list)  # keys skipped for a reason that fails nothing

    @property
    def organization_id(self) -> str | None:
        return self.client.organization_id


def pipeline_name(cfg: SyncConfig) -> str:
    return _pipeline_name(cfg.destination, cfg.schema)


def selected_tables(cfg: SyncConfig) -> list[Table]:
    """The tables a run syncs: those named (or all that its keys can read), minus the excluded ones."""
    has_admin, has_project = bool(cfg.admin_key), bool(cfg.project_keys)
    tables = [t for t in catalog.select(cfg.tables, admin=has_admin, project=has_project)
              if t.name not in cfg.exclude_tables]
    if not tables:
        raise SyncError("no table left to sync: every selected table is excluded (exclude_tables / --exclude)")
    needing = [t.name for t in tables if catalog.needs_project_keys(t)]
    if cfg.tables and not has_project and needing:
        raise KeyProblem(f"{', '.join(needing)} need{'s' if len(needing) == 1 else ''} a project key (project "
                         "tables, or read for what project keys list), but there is none: set OPENAI_PROJECT_KEYS "
                         "(comma-separated, KEY or PROJECT_ID=KEY) or add keys with openai-sync setup.")
    return tables


def sync(cfg: SyncConfig, progress: Callable[[Status], None] | None = None) -> tuple[list[TableResult], RunReport]:
    """One sync run. Raises SyncError (nothing written) when the key or the destination is unusable."""
    _refuse(cfg)
    memory.configure()
    deadline = time.monotonic() + cfg.time_budget if cfg.time_budget else None
    with contextlib.ExitStack() as stack:
        lock = Locking(cfg, stack)
        if not lock.pg:  # before any request
            stack.enter_context(locks.exclusive(pipeline_name(cfg), cfg.pipelines_dir, lock.what))
        return _run(cfg, deadline, progress, lock)


LOAD_WAIT = 1800.0  # seconds a load waits for another organization's load into the same schema (no time budget)


@dataclass
class Locking:
    """One sync per connection at a time (load/locks.py). A DuckDB file or a lake takes one run at a time, whole.
    On PostgreSQL, runs of several organizations into one schema overlap: each organization's run holds its own
    lock (taken once the API has said which organization), and their loads, which share the schema's tables
    and dlt's staging tables, take turns under the schema's lock."""

    cfg: SyncConfig
    stack: contextlib.ExitStack
    organization: str | None = None

    def __post_init__(self) -> None:
        self.what = f"{destinations.shown(self.cfg.destination)} schema {self.cfg.schema}"
        self.pg = (destinations.normalize(self.cfg.destination)
                   if destinations.kind(self.cfg.destination) == "postgres" else None)

    def hold(self, organization: str | None) -> None:
        """The run's own lock, now that its organization is known (PostgreSQL)."""
        if not self.pg:
            return
        self.organization = organization
        c = self.cfg
        name = _pipeline_name(c.destination, c.schema, organization)
        scope = f"{c.schema}|{organization}" if organization else c.schema
        self.stack.enter_context(locks.exclusive(name, c.pipelines_dir, self.what, self.pg, schema=scope))

    def turn(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive use of the schema's tables, waiting for another organization's load to finish."""
        if not self.organization:
            return contextlib.nullcontext()  # the run holds the schema whole already
        c = self.cfg
        return schema_turn(c.destination, c.schema, c.pipelines_dir, wait=c.time_budget or LOAD_WAIT)


def _refuse(cfg: SyncConfig) -> None:
    """What cannot work is refused before anything is read or written."""
    if cfg.resync and not cfg.tables:
        raise SyncError("resync needs the tables to reload, e.g. openai-sync resync users audit_logs")
    try:
        ColumnPolicy(list(cfg.block_columns), list(cfg.hash_columns), cfg.hash_key)
    except PolicyError as e:
        raise SyncError(str(e)) from None
    wrong, ok = history.refused([*cfg.history_tables, *cfg.history_off_tables])
    if wrong:
        raise SyncError(f"history mode is not available for {wrong[0]!r}: it is for organization tables that are "
                        f"listed whole each run ({', '.join(ok)})")
    _refuse_history_off(cfg)
    try:
        ignored = history.parse_ignored(cfg.history_ignore_columns)
    except ValueError as e:
        raise SyncError(str(e)) from None
    # a table not named in history_tables may still be in history mode in the destination: load_tables checks
    turned_off = sorted(set(ignored) & set(cfg.history_off_tables))
    if turned_off:
        raise SyncError(f"history_ignore_columns names {turned_off[0]}, whose history mode is being turned off "
                        "(history_off_tables): drop its entries from history_ignore_columns")
    if destinations.kind(cfg.destination) == "filesystem" and cfg.history_tables:
        raise SyncError(destinations.LAKE_NO_HISTORY)
    collision = destinations.duckdb_collision(cfg.destination, cfg.schema)
    if collision:
        raise SyncError(collision)


def _refuse_history_off(cfg: SyncConfig) -> None:
    """Turning history mode off changes what a table is: asked for by name, and confirmed, or nothing happens."""
    both = sorted(set(cfg.history_tables) & set(cfg.history_off_tables))
    if both:
        raise SyncError(f"{both[0]} is named both to keep in history mode (history_tables / --history) and to turn "
                        "it off (history_off_tables / --history-off): keep one of the two")
    if cfg.history_off_tables and not cfg.confirm_history_off:
        names = ", ".join(cfg.history_off_tables)
        raise SyncError(f"turning history mode off for {names} needs a confirmation: each such table becomes a table "
                        f"of current rows, and its versions move to a table of their own, <table>{history.ARCHIVE}"
                        "<YYYYMMDD_HHMMSS> (kept, never dropped). Run again with --yes to confirm; nothing was read "
                        "or written")


def _run(cfg: SyncConfig, deadline: float | None, progress: Callable[[Status], None] | None,
         lock: Locking) -> tuple[list[TableResult], RunReport]:
    if not cfg.admin_key and not cfg.project_keys:
        raise KeyProblem(NO_ADMIN_KEY)
    tables = selected_tables(cfg)
    options = ClientOptions(cfg.base_url, cfg.concurrency, cfg.max_retries, Gate(cfg.concurrency), deadline)
    _check_destination(cfg)
    cannot = unreachable(cfg.base_url)
    if cannot:
        raise SyncError(cannot)
    admin, keys = _keys(cfg, tables, options)
    primary = admin or keys.usable[0].client
    organization = organization_of(primary)
    lock.hold(organization)
    clients = [c for c in [admin, *(k.client for k in keys.usable)] if c is not None]
    for c in clients:  # closed once reading ends (load/pipeline.py), or here when the run fails before that
        lock.stack.callback(c.close)
    ledger = Ledger()
    project_tables = {t.name for t in tables if t.key == "project"} if cfg.resync else set()
    ctx = ReadContext(admin=admin, projects=keys.usable, primary=primary, ledger=ledger,
                      concurrency=max(1, cfg.concurrency), now=now_from(primary), synced_at=datetime.now(UTC),
                      start_date=cfg.start_date, lookback_seconds=cfg.lookback_seconds,
                      audit_lookback_seconds=cfg.audit_lookback_seconds,
                      bucket_width=cfg.bucket_width, bucket_widths=dict(cfg.bucket_widths),
                      fresh=frozenset(project_tables | {a for n in project_tables for a in catalog.ancestors(n)}),
                      chat_completion_content=cfg.chat_completion_content)
    plan = LoadPlan(destination=cfg.destination, schema=cfg.schema, pipelines_dir=cfg.pipelines_dir,
                    concurrency=cfg.concurrency, synced_at=ctx.synced_at, history=frozenset(cfg.history_tables),
                    history_off=frozenset(cfg.history_off_tables),
                    history_ignore=history.parse_ignored(cfg.history_ignore_columns),
                    policy=ColumnPolicy(list(cfg.block_columns), list(cfg.hash_columns), cfg.hash_key),
                    lake=destinations.kind(cfg.destination) == "filesystem", resync=cfg.resync,
                    secrets=cfg.secrets(), organization=organization, turn=lock.turn,
                    feed=FeedSettings(cfg.reconcile, cfg.reconcile_every, cfg.volatile_every))
    with _ticking(progress, ledger, clients, len(tables)):
        loaded = load_tables(plan, ctx, tables)
    report = RunReport(primary, clients, [k.project_id for k in keys.usable], [t.name for t in tables],
                       list(keys.problems), [*ledger.notes, *loaded.notes, *_analytics(loaded.pipeline, lock)],
                       loaded.pipeline, list(keys.warnings))
    limited = sum(c.throttle.throttled for c in clients)
    if limited:
        report.notes.append(f"the API rate-limited {limited} requests (429); the sync slowed down and waited as "
                            "asked by Retry-After and x-ratelimit-* instead of giving up")
    results = [_result(t, ledger, clients, loaded.deleted) for t in tables]
    for r in results:
        r.read = ctx.feed.describe(r.name)
    return results, report


def _analytics(pipeline: Any, lock: Locking) -> list[str]:
    """The analytics views, recreated over what this run loaded; their failure is a note, never the run's."""
    dialect = analytics.DIALECTS.get(getattr(pipeline.destination, "destination_name", ""))
    if dialect is None:
        return []
    try:
        with lock.turn(), pipeline.sql_client() as sql:
            done = analytics.refresh(sql, pipeline.dataset_name, dialect)
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        return [f"the analytics views in {pipeline.dataset_name}{analytics.SUFFIX} could not be refreshed "
                f"({type(e).__name__}: {first}); the tables are loaded"]
    return [f"the analytics view {done.schema}.{model} was left out: the destination {why}; the other views and "
            "the tables are current" for model, why in done.refused.items()]


def _keys(cfg: SyncConfig, tables: list[Table], options: ClientOptions) -> tuple[Client | None, ProjectKeys]:
    """The Admin key checked (it is also how project keys are matched to their projects), and the usable
    project keys."""
    wants_projects = any(catalog.needs_project_keys(t) for t in tables)
    needs_admin = any(t.key == "admin" for t in tables) or (bool(cfg.admin_key) and wants_projects)
    admin = preflight(cfg.admin_key, tables, options) if needs_admin else None
    keys = open_project_keys(cfg.project_keys, admin, options) if wants_projects else ProjectKeys((), (), ())
    if wants_projects and not keys.usable:
        raise KeyProblem("no usable project key: " + "; ".join(keys.problems))
    return admin, keys


def _check_destination(cfg: SyncConfig) -> None:
    """Well formed, reachable and writable (a dlt-configured one: known, installed, with credentials), before any
    request: a mistyped destination is a sentence and exit 2, not a run that reads everything and fails at the
    load. No folder is created for it."""
    found = check_destination(cfg.destination, cfg.schema)
    if found.status == FAIL:
        raise SyncError(found.message)


@contextlib.contextmanager
def _ticking(progress: Callable[[Status], None] | None, ledger: Ledger, clients: list[Client],
             total: int) -> Iterator[None]:
    """Call `progress` four times a second while the body runs."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.25):
            progress(Status(len(ledger.finished), total, sum(ledger.rows.values()),
                            sum(sum(c.requests.values()) for c in clients),
                            sum(c.throttle.throttled for c in clients)))

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()


def _result(t: Table, ledger: Ledger, clients: list[Client], deleted: dict[str, int]) -> TableResult:
    error = ledger.error(t.name)
    return TableResult(t.name, rows=ledger.rows[t.name], requests=sum(c.requests[t.name] for c in clients),
                       status="failed" if error else "ok", error=error, deleted=deleted.get(t.name, 0),
                       seconds=ledger.finished.get(t.name, 0) - ledger.started.get(t.name, 0))
