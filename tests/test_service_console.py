"""The console's connection page without a browser: tables disabled and put in history mode, blocked and hashed
columns, a cron schedule, all saved to the config file; Re-sync of one table; a run past its time limit."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import NOW
from service_support import Browserless, Served, wait_for, write_config

from openai_sync.service import settings as service_settings
from openai_sync.service.agent import Agent
from openai_sync.simulator import Simulator, World


def test_connection_page_settings_and_resync(sim: Simulator, tmp_path: Path) -> None:
    config = write_config(tmp_path, sim, sync_frequency="24h")
    served = Served(config).up()
    try:
        wait_for(lambda: (served.connection()["last_run"] or {}).get("status") == "ok", 120, "the first run")
        form = Browserless(served.url)
        page = form.page("/connections/org1")
        assert 'data-table="users"' in page and "Re-sync" in page and 'href="/connections/org1/report"' in page
        from service_support import get

        status, headers, report = get(served.url + "/connections/org1/report")  # the console links the report
        assert status == 200 and "OpenAI organization report" in report and "<script" not in report
        assert headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
        from openai_sync.catalog import TABLES

        fields = {f"enabled_{t}": "on" for t in TABLES if t != "invites"}
        fields.update({"history_projects": "on", "block_columns": "users.email", "hash_columns": "users.name",
                       "sync_frequency": "2h", "sync_cron": "15 * * * *"})
        status, body = form.submit("/connections/org1", "/connections/org1/tables", fields)
        assert status == 200 and "Settings saved" in body, body[-2000:]
        saved = tomllib.loads(config.read_text())["connections"]["org1"]
        assert saved["exclude_tables"] == ["invites"] and saved["history_tables"] == ["projects"]
        assert saved["block_columns"] == ["users.email"] and saved["hash_columns"] == ["users.name"]
        assert saved["sync_cron"] == "15 * * * *" and saved["sync_frequency"] == "2h"
        assert "hash_key" in (tmp_path / "openai-sync.secrets.toml").read_text()  # made for the hashes
        assert served.connection()["schedule"] == "cron 15 * * * * (UTC)"
        status, body = form.submit("/connections/org1", "/connections/org1/resync", {"table": "users"})
        assert status == 200 and "Re-sync of users started" in body
        run = wait_for(lambda: (r := served.api("/api/runs?connection=org1")["runs"][0])["trigger"] == "resync"
                       and r["status"] != "running" and r, 120, "the re-sync ends")
        assert run["status"] == "ok" and [t["table"] for t in run["result"]["tables"]] == ["users"]
        status, body = form.submit("/connections/org1", "/connections/org1/tables", {"sync_cron": "bad cron"})
        assert "five fields" in body  # refused with its sentence; the file is unchanged
        assert tomllib.loads(config.read_text())["connections"]["org1"]["sync_cron"] == "15 * * * *"
    finally:
        assert served.stop() == 0


def test_a_run_past_its_time_limit_is_stopped_and_the_next_recovers(tmp_path: Path) -> None:
    with Simulator(World(seed=7, size="small", now=NOW), latency_ms=150) as sim:
        config = write_config(tmp_path, sim, run_timeout_minutes=0.05)  # three seconds
        agent = Agent(config, service_settings.load(config), grace=4)
        agent.start()
        try:
            first = wait_for(lambda: (r := agent.state.runs("org1")) and r[0].status != "running" and r[0], 60,
                             "the first run ends")
            assert first.status in ("partial", "timeout"), (first.status, first.error)
            assert "time" in (first.error or "")
            assert first.ended - first.started < 3 + 4 + 5  # the limit, the grace, and the process's start
            write_config(tmp_path, sim, run_timeout_minutes=10)
            agent.scheduler.request("org1")
            wait_for(lambda: agent.state.runs("org1")[0].run_id != first.run_id
                     and agent.state.runs("org1")[0].status == "ok", 120, "the next run")
        finally:
            agent.stop()


def test_setup_form_keys_stay_with_their_form(sim: Simulator, tmp_path: Path) -> None:
    """A new connection's form never takes another connection's keys (an edit page open in another tab); a form
    resubmitted after a failed test keeps what that page showed; saving the edit form keeps the hash key that
    the connection page made meanwhile; a database password in the destination never reaches the page."""
    config = write_config(tmp_path, sim, sync_frequency="24h")
    served = Served(config).up()
    try:
        tab = Browserless(served.url)
        new_page = tab.page("/connections/new")
        tab.page("/connections/org1/edit")  # another tab opens the edit form meanwhile
        import re

        draft = re.search(r'name="draft" value="([^"]+)"', new_page).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', new_page).group(1)
        import urllib.parse

        data = urllib.parse.urlencode({"csrf": csrf, "draft": draft, "name": "org2", "schema": "openai",
                                       "destination": f"duckdb:///{tmp_path / 'org2.duckdb'}",
                                       "base_url": sim.base_url, "sync_frequency": "1h"}).encode()
        body = tab.opener.open(served.url + "/connections/new", data).read().decode()
        assert "no Admin key" in body and "failed, not saved" in body  # not org1's key
        assert "org2" not in tomllib.loads(config.read_text())["connections"]
        fields = {f"enabled_{t}": "on" for t in __import__("openai_sync.catalog").catalog.TABLES}
        tab.submit("/connections/org1", "/connections/org1/tables", {**fields, "hash_columns": "users.name",
                                                                      "sync_frequency": "24h"})
        assert "hash_key" in (tmp_path / "openai-sync.secrets.toml").read_text()
        status, body = tab.submit("/connections/org1/edit", "/connections/org1/edit",
                                  {"schema": "openai", "destination": f"duckdb:///{tmp_path / 'org1.duckdb'}",
                                   "base_url": sim.base_url, "sync_frequency": "24h", "keep_0": "on",
                                   "keep_1": "on", "keep_2": "on", "anyway": "1"})
        assert status == 200 and "Saved." in body, body[-1500:]
        secrets = (tmp_path / "openai-sync.secrets.toml").read_text()
        assert "hash_key" in secrets and sim.world.admin_key in secrets
        assert all(k in secrets for k in sim.world.project_keys.values())
    finally:
        assert served.stop() == 0
    with_password = write_config(tmp_path / "pg", sim, destination="postgresql://loader:hunter2@127.0.0.1:5/x")
    served = Served(with_password).up()
    try:
        tab = Browserless(served.url)
        page = tab.page("/connections/org1/edit")
        assert "hunter2" not in page and "loader:***@" in page
        status, body = tab.submit("/connections/org1/edit", "/connections/org1/edit",
                                  {"schema": "openai", "destination": "postgresql://loader:***@127.0.0.1:5/x",
                                   "base_url": sim.base_url, "sync_frequency": "24h", "anyway": "1"})
        assert "hunter2" not in body
        assert "loader:hunter2@" in with_password.read_text()  # unchanged: kept as it was
        status, body = tab.submit("/connections/new", "/connections/new",
                                  {"name": "pw", "schema": "openai", "destination": "postgresql://u:secret@h/db",
                                   "base_url": sim.base_url, "sync_frequency": "1h"})
        assert "leave the database password out" in body and "secret@" not in body
    finally:
        assert served.stop() == 0
