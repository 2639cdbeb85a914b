"""openai-sync under Dagster (the `dagster` extra): `dagster dev -m openai_sync.dagster`.

The connections of the config file named by OPENAI_SYNC_CONFIG (default ./openai-sync.toml) are the partitions of
one set of assets, one asset per table (`openai/<table>`, grouped by family: usage, costs, audit, directory,
project_objects, with dagster-dlt's translator naming them after their dlt resources), so that Dagster's executor
runs organizations in parallel, across processes or machines. Materializing a partition is `openai-sync sync
--connection NAME` for the selected tables (the whole run's preflight, watermarks, soft deletes and history
included). Each table has an asset check, `synced`, that fails with the table's error when its sync failed;
`save_and_test` runs Save & Test for the partition's connection and fails on any failing verdict. Each connection
gets a schedule at its own sync frequency, and each table a freshness check (twice the longest frequency).

    OPENAI_SYNC_CONFIG=prod.toml dagster asset materialize -m openai_sync.dagster --select '*' --partition acme
"""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from .. import catalog
from ..config import DEFAULT_CONFIG, ConfigError, Resolved, connection_names, resolve
from ..formats import parse_frequency
from ..outcome import sync_config

FAMILIES = ("usage", "costs", "audit", "directory", "project_objects")
PREFIX = "openai"


def family(table: catalog.Table) -> str:
    if table.key == "project" or catalog.crosses_keys(table):
        return "project_objects"
    return {"usage": "usage", "costs": "costs", "audit": "audit"}.get(table.mode, "directory")


class Translator(DagsterDltTranslator):
    """dagster-dlt's names for dlt resources: `openai/<table>`, in its family's group."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        table = catalog.TABLES[data.resource.name]
        return spec.replace_attributes(key=dg.AssetKey([PREFIX, table.name]), group_name=family(table),
                                       description=table.description or None, deps=[])


def specs() -> list[dg.AssetSpec]:
    # no pipeline: the destination is each connection's own (and making one would write a folder at load time)
    return [Translator().get_asset_spec(DltResourceTranslatorData(resource=dlt.resource([], name=t.name),
                                                                  pipeline=None)).replace_attributes(skippable=True)
            for t in catalog.ALL_TABLES]


def connections() -> tuple[Path, list[Resolved]]:
    path = Path(os.environ.get("OPENAI_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser()
    where, names = connection_names({"config": str(path)})
    return where, [resolve({"config": str(where), "connection": n}) for n in names]


def _selected(context: AssetExecutionContext) -> list[str]:
    return sorted(k.path[-1] for k in context.selected_asset_keys)


def _sync(context: AssetExecutionContext, config: Path) -> Any:
    from ..runner import selected_tables, sync

    r = resolve({"config": str(config), "connection": context.partition_key})
    cfg = sync_config(r)
    own = {t.name for t in selected_tables(cfg)}
    picked = own & set(_selected(context))  # of the connection's own tables, those selected
    if not picked:
        return [], None
    if picked != own:
        cfg = dataclasses.replace(cfg, tables=sorted(picked))
    return sync(cfg)


def build(config: Path, resolved: list[Resolved]) -> dg.Definitions:
    partitions = dg.StaticPartitionsDefinition([r.name for r in resolved])
    all_specs = [s.replace_attributes(partitions_def=partitions) for s in specs()]
    checks = [dg.AssetCheckSpec("synced", asset=s.key, description="the table's last sync succeeded")
              for s in all_specs]
    checks.append(dg.AssetCheckSpec("save_and_test", asset=dg.AssetKey([PREFIX, "audit_logs"]),
                                    description="Save & Test of the partition's connection: no failing check"))

    @dg.multi_asset(specs=all_specs, check_specs=checks, can_subset=True, name="openai_sync",
                    description="One sync of the partition's connection (organization), for the selected tables")
    def openai_sync_tables(context):  # type: ignore[no-untyped-def]  # (dagster reads no string annotation here)
        from ..checks import FAIL, run_checks

        results, run = _sync(context, config)
        selected = set(context.selected_asset_check_keys)
        for r in results:
            key = dg.AssetKey([PREFIX, r.name])
            meta = {"rows": r.rows, "requests": r.requests, "status": r.status,
                    "organization_id": getattr(run, "organization_id", None) or ""}
            if r.status != "failed":
                yield dg.MaterializeResult(asset_key=key, metadata=meta)
            if dg.AssetCheckKey(key, "synced") in selected:
                yield dg.AssetCheckResult(asset_key=key, check_name="synced", passed=r.status == "ok",
                                          metadata={"status": r.status, "error": r.error or ""})
        if dg.AssetCheckKey(dg.AssetKey([PREFIX, "audit_logs"]), "save_and_test") in selected:
            verdicts = run_checks(resolve({"config": str(config), "connection": context.partition_key}))
            failing = [f"{c.name}: {c.message}" for c in verdicts if c.status == FAIL]
            yield dg.AssetCheckResult(asset_key=dg.AssetKey([PREFIX, "audit_logs"]), check_name="save_and_test",
                                      passed=not failing, metadata={"failing": "\n".join(failing)})

    job = dg.define_asset_job("openai_sync_job", selection=dg.AssetSelection.all(), partitions_def=partitions)
    schedules = [_schedule(r, job) for r in resolved]
    longest = max((parse_frequency(r.settings.sync_frequency) or 3600) for r in resolved) if resolved else 3600
    freshness = dg.build_last_update_freshness_checks(assets=[s.key for s in all_specs],
                                                      lower_bound_delta=timedelta(seconds=2 * longest))
    return dg.Definitions(assets=[openai_sync_tables], asset_checks=freshness, jobs=[job], schedules=schedules)


def _schedule(r: Resolved, job: Any) -> dg.ScheduleDefinition:
    """The connection's own sync frequency (or cron), as a schedule of its partition."""
    cron = r.settings.sync_cron or _cron(parse_frequency(r.settings.sync_frequency) or 3600)

    def run_request(_context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(partition_key=r.name)

    return dg.ScheduleDefinition(name=f"openai_sync_{r.name}", cron_schedule=cron, job=job,
                                 execution_fn=run_request, default_status=dg.DefaultScheduleStatus.STOPPED)


def _cron(seconds: int) -> str:
    """A frequency as cron: every N minutes below an hour, every N hours below a day, else daily."""
    minutes = max(1, seconds // 60)
    if minutes < 60:
        return f"*/{minutes} * * * *"
    hours = minutes // 60
    return f"0 */{hours} * * *" if hours < 24 else "0 0 * * *"


def definitions() -> dg.Definitions:
    """The definitions of the config file OPENAI_SYNC_CONFIG names (what `-m openai_sync.dagster` loads)."""
    try:
        path, resolved = connections()
    except ConfigError as e:
        raise dg.DagsterInvariantViolationError(f"openai-sync: {e}") from None
    return build(path, resolved)
