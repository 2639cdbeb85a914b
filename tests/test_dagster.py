"""openai-sync under Dagster (the `dagster` extra): three simulated organizations, one partition each, into one
PostgreSQL schema (and one DuckDB file) by materializing the assets in-process: the tables equal the union of
three single-organization syncs, with no key twice; each table's `synced` check and Save & Test pass; and the
command the README gives (`dagster asset materialize -m openai_sync.dagster --partition NAME`) runs one."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
from conftest import NOW
from destinations_support import Dest
from organizations_support import alone, assert_union

from openai_sync.config import Secrets, Settings, resolve
from openai_sync.config_files import save
from openai_sync.simulator import Simulator, World

TABLES = ["users", "user_roles", "projects", "project_api_keys", "audit_logs", "usage_completions", "costs"]


def configure(path: Path, sims: list[Simulator], dest: Dest, state: Path) -> None:
    for i, sim in enumerate(sims):
        save(path, f"org{i + 1}", Settings.model_validate(
            {"destination": dest.destination, "schema": dest.schema, "state_dir": str(state),
             "base_url": sim.base_url, "tables": TABLES, "sync_frequency": "30m"}),
             Secrets(admin_key=sim.world.admin_key, project_keys=[]))


def test_dagster_materializes_each_organization_as_a_partition(dest: Dest, tmp_path: Path) -> None:
    from openai_sync.orchestration.dagster import build

    worlds = [World(seed=s, size="small", now=NOW) for s in (21, 22, 23)]
    config = tmp_path / "openai-sync.toml"
    with ExitStack() as stack:
        sims = [stack.enter_context(Simulator(w)) for w in worlds]
        configure(config, sims, dest, tmp_path / "dlt")
        defs = build(config, [resolve({"config": str(config), "connection": f"org{i + 1}"}) for i in range(3)])
        job = defs.resolve_job_def("openai_sync_job")
        assert job.partitions_def is not None and job.partitions_def.get_partition_keys() == ["org1", "org2", "org3"]
        assert {s.name for s in defs.schedules} == {"openai_sync_org1", "openai_sync_org2", "openai_sync_org3"}
        assert all(s.cron_schedule == "*/30 * * * *" for s in defs.schedules)
        instance = dg.DagsterInstance.ephemeral()
        for name in ("org1", "org2", "org3"):
            result = job.execute_in_process(partition_key=name, instance=instance)
            assert result.success
            checks = result.get_asset_check_evaluations()
            failed = [(c.asset_key, c.check_name) for c in checks if not c.passed]
            assert checks and not failed, failed
            assert {c.check_name for c in checks} == {"synced", "save_and_test"}
        groups = {spec.key.path[-1]: spec.group_name for spec in defs.resolve_all_asset_specs()}
        assert groups["usage_completions"] == "usage" and groups["costs"] == "costs"
        assert groups["audit_logs"] == "audit" and groups["users"] == "directory"
        assert groups["files"] == "project_objects"
        refs = alone(sims, tmp_path, TABLES)
    assert_union(dest, refs, TABLES)
    if dest.kind == "postgres":
        dest.exec(f"DROP SCHEMA IF EXISTS {dest.schema}_analytics CASCADE")


def test_the_dagster_command_materializes_one_partition(tmp_path: Path) -> None:
    dest = Dest("duckdb", tmp_path)
    config = tmp_path / "openai-sync.toml"
    with Simulator(World(seed=21, size="small", now=NOW)) as sim:
        configure(config, [sim], dest, tmp_path / "dlt")
        env = {**os.environ, "OPENAI_SYNC_CONFIG": str(config), "DAGSTER_HOME": str(tmp_path / "dagster")}
        (tmp_path / "dagster").mkdir()
        done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m",
                               "openai_sync.dagster", "--select", "*", "--partition", "org1"], capture_output=True,
                              text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr
    assert dest.one("SELECT count(DISTINCT organization_id) FROM openai.users") == 1
