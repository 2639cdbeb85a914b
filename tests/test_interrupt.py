"""Ctrl-C ends a sync with one sentence and exit code 130, whatever step it was in, and the next run completes
with every table equal to what an uninterrupted sync loads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dlt
import duckdb
import pytest
from conftest import NOW
from test_sync import truth_counts
from typer.testing import CliRunner

from openai_sync.cli import app
from openai_sync.simulator import Simulator, World

SENTENCE = "interrupted; nothing is half-loaded; the next run resumes"
NOISE = ("KeyboardInterrupt", "SignalReceived", "Traceback", "JSON", "serializ")
TABLES = "users,projects,project_api_keys,audit_logs,usage_completions,costs"


def _args(sim: Simulator, db: str, state: str, *extra: str) -> list[str]:
    return ["sync", "--base-url", sim.base_url, "--destination", f"duckdb:///{db}", "--state-dir", state,
            "--tables", TABLES, *extra]


def _assert_complete(world: World, db: str) -> None:
    want = truth_counts(world)
    con = duckdb.connect(db, read_only=True)
    try:
        for t in ("users", "projects", "audit_logs"):
            live = "WHERE NOT _deleted" if t != "audit_logs" else ""
            assert con.execute(f"SELECT count(*) FROM openai.{t} {live}").fetchone()[0] == want[t], t
            assert con.execute(f"SELECT count(*) - count(DISTINCT id) FROM openai.{t}").fetchone()[0] == 0, t
    finally:
        con.close()


@pytest.mark.parametrize("after_requests", [1, 12])
def test_ctrl_c_while_reading_says_one_sentence_and_exits_130(tmp_path, after_requests):
    world = World(seed=11, size="small", now=NOW)
    db, state = str(tmp_path / "x.duckdb"), str(tmp_path / "state")
    with Simulator(world, latency_ms=150) as sim:
        env = {**os.environ, "OPENAI_ADMIN_KEY": world.admin_key, "COLUMNS": "200", "NO_COLOR": "1"}
        p = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", *_args(sim, db, state)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while sim.stats()["total"] < after_requests and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert p.poll() is None, "the sync ended before it could be interrupted"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 130, (out, err)
        assert err.strip() == SENTENCE, err
        assert not any(n in out + err for n in NOISE), out + err
        r = subprocess.run([sys.executable, "-m", "openai_sync.cli", *_args(sim, db, state)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    _assert_complete(world, db)


@pytest.mark.parametrize("step", ["extract", "normalize", "load"])
@pytest.mark.parametrize("how", ["ctrl-c", "dlt"])
def test_ctrl_c_at_each_step_of_the_load_says_one_sentence_and_exits_130(tmp_path, monkeypatch, step, how):
    """A Ctrl-C inside dlt's steps arrives as KeyboardInterrupt, or as dlt's SignalReceivedException when dlt
    intercepts signals; dlt wraps either in PipelineStepFailed."""
    from dlt.common.exceptions import SignalReceivedException

    world = World(seed=11, size="small", now=NOW)
    db, state = str(tmp_path / "x.duckdb"), str(tmp_path / "state")
    real = getattr(dlt.Pipeline, step)

    def interrupted(self, *args, **kwargs):
        if how == "dlt":
            real(self, *args, **kwargs)  # the step did its work; dlt noticed the signal at its end
            raise SignalReceivedException(signal.SIGINT)
        raise KeyboardInterrupt

    with Simulator(world) as sim:
        env = {"OPENAI_ADMIN_KEY": world.admin_key, "COLUMNS": "200", "NO_COLOR": "1"}
        monkeypatch.setattr(dlt.Pipeline, step, interrupted)
        r = CliRunner().invoke(app, _args(sim, db, state, "--json"), env=env)
        assert r.exit_code == 130, (r.stdout, r.stderr)
        assert r.stdout.strip() == '{"status": "interrupted", "error": "' + SENTENCE + '"}'
        assert SENTENCE in r.stderr and not any(n in r.stderr for n in NOISE), r.stderr
        monkeypatch.setattr(dlt.Pipeline, step, real)
        r = CliRunner().invoke(app, _args(sim, db, state), env=env)
        assert r.exit_code == 0, r.stderr
    _assert_complete(world, db)


def test_a_run_killed_while_dlt_deletes_a_normalized_package_blocks_nothing(tmp_path):
    """dlt deletes a normalized package's extracted copy folder by folder: a kill in between leaves its schema
    without its jobs, on which every later normalize failed (FileNotFoundError) until the folder was removed by
    hand. The next run drops that leftover (its rows were committed already) and syncs."""
    import json
    import shutil
    from pathlib import Path

    from destinations_support import Dest
    from test_sync import config

    from openai_sync.runner import sync

    world = World(seed=11, size="small", now=NOW)
    dest = Dest("duckdb", tmp_path)
    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=["users", "audit_logs"])
        assert {r.status for r in sync(cfg)[0]} == {"ok"}
        working = next(p for p in Path(cfg.pipelines_dir).iterdir() if p.is_dir())
        loaded = sorted((working / "load" / "loaded").iterdir())[-1]
        leftover = working / "normalize" / "extracted" / loaded.name  # as the kill left it: no new_jobs
        leftover.mkdir(parents=True)
        shutil.copy(loaded / "schema.json", leftover / "schema.json")
        assert json.loads((leftover / "schema.json").read_text())["name"]
        sim.advance(24)
        results, _ = sync(cfg)
        assert {r.name: r.status for r in results} == {"users": "ok", "audit_logs": "ok"}, results
    assert not leftover.exists()
    assert dest.one("SELECT count(*) FROM openai.audit_logs") == truth_counts(world)["audit_logs"]
