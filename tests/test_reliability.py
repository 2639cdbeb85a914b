"""Nothing lost under rate limits, transient faults and bad responses: each sync under faults ends with exactly
what a sync without faults loads (the ground truth), or fails cleanly and the next run catches up."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from conftest import NOW
from destinations_support import Dest

from openai_sync.config import ProjectKey
from openai_sync.report import overall_status
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.faults import Rule

TABLES = ["users", "projects", "project_api_keys", "project_rate_limits", "invites", "audit_logs",
          "usage_completions", "costs", "files", "batches", "vector_stores", "vector_store_files", "groups"]


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    kw.setdefault("tables", TABLES)
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"),
                      project_keys=[ProjectKey(k, p) for p, k in sim.world.project_keys.items()], **kw)


@pytest.fixture
def truth(tmp_path):
    """The ground truth: the same organization synced without any fault, into a destination of its own."""
    world = World(seed=7, size="small", now=NOW)
    ref = Dest("duckdb", tmp_path / "truth")
    ref.tmp.mkdir()
    with Simulator(world) as sim:
        results, _ = sync(config(sim, ref))
        assert overall_status(results) == "ok"
    return world, ref.snapshot()


def equal(dest: Dest, expected: dict[str, list[tuple]]) -> None:
    got = dest.snapshot()
    assert set(got) == set(expected)
    for table, rows in expected.items():
        assert got[table] == rows, f"{table} differs from the ground truth"


def until_ok(sim: Simulator, dest: Dest, runs: int = 4, **kw: Any) -> int:
    """Sync, and sync again while some table failed (each run resumes the last); returns the runs made."""
    for n in range(1, runs + 1):
        results, _ = sync(config(sim, dest, **kw))
        if overall_status(results) == "ok":
            return n
    raise AssertionError(f"still failing after {runs} runs: {[r.error for r in results if r.error]}")


def test_a_rate_limit_below_the_concurrency_slows_the_sync_down_and_loses_nothing(truth, tmp_path):
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    # 15 requests per second per key, 8 in flight wanted, and 429s with Retry-After on top
    with Simulator(world, rate_limit=15, faults=[Rule("429", rate=0.05, retry_after=0.2)]) as sim:
        started = time.monotonic()
        results, run = sync(config(sim, dest, concurrency=8))
        took = time.monotonic() - started
        assert overall_status(results) == "ok", [r.error for r in results if r.error]
        stats = sim.stats()
        assert stats["by_status"].get("429", 0) > 0
        limited = sum(c.throttle.throttled for c in run.clients)
        assert limited == stats["by_status"]["429"]  # every 429 was seen, and none ended a table
        assert any("rate-limited" in n for n in run.notes)
        # the admin key's requests cannot go faster than its limit allows (burst of 15 first)
        admin_requests = sum(run.client.requests.values())
        assert took >= (admin_requests - 15) / 15 * 0.9
    equal(dest, expected)


def test_the_time_budget_stops_the_run_cleanly_and_the_next_run_finishes(truth, tmp_path):
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    with Simulator(world, rate_limit=4) as sim:
        started = time.monotonic()
        results, _ = sync(config(sim, dest, time_budget=3.0))
        took = time.monotonic() - started
        failed = [r for r in results if r.status == "failed"]
        assert failed and all("time budget" in (r.error or "") for r in failed)
        assert took < 3.0 + 10  # the reads stop at the budget; the load of what was read follows
        sim.app.limiter.rps = None
        assert until_ok(sim, dest) == 1
    equal(dest, expected)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.3])
def test_transient_faults_lose_nothing(truth, tmp_path, rate):
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    faults = [Rule(kind, rate=rate / 5, ms=300) for kind in ("500", "502", "503", "drop", "slow")]
    with Simulator(world, faults=faults) as sim:
        runs = until_ok(sim, dest)
        injected = sum(sim.stats()["faults"].values())
        assert injected > 0
        if rate < 0.3:
            assert runs == 1  # retries absorb them
    equal(dest, expected)


def test_beyond_the_retry_budget_a_table_fails_naming_its_endpoint_and_the_next_run_resumes(truth, tmp_path):
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    with Simulator(world, faults=[Rule("503", endpoint="/organization/audit_logs", skip=1)]) as sim:
        results, _ = sync(config(sim, dest, max_retries=2))
        by = {r.name: r for r in results}
        assert by["audit_logs"].status == "failed"
        assert "GET /organization/audit_logs kept failing with 503 after 2 retries" in by["audit_logs"].error
        assert all(r.status == "ok" for r in results if r.name != "audit_logs")
        sim.set_faults([])
        assert until_ok(sim, dest) == 1
    equal(dest, expected)


@pytest.mark.parametrize("kind, endpoint, table, says", [
    ("malformed", "/organization/users", "users", "not JSON"),
    ("html", "/organization/users", "users", "an HTML page"),
    ("stuck", "/organization/audit_logs", "audit_logs", "cursor"),
    ("nocursor", "/organization/groups", "groups", "no cursor"),
    ("noid", "/organization/users", "users", "without its 'id'"),
    ("noid", "/organization/usage/completions", "usage_completions", "without its start_time"),
    ("huge", "/organization/projects/{project_id}/rate_limits", "project_rate_limits", "beyond any 64-bit"),
    ("huge", "/organization/usage/completions", "usage_completions", "beyond any 64-bit"),
])
def test_bad_responses_fail_their_table_clearly_and_harm_nothing(truth, tmp_path, kind, endpoint, table, says):
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    with Simulator(world) as sim:
        assert until_ok(sim, dest) == 1
        before = dest.snapshot()
        sim.set_faults([Rule(kind, endpoint=endpoint)])
        results, _ = sync(replace(config(sim, dest), reconcile=True))  # every listing read, unchanged or not
        by = {r.name: r for r in results}
        assert by[table].status == "failed" and says in by[table].error, by[table].error
        assert dest.snapshot() == before  # nothing changed: the organization did not change either
        sim.set_faults([])
        assert until_ok(sim, dest) == 1
    equal(dest, expected)


def test_unknown_object_types_and_fields_are_loaded_as_they_come(truth, tmp_path):
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    # skip=2: the first request is the preflight check of the Admin key, the second the change feed's last hour
    with Simulator(world, faults=[Rule("unknown", endpoint="/organization/audit_logs", skip=2, times=1)]) as sim:
        results, _ = sync(config(sim, dest))
        assert overall_status(results) == "ok"
    # the event of a type no client knows is there, its detail in event_data, its new field a new column
    row = dest.q("SELECT event_data, field_from_the_future__nested FROM openai.audit_logs "
                 "WHERE type = 'thing.invented'")
    assert len(row) == 1 and '"sides":7' in row[0][0].replace(" ", "") and row[0][1].replace(" ", "") == "[1,2,3]"
    assert dest.one("SELECT count(*) FROM openai.audit_logs") == len(expected["audit_logs"])


def test_a_list_page_without_its_cursor_continues_from_its_last_object(truth, tmp_path):
    """`last_id` missing but `has_more` true: the last object's id is the API's cursor, so the listing goes on
    (and ends at the empty page) instead of failing."""
    world, expected = truth
    dest = Dest("duckdb", tmp_path)
    with Simulator(world, faults=[Rule("nocursor", endpoint="/organization/audit_logs")]) as sim:
        assert until_ok(sim, dest) == 1
        assert sim.stats()["faults"]["nocursor"] > 1
    equal(dest, expected)
