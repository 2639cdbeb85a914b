"""`openai-sync serve`: scheduled runs in child processes against the simulator, the history in the
destination, a child killed with SIGKILL, SIGTERM during a run, a revoked key paused and alerted, and the
machine endpoints (/healthz, /metrics, the JSON API)."""

from __future__ import annotations

import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
from conftest import NOW
from service_support import Served, get, post, wait_for, write_config

from openai_sync.service import settings as service_settings
from openai_sync.service.agent import Agent
from openai_sync.simulator import Simulator, World


def runs_in_destination(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as db:
        return db.sql("SELECT run_id, status, rows, json_array_length(tables) FROM openai._openai_sync_runs "
                      "ORDER BY started_at").fetchall()


def counts(path: Path, tables: list[str]) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as db:
        return {t: db.execute(f"SELECT count(*) FROM openai.{t}").fetchall()[0][0] for t in tables}


def test_scheduled_runs_history_and_machine_endpoints(sim: Simulator, tmp_path: Path) -> None:
    """A new connection syncs at start; then by itself on its schedule (a cron of every minute); each run's
    history is in the destination; /metrics and the JSON API say the same."""
    config = write_config(tmp_path, sim, sync_cron="* * * * *")
    served = Served(config).up()
    try:
        first = wait_for(lambda: (served.connection()["last_run"] or {}).get("status"), 120, "the first run")
        assert first == "ok", served.connection()["last_run"]
        c = served.connection()
        assert c["last_run"]["trigger"] == "startup" and c["health"] == "healthy"
        assert c["last_run"]["result"]["tables"] and c["last_run"]["rows"] > 0  # the object sync --json prints
        assert c["next_run_at"] - c["last_run"]["started_at"] <= 70  # the next minute, with a little jitter
        wait_for(lambda: len(served.api("/api/runs?connection=org1")["runs"]) >= 2
                 and served.api("/api/runs?connection=org1")["runs"][0]["status"] == "ok", 150,
                 "a second run, started by the schedule alone")
        runs = served.api("/api/runs?connection=org1")["runs"]
        assert runs[0]["trigger"] == "schedule"
        status, headers, text = get(served.url + "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'openai_sync_runs_total{connection="org1",status="ok"} 2' in text
        assert f'openai_sync_last_run_rows{{connection="org1"}} {runs[0]["rows"]}' in text
        assert 'openai_sync_last_success_timestamp_seconds{connection="org1"} 1' in text
        assert "openai_sync_rate_limited_total" in text and "openai_sync_last_run_requests" in text
        health = json.loads(get(served.url + "/healthz")[2])
        assert health["scheduler_alive"] is True and health["connections"] == 1
    finally:
        assert served.stop() == 0
    recorded = runs_in_destination(tmp_path / "org1.duckdb")
    assert {r[0] for r in recorded} == {r["run_id"] for r in runs}
    assert all(r[1] == "ok" and r[2] > 0 and r[3] > 0 for r in recorded)


def test_sigkill_child_is_recorded_and_next_run_recovers(tmp_path: Path) -> None:
    """SIGKILL of a run's process: the run is 'killed', the service goes on, the next run loads everything (the
    same rows as an undisturbed sync) and writes the killed run's row to the destination too."""
    with Simulator(World(seed=7, size="small", now=NOW), latency_ms=40) as sim:
        config = write_config(tmp_path, sim)
        agent = Agent(config, service_settings.load(config), grace=10)
        agent.start()
        try:
            child = wait_for(lambda: (r := agent.scheduler.running.get("org1")) and r.child, 60, "a run starts")
            os.kill(child.pid, signal.SIGKILL)
            wait_for(lambda: "org1" not in agent.scheduler.running, 60, "the killed run is finished")
            killed = agent.state.runs("org1")[0]
            assert killed.status == "killed" and "SIGKILL" in (killed.error or "")
            assert not killed.recorded
            assert agent.scheduler.alive()
            agent.scheduler.request("org1")
            wait_for(lambda: (r := agent.state.runs("org1")[0]).run_id != killed.run_id and r.status == "ok", 120,
                     "the next run")
            tables = [t["table"] for t in agent.state.runs("org1")[0].result["tables"]]
        finally:
            agent.stop()
        got = counts(tmp_path / "org1.duckdb", [t for t in tables if t in ("users", "projects", "audit_logs",
                                                                            "costs", "usage_completions")])
        clean = tmp_path / "clean"
        clean.mkdir()
        agent2 = Agent(write_config(clean, sim), service_settings.load(clean / "openai-sync.toml"))
        agent2.start()
        try:
            wait_for(lambda: (r := agent2.state.runs("org1")) and r[0].status == "ok", 120, "a clean sync")
        finally:
            agent2.stop()
        assert got == counts(clean / "org1.duckdb", list(got))
    recorded = {r[0]: r[1] for r in runs_in_destination(tmp_path / "org1.duckdb")}
    assert recorded[killed.run_id] == "killed"


def test_sigterm_during_a_run_exits_cleanly(tmp_path: Path) -> None:
    """SIGTERM while a run loads: nothing new starts, the run has half the grace to finish, then it is stopped at a
    safe point; the service exits 0. The next start records it and runs again at once; that run succeeds."""
    with Simulator(World(seed=7, size="small", now=NOW), latency_ms=150) as sim:
        config = write_config(tmp_path, sim)
        served = Served(config, grace=4).up()
        wait_for(lambda: served.connection()["running"], 60, "a run is going")
        assert served.stop(timeout=60) == 0
        log = served.log.read_text()
        assert "SIGTERM received" in log and "service stopped" in log
        again = Served(config).up()
        try:
            runs = wait_for(lambda: (r := again.api("/api/runs")["runs"]) and r[0]["status"] == "ok" and r, 120,
                            "a run that succeeds after the restart")
            assert runs[-1]["status"] == "interrupted", [r["status"] for r in runs]  # the run SIGTERM stopped
            assert "stopped" in runs[-1]["error"] and len(runs) == 2
        finally:
            assert again.stop() == 0
    recorded = {r[0]: r[1] for r in runs_in_destination(tmp_path / "org1.duckdb")}
    assert recorded == {r["run_id"]: r["status"] for r in runs}  # the interrupted one written by the next run


class Hook(BaseHTTPRequestHandler):
    got: list[dict] = []

    def do_POST(self) -> None:
        Hook.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_revoked_key_pauses_and_alerts(sim: Simulator, tmp_path: Path) -> None:
    """A key the API refuses pauses the connection with the reason (no retry hammering); the webhook gets a
    Slack-compatible body; resuming (or saving new keys) starts it again."""
    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    config = write_config(tmp_path, sim, admin_key="sk-admin-" + "x" * 40)
    from openai_sync.config_files import save_service_secret

    save_service_secret(config, "alert_webhook", f"http://127.0.0.1:{hook.server_address[1]}/hook")
    agent = Agent(config, service_settings.load(config))
    agent.start()
    try:
        wait_for(lambda: agent.state.connection("org1").paused, 60, "the connection is paused")
        c = agent.connection("org1")
        assert "401" in c["pause_reason"] and c["next_run_at"] is None and c["health"] == "failing"
        wait_for(lambda: Hook.got, 10, "the alert is delivered")
        assert Hook.got[0]["event"] == "failing" and "org1 started failing" in Hook.got[0]["text"]
        assert "sk-admin-xxxx" not in json.dumps(list(Hook.got))
        before = len(agent.state.runs("org1"))
        agent.scheduler.tick()
        assert len(agent.state.runs("org1")) == before  # paused: nothing starts
        local = agent.state.runs("org1")[0]
        written = runs_in_destination(tmp_path / "org1.duckdb")
        assert [(r[0], r[1]) for r in written] == [(local.run_id, "failed")] and local.status == "failed"
    finally:
        agent.stop()
        hook.shutdown()


def test_refusals(sim: Simulator, tmp_path: Path) -> None:
    """Beyond loopback without a password: refused with a sentence. POST without a CSRF token, a wrong bearer
    token, a foreign Host header: refused. Every response has the secure headers."""
    config = write_config(tmp_path, sim, sync_frequency="24h")
    import subprocess

    from service_support import CLI

    out = subprocess.run([CLI, "serve", "--config", str(config), "--host", "0.0.0.0"], capture_output=True,
                         text=True, timeout=60)
    said = " ".join(out.stderr.split())
    assert out.returncode == 2 and "without a password" in said and "openai-sync password" in said
    served = Served(config).up()
    try:
        status, headers, _ = get(served.url + "/")
        assert status == 200
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer" and "frame-ancestors 'none'" in headers[
            "Content-Security-Policy"]
        assert post(served.url + "/connections/org1/pause")[0] == 403  # a form without its CSRF token
        assert post(served.url + "/connections/org1/pause", {"csrf": "forged"})[0] == 403
        assert get(served.url + "/connections/org1/pause")[0] == 405  # state changes only by POST
        assert post(served.url + "/api/connections/org1/sync", headers={"Origin": "http://evil.example"})[0] == 403
        assert get(served.url + "/", {"Host": "evil.example:8765"})[0] == 421  # DNS rebinding
        assert served.connection()["paused"] is False
        import socket
        import time

        hanging = socket.create_connection(("127.0.0.1", served.port))  # a request whose body never comes
        hanging.sendall(b"POST /connections/org1/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99\r\n\r\n")
        time.sleep(0.5)
    finally:
        began = time.monotonic()
        assert served.stop() == 0
        assert time.monotonic() - began < 15  # the unfinished request does not hold the stop
        hanging.close()


def test_password(sim: Simulator, tmp_path: Path) -> None:
    """With a password: pages ask to sign in, a wrong password is refused, the API takes the password as a bearer
    token (a wrong one is refused), and `serve --host 0.0.0.0` starts."""
    import subprocess

    from service_support import CLI

    config = write_config(tmp_path, sim, sync_frequency="24h")
    out = subprocess.run([CLI, "password", "--config", str(config)], input="correct horse battery\n", text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "correct horse" not in (tmp_path / "openai-sync.secrets.toml").read_text()
    assert oct((tmp_path / "openai-sync.secrets.toml").stat().st_mode & 0o777) == "0o600"
    served = Served(config, host="0.0.0.0").up()
    try:
        status, _, page = get(served.url + "/connections/org1")
        assert status == 200 and "Sign in" in page  # redirected to the sign-in page
        assert get(served.url + "/api/connections")[0] == 401
        assert get(served.url + "/metrics")[0] == 401
        assert get(served.url + "/api/connections", {"Authorization": "Bearer wrong"})[0] == 401
        good = {"Authorization": "Bearer correct horse battery"}
        assert get(served.url + "/api/connections", good)[0] == 200
        assert get(served.url + "/metrics", good)[0] == 200
        from service_support import Browserless

        person = Browserless(served.url)
        status, body = person.submit("/login", "/login", {"password": "guess"})
        assert status == 401 and "not the console" in body
        status, signed = person.submit("/login", "/login", {"password": "correct horse battery"})
        assert status == 200
        assert "Connections" in signed and "org1" in signed
        wait_for(lambda: served.connection_with(good)["last_run"], 120, "the first run ends")
        status, _, body = post(served.url + "/api/connections/org1/sync", headers=good)
        assert status in (202, 409), body
    finally:
        assert served.stop() == 0


def test_demo_serve(tmp_path: Path) -> None:
    """`openai-sync demo --serve`: the simulator, the service and the console on the demo organization; the
    first run syncs at once; Ctrl-C (SIGINT) stops it cleanly."""
    import subprocess
    import time

    from service_support import CLI, free_port

    port = free_port()
    proc = subprocess.Popen([CLI, "demo", "--serve", "--size", "small", "--port", str(port), "--destination",
                             f"duckdb:///{tmp_path / 'demo.duckdb'}", "--state-dir", str(tmp_path / "dlt")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def last_status() -> str | None:
            try:
                c = json.loads(get(url + "/api/connections/demo")[2])
            except OSError:
                return None
            return (c.get("last_run") or {}).get("status")

        assert wait_for(last_status, 120, "the demo's first run") == "ok"
        assert "demo" in get(url + "/")[2]
    finally:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in " ".join(out.split())


def test_save_and_test_regression_after_a_key_is_revoked(sim: Simulator, tmp_path: Path) -> None:
    """Save & Test runs again on its own (check_every_hours); the Admin key revoked meanwhile is alerted as a
    regression, and the next run pauses the connection."""
    config = write_config(tmp_path, sim, sync_frequency="24h")
    with config.open("a") as f:
        f.write("\n[service]\ncheck_every_hours = 0.002\n")  # seven seconds
    agent = Agent(config, service_settings.load(config))
    agent.start()
    try:
        wait_for(lambda: agent.state.connection("org1").checks, 60, "the first Save & Test")
        assert all(c["status"] != "fail" for c in agent.state.connection("org1").checks)
        wait_for(lambda: agent.state.runs("org1") and agent.state.runs("org1")[0].status == "ok", 120, "a run")
        sim.world.revoke(sim.world.admin_key)
        sent = wait_for(lambda: [a for a in agent.alerts.sent if a["event"] == "checks_regressed"], 60,
                        "the regression is alerted")
        assert "Save & Test of org1 regressed" in sent[0]["text"] and "401" in sent[0]["text"]
        assert sim.world.admin_key not in json.dumps(list(agent.alerts.sent))
        agent.scheduler.request("org1")
        wait_for(lambda: agent.state.connection("org1").paused, 60, "the next run pauses the connection")
    finally:
        agent.stop()
