"""A first sync of a long audit log (or of usage) cut short by its time budget keeps the windows it finished: the
next run reads only the rest (not the whole log again), and the table ends equal to the API's, each event once."""

from __future__ import annotations

from conftest import NOW
from destinations_support import Dest
from test_sync import config, truth_counts

from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World


def audit_requests(sim: Simulator) -> int:
    return sum(1 for e in sim.app.stats.snapshot(with_log=True)["log"] if e["path"].endswith("/audit_logs"))


def audit_state(dest: Dest, world: World) -> dict:
    """The audit_logs table's dlt state, as the organization's pipeline keeps it locally."""
    import dlt

    from openai_sync.load.pipeline import pipeline_name

    p = dlt.attach(pipeline_name(dest.destination, dest.schema, world.org_id), pipelines_dir=str(dest.tmp / "state"))
    return p.state["sources"][p.default_schema_name]["resources"]["audit_logs"]


def test_a_budget_cut_keeps_the_finished_windows(tmp_path):
    world = World(seed=7, size="medium", now=NOW)
    full = Dest("duckdb", tmp_path / "full")
    full.tmp.mkdir()
    with Simulator(world) as sim:
        sync(config(sim, full, tables=["audit_logs"], concurrency=2))
        whole = audit_requests(sim)
    assert whole > 40  # enough pages for windows
    dest = Dest("duckdb", tmp_path)
    with Simulator(world, latency_ms=60) as sim:
        results, _ = sync(config(sim, dest, tables=["audit_logs"], concurrency=2, time_budget=5.0))
        assert results[0].status == "failed" and "time budget" in (results[0].error or "")
        first = audit_requests(sim)
        assert 3 < first < whole
        kept = audit_state(dest, world)
        assert kept.get("done") and "watermark" not in kept  # finished windows kept; the watermark not moved
        results, _ = sync(config(sim, dest, tables=["audit_logs"], concurrency=2))
        assert results[0].status == "ok", results[0].error
        second = audit_requests(sim) - first
    # the finished windows were not read again (a run from scratch makes exactly `whole` requests)
    assert second < whole, (first, second, whole)
    after = audit_state(dest, world)
    assert "done" not in after and after.get("watermark")
    assert dest.one("SELECT count(*) FROM openai.audit_logs") == truth_counts(world)["audit_logs"]
    assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.audit_logs") == 0


def usage_state(dest: Dest, world: World) -> dict:
    import dlt

    from openai_sync.load.pipeline import pipeline_name

    p = dlt.attach(pipeline_name(dest.destination, dest.schema, world.org_id), pipelines_dir=str(dest.tmp / "state"))
    return p.state["sources"][p.default_schema_name]["resources"]["usage_completions"]


def usage_requests(sim: Simulator) -> int:
    return sum(1 for e in sim.app.stats.snapshot(with_log=True)["log"] if e["path"].endswith("/usage/completions"))


def test_a_budget_cut_keeps_the_finished_bucket_ranges(tmp_path):
    """The same for usage: a first sync of hourly buckets cut short keeps the ranges of final buckets it read whole,
    and the next run reads only the rest; the table ends as a sync from scratch has it."""
    world = World(seed=7, size="medium", now=NOW)
    kw = {"tables": ["usage_completions"], "concurrency": 2, "bucket_width": "1h"}
    full = Dest("duckdb", tmp_path / "full")
    full.tmp.mkdir()
    with Simulator(world) as sim:
        sync(config(sim, full, **kw))
        whole = usage_requests(sim)
    assert whole > 8  # enough ranges to cut
    dest = Dest("duckdb", tmp_path)
    with Simulator(world, latency_ms=400) as sim:
        results, _ = sync(config(sim, dest, time_budget=3.0, **kw))  # the key checks take 1.2 s of it
        assert results[0].status == "failed" and "time budget" in (results[0].error or "")
        first = usage_requests(sim)
        kept = usage_state(dest, world)
        assert kept.get("done") and "cursor" not in kept  # finished ranges kept; the cursor not moved
        results, _ = sync(config(sim, dest, **kw))
        assert results[0].status == "ok", results[0].error
        second = usage_requests(sim) - first
    assert second < whole, (first, second, whole)
    assert "done" not in usage_state(dest, world) and usage_state(dest, world).get("cursor")
    count = "SELECT count(*), count(DISTINCT id) FROM openai.usage_completions"
    assert dest.one(count.replace("count(*), ", "")) == full.one(count.replace("count(*), ", ""))
    assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.usage_completions") == 0
