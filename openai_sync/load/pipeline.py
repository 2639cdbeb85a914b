"""The dlt pipeline of one destination and schema, and the steps of one load.

A package left by a killed run is loaded first, then this run's data; a resync drops the selected tables and
their state (watermarks, cursors) first; tables whose history mode was switched are rebuilt from a full
listing, in a package of their own. A table the destination holds in history mode stays in history mode
unless turned off explicitly; whenever one is rebuilt (turned off, or resynced) its versions are renamed
aside first, never dropped (history.py). After the load, soft deletes and history retirement (deletes.py).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.exceptions import PipelineStepFailed

from .. import analytics, memory
from ..api.errors import SyncError
from ..catalog import Table
from ..read import reader_of
from ..read.context import ReadContext
from . import deletes, destinations, feed, history, locks, organizations, refused
from .lake import LakeStore
from .reconcile import Reconciliation
from .resources import LoadPlan, bookkeeping_last, project_state, table_resource
from .store import SqlStore


def pipeline_name(destination: str, schema: str, organization: str | None = None) -> str:
    """dlt's pipeline, and so every watermark, of one organization in one schema. Without an organization: the
    schema's own name (its lock; and the pipeline of every organization before several could share a schema, or
    when the API does not say which organization a key belongs to)."""
    # the password is not part of a destination's identity (nor may a hash of it reach dlt's state)
    who = f"{destinations.shown(destinations.identity(destination))}|{schema}" + (
        f"|{organization}" if organization else "")
    return f"openai_sync_{schema}_{hashlib.blake2b(who.encode(), digest_size=5).hexdigest()}"


def schema_turn(destination: str, schema: str, pipelines_dir: str | None,
                wait: float) -> contextlib.AbstractContextManager[None]:
    """Exclusive use of a PostgreSQL schema's tables (and dlt's staging tables beside them) for one load, waiting
    up to `wait` seconds for another organization's; elsewhere one run holds its destination whole already."""
    if destinations.kind(destination) != "postgres":
        return contextlib.nullcontext()
    return locks.exclusive(pipeline_name(destination, schema), pipelines_dir,
                           f"{destinations.shown(destination)} schema {schema}", destinations.normalize(destination),
                           schema=schema, wait=wait)


@dataclass
class Loaded:
    pipeline: Any
    deleted: dict[str, int] = field(default_factory=dict)  # per table: rows marked deleted (or retired)
    notes: list[str] = field(default_factory=list)


def _drop_views(pipeline: Any) -> None:
    if getattr(pipeline.destination, "destination_name", "") == "postgres":
        with pipeline.sql_client() as sql:
            analytics.drop(sql, pipeline.dataset_name)


def load_tables(plan: LoadPlan, ctx: ReadContext, tables: list[Table]) -> Loaded:
    """Read every table into the destination: extract (the readers run here), normalize, load, then mark."""
    pipeline = dlt.pipeline(pipeline_name(plan.destination, plan.schema, plan.organization),
                            destination=destinations.make(plan.destination), dataset_name=plan.schema,
                            pipelines_dir=plan.pipelines_dir)
    out = Loaded(_forget_local_state_of_a_new_destination(pipeline))
    pipeline = out.pipeline
    _adopt_schema_pipeline(pipeline, plan)
    plan, switched, versioned = _history_modes(pipeline, plan, tables, out.notes)
    regrouped = [] if plan.resync else _regrouped(pipeline, tables, out.notes)
    whole = {t.name: "a resync" for t in tables} if plan.resync else {}
    whole |= {n: "its history mode switches" for n in switched} | {n: "its dimensions changed" for n in regrouped}
    organizations.refuse_whole_table_changes(pipeline, plan.destination, plan.schema, plan.organization, whole)
    untouched: set[str] = set()
    rebuilt = _rebuilt(plan, ctx, [t for t in tables if t.name in switched], untouched, out.notes)
    if plan.resync or switched or regrouped or versioned:
        with plan.turn():
            _drop_views(pipeline)  # PostgreSQL refuses to drop or rename a table a view reads; the run remakes them
            _archive(pipeline, plan, [n for n in versioned if n not in untouched], out.notes)  # before dlt drops them
    stored = _stored_columns(pipeline)
    fed = [t for t in tables if t.name not in switched and t.name not in regrouped]
    feed.prepare_run(pipeline, plan, ctx, fed)
    out.notes.extend(ctx.feed.notes)
    plan = dataclasses.replace(plan, reconciliation=_reconciliation(pipeline, plan, ctx, fed, stored))
    before = refused.snapshot(pipeline)
    reloaded = [table_resource(plan, ctx, t) for t in tables if t.name in regrouped]
    resources = [table_resource(plan, ctx, t, stored=stored.get(t.name)) for t in tables
                 if t.name not in switched and t.name not in regrouped]
    workers = max(1, plan.concurrency)
    for first in (rebuilt, reloaded):  # each replaces its tables and their state
        if first:
            pipeline.extract(first, workers=workers, loader_file_format="parquet", refresh="drop_resources")
    if resources:
        pipeline.extract(resources, workers=workers, loader_file_format="parquet",
                         refresh="drop_resources" if plan.resync else None)
    if ctx.feed.next_state:  # after all the data: where the change feed was read to (read/feed.py)
        pipeline.extract(feed.commit(ctx.feed))
    project_tables = [t.name for t in tables if t.key == "project"]
    if project_tables:  # after all the data: the project tables' state, for what fully succeeded
        pipeline.extract(project_state(ctx.ledger, project_tables, project_tables if plan.resync else ()))
    ctx.done_reading()
    memory.trim()  # what extraction freed, before normalize and load take theirs
    _drop_half_deleted(pipeline)
    pipeline.normalize()
    bookkeeping_last(pipeline)  # the API's columns before `_synced_at` in the tables this load creates
    memory.trim()
    with plan.turn():  # another organization's load into this schema finishes first
        failed = _load(pipeline, out.notes)
        if failed:
            _refused(pipeline, plan, ctx, tables, before, failed)
        out.deleted = _mark(pipeline, plan, ctx, [t for t in tables if t.name not in untouched])
    feed.finished(pipeline, ctx.feed)
    if plan.reconciliation is not None:
        out.notes.extend(plan.reconciliation.notes(fed, ctx.feed, ctx.ledger))
    return out


def _reconciliation(pipeline: Any, plan: LoadPlan, ctx: ReadContext, tables: list[Table],
                    stored: dict[str, Any]) -> Reconciliation | None:
    """The destination's content hashes of the tables this run reconciles, before their listings change them."""
    names = [t for t in tables if ctx.feed.reconciling(t.name) and t.name in stored and not plan.resync]
    if not names:
        return None
    out = Reconciliation()
    with contextlib.nullcontext() if plan.lake else pipeline.sql_client() as sql:
        store = LakeStore(pipeline) if plan.lake else SqlStore(sql)
        for t in names:
            out.load(store, t, plan.row_key(t), plan.organization, plan.live(t))
    return out


def _refused(pipeline: Any, plan: LoadPlan, ctx: ReadContext, tables: list[Table], before: dict[str, Any],
             failed: dict[str, str]) -> None:
    """Tables the destination refused fail alone: reported, their state put back (load/refused.py)."""
    ours = {t.name: t for t in tables}
    if any(name not in ours for name in failed):  # dlt's own tables (state, versions): nothing is safe
        raise SyncError(f"{destinations.shown(plan.destination)} refused openai-sync's own bookkeeping "
                        f"({', '.join(sorted(n for n in failed if n not in ours))}): {next(iter(failed.values()))}")
    for name, reason in failed.items():
        ctx.ledger.stop(name, f"{destinations.shown(plan.destination)} refused its rows ({reason}); the table keeps "
                              "the rows of the last good run, and the next run reads it again from there")
    refused.revert(pipeline, before, list(failed), any(ours[n].key == "project" for n in failed))


def _drop_half_deleted(pipeline: Any) -> None:
    """dlt normalizes a package, commits it to the load folder, then deletes the extracted copy folder by folder:
    a run killed during that delete leaves half an extracted package (its schema without its `new_jobs`), and
    every later normalize would fail on it (FileNotFoundError), blocking the connection for good. Its rows are
    in the committed package already (and a package never committed has no jobs left to lose): drop it."""
    root = os.path.join(pipeline.working_dir, "normalize", "extracted")
    if not os.path.isdir(root):
        return
    storage = pipeline._get_normalize_storage().extracted_packages  # dlt has no public way to list them
    for load_id in storage.list_packages():
        if not storage.storage.has_folder(storage.get_job_state_folder_path(load_id, "new_jobs")):
            storage.delete_package(load_id)


def _stored_columns(pipeline: Any) -> dict[str, dict[str, str]]:
    """Each table the destination has, with its columns' types (as dlt's schema knows them)."""
    if not pipeline.default_schema_name:
        return {}  # a new pipeline: no table yet
    return {name: {c: col.get("data_type") for c, col in t.get("columns", {}).items() if col.get("data_type")}
            for name, t in pipeline.default_schema.tables.items() if not name.startswith("_dlt")}


def _load(pipeline: Any, notes: list[str]) -> dict[str, str]:
    """Load the packages; returns the tables whose rows the destination refused (load/refused.py). A DuckDB load
    that outgrew the buffer pool's cap is retried once without it: the cap keeps a sync's memory flat
    (bench/perf.py), and an unusually large merge may need more than it allows."""
    workers = destinations.load_workers(pipeline.destination)
    try:
        return refused.failed_tables(pipeline.load(raise_on_failed_jobs=False, workers=workers))
    except PipelineStepFailed as e:
        if not (destinations.out_of_memory(e) and destinations.lift_memory_cap(pipeline.destination)):
            raise
        notes.append(f"DuckDB needed more memory than its {destinations.DUCKDB_MEMORY} cap to load this run's "
                     "data; the load was retried with DuckDB's default (80 % of the machine's memory)")
        return refused.failed_tables(pipeline.load(raise_on_failed_jobs=False, workers=workers))


def _mark(pipeline: Any, plan: LoadPlan, ctx: ReadContext, tables: list[Table]) -> dict[str, int]:
    """Soft deletes and history retirement, for the tables the destination has."""
    existing = pipeline.default_schema.tables
    out: dict[str, int] = {}
    with contextlib.nullcontext() if plan.lake else pipeline.sql_client() as sql:  # the lake: delta-rs
        store = LakeStore(pipeline) if plan.lake else SqlStore(sql)
        for t in tables:
            if t.name not in existing:
                continue
            if t.name in plan.history:
                deletes.retire(store, t, ctx.ledger, plan.synced_at, plan.organization)
                if t.name in plan.history_ignore:
                    history.refresh_volatile(sql, t, sql.make_qualified_table_name(t.name),
                                             ctx.ledger.latest_values(t.name), plan.organization)
                out[t.name] = history.gone_count(sql, t, sql.make_qualified_table_name(t.name), plan.synced_at,
                                                 plan.organization)
            elif plan.soft_delete(t):
                out[t.name] = deletes.soft_delete(store, t, ctx.ledger, plan.synced_at, plan.organization)
    return out


def _adopt_schema_pipeline(pipeline: Any, plan: LoadPlan) -> None:
    """The first run of an organization's own pipeline in a schema that the schema's pipeline kept (versions
    before several organizations could share a schema) continues from that pipeline's watermarks and schema
    instead of reading everything again. Only the organization whose rows the schema holds adopts it: until
    then a schema held one organization's rows only."""
    legacy_name = pipeline_name(plan.destination, plan.schema)
    if plan.organization is None or pipeline.pipeline_name == legacy_name or pipeline.state.get("sources"):
        return
    root = Path(plan.pipelines_dir) if plan.pipelines_dir else Path(get_dlt_pipelines_dir())
    if not (root / legacy_name / dlt.Pipeline.STATE_FILE).is_file():
        return  # no such pipeline here (and none is made by looking)
    legacy = dlt.pipeline(legacy_name, destination=destinations.make(plan.destination), dataset_name=plan.schema,
                          pipelines_dir=plan.pipelines_dir)
    if not legacy.state.get("sources") or not legacy.default_schema_name:
        return
    if plan.organization not in organizations.stored(legacy, plan.destination, plan.schema):
        return
    pipeline._inject_schema(legacy.default_schema.clone())  # dlt has no public way to carry a schema over
    with pipeline.managed_state() as state:
        state["sources"] = copy.deepcopy(legacy.state["sources"])


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


def _history_modes(pipeline: Any, plan: LoadPlan, tables: list[Table],
                   notes: list[str]) -> tuple[LoadPlan, list[str], list[str]]:
    """The run's plan with every table the destination holds in history mode kept in it (unless turned off:
    history is never lost by a flag left out); the tables whose mode switches, rebuilt from scratch (a table of
    current rows has no versions to continue, and a table of versions cannot be merged by key); and the history
    tables this run rebuilds, whose versions are renamed aside first (turned off, or resynced)."""
    capable = [t.name for t in tables if history.capable(t)]
    ignored = [n for n in plan.history_ignore if n not in plan.history]  # to be checked against the destination
    if not capable and not ignored:
        return plan, [], []
    with pipeline.sql_client() as sql:
        stored = {n: history.stored_mode(sql, sql.dataset_name, n) for n in dict.fromkeys([*capable, *ignored])}
    kept = [n for n in capable if stored[n] and n not in plan.history and n not in plan.history_off]
    outside = [n for n in ignored if not stored[n]]  # (one being turned off is refused by the runner)
    if outside:
        raise SyncError(f"history_ignore_columns names {outside[0]}, which is not kept in history mode: add it to "
                        "history_tables, or drop its entries from history_ignore_columns")
    if kept:
        notes.append(f"{', '.join(kept)} {'stays' if len(kept) == 1 else 'stay'} in history mode (turned on "
                     "earlier: the mode the destination holds counts). To turn it off, keeping every version in a "
                     f"renamed table: openai-sync sync --history-off {','.join(kept)} --yes")
    for n in plan.history_off:
        if n in capable and not stored[n]:
            notes.append(f"{n}: not in history mode, so there was nothing to turn off (history_off_tables)")
    plan = dataclasses.replace(plan, history=plan.history | frozenset(kept))
    if plan.resync:  # every selected table is dropped and reloaded: a history table's versions go aside first
        return plan, [], [n for n in capable if stored[n]]
    switched = [n for n in capable if stored[n] is not None and stored[n] != (n in plan.history)]
    for n in switched:
        if n in plan.history:
            notes.append(f"{n}: history mode turned on, so the table was rebuilt from a full listing (its history "
                         "starts now)")
    return plan, switched, [n for n in switched if n not in plan.history]


def _archive(pipeline: Any, plan: LoadPlan, names: list[str], notes: list[str]) -> None:
    """Rename each history table this run rebuilds to its archive name (history.py), before dlt drops and
    recreates it: turning history mode off, or a resync, keeps every version."""
    if not names:
        return
    with pipeline.sql_client() as sql:
        for n in names:
            moved = history.archive(sql, n, plan.synced_at)
            count = sql.execute_sql(f"SELECT count(*) FROM {sql.make_qualified_table_name(moved)}")[0][0]
            if n in plan.history:
                notes.append(f"{n}: resynced; its {count} earlier versions are kept in {moved}, and its history "
                             "starts again now")
            else:
                notes.append(f"{n}: history mode turned off; its {count} versions are kept in {moved}, and {n} was "
                             "rebuilt from a full listing as a table of current rows")


def _regrouped(pipeline: Any, tables: list[Table], notes: list[str]) -> list[str]:
    """Usage and cost tables last read with other dimensions: their rows' synthetic ids include the dimensions,
    so such a table is reloaded from the start (re-read buckets would otherwise sit beside the old rows)."""
    source = pipeline.state.get("sources", {}).get(pipeline.default_schema_name, {})
    out = []
    for t in tables:
        state = source.get("resources", {}).get(t.name) or {}
        if t.strategy != "buckets" or "cursor" not in state:
            continue  # never read: nothing to reload
        # before the grouping was kept, the fullest grouping of results_per_bucket was the one read
        stored = state.get("group_by") or max(state.get("results_per_bucket") or {""}, key=len)
        now = ",".join(t.group_by)
        if stored != now:
            out.append(t.name)
            notes.append(f"{t.name}: its dimensions changed ({stored or 'unknown'} -> {now}), so it was reloaded "
                         "from the start: the synthetic ids of its rows include them")
    return out


def _rebuilt(plan: LoadPlan, ctx: ReadContext, tables: list[Table], untouched: set[str],
             notes: list[str]) -> list[Any]:
    """Resources for the tables a history-mode switch rebuilds. Dropping a table is only safe once its whole
    listing was read: each is read first, and one whose listing failed is left as it is (and fails)."""
    out = []
    for t in tables:
        ctx.ledger.start(t.name)
        try:
            pages = list(reader_of(t)(ctx, t, {}))
        except SyncError as e:
            ctx.ledger.stop(t.name, str(e))
            ctx.ledger.finish(t.name)
            notes.append(f"{t.name}: not rebuilt for the history-mode switch, since its listing failed; the "
                         "table is as it was, and the next run tries again")
            untouched.add(t.name)
            continue
        out.append(table_resource(plan, ctx, t, pages))
    return out
