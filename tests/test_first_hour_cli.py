"""A new user's first hour at the command line: malformed destinations and unreachable hosts are one sentence and
exit 2 before anything is read; Save & Test and the sync agree about archived projects; short keys stay
masked; `--version` and `--help` load neither dlt nor the SDK."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from conftest import NOW
from test_setup import checks, cli

from openai_sync.access import archived_key
from openai_sync.api.keys import mask
from openai_sync.simulator import Simulator, World

ENV = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
ADMIN = "sk-admin-" + "x" * 48


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openai_sync.cli", *args], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, timeout=120, cwd=cwd)


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def listener():
    """A port that accepts connections and counts them: nothing may connect when a destination is wrong."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.settimeout(0.2)
    yield s
    s.close()


def _connections(s: socket.socket) -> int:
    n = 0
    while True:
        try:
            c, _ = s.accept()
        except OSError:
            return n
        c.close()
        n += 1


@pytest.mark.parametrize(("destination", "says"), [
    ("./data.db", "is not a destination I know (a DuckDB file's name ends in .duckdb)"),
    ("postgresql:/x", "is not a PostgreSQL DSN: it starts with postgresql:// (two slashes)"),
    ("duckdb://x.duckdb", "write duckdb:/// and the path"),
    ("bigqeury", "'bigqeury' is not a destination (did you mean bigquery?)"),
    ("snowflake", "dlt's snowflake destination has no credentials: set them in .dlt/secrets.toml under "
                  "[destination.snowflake.credentials]"),
    ("duckdb:///{tmp}/no/such/x.duckdb", "the folder {tmp}/no/such does not exist ({tmp} has no no); create it"),
    ("filesystem:///{tmp}/no/such/lake", "the folder {tmp}/no/such does not exist ({tmp} has no no)"),
    ("duckdb:////proc/x.duckdb", "/proc/x.duckdb cannot hold a database: a file cannot be created in /proc"),
])
def test_a_malformed_destination_is_a_sentence_and_exit_2_before_any_request(tmp_path, listener, destination,
                                                                               says):
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    dest = destination.format(tmp=tmp_path)
    r = run("sync", "--destination", dest, "--base-url", base, "--state-dir", str(tmp_path / "state"),
            env={"OPENAI_ADMIN_KEY": ADMIN, "OPENAI_SYNC_CONFIG": str(tmp_path / "none.toml")}, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert one_line(r.stderr).startswith("error: ") and says.format(tmp=tmp_path) in one_line(r.stderr), r.stderr
    assert "Traceback" not in r.stderr and ADMIN not in r.stderr + r.stdout
    assert _connections(listener) == 0  # nothing was asked of the API
    assert not (tmp_path / "no").exists()  # no folder made for a mistyped path
    # Save & Test says the same, as a failed check
    t = run("test", "--json", "--destination", dest, "--base-url", base,
            env={"OPENAI_ADMIN_KEY": "", "OPENAI_SYNC_CONFIG": str(tmp_path / "none.toml")}, cwd=tmp_path)
    found = {c["name"]: c for c in json.loads(t.stdout)["checks"]}["destination"]
    assert found["status"] == "fail" and says.format(tmp=tmp_path) in found["message"], found


def test_the_proc_filesystem_is_not_called_writable(tmp_path):
    from openai_sync.load.destination_check import check_destination

    found = check_destination("duckdb:////proc/sync.duckdb", "openai")
    assert found.status == "fail" and "cannot hold a database" in found.message


@pytest.mark.parametrize(("base_url", "says"), [
    ("http://127.0.0.1:{closed}/v1", "the connection was refused: nothing listens on that port"),
    ("http://no-such-host.invalid/v1", "the API host no-such-host.invalid is unknown"),
])
def test_an_unreachable_api_is_said_within_seconds(tmp_path, base_url, says):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()  # a port nothing listens on
    url = base_url.format(closed=closed)
    started = time.monotonic()
    r = run("sync", "--destination", f"duckdb:///{tmp_path}/x.duckdb", "--base-url", url, "--state-dir",
            str(tmp_path / "state"), env={"OPENAI_ADMIN_KEY": ADMIN, "OPENAI_SYNC_CONFIG": str(tmp_path / "n.toml")})
    took = time.monotonic() - started
    assert r.returncode == 2 and says in one_line(r.stderr) and "--base-url" in r.stderr, r.stderr
    assert took < 20, took  # the SDK's retries alone take 25 s; this is the start-up plus one connect
    t = run("test", "--json", "--destination", f"duckdb:///{tmp_path}/x.duckdb", "--base-url", url,
            env={"OPENAI_ADMIN_KEY": ADMIN, "OPENAI_SYNC_CONFIG": str(tmp_path / "n.toml")})
    out = json.loads(t.stdout)
    assert t.returncode == 1 and out["checks"][0]["name"] == "API" and says in out["checks"][0]["message"]


def test_save_and_test_and_the_sync_agree_about_an_archived_project(tmp_path):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        sim.advance(48)
        archived = [p for p in world.project_keys if world.project_by_id[p].archived_at
                    and world.project_by_id[p].archived_at <= world.now]
        assert archived, "the simulator archives a project within two days"
        pid = archived[0]
        key = world.project_keys[pid]
        sentence = archived_key(key, pid, world.project_by_id[pid].name)
        code, out, by = checks(sim, tmp_path, admin=world.admin_key, project=[key])
        assert by["project key 1"] == {"name": "project key 1", "status": "warn", "message": sentence + "."}
        assert out["status"] == "ok" and code == 0
        r = cli(sim, tmp_path, "sync", "--json", "--tables", "users,files", "--destination",
                f"duckdb:///{tmp_path}/x.duckdb", "--state-dir", str(tmp_path / "state"), admin=world.admin_key,
                project=[key, *(k for p, k in world.project_keys.items() if p not in archived)])
        result = json.loads(r.stdout)
        assert r.exit_code == 0 and result["status"] == "ok", r.output
        assert sentence in result["warnings"]
        assert not any("last sync" in n for n in result["notes"])  # a first sync claims no earlier data


@pytest.mark.parametrize("key", ["hello", "sk-admin-abc", "sk-proj-12345678", "x" * 23])
def test_masking_never_shows_most_of_a_short_key(key):
    shown = mask(key)
    secret = key.removeprefix("sk-admin-").removeprefix("sk-proj-")
    assert not any(secret[i:i + 3] in shown for i in range(len(secret) - 2)), shown
    assert f"({len(key)} characters)" in shown


def test_masking_a_real_key_shows_its_kind_and_last_four():
    assert mask("sk-admin-" + "a" * 40 + "wxyz") == "sk-admin-…wxyz"
    assert mask("sk-proj-" + "b" * 50 + "1234") == "sk-proj-…1234"


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["sync", "--help"], ["setup", "--help"]])
def test_version_and_help_load_neither_dlt_nor_the_sdk(args):
    code = (f"import sys\nsys.argv = ['openai-sync', *{args!r}]\nfrom openai_sync.cli import main\ntry:\n"
            "    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "heavy = [m for m in ('dlt', 'openai', 'duckdb', 'pyarrow', 'psycopg2', 'uvicorn') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert "HEAVY []" in r.stderr, r.stderr


def test_ctrl_c_in_setup_says_nothing_was_saved_and_exits_130(tmp_path):
    from test_setup import spawn_setup

    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        child, transcript = spawn_setup(tmp_path, "--base-url", sim.base_url)
        child.expect_exact("Destination schema [openai]: ")
        child.sendintr()
        child.expect_exact("interrupted; nothing was saved")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 130
    shown = "".join(transcript)
    assert "Traceback" not in shown and "KeyboardInterrupt" not in shown and "Aborted" not in shown, shown
    assert not (tmp_path / "openai-sync.toml").exists()
