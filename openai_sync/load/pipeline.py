"""The dlt pipeline of one destination and schema, and the steps of one load.

A package left by a killed run is loaded first, then this run's data; a resync drops the selected tables and
their state (watermarks, cursors) first; tables whose history mode was switched are rebuilt from a full
listing, in a package of their own. After the load, soft deletes and history retirement (deletes.py).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.pipeline.exceptions import PipelineStepFailed

from .. import memory
from ..api.errors import SyncError
from ..catalog import Table
from ..read import reader_of
from ..read.context import ReadContext
from . import deletes, destinations, history, organizations, refused
from .lake import LakeStore
from .resources import LoadPlan, project_state, table_resource
from .store import SqlStore


def pipeline_name(destination: str, schema: str) -> str:
    # the password is not part of a destination's identity (nor may a hash of it reach dlt's state)
    digest = hashlib.blake2b(f"{destinations.shown(destinations.identity(destination))}|{schema}".encode(),
                             digest_size=5).hexdigest()
    return f"openai_sync_{schema}_{digest}"


@dataclass
class Loaded:
    pipeline: Any
    deleted: dict[str, int] = field(default_factory=dict)  # per table: rows marked deleted (or retired)
    notes: list[str] = field(default_factory=list)


def load_tables(plan: LoadPlan, ctx: ReadContext, tables: list[Table]) -> Loaded:
    """Read every table into the destination: extract (the readers run here), normalize, load, then mark."""
    pipeline = dlt.pipeline(pipeline_name(plan.destination, plan.schema),
                            destination=destinations.make(plan.destination), dataset_name=plan.schema,
                            pipelines_dir=plan.pipelines_dir)
    out = Loaded(_forget_local_state_of_a_new_destination(pipeline))
    pipeline = out.pipeline
    organizations.refuse_another(pipeline, plan.destination, plan.schema, plan.organization)  # before any read
    switched = [] if plan.resync else _history_switched(pipeline, plan, tables, out.notes)
    regrouped = [] if plan.resync else _regrouped(pipeline, tables, out.notes)
    untouched: set[str] = set()
    rebuilt = _rebuilt(plan, ctx, [t for t in tables if t.name in switched], untouched, out.notes)
    stored = _stored_columns(pipeline)
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
    project_tables = [t.name for t in tables if t.key == "project"]
    if project_tables:  # after all the data: the project tables' state, for what fully succeeded
        pipeline.extract(project_state(ctx.ledger, project_tables, project_tables if plan.resync else ()))
    memory.trim()  # what extraction freed, before normalize and load take theirs
    pipeline.normalize()
    memory.trim()
    failed = _load(pipeline, out.notes)
    if failed:
        _refused(pipeline, plan, ctx, tables, before, failed)
    out.deleted = _mark(pipeline, plan, ctx, [t for t in tables if t.name not in untouched])
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
    try:
        return refused.failed_tables(pipeline.load(raise_on_failed_jobs=False))
    except PipelineStepFailed as e:
        if not (destinations.out_of_memory(e) and destinations.lift_memory_cap(pipeline.destination)):
            raise
        notes.append(f"DuckDB needed more memory than its {destinations.DUCKDB_MEMORY} cap to load this run's "
                     "data; the load was retried with DuckDB's default (80 % of the machine's memory)")
        return refused.failed_tables(pipeline.load(raise_on_failed_jobs=False))


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


def _history_switched(pipeline: Any, plan: LoadPlan, tables: list[Table], notes: list[str]) -> list[str]:
    """Tables whose history mode differs from what the destination holds: they are rebuilt from scratch
    (a table of current rows has no versions to continue, and a table of versions cannot be merged by key)."""
    capable = [t for t in tables if history.capable(t)]
    if not capable:
        return []
    switched = []
    with pipeline.sql_client() as sql:
        for t in capable:
            stored = history.stored_mode(sql, sql.dataset_name, t.name)  # as dlt normalized it
            on = t.name in plan.history
            if stored is not None and stored != on:
                switched.append(t.name)
                notes.append(f"{t.name}: history mode turned {'on' if on else 'off'}, so the table was rebuilt from "
                             "a full listing" + (" (its history starts now)" if on else ""))
    return switched


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
