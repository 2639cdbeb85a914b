"""Each table as a dlt resource: its reader's pages, made into what the destination receives.

On the way: `_deleted` on tables with soft deletes, blocked and hashed columns (privacy.py), the history
version hash; a history-mode listing is held until it is whole (dlt's scd2 retires whatever a load lacks).
The rows, time and fate of each table go into the ledger: a table's failure is recorded and never stops the
other tables. The column hints declare what may be null on every row, so that every column has its type.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract import materialize_schema_item

from ..api.errors import ApiProblem, SyncError
from ..api.keys import scrub
from ..catalog import Table, bucket_columns, scope_columns
from ..read import reader_of, state_kind
from ..read.context import ReadContext
from ..read.feed import Settings as FeedSettings
from ..read.feed import fed
from ..read.ledger import Ledger, PartialFailure
from ..read.projects import STATE_KEY
from . import history
from .conform import ARROW, conform
from .privacy import ColumnPolicy
from .reconcile import CONTENT, Reconciliation, content_hash
from .store import DELETED_AT, Live


@dataclass(frozen=True)
class LoadPlan:
    """How rows reach the destination, fixed for the run."""

    destination: str
    schema: str
    pipelines_dir: str | None
    concurrency: int
    synced_at: datetime
    policy: ColumnPolicy
    history: frozenset[str] = frozenset()  # named this run, plus (load_tables) those the destination holds so
    history_off: frozenset[str] = frozenset()  # history tables to make plain (confirmed), their versions renamed
    history_ignore: dict[str, frozenset[str]] = field(default_factory=dict)  # volatile columns per history table
    lake: bool = False
    resync: bool = False
    secrets: tuple[str, ...] = ()  # every key of the run: scrubbed from any message
    organization: str | None = None  # the keys' organization: the only one whose rows a run marks
    feed: FeedSettings = field(default_factory=FeedSettings)  # the change feed's schedule (read/feed.py)
    reconciliation: Reconciliation | None = None  # the destination's hashes of the tables reconciled this run
    # exclusive use of the schema's tables while this run changes them (runner.Locking.turn)
    turn: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext

    def soft_delete(self, table: Table) -> bool:
        return table.soft_delete and table.name not in self.history

    def live(self, table: Table) -> Live:
        """Which of a table's rows are current: not `_deleted`, the current version, or every row."""
        return "history" if table.name in self.history else "deleted" if self.soft_delete(table) else "all"

    def row_key(self, table: Table) -> tuple[str, ...]:
        """The key rows merge by: with the organization when the API says which (a null cannot match in a
        merge, so without one the table's own key, as every run against such a server has it)."""
        return table.row_key if self.organization else table.primary_key


def hints(table: Table, soft_delete: bool, key: tuple[str, ...] | None = None) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    if table.strategy == "buckets":
        for c, kind in bucket_columns(table).items():
            cols[c] = ({"data_type": "decimal", "precision": 38, "scale": 12} if kind == "decimal"
                       else {"data_type": kind, "timezone": True} if kind == "timestamp" else {"data_type": kind})
    cols |= {c: {"data_type": "json"} for c in table.json_columns}
    cols.update({c: {"data_type": "timestamp", "timezone": True} for c in table.timestamp_columns})
    cols.update({c: {"data_type": "text"} for c in table.text_columns})
    cols["_synced_at"] = {"data_type": "timestamp", "nullable": False}
    if fed(table):
        cols[CONTENT] = {"data_type": "text", "nullable": True}  # what a reconciliation compares (reconcile.py)
    if soft_delete:  # nullable where the column came later: a NOT NULL column cannot be added to rows
        cols["_deleted"] = {"data_type": "bool", "nullable": table.mode != "full"}
        cols[DELETED_AT] = {"data_type": "timestamp", "timezone": True, "nullable": True}  # when it was seen
    cols["organization_id"] = {"data_type": "text"}
    for c in key or table.primary_key:
        cols[c] = {"data_type": "text", "nullable": False}
    key = {c: cols.pop(c) for c in table.primary_key}
    return column_order(key | cols)


def column_order(columns: dict[str, Any]) -> dict[str, Any]:
    """The API's own columns first, in the order they came; then the connector's bookkeeping (`_synced_at`,
    `_deleted`, history's `_valid_from`, ...); dlt's `_dlt_*` columns last. Stable: equal ranks keep their order."""
    def rank(name: str) -> int:
        return 2 if name.startswith("_dlt_") else 1 if name.startswith("_") else 0

    return dict(sorted(columns.items(), key=lambda kv: rank(kv[0])))


def _bookkeeping_last(schema: Any) -> bool:
    changed = False
    for name, table in schema.tables.items():
        columns = table.get("columns") or {}
        ordered = column_order(columns)
        if not name.startswith("_dlt") and list(ordered) != list(columns):
            columns.clear()
            columns.update(ordered)  # in place: the schema's other structures keep their reference
            changed = True
    return changed


def bookkeeping_last(pipeline: Any) -> None:
    """Put each table's bookkeeping columns after the API's own, in the normalized packages about to be loaded
    (the schema a load creates its tables from) and in the pipeline's schema. dlt places the columns a load first
    sees after those declared by hints, and the hints declare `_synced_at`: without this, a table would be
    created with `_synced_at` before most of its data. A table that exists keeps its order (dlt only adds
    columns); new columns of an existing table are added at its end."""
    storage = pipeline._get_load_storage()  # dlt has no public way to amend a normalized package's schema
    if storage.is_storage_ready():
        for load_id in storage.list_normalized_packages():
            schema = storage.normalized_packages.load_schema(load_id)
            if _bookkeeping_last(schema):
                storage.normalized_packages.save_schema(load_id, schema)
    if pipeline.default_schema_name:
        _bookkeeping_last(pipeline.default_schema)


def table_resource(plan: LoadPlan, ctx: ReadContext, table: Table, pages: list[Any] | None = None,
                   stored: dict[str, str] | None = None) -> Any:
    """The dlt resource of a table; `pages`: already read (a table rebuilt for a history-mode switch); `stored`:
    the table's columns and types in the destination (None: it has no such table yet)."""
    rows = _rows(plan, ctx, table, pages, stored)
    common = {"name": table.name, "primary_key": list(plan.row_key(table)), "max_table_nesting": 0,
              "parallelized": True}
    if table.name in plan.history:
        resource = dlt.resource(rows, **common, write_disposition=history.write_disposition(plan.synced_at),
                                merge_key=[*(["organization_id"] if plan.organization else []), *scope_columns(table)],
                                columns=hints(table, False, plan.row_key(table)))
    else:
        resource = dlt.resource(rows, **common, write_disposition="merge",
                                columns=hints(table, plan.soft_delete(table), plan.row_key(table)))
    if plan.lake:  # Delta tables: delta-rs merges by primary key (dlt's upsert); plain Parquet files cannot merge
        resource.apply_hints(table_format="delta", write_disposition={"disposition": "merge", "strategy": "upsert"})
    return resource


def _rows(plan: LoadPlan, ctx: ReadContext, table: Table, pages: list[Any] | None,
          stored: dict[str, str] | None) -> Iterator[Any]:
    """Run one table's reader; a failure is recorded for that table and does not stop the others."""
    ledger = ctx.ledger
    ledger.start(table.name)
    whole: list[dict[str, Any]] | None = [] if table.name in plan.history and not table.parent else None
    types = dict(stored or {})  # Arrow columns keep the type they first had (conform.py)
    yielded = False
    try:
        source = iter(pages) if pages is not None else reader_of(table)(ctx, table, _state(table))
        for page in source:
            page = _shape(plan, table, page, types, ledger)
            if plan.reconciliation is not None and isinstance(page, list):
                for row in page:
                    plan.reconciliation.see(table, row, ctx.feed)
            n = len(page) if isinstance(page, list) else page.num_rows
            ledger.count(table.name, n)
            if whole is not None:
                whole.extend(page)  # SCD2 retires what a load lacks: only a whole listing may be loaded
            elif n:
                yielded = True
                yield page
        if whole:
            yielded = True
            yield whole
        if not yielded and stored is None:  # a first sync: the table exists, with its declared columns, even empty
            yield _empty(table, hints(table, plan.soft_delete(table))) if plan.lake else materialize_schema_item()
    except PartialFailure as e:
        ledger.stop(table.name, str(e), partial=True)
    except SyncError as e:
        ledger.stop(table.name, str(e))
    except Exception as e:  # a response of an unexpected shape fails its table, not the whole run
        detail = scrub(f"{type(e).__name__}: {e}", *plan.secrets)[:300]  # scrub, then cut
        ledger.stop(table.name, str(ApiProblem(
            f"reading {table.name} failed unexpectedly ({detail}), most likely on data of a shape the API did not "
            "send before; the table was not finished and its watermark did not move. If it persists, report "
            "this message.")))
    finally:
        ledger.finish(table.name)


def _empty(table: Table, columns: dict[str, Any]) -> pa.Table:
    """No rows, the declared columns: what creates an empty Delta table (dlt's empty marker cannot be merged)."""
    return pa.table({c: pa.array([], ARROW.get(h["data_type"], pa.string())) for c, h in columns.items()})


def _state(table: Table) -> dict[str, Any]:
    """What the reader may keep between runs: its table's dlt state (committed with the load that used it);
    project tables get their shared state read only (see project_state); other tables keep none."""
    kind = state_kind(table)
    if kind == "projects":
        return dlt.current.source_state().get(STATE_KEY, {})
    return dlt.current.resource_state() if kind == "table" else {}


def _shape(plan: LoadPlan, table: Table, page: Any, types: dict[str, str], ledger: Ledger) -> Any:
    if not isinstance(page, list):  # an Arrow table of usage or cost rows
        return conform(plan.policy.arrow(table, page) if plan.policy else page, types)
    soft, versioned, hashed = plan.soft_delete(table), table.name in plan.history, fed(table)
    ignore = plan.history_ignore.get(table.name, frozenset())
    if soft or versioned or plan.policy or hashed:
        for row in page:
            if soft:
                row["_deleted"] = False
            if plan.policy:
                plan.policy.row(table, row)  # blocking and hashing: last, and once
            if hashed:  # of what is stored (blocked columns gone), so that it says nothing of them
                row[CONTENT] = content_hash(table, row, ignore)
            if versioned:
                row[history.VERSION] = history.version_hash(row, ignore)
                if ignore:
                    ledger.latest(table.name, tuple(row.get(c) for c in table.primary_key),
                                  {c: row.get(c) for c in sorted(ignore)})
    return page


def project_state(ledger: Ledger, project_tables: list[str], resync: Iterable[str]) -> Any:
    """A resource without rows that moves the project tables' state forward, for the projects where every
    table succeeded. Extracted after every data resource, so it is loaded after (and with) their data: a
    parent's watermark never moves past objects whose children were not read."""

    def commit() -> Iterator[Any]:
        failed = ledger.failed_projects(project_tables)
        if any(ledger.stopped(t) for t in project_tables):  # a table stopped on something unexpected: no project
            failed |= {key.split("/")[0] for _name, key in ledger.next_states()}  # is known to be complete
        state = dlt.current.source_state().setdefault(STATE_KEY, {})
        for name in resync:
            state[name] = {}  # a resynced table starts over: no scope of the old state survives
        for (name, key), nxt in ledger.next_states().items():
            if key.split("/")[0] not in failed:
                state.setdefault(name, {})[key] = nxt
        yield from ()

    return dlt.resource(commit(), name="openai_sync_project_state")
