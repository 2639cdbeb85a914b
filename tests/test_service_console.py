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
        assert 'data-table="users"' in page and "Re-sync" in page
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
