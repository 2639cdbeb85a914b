"""Audit events that the API lists late (it writes its audit log asynchronously) are never lost: each run
re-reads `audit_lookback_seconds` before its watermark. The simulator lists events late on demand
(`audit_delay`), so the loss is reproduced without the lookback and shown gone with it."""

from __future__ import annotations

from conftest import NOW
from destinations_support import Dest

from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.world import parse_audit_delay

DELAY = "0.15:300,0.05:1200"  # 15 % of the events up to 5 minutes late, 5 % up to 20


def hourly(tmp, lookback: int, hours: int = 24) -> tuple[int, int, list[int]]:
    """Sync every hour; return (events lost, events listed, audit requests per incremental run)."""
    world = World(seed=5, size="small", now=NOW, audit_delay=DELAY, audit_events_per_day=1000, history_days=3)
    dest = Dest("duckdb", tmp)
    requests = []
    with Simulator(world) as sim:
        cfg = SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=dest.destination,
                         schema=dest.schema, pipelines_dir=str(tmp / "state"), tables=["audit_logs"],
                         audit_lookback_seconds=lookback)
        sync(cfg)
        for _ in range(hours):
            sim.advance(1)
            results, _ = sync(cfg)
            assert results[0].status == "ok"
            requests.append(results[0].requests)
    listed = {it.id for it in world.audit_seq.alive(world.now)}  # every event the API lists now
    loaded = {r[0] for r in dest.q("SELECT id FROM openai.audit_logs")}
    assert loaded <= listed and dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.audit_logs") == 0
    return len(listed - loaded), len(listed), requests


def test_late_audit_events_are_lost_without_a_lookback_and_kept_with_it(tmp_path, capsys):
    (tmp_path / "none").mkdir()
    (tmp_path / "default").mkdir()
    lost_without, listed, _ = hourly(tmp_path / "none", lookback=0)
    lost_with, listed_too, requests = hourly(tmp_path / "default", lookback=3600)
    with capsys.disabled():
        print(f"\nlate audit events over 24 hourly syncs: {listed} listed; lost without a lookback: {lost_without}; "
              f"with the default 60-minute lookback: {lost_with} (audit requests per run: {max(requests)} at most)")
    assert listed == listed_too
    assert lost_without > 0  # the simulator reproduces the loss
    assert lost_with == 0
    assert max(requests) <= 2  # a page or two per run


def test_the_simulator_lists_events_late_as_asked():
    bands = parse_audit_delay(DELAY)
    assert bands == ((0.15, 300), (0.05, 1200))
    w = World(seed=5, size="small", now=NOW, audit_delay=bands, audit_events_per_day=1000, history_days=3)
    delays = [w.audit_visible_after(i) for i in range(20000)]
    assert 0.78 < sum(d == 0 for d in delays) / len(delays) < 0.82
    assert max(delays) <= 1200 and sum(d > 300 for d in delays) > 0
    for bad in ("0.5", "2:10", "0.5:0", "0.7:10,0.6:10", "x:y"):
        try:
            parse_audit_delay(bad)
        except ValueError as e:
            assert "SHARE:SECONDS" in str(e) or "more than 1" in str(e)
        else:
            raise AssertionError(bad)
