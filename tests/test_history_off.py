"""History is never lost by a forgotten flag: a table the destination holds in history mode stays in it on a run
that does not name it, turning it off needs `--history-off` and `--yes`, and turning it off (or a resync) keeps
every version in a renamed table. On DuckDB and PostgreSQL, against the simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import NOW, empty_config
from destinations_support import Dest
from typer.testing import CliRunner

from openai_sync.api.errors import SyncError
from openai_sync.cli import app
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World

VERSIONS = "SELECT id, _valid_from, _valid_to FROM openai.{}"


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    kw.setdefault("tables", ["users"])
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), **kw)


def columns(dest: Dest, table: str) -> set[str]:
    return {r[0] for r in dest.q(f"SELECT column_name FROM information_schema.columns WHERE "
                                 f"table_schema = 'openai' AND table_name = '{table}'")}


def archives(dest: Dest) -> list[str]:
    return [t for t in dest.tables() if t.startswith("users_history_")]


def with_retired_versions(sim: Simulator, dest: Dest) -> set[tuple]:
    """users in history mode, with users retired by a later run: every version, as stored."""
    sync(config(sim, dest, history_tables=["users"]))
    sim.advance(24)  # someone leaves the organization within a day
    results, _ = sync(config(sim, dest, history_tables=["users"]))
    assert [r.status for r in results] == ["ok"]
    versions = set(dest.q(VERSIONS.format("users")))
    assert any(v[2] is not None for v in versions), "the simulator removes someone within a day"
    return versions


def cli(sim: Simulator, dest: Dest, *args: str) -> Any:
    env = {"OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_BASE_URL": sim.base_url, "COLUMNS": "250"}
    return CliRunner().invoke(app, ["sync", "--config", empty_config(dest.tmp), "--destination", dest.destination,
                                    "--schema", dest.schema, "--state-dir", str(dest.tmp / "state"), "--tables",
                                    "users", *args], env=env)


def test_a_run_that_does_not_name_a_history_table_keeps_it_and_every_version(dest):
    with Simulator(World(seed=7, size="small", now=NOW, users=100)) as sim:
        versions = with_retired_versions(sim, dest)
        results, run = sync(config(sim, dest))  # no history_tables: a forgotten flag
        assert [r.status for r in results] == ["ok"]
        assert set(dest.q(VERSIONS.format("users"))) == versions  # nothing rebuilt, nothing dropped
        assert "_valid_to" in columns(dest, "users") and "_deleted" not in columns(dest, "users")
        said = [n for n in run.notes if "stays in history mode" in n]
        assert len(said) == 1 and "--history-off users --yes" in said[0]
        assert not any("turned off" in n for n in run.notes)
        # and the history goes on: the next change is versioned, not overwritten
        sim.advance(24)  # in this world, more users leave on the second day
        results, _ = sync(config(sim, dest))
        assert results[0].deleted > 0
        after = set(dest.q(VERSIONS.format("users")))
        assert {v for v in versions if v[2] is not None} < {v for v in after if v[2] is not None}
        assert {v[:2] for v in versions} == {v[:2] for v in after}  # every version still there


def test_turning_history_off_without_yes_is_refused_and_changes_nothing(dest):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        versions = with_retired_versions(sim, dest)
        tables = dest.tables()
        before = sim.stats()["total"]
        r = cli(sim, dest, "--history-off", "users")
        assert r.exit_code == 2, r.output
        assert "needs a confirmation" in r.stderr and "--yes" in r.stderr
        assert sim.stats()["total"] == before  # refused before anything was read
        assert set(dest.q(VERSIONS.format("users"))) == versions and dest.tables() == tables
        assert "_valid_to" in columns(dest, "users")
        # a setting alone does not turn it off either
        (dest.tmp / "c.toml").write_text('[connections.default]\nhistory_off_tables = ["users"]\n')
        r = cli(sim, dest, "--json")
        assert r.exit_code == 2 and json.loads(r.stdout)["status"] == "error"
        assert set(dest.q(VERSIONS.format("users"))) == versions and dest.tables() == tables


def test_turning_history_off_with_yes_keeps_every_version_in_a_renamed_table(dest):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        versions = with_retired_versions(sim, dest)
        current = dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NULL")
        r = cli(sim, dest, "--history-off", "users", "--yes", "--json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        [kept] = archives(dest)
        assert kept.startswith("users_history_") and len(kept) == len("users_history_20260105_000000")
        assert any(f"kept in {kept}" in n and "history mode turned off" in n for n in out.get("notes", [])), out
        assert set(dest.q(VERSIONS.format(kept))) == versions  # every version, retired ones included
        # users is a plain table of current rows now
        assert "_valid_to" not in columns(dest, "users") and "_deleted" in columns(dest, "users")
        assert dest.one("SELECT count(*) FROM openai.users WHERE NOT _deleted") == current
        # and stays plain on the next runs; the versions are left alone
        results, run = sync(config(sim, dest))
        assert [r.status for r in results] == ["ok"] and not any("history mode" in n for n in run.notes)
        assert "_valid_to" not in columns(dest, "users")
        assert archives(dest) == [kept] and set(dest.q(VERSIONS.format(kept))) == versions


def test_a_resync_of_a_history_table_keeps_its_versions_and_its_mode(dest):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        versions = with_retired_versions(sim, dest)
        results, run = sync(config(sim, dest, resync=True))
        assert [r.status for r in results] == ["ok"]
        [kept] = archives(dest)
        assert set(dest.q(VERSIONS.format(kept))) == versions
        assert any(f"kept in {kept}" in n for n in run.notes)
        assert "_valid_to" in columns(dest, "users")  # still in history mode, starting again
        assert dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NOT NULL") == 0


def test_turning_off_a_plain_table_or_naming_a_table_both_ways(dest):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        sync(config(sim, dest))
        results, run = sync(config(sim, dest, history_off_tables=["users"], confirm_history_off=True))
        assert [r.status for r in results] == ["ok"]
        assert any("users: not in history mode" in n for n in run.notes) and not archives(dest)
        with pytest.raises(SyncError, match="named both"):
            sync(config(sim, dest, history_tables=["users"], history_off_tables=["users"], confirm_history_off=True))
        with pytest.raises(SyncError, match="history mode is not available for 'audit_logs'"):
            sync(config(sim, dest, history_off_tables=["audit_logs"], confirm_history_off=True))


def test_volatile_columns_of_a_kept_history_table_need_not_name_it_again(dest):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        ignore = {"history_ignore_columns": ["project_api_keys.last_used_at"]}
        sync(config(sim, dest, tables=["project_api_keys"], history_tables=["project_api_keys"], **ignore))
        versions = dest.one("SELECT count(*) FROM openai.project_api_keys")
        sim.advance(5)  # last_used_at moves
        results, run = sync(config(sim, dest, tables=["project_api_keys"], **ignore))
        assert [r.status for r in results] == ["ok"], results[0].error
        assert any("project_api_keys stays in history mode" in n for n in run.notes)
        assert dest.one("SELECT count(*) FROM openai.project_api_keys") == versions
        with pytest.raises(SyncError, match="not kept in history mode"):  # a plain table is still refused
            sync(config(sim, dest, tables=["users"], history_ignore_columns=["users.email"]))
