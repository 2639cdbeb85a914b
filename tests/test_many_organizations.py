"""`openai-sync sync --all`: three simulated organizations (three servers, each with its own keys) into one
PostgreSQL schema (and one DuckDB file), through one command: the tables equal the union of three
single-organization syncs, no key twice, one summary per connection and the worst exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import NOW
from destinations_support import Dest
from organizations_support import alone, assert_union

from openai_sync.config import Secrets, Settings
from openai_sync.config_files import save
from openai_sync.html_report import ReportError, build
from openai_sync.simulator import Simulator, World

TABLES = ["users", "user_roles", "projects", "project_users", "project_api_keys", "audit_logs", "usage_completions",
          "costs", "spend_alerts", "project_spend_alerts"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openai_sync.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def org_rows(dest: Dest, table: str, org: str) -> list[tuple]:
    cols = [r[0] for r in dest.q(f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'openai' "
                                 f"AND table_name = '{table}' ORDER BY column_name")]
    data = [c for c in cols if not c.startswith("_")]
    live = "NOT _deleted" if "_deleted" in cols else "true"
    return sorted(dest.q(f"SELECT {', '.join(f'CAST({c} AS VARCHAR)' for c in data)} FROM openai.{table} WHERE "
                         f"{live} AND organization_id = '{org}'"), key=repr)


def test_sync_all_three_organizations_into_one_schema(dest: Dest, tmp_path: Path) -> None:
    worlds = [World(seed=s, size="small", now=NOW) for s in (11, 12, 13)]
    config = tmp_path / "openai-sync.toml"
    with ExitStack() as stack:
        sims = [stack.enter_context(Simulator(w)) for w in worlds]
        for i, sim in enumerate(sims):
            save(config, f"org{i + 1}", Settings.model_validate(
                {"destination": dest.destination, "schema": dest.schema, "state_dir": str(tmp_path / "dlt"),
                 "base_url": sim.base_url, "tables": TABLES}),
                 Secrets(admin_key=sim.world.admin_key, project_keys=[]))
        # a key in the environment would be every connection's: --all gives each its own from the secrets file
        env = {"PATH": "/usr/bin:/bin", "OPENAI_ADMIN_KEY": worlds[0].admin_key, "HOME": str(tmp_path)}
        done = cli("sync", "--all", "--config", str(config), "--json", "--parallel", "3", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        out = json.loads(done.stdout)
        assert out["status"] == "ok" and list(out["connections"]) == ["org1", "org2", "org3"]
        assert {c["organization_id"] for c in out["connections"].values()} == {w.org_id for w in worlds}
        refs = alone(sims, tmp_path, TABLES)  # the reference: each organization alone
        # a second pass: incremental for each organization, nothing duplicated
        again = cli("sync", "--all", "--config", str(config), "--json", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
    check_reports(dest, worlds, tmp_path)
    assert_union(dest, refs, TABLES)
    if dest.kind == "duckdb":  # the same text for the same values (PostgreSQL prints some types otherwise)
        for table in TABLES:
            for w, ref in zip(worlds, refs, strict=True):
                assert org_rows(dest, table, w.org_id) == org_rows(ref, table, w.org_id), table


def test_sync_all_reports_each_connection_and_the_worst_code(tmp_path: Path) -> None:
    """One connection's bad key fails that connection alone: the others load; the exit code is the worst."""
    config = tmp_path / "openai-sync.toml"
    with Simulator(World(seed=11, size="small", now=NOW)) as sim:
        for name, key in (("good", sim.world.admin_key), ("revoked", "sk-admin-" + "x" * 40)):
            save(config, name, Settings.model_validate(
                {"destination": f"duckdb:///{tmp_path / name}.duckdb", "state_dir": str(tmp_path / "dlt"),
                 "base_url": sim.base_url, "tables": ["users"]}),
                 Secrets(admin_key=key, project_keys=[]))
        done = cli("sync", "--all", "--config", str(config))
        assert done.returncode == 2, done.stdout + done.stderr
        assert "good" in done.stdout and "revoked" in done.stdout and "ok" in done.stdout
        assert "revoked:" in done.stderr and "sk-admin-xxxx" not in done.stdout + done.stderr
        refused = cli("sync", "--all", "--config", str(config), "--destination", "duckdb:///x.duckdb")
        assert refused.returncode == 2 and "--destination names one connection's own setting" in refused.stderr
        alone = cli("sync", "--config", str(config), "--connection", "good", "--parallel", "2")
        assert alone.returncode == 2 and "--parallel is for syncing every connection (--all)" in alone.stderr


def check_reports(dest: Dest, worlds: list[World], tmp_path: Path) -> None:
    """The analytics views and the report across organizations: each view has organization_id; the report of
    one organization shows its own month to date; the report of all shows their sum."""
    a = f"{dest.schema}_analytics"
    try:
        views = {r[0] for r in dest.q(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{a}'")}
        assert {"spend_daily", "spend_forecast", "spend_anomalies", "audit_activity", "focus_costs"} <= views
        for view in views:  # those the synced tables allow (this test syncs a few tables)
            column = '"BillingAccountId"' if view == "focus_costs" else "organization_id"
            orgs = {r[0] for r in dest.q(f"SELECT DISTINCT {column} FROM {a}.{view}")}
            assert orgs <= {w.org_id for w in worlds} and orgs, view
        mtd = dict(dest.q(f"SELECT organization_id, month_to_date FROM {a}.spend_forecast WHERE scope = "
                          "'organization'"))
        assert set(mtd) == {w.org_id for w in worlds}
        for w in worlds:
            one = build(dest.destination, dest.schema, w.org_id)
            assert one.organization == w.org_id and one.forecast["month_to_date"] == pytest.approx(float(mtd[w.org_id]))
        every = build(dest.destination, dest.schema)
        assert every.forecast["month_to_date"] == pytest.approx(sum(float(v) for v in mtd.values()))
        assert all(w.org_id in (every.organization or "") for w in worlds)
        with pytest.raises(ReportError, match="holds no costs of organization org-nope"):
            build(dest.destination, dest.schema, "org-nope")
    finally:
        if dest.kind == "postgres":
            dest.exec(f"DROP SCHEMA IF EXISTS {a} CASCADE")

