"""`openai-sync resync TABLE`: one table reloaded from scratch, the others untouched (DuckDB and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NOW, empty_config
from destinations_support import Dest

from openai_sync.config import ProjectKey
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"),
                      project_keys=[ProjectKey(k, p) for p, k in sim.world.project_keys.items()], **kw)


def test_resync_reloads_one_table_and_leaves_the_others(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        sync(config(sim, dest))
        users = dest.one("SELECT count(*) FROM openai.users")
        batches = dest.one("SELECT count(*) FROM openai.batches")
        costs_runs = dest.q("SELECT DISTINCT _synced_at FROM openai.costs")
        # someone damaged two tables by hand
        dest.exec("DELETE FROM openai.users WHERE role = 'reader'")
        dest.exec("DELETE FROM openai.batches")
        before = sim.stats()["by_endpoint"]
        results, _ = sync(config(sim, dest, tables=["users", "batches"], resync=True))
        after = sim.stats()["by_endpoint"]
        assert {r.name: r.status for r in results} == {"users": "ok", "batches": "ok"}
        assert dest.one("SELECT count(*) FROM openai.users") == users
        assert dest.one("SELECT count(*) FROM openai.batches") == batches  # all of them, not only the new ones
        assert dest.q("SELECT DISTINCT _synced_at FROM openai.costs") == costs_runs  # untouched: no run wrote it again
        assert after.get("GET /organization/costs", 0) == before.get("GET /organization/costs", 0)


def test_resync_of_the_audit_log_forgets_its_watermark(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        sync(config(sim, dest, tables=["audit_logs", "users"]))
        dest.exec("DELETE FROM openai.audit_logs")
        sync(config(sim, dest, tables=["audit_logs"]))  # incremental: only the newest second comes back
        assert dest.one("SELECT count(*) FROM openai.audit_logs") < world.audit_seq.bound(world.now)
        sync(config(sim, dest, tables=["audit_logs"], resync=True))
        assert dest.one("SELECT count(*) FROM openai.audit_logs") == world.audit_seq.bound(world.now)
        assert dest.one("SELECT count(*) FROM openai.users") > 0


def test_resync_needs_tables(tmp_path):
    from openai_sync.api.errors import SyncError

    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        cfg = SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                         destination=f"duckdb:///{tmp_path}/x.duckdb", resync=True)
        with pytest.raises(SyncError, match="resync needs the tables"):
            sync(cfg)


def test_resync_command(tmp_path):
    import json

    from typer.testing import CliRunner

    from openai_sync.cli import app

    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        env = {"OPENAI_ADMIN_KEY": world.admin_key, "OPENAI_BASE_URL": sim.base_url}
        args = ["--config", empty_config(tmp_path), "--destination", f"duckdb:///{tmp_path}/out.duckdb",
                "--state-dir", str(tmp_path / "state"), "--json"]
        r = CliRunner().invoke(app, ["sync", "--tables", "users,roles", *args], env=env)
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, ["resync", "users", *args], env=env)
        assert r.exit_code == 0, r.output
        assert [t["table"] for t in json.loads(r.stdout)["tables"]] == ["users"]
        r = CliRunner().invoke(app, ["resync", "nope", *args], env=env)
        assert r.exit_code == 2 and "valid tables" in r.output
    r = CliRunner().invoke(app, ["resync", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "openai-sync resync users" in r.output
