"""Atomicity at the destination: a sync process killed with SIGKILL during the load step leaves every table
consistent, and the next run converges to exactly what an uninterrupted sync loads (DuckDB and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NOW, empty_config
from destinations_support import Dest

from openai_sync import catalog
from openai_sync.load.pipeline import pipeline_name
from openai_sync.simulator import Simulator, World

CLI = str(Path(sys.executable).with_name("openai-sync"))


def cli_sync(sim: Simulator, dest: Dest, state: Path) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_BASE_URL": sim.base_url,
           "OPENAI_PROJECT_KEYS": ",".join(f"{p}={k}" for p, k in sim.world.project_keys.items())}
    return subprocess.Popen([CLI, "sync", "--config", empty_config(dest.tmp), "--destination", dest.destination,
                             "--schema", dest.schema, "--state-dir", str(state), "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load_jobs(state: Path, name: str, folder: str) -> int:
    return sum(1 for _ in (state / name / "load" / "normalized").glob(f"*/{folder}/*"))


def kill_during_load(proc: subprocess.Popen, state: Path, name: str, completed: int) -> bool:
    """SIGKILL the sync once `completed` load jobs are done (and before the package is loaded whole)."""
    while proc.poll() is None:
        if load_jobs(state, name, "completed_jobs") >= completed:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    return False


def keys(dest: Dest) -> dict[str, set[tuple]]:
    return {t: set(dest.q(f"SELECT {', '.join(catalog.TABLES[t].primary_key)} FROM openai.{t}"))
            for t in dest.tables() if t in catalog.TABLES}


def no_duplicate_keys(dest: Dest) -> None:
    for t in dest.tables():
        if t not in catalog.TABLES:
            continue
        pk = ", ".join(catalog.TABLES[t].primary_key)
        dup = dest.one(f"SELECT count(*) FROM (SELECT {pk} FROM openai.{t} GROUP BY {pk} HAVING count(*) > 1) d")
        assert dup == 0, f"{t}: duplicate primary keys after the kill"


@pytest.mark.parametrize("completed", [1, 12])
def test_a_sync_killed_during_the_load_converges_on_the_next_run(dest, completed):
    world = World(seed=7, size="small", now=NOW)
    # the reference goes through the same runs without a kill, into a destination of its own
    ref = Dest(dest.kind, dest.tmp / "ref")
    ref.tmp.mkdir()
    try:
        with Simulator(world) as sim:
            state = dest.tmp / "state"
            for d, st in ((dest, state), (ref, ref.tmp / "state")):
                first = cli_sync(sim, d, st)
                assert first.wait() == 0, first.stderr.read()
            before = keys(dest)
            sim.advance(48)  # new buckets, audit events, deletions: the next load changes many tables

            name = pipeline_name(dest.destination, dest.schema, world.org_id)  # the organization's own pipeline
            proc = cli_sync(sim, dest, state)
            assert kill_during_load(proc, state, name, completed), "the sync ended first: " + proc.stderr.read()
            # killed in the middle of the load: the package is still there, some of its jobs done
            assert load_jobs(state, name, "completed_jobs") >= completed
            assert load_jobs(state, name, "new_jobs") + load_jobs(state, name, "started_jobs") > 0
            no_duplicate_keys(dest)
            middle = keys(dest)
            for table, pks in before.items():  # every table as the first run left it, or moved forward
                assert pks <= middle[table], f"{table}: rows of the last good run are missing after the kill"

            rerun = cli_sync(sim, dest, state)
            assert rerun.wait() == 0, rerun.stderr.read()
            no_duplicate_keys(dest)
            r = cli_sync(sim, ref, ref.tmp / "state")
            assert r.wait() == 0, r.stderr.read()
            expected, got = ref.snapshot(), dest.snapshot()
            assert set(got) == set(expected)
            for table in expected:
                assert got[table] == expected[table], f"{table} differs from the run that was not killed"
    finally:
        if ref.kind == "postgres":
            ref.wipe()
