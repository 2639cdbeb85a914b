"""The `sync` and `demo` commands: output, exit codes, bad keys (nothing written), secrets never shown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import empty_config
from typer.testing import CliRunner

from openai_sync import catalog
from openai_sync.api.keys import mask
from openai_sync.cli import app
from openai_sync.simulator import Simulator

runner = CliRunner()


def run_sync(sim: Simulator, tmp: Path, key: str | None, *args: str):
    env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": key or "", "COLUMNS": "250"}
    return runner.invoke(app, ["sync", "--config", empty_config(tmp, "openai-sync.toml"), "--destination",
                               f"duckdb:///{tmp}/out.duckdb", "--state-dir", str(tmp / "state"), *args], env=env)


def assert_nothing_written(tmp: Path) -> None:
    assert not (tmp / "out.duckdb").exists()
    assert not (tmp / "state").exists() or not any((tmp / "state").rglob("*.parquet"))


def test_sync_json_result_and_no_secret_in_output(sim, tmp_path):
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--json", "--tables", "users,projects,project_users,costs")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["status"] == "ok" and out["organization_id"] == sim.world.org_id
    assert {t["table"] for t in out["tables"]} == {"users", "projects", "project_users", "costs"}
    assert all(t["rows"] > 0 and t["requests"] >= 1 for t in out["tables"])
    assert out["max_parallel_requests"] <= 8
    assert sim.world.admin_key not in r.output


def test_sync_prints_a_summary_table(sim, tmp_path):
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--tables", "users,roles")
    assert r.exit_code == 0, r.output
    assert "users" in r.stdout and "roles" in r.stdout and "total" in r.stdout
    assert sim.world.admin_key not in r.output


def test_no_admin_key(sim, tmp_path):
    r = run_sync(sim, tmp_path, None)
    assert r.exit_code == 2
    assert "no Admin key" in r.stderr and "OPENAI_ADMIN_KEY" in r.stderr
    assert_nothing_written(tmp_path)


def test_project_key_where_the_admin_key_belongs(sim, tmp_path):
    key = next(iter(sim.world.project_keys.values()))
    r = run_sync(sim, tmp_path, key)
    assert r.exit_code == 2
    assert "is a project key" in r.stderr and mask(key) in r.stderr and key not in r.output
    assert sim.stats()["total"] == 0  # recognised before any request
    assert_nothing_written(tmp_path)


def test_project_key_without_its_prefix_is_named_by_the_api(sim, tmp_path):
    """A key that does not look like one is still refused, by the API's 403, with a sentence to act on."""
    key = sim.world.mint_key("project", next(iter(sim.world.project_keys)))
    disguised = "sk-" + key.removeprefix("sk-proj-")
    sim.world.keys[disguised] = sim.world.keys.pop(key)
    r = run_sync(sim, tmp_path, disguised)
    assert r.exit_code == 2
    assert "may not call" in r.stderr or "project key" in r.stderr
    assert disguised not in r.output
    assert_nothing_written(tmp_path)


def test_unknown_key(sim, tmp_path):
    key = "sk-admin-" + "x" * 40 + "WXYZ"
    r = run_sync(sim, tmp_path, key)
    assert r.exit_code == 2
    assert "rejected (401" in r.stderr and "…WXYZ" in r.stderr and key not in r.output
    assert_nothing_written(tmp_path)


def test_revoked_key(sim, tmp_path):
    key = sim.world.mint_key("admin", revoked=True)
    r = run_sync(sim, tmp_path, key)
    assert r.exit_code == 2 and "rejected (401" in r.stderr and key not in r.output
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(("scopes", "missing", "tables"), [
    (["api.management.read", "api.audit_logs.read"], "api.usage.read", None),
    (["api.management.read", "api.usage.read"], "api.audit_logs.read", None),
    (["api.usage.read", "api.audit_logs.read"], "api.management.read", "costs"),
])
def test_key_missing_a_scope(sim, tmp_path, scopes, missing, tables):
    key = sim.world.mint_key("admin", scopes=scopes)
    r = run_sync(sim, tmp_path, key, *(["--tables", tables] if tables else []))
    assert r.exit_code == 2
    assert missing in r.stderr and mask(key) in r.stderr and key not in r.output
    assert_nothing_written(tmp_path)


def test_bad_options_name_the_valid_values(sim, tmp_path):
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--tables", "users,nope")
    assert r.exit_code == 2 and "nope" in r.output and "audit_logs" in r.output
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--bucket-width", "2h")
    assert r.exit_code == 2 and "1m, 1h, 1d" in r.output
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--schema", "1bad-name")
    assert r.exit_code == 2 and "schema" in r.output
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--start-date", "yesterday")
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    assert_nothing_written(tmp_path)


def test_demo_prints_counts_and_the_three_queries(tmp_path):
    r = runner.invoke(app, ["demo", "--size", "small", "--destination", f"duckdb:///{tmp_path}/demo.duckdb",
                            "--state-dir", str(tmp_path / "state")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for title in ("rows per table", "Spend per project over the last 30 days", "Tokens per model",
                  "The last 5 audit events", "usage_completions", "audit_logs"):
        assert title in r.stdout, title
    assert (tmp_path / "demo.duckdb").exists()


def test_a_duckdb_file_named_like_the_schema_is_refused_before_anything_is_read(sim, tmp_path):
    env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": sim.world.admin_key, "COLUMNS": "250"}
    r = runner.invoke(app, ["sync", "--config", empty_config(tmp_path), "--destination",
                            f"duckdb:///{tmp_path}/openai.duckdb", "--state-dir", str(tmp_path / "state")], env=env)
    assert r.exit_code == 2 and "collide" in r.stderr
    assert sim.stats()["total"] == 0 and not (tmp_path / "openai.duckdb").exists()


def test_the_default_destination_and_schema_work_together(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": sim.world.admin_key, "COLUMNS": "250"}
    r = runner.invoke(app, ["sync", "--tables", "users", "--state-dir", str(tmp_path / "state")], env=env)
    assert r.exit_code == 0, r.output
    import duckdb

    with duckdb.connect(str(tmp_path / "openai_sync.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM openai.users").fetchall()[0][0] > 0


def test_tables_can_be_disabled_by_flag_and_by_setting(sim, tmp_path):
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--json", "--tables", "users,roles,groups", "--exclude", "roles")
    assert r.exit_code == 0, r.output
    assert [t["table"] for t in json.loads(r.stdout)["tables"]] == ["users", "groups"]
    (tmp_path / "openai-sync.toml").write_text('[connections.default]\nexclude_tables = ["users", "groups"]\n'
                                               'tables = ["users", "groups", "invites"]\n')
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--json")
    assert r.exit_code == 0, r.output
    assert [t["table"] for t in json.loads(r.stdout)["tables"]] == ["invites"]
    r = run_sync(sim, tmp_path, sim.world.admin_key, "--exclude", "bogus")
    assert r.exit_code == 2 and "valid tables" in r.output


def test_the_filesystem_destination_writes_delta_tables_and_refuses_history(sim, tmp_path):
    env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": sim.world.admin_key, "COLUMNS": "250"}
    args = ["sync", "--config", empty_config(tmp_path), "--destination", f"filesystem:///{tmp_path}/lake",
            "--state-dir", str(tmp_path / "state"), "--tables", "users,projects"]
    r = runner.invoke(app, [*args, "--history", "users"], env=env)
    assert r.exit_code == 2 and "history mode is not available on the filesystem destination" in r.stderr
    assert sim.stats()["total"] == 0 and not (tmp_path / "lake").exists()
    r = runner.invoke(app, [*args, "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "lake" / "openai" / "users" / "_delta_log").is_dir()


def test_the_same_relative_duckdb_path_in_two_folders_is_two_destinations(sim, tmp_path, monkeypatch):
    """dlt remembers a pipeline's DuckDB path: a relative path must not send a run in another folder (a
    second clone, say) into the first folder's file."""
    import duckdb

    env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": sim.world.admin_key, "COLUMNS": "250"}
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        r = runner.invoke(app, ["sync", "--tables", "users", "--destination", "duckdb:///./out.duckdb",
                                "--state-dir", str(tmp_path / "state")], env=env)
        assert r.exit_code == 0, r.output
        with duckdb.connect(str(tmp_path / folder / "out.duckdb"), read_only=True) as con:
            assert con.sql("SELECT count(*) FROM openai.users").fetchall()[0][0] > 0


def test_an_unusable_project_key_makes_the_run_partial_and_exits_1(sim, tmp_path):
    """Every table loads, but one project key is of no project: the status says partial, and so does the exit
    code (a scheduler must see it)."""
    keys = [*sim.world.project_keys.values(), "sk-proj-" + "x" * 40 + "9zzz"]  # no project lists a key like it
    env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": sim.world.admin_key,
           "OPENAI_PROJECT_KEYS": ",".join(keys)}
    r = runner.invoke(app, ["sync", "--config", empty_config(tmp_path), "--json", "--destination",
                            f"duckdb:///{tmp_path}/out.duckdb", "--state-dir", str(tmp_path / "state")], env=env)
    out = json.loads(r.stdout)
    assert all(t["status"] == "ok" for t in out["tables"]) and {"files", "users"} <= {t["table"] for t in
                                                                                      out["tables"]}
    assert out["status"] == "partial" and len(out["key_problems"]) == 1 and "…9zzz" in out["key_problems"][0]
    assert r.exit_code == 1


def test_the_progress_line_counts_every_table_it_syncs(sim, tmp_path):
    """On a terminal, the live line says `syncing N/TOTAL tables`; with project keys, TOTAL counts the project
    tables too (it once ended at 49/32)."""
    import re
    import sys

    import pexpect

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}, "OPENAI_BASE_URL": sim.base_url,
           "OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_PROJECT_KEYS": ",".join(sim.world.project_keys.values()),
           "COLUMNS": "200"}
    script = Path(sys.executable).with_name("openai-sync")
    child = pexpect.spawn(str(script), ["sync", "--config", empty_config(tmp_path), "--destination",
                                        f"duckdb:///{tmp_path}/out.duckdb", "--state-dir", str(tmp_path / "state")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=120, dimensions=(50, 200))
    child.expect(pexpect.EOF)
    child.close()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)  # the terminal's colours and cursor moves
    assert child.exitstatus == 0, shown
    seen = [(int(a), int(b)) for a, b in re.findall(r"syncing (\d+)/(\d+) tables", shown)]
    assert seen, shown
    total = len(catalog.ORG_TABLES) + len(catalog.PROJECT_TABLES)
    assert all(b == total and a <= b for a, b in seen), (seen, total)
