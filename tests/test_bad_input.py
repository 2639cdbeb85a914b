"""Bad input gets a clear error and loses nothing: a second sync of the same connection, a wrong base URL,
an unreachable database, a full disk, a read-only destination."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NOW, empty_config
from destinations_support import PG_DSN, Dest

from openai_sync.load import locks
from openai_sync.runner import SyncConfig, pipeline_name, sync
from openai_sync.simulator import Simulator, World

CLI = str(Path(sys.executable).with_name("openai-sync"))
TABLES = ["users", "projects", "audit_logs", "usage_completions", "costs"]


def cli(sim: Simulator, *args: str, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_BASE_URL": sim.base_url,
           "COLUMNS": "1000"}  # messages on one line each
    return subprocess.Popen([CLI, "sync", "--tables", ",".join(TABLES), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]


def test_a_second_sync_of_the_same_connection_is_refused_while_the_first_runs(tmp_path):
    world = World(seed=7, size="small", now=NOW)
    out = tmp_path / "out.duckdb"
    args = ["--config", empty_config(tmp_path), "--destination", f"duckdb:///{out}", "--state-dir",
            str(tmp_path / "state"), "--json"]
    with Simulator(world, latency_ms=1500) as sim:  # slow enough for the second to start during the first
        first = cli(sim, *args)
        name = pipeline_name(SyncConfig(admin_key=None, destination=f"duckdb:///{out}"))
        lock = tmp_path / "state" / f"{name}.lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = cli(sim, *args)
        out2, err2 = second.communicate(timeout=120)
        out1, err1 = first.communicate(timeout=120)
    assert second.returncode == 2, out2 + err2
    assert "another sync of" in err2 and f"pid {first.pid}" in err2 and "Wait for it to finish" in err2
    assert first.returncode == 0, err1
    assert json.loads(out1)["status"] == "ok"
    # the refused run changed nothing: the first one's load is whole
    import duckdb

    with duckdb.connect(str(out), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM openai.users").fetchall()[0][0] == len(
            [u for u in world.users if u.added_at <= world.now and not (u.removed_at and u.removed_at <= world.now)])
    # and the lock went with the process that held it
    with locks.exclusive(name, str(tmp_path / "state"), "test"):
        pass


def test_a_lock_held_by_a_killed_process_is_not_stale(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from openai_sync.load import locks\n"
                               f"with locks.exclusive('p', {str(tmp_path)!r}, 'x'):\n"
                               "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
    with pytest.raises(locks.Busy, match=f"pid {holder.pid}"), locks.exclusive("p", str(tmp_path), "x"):
        pass
    holder.kill()
    holder.wait()
    with locks.exclusive("p", str(tmp_path), "x"):
        pass


def test_postgres_refuses_a_second_sync_from_another_machine(tmp_path):
    """Another machine syncing the same organization: a different local state folder, the same database and
    schema. (Another organization into the same schema is welcome: only the loads take turns.)"""
    import psycopg2

    dest = Dest("postgres", tmp_path)
    world = World(seed=7, size="small", now=NOW)
    key = locks.pg_key(f"openai_sync|{dest.schema}|{world.org_id}".lower())
    con = psycopg2.connect(PG_DSN)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
        with Simulator(world) as sim:
            cfg = SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=PG_DSN,
                             schema=dest.schema, pipelines_dir=str(tmp_path / "state"), tables=TABLES)
            with pytest.raises(locks.Busy, match="on another machine"):
                sync(cfg)
    finally:
        con.close()
    assert dest.q(f"SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{dest.schema}'") == [(0,)]


def test_a_wrong_base_url_says_so(tmp_path):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        p = cli(sim, "--config", empty_config(tmp_path), "--base-url", "http://127.0.0.1:9/v1",
                "--destination", f"duckdb:///{tmp_path}/x.duckdb", "--state-dir", str(tmp_path / "state"))
        _, err = p.communicate(timeout=120)
    assert p.returncode == 2
    assert "cannot connect to the API at 127.0.0.1:9 (the connection was refused" in " ".join(err.split())
    assert "--base-url" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("dsn, says", [
    ("postgresql://postgres@127.0.0.1:9/test", "Connection refused"),
    ("postgresql://nobody@127.0.0.1:5432/test", 'role "nobody" does not exist'),
    ("postgresql://postgres@127.0.0.1:5432/no_such_db", 'database "no_such_db" does not exist'),
])
def test_an_unreachable_database_says_so_before_reading_anything(tmp_path, dsn, says):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        p = cli(sim, "--config", empty_config(tmp_path), "--destination", dsn, "--state-dir",
                str(tmp_path / "state"))
        _, err = p.communicate(timeout=120)
        data_requests = sum(n for ep, n in sim.stats()["by_endpoint"].items() if "usage" in ep or "audit" in ep)
    assert p.returncode == 2 and f"cannot connect to {dsn}" in err and says in err, err
    assert "Traceback" not in err
    assert data_requests <= 2  # the key's preflight checks only, no table was read


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MB file system of its own (tmpfs), so that the destination's disk can fill up or turn read-only."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_fails_the_load_clearly_and_the_next_run_completes(tmp_path, small_disk):
    world = World(seed=7, size="small", now=NOW)
    dest = f"duckdb:///{small_disk}/x.duckdb"
    args = ["--config", empty_config(tmp_path), "--destination", dest, "--state-dir", str(tmp_path / "state"),
            "--tables", "audit_logs,usage_completions,usage_embeddings,costs,users,projects,project_users"]
    with Simulator(world) as sim:
        p = cli(sim, *args)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 1, err
        assert "the disk holding the destination is full" in err and "No space left on device" in err
        assert "Traceback" not in err
        subprocess.run(["mount", "-o", "remount,size=200M", str(small_disk)], check=True)  # space freed
        p = cli(sim, *args, "--json")
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        # the run after the failure holds everything, once
        import duckdb

        with duckdb.connect(str(small_disk / "x.duckdb"), read_only=True) as con:
            n, distinct = con.sql("SELECT count(*), count(DISTINCT id) FROM openai.audit_logs").fetchall()[0]
        assert n == distinct == world.audit_seq.bound(world.now)


def test_a_read_only_destination_is_refused_before_anything_is_read(tmp_path, small_disk):
    world = World(seed=7, size="small", now=NOW)
    args = ["--config", empty_config(tmp_path), "--destination", f"duckdb:///{small_disk}/x.duckdb",
            "--state-dir", str(tmp_path / "state")]
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with Simulator(world) as sim:
        p = cli(sim, *args)
        _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "is on a read-only file system" in err, err


def test_keys_never_reach_the_lock_file(tmp_path):
    name = "n" + uuid.uuid4().hex[:6]
    with locks.exclusive(name, str(tmp_path), "x"):
        text = (tmp_path / f"{name}.lock").read_text()
    assert text.startswith("pid ") and "sk-" not in text
