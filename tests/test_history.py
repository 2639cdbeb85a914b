"""History mode (SCD2) on users, projects, project_api_keys and project_rate_limits, as the simulator's clock
changes them, on DuckDB and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NOW, admin_client, empty_config
from destinations_support import Dest

from openai_sync.api.errors import SyncError
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.faults import Rule

HISTORY = ["users", "projects", "project_api_keys", "project_rate_limits"]
TABLES = [*HISTORY, "invites"]


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    kw.setdefault("tables", TABLES)
    kw.setdefault("history_tables", HISTORY)
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), **kw)


def current(dest: Dest, table: str, cols: str = "id") -> set[tuple]:
    return set(dest.q(f"SELECT {cols} FROM openai.{table} WHERE _valid_to IS NULL"))


def user_ids(sim: Simulator) -> set[str]:
    return {u.id for u in admin_client(sim).admin.organization.users.list(limit=100)}


def test_history_keeps_every_version_and_the_current_row_is_easy_to_find(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        results, _ = sync(config(sim, dest))
        assert {r.status for r in results} == {"ok"}
        users0 = user_ids(sim)
        assert current(dest, "users") == {(u,) for u in users0}
        # one version per row after one run, all current
        assert dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NOT NULL") == 0
        rl0 = dict(dest.q("SELECT project_id || '/' || id, max_requests_per_1_minute FROM openai.project_rate_limits"))

        # an unchanged organization makes no new version
        sync(config(sim, dest))
        assert dest.one("SELECT count(*) FROM openai.users") == len(users0)
        assert dest.one("SELECT count(*) FROM openai.project_rate_limits") == len(rl0)

        sim.advance(72)  # users leave, a project is archived, rate limits change
        results, _ = sync(config(sim, dest))
        assert {r.status for r in results} == {"ok"}
        users1 = user_ids(sim)
        gone = users0 - users1
        assert gone, "the simulator removes someone within a day"
        assert current(dest, "users") == {(u,) for u in users1}
        # a removed user keeps its row, retired at this run
        retired = dest.q("SELECT id, _valid_from, _valid_to FROM openai.users WHERE _valid_to IS NOT NULL")
        assert {r[0] for r in retired} == gone
        assert all(r[1] < r[2] for r in retired)
        assert {r.name: r.deleted for r in results}["users"] == len(gone)

        # the archived project: two versions, the old one active until this run, the new one archived
        proj = world.projects[1]
        versions = dest.q(f"SELECT status, _valid_from, _valid_to FROM openai.projects WHERE id = '{proj.id}' "
                          "ORDER BY _valid_from")
        assert [v[0] for v in versions] == ["active", "archived"]
        assert versions[0][2] == versions[1][1] and versions[1][2] is None

        # rate limits that changed: the old value retired, the new one current, the others one version
        rl1 = dict(dest.q("SELECT project_id || '/' || id, max_requests_per_1_minute FROM openai.project_rate_limits "
                          "WHERE _valid_to IS NULL"))
        changed = {k for k in rl0 if rl1.get(k) != rl0[k]}
        assert changed and all(rl1[k] == 2 * rl0[k] for k in changed)
        old = dict(dest.q("SELECT project_id || '/' || id, max_requests_per_1_minute FROM openai.project_rate_limits "
                          "WHERE _valid_to IS NOT NULL"))
        assert {k: old[k] for k in changed} == {k: rl0[k] for k in changed}
        # the others retired changed another limit (images or audio per minute), not requests per minute
        assert all(k.endswith(("/rl-gpt-image-1", "/rl-whisper-1")) for k in set(old) - changed)

        # keys: one current version per key the Admin key lists, every version of a key shares its id
        keys = {(p.id, k.id) for p in world.projects for k in p.api_keys}
        assert current(dest, "project_api_keys", "project_id, id") <= keys
        assert dest.one("SELECT count(*) FROM (SELECT project_id, id FROM openai.project_api_keys WHERE _valid_to "
                        "IS NULL GROUP BY 1, 2 HAVING count(*) > 1) d") == 0
        # no _deleted column in history mode: retirement is _valid_to
        cols = {r[0] for r in dest.q("SELECT column_name FROM information_schema.columns WHERE "
                                     "table_schema = 'openai' AND table_name = 'users'")}
        assert {"_valid_from", "_valid_to", "_synced_at"} <= cols and "_deleted" not in cols
        # a table not in history mode is unchanged: soft deletes
        assert "_deleted" in {r[0] for r in dest.q("SELECT column_name FROM information_schema.columns WHERE "
                                                   "table_schema = 'openai' AND table_name = 'invites'")}


def test_a_failed_listing_retires_nothing(dest):
    world = World(seed=7, size="small", now=NOW, users=250)  # three pages of users
    with Simulator(world) as sim:
        sync(config(sim, dest))
        n_users = dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NULL")
        n_keys = dest.one("SELECT count(*) FROM openai.project_api_keys WHERE _valid_to IS NULL")
        sim.advance(72)
        # the second users page and one project's keys fail: none of those rows may be retired
        pid = world.projects[0].id
        sim.set_faults([Rule("500", endpoint="/organization/users", skip=1),
                        Rule("500", endpoint=f"/organization/projects/{pid}/api_keys")])
        results, _ = sync(config(sim, dest, max_retries=0))
        status = {r.name: r.status for r in results}
        assert status["users"] == "failed" and status["project_api_keys"] == "failed"
        assert dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NOT NULL") == 0
        assert dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NULL") == n_users
        assert dest.one(f"SELECT count(*) FROM openai.project_api_keys WHERE _valid_to IS NOT NULL AND "
                        f"project_id = '{pid}'") == 0
        # keys deleted in the projects whose listing did complete are retired, as they should be
        deleted = [k for p in world.projects if p.id != pid for k in p.api_keys
                   if k.deleted_at is not None and NOW < k.deleted_at <= world.now]
        assert dest.one("SELECT count(*) FROM openai.project_api_keys WHERE _valid_to IS NULL") == \
            n_keys - len(deleted)
        # the next good run catches up
        sim.set_faults([])
        results, _ = sync(config(sim, dest))
        assert {r.status for r in results} == {"ok"}
        assert current(dest, "users") == {(u,) for u in user_ids(sim)}


def test_turning_history_on_and_off_rebuilds_the_table(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        sync(config(sim, dest, history_tables=[]))
        n = dest.one("SELECT count(*) FROM openai.users")
        results, run = sync(config(sim, dest, tables=["users"], history_tables=["users"]))
        assert [r.status for r in results] == ["ok"]
        assert any("users: history mode turned on" in n for n in run.notes)
        assert dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NULL") == n
        results, run = sync(config(sim, dest, tables=["users"], history_tables=[], history_off_tables=["users"],
                                   confirm_history_off=True))
        assert any("users: history mode turned off" in n for n in run.notes)
        assert dest.one("SELECT count(*) FROM openai.users WHERE NOT _deleted") == n


def test_history_is_refused_where_it_cannot_work(tmp_path):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        cfg = SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                         destination=f"duckdb:///{tmp_path}/x.duckdb", history_tables=["audit_logs"])
        with pytest.raises(SyncError, match="history mode is not available for 'audit_logs'"):
            sync(cfg)


def test_history_from_the_config_file_and_the_command_line(tmp_path):
    import json

    from typer.testing import CliRunner

    from openai_sync.cli import app
    from openai_sync.config import Settings

    with pytest.raises(ValueError, match="history mode is not available for usage_completions"):
        Settings(history_tables=["usage_completions"])
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        env = {"OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_BASE_URL": sim.base_url}
        out = tmp_path / "out.duckdb"
        r = CliRunner().invoke(app, ["sync", "--tables", "users,projects", "--history", "users", "--config",
                                     empty_config(tmp_path), "--destination", f"duckdb:///{out}", "--state-dir",
                                     str(tmp_path / "state"), "--json"], env=env)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["status"] == "ok"
        import duckdb

        with duckdb.connect(str(out), read_only=True) as con:
            assert con.sql("SELECT count(*) FROM openai.users WHERE _valid_to IS NULL").fetchall()[0][0] > 0


def test_a_switch_whose_listing_fails_leaves_the_table_as_it_was(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        sync(config(sim, dest, tables=["users"], history_tables=[]))
        n = dest.one("SELECT count(*) FROM openai.users")
        sim.set_faults([Rule("500", endpoint="/organization/users")])
        results, run = sync(config(sim, dest, tables=["users"], history_tables=["users"], max_retries=0))
        assert [r.status for r in results] == ["failed"]
        assert any("not rebuilt for the history-mode switch" in note for note in run.notes)
        assert dest.one("SELECT count(*) FROM openai.users WHERE NOT _deleted") == n  # not dropped, not changed
        sim.set_faults([])
        results, run = sync(config(sim, dest, tables=["users"], history_tables=["users"]))
        assert [r.status for r in results] == ["ok"] and any("history mode turned on" in x for x in run.notes)
        assert dest.one("SELECT count(*) FROM openai.users WHERE _valid_to IS NULL") == n


@pytest.mark.parametrize("ignore", [False, True])
def test_volatile_columns_make_no_version_but_stay_current(dest, ignore):
    """project_api_keys.last_used_at moves every hour: in history mode each move is a new version of every key,
    unless history_ignore_columns names it; then the current version still shows the latest value."""
    world = World(seed=7, size="small", now=NOW)
    extra = {"history_ignore_columns": ["project_api_keys.last_used_at"]} if ignore else {}
    with Simulator(world) as sim:  # last_used_at is read on its own cadence (the audit log does not record it)
        cfg = config(sim, dest, tables=["project_api_keys"], history_tables=["project_api_keys"],
                     volatile_every=3600, **extra)
        sync(cfg)
        versions = dest.one("SELECT count(*) FROM openai.project_api_keys")
        sim.advance(5)
        results, _ = sync(cfg)
        assert results[0].status == "ok", results[0].error
        keys = {k.id: k for p in admin_client(sim).admin.organization.projects.list(limit=100, include_archived=True)
                for k in admin_client(sim).admin.organization.projects.api_keys.list(p.id, limit=100)}
    now_versions = dest.one("SELECT count(*) FROM openai.project_api_keys")
    if ignore:
        assert now_versions == versions  # no new version for a new last_used_at
    else:
        assert now_versions > versions
    shown = dict(dest.q("SELECT id, epoch(last_used_at)::BIGINT FROM openai.project_api_keys WHERE _valid_to IS NULL"))
    assert {k: v.last_used_at for k, v in keys.items() if k in shown} == shown  # the latest, either way


def test_history_ignore_columns_are_checked(tmp_path):
    from openai_sync.load.history import parse_ignored

    assert parse_ignored(["project_api_keys.last_used_at"]) == {"project_api_keys": frozenset({"last_used_at"})}
    for bad, says in (("files.bytes", "history mode can keep"), ("users", "TABLE.COLUMN"),
                      ("users.id", "primary key")):
        with pytest.raises(ValueError, match=says):
            parse_ignored([bad])
    with Simulator(World(seed=7, size="small", now=NOW)) as sim, pytest.raises(SyncError, match="not kept in history"):
        sync(config(sim, Dest("duckdb", tmp_path), history_tables=["users"],
                    history_ignore_columns=["project_api_keys.last_used_at"]))
