"""`openai-sync simulator` as a user runs it: a subprocess that prints one JSON line, serves, and stops
cleanly; and its refusals of bad options."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from conftest import NOW
from typer.testing import CliRunner

from openai_sync.cli import app
from openai_sync.simulator import FAULT_KINDS, SIZES, World

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
SCRIPT = Path(sys.executable).with_name("openai-sync")


class Proc:
    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", "simulator", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.p.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
        try:
            self.line = lines.get(timeout=30)
        except queue.Empty:
            self.p.kill()
            raise AssertionError(f"no line on stdout in 30 s; stderr: {self.p.communicate()[1]}") from None
        assert self.line.endswith("\n"), f"stdout ended: {self.line!r}; stderr: {self.p.communicate()[1]}"
        self.info = json.loads(self.line)
        self.root = self.info["base_url"].removesuffix("/v1")
        self.http = httpx2.Client(timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.http.close()
        self.p.send_signal(sig)
        out, err = self.p.communicate(timeout=20)
        return self.p.returncode, out, err

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.communicate(timeout=20)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.kill()


def run(*args: str, exe: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*(exe or [sys.executable, "-m", "openai_sync.cli"]), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)


def invoke(*args: str) -> tuple[int, str, str]:
    """The command in-process (typer's runner): the same parsing and messages, without a process start."""
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def flat(text: str) -> str:
    """Rich's boxes and line wrapping removed: one line of single-spaced words."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_simulator_prints_one_line_serves_and_stops(procs):
    sim = Proc("--port", "0", "--seed", "3", "--size", "small")
    procs.append(sim)
    info = sim.info
    assert set(info) == {"base_url", "admin_key", "project_keys"}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", info["base_url"])
    assert int(info["base_url"].rsplit(":", 1)[1].split("/")[0]) > 0
    # the same seed and size give the same organization
    world = World(seed=3, size="small")
    assert info["admin_key"] == world.admin_key
    assert info["project_keys"] == world.project_keys and info["project_keys"]

    # the API, with the printed keys
    admin = openai.OpenAI(admin_api_key=info["admin_key"], api_key="unused", base_url=info["base_url"],
                          max_retries=0)
    projects = [p.id for p in admin.admin.organization.projects.list(include_archived=True)]
    assert set(info["project_keys"]) <= set(projects)
    n_files = 0
    for key in info["project_keys"].values():
        c = openai.OpenAI(api_key=key, base_url=info["base_url"], max_retries=0)
        n_files += len(c.files.list(limit=5).data)
    assert n_files > 0

    # the clock moves
    before = sim.http.get(sim.root + "/_sim/clock").json()["now"]
    r = sim.http.post(sim.root + "/_sim/advance", params={"hours": 2})
    assert r.status_code == 200 and r.json()["now"] == before + 7200
    assert sim.http.get(sim.root + "/_sim/clock").json()["now"] == before + 7200

    # the counters saw exactly the API requests
    stats = sim.http.get(sim.root + "/_sim/stats").json()
    assert stats["total"] == 1 + len(info["project_keys"])
    assert stats["by_endpoint"] == {"GET /organization/projects": 1, "GET /files": len(info["project_keys"])}
    assert stats["by_status"] == {"200": stats["total"]}

    code, out, err = sim.stop(signal.SIGTERM)
    assert code == 0, err
    assert out == ""  # exactly one line was printed, at start-up
    assert "Traceback" not in err


def test_simulator_stops_cleanly_on_ctrl_c(procs):
    sim = Proc("--port", "0")
    procs.append(sim)
    assert sim.http.get(sim.info["base_url"] + "/organization/users",
                        headers={"Authorization": f"Bearer {sim.info['admin_key']}"}).status_code == 200
    code, out, err = sim.stop(signal.SIGINT)
    assert code == 0, err
    assert out == "" and "Traceback" not in err


def test_simulator_options_latency_rate_limit_faults_and_clock(procs):
    sim = Proc("--latency-ms", "150", "--rate-limit", "2", "--faults", "html:1", "--now", str(NOW + 1234),
               "--size", "small", "--seed", "5")
    procs.append(sim)
    assert sim.http.get(sim.root + "/_sim/clock").json()["now"] == NOW  # floored to the hour
    auth = {"Authorization": f"Bearer {sim.info['admin_key']}"}
    t = time.monotonic()
    r = sim.http.get(sim.info["base_url"] + "/organization/users", headers=auth)
    assert time.monotonic() - t >= 0.15
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert sim.http.get(sim.info["base_url"] + "/organization/users", headers=auth).status_code == 502
    # 2 requests/second with bursts of 2: the bucket drains faster than it refills (each request also
    # waits 150 ms), so a 429 comes within a few requests however loaded the machine is
    statuses = []
    for _ in range(10):
        r = sim.http.get(sim.info["base_url"] + "/organization/users", headers=auth)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert "retry-after" in r.headers
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) <= {502}, statuses
    stats = sim.http.get(sim.root + "/_sim/stats").json()
    assert stats["by_status"] == {"502": 2 + len(statuses) - 1, "429": 1}
    code, _, err = sim.stop()
    assert code == 0, err


def test_simulator_on_a_given_port(procs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sim = Proc("--port", str(port))
    procs.append(sim)
    assert sim.info["base_url"] == f"http://127.0.0.1:{port}/v1"
    # the port is taken now: a second simulator on it fails with a message, not silently
    r = run("simulator", "--port", str(port))
    assert r.returncode == 1 and r.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr
    assert sim.stop()[0] == 0


def test_bad_faults_exit_non_zero_in_a_real_process():
    r = run("simulator", "--faults", "429:0.1,bogus:0.1")
    assert r.returncode == 2 and r.stdout == ""
    assert "unknown fault kind 'bogus'" in flat(r.stderr) and "Traceback" not in r.stderr


@pytest.mark.parametrize("spec", ["bogus:0.1", "429:abc", "429:2", "500:-0.5", "drop:0.1,nope", "slow:nan"])
def test_bad_faults_exit_non_zero_naming_the_valid_kinds(spec):
    code, out, err = invoke("simulator", "--faults", spec)
    assert code == 2
    assert out == ""
    msg = flat(err)
    assert "--faults" in msg
    assert f"bad fault '{spec.split(',')[-1]}'" in msg
    assert "valid" in msg or "one of" in msg
    for kind in FAULT_KINDS:
        assert re.search(rf"(?<![\w.]){re.escape(kind)}(?![\w.])", msg), (kind, msg)
    assert "Traceback" not in err


def test_bad_size_names_the_valid_sizes():
    code, out, err = invoke("simulator", "--size", "bogus")
    assert code == 2 and out == ""
    msg = flat(err)
    assert "bogus" in msg
    for size in SIZES:
        assert f"'{size}'" in msg, msg


@pytest.mark.parametrize("args", [["--port", "-1"], ["--latency-ms", "-5"], ["--rate-limit", "0"],
                                  ["--seed", "x"]])
def test_other_bad_options_exit_non_zero(args):
    code, out, err = invoke("simulator", *args)
    assert code == 2 and out == ""
    assert args[0] in flat(err)


def test_help_shows_options_and_examples():
    exe = [str(SCRIPT)] if SCRIPT.exists() else None  # the installed script, as a user runs it
    r = run("simulator", "--help", exe=exe)
    assert r.returncode == 0
    text = flat(r.stdout)
    for opt in ("--host", "--port", "--seed", "--size", "--latency-ms", "--rate-limit", "--faults"):
        assert opt in text
    assert "Examples" in text
    assert "openai-sync simulator --faults 429:0.05,500:0.01,drop:0.01" in text
    assert "openai-sync simulator --port 8765 --size large" in text
    assert "small|medium|large" in text.replace(" ", "")
    assert all(k in text for k in FAULT_KINDS)
    top = run("--help", exe=exe)
    assert top.returncode == 0 and "simulator" in top.stdout
