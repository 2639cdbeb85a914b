"""A table whose rows the destination refuses fails alone: the other tables load and move their watermarks, its
own watermark stays, the next run reads it again, and nothing blocks the runs after it (dlt would otherwise
retry the refused package forever, and every later run would fail on it)."""

from __future__ import annotations

from conftest import NOW
from destinations_support import Dest
from test_sync import config

from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World

TABLES = ["audit_logs", "users", "usage_completions"]


def test_rows_the_destination_refuses_fail_their_table_alone_and_block_nothing(tmp_path):
    dest = Dest("postgres", tmp_path)  # a constraint added by hand refuses rows (DuckDB cannot add one later)
    world = World(seed=7, size="small", now=NOW)
    try:
        with Simulator(world) as sim:
            cfg = config(sim, dest, tables=TABLES)
            assert {r.status for r in sync(cfg)[0]} == {"ok"}
            before = dest.one("SELECT count(*) FROM openai.audit_logs")
            # someone adds a constraint that this run's new audit events break
            dest.exec("ALTER TABLE openai.audit_logs ADD CONSTRAINT no_logins CHECK "
                      "(type <> 'login.succeeded' OR effective_at < '2026-01-05') NOT VALID")
            sim.advance(48)
            results, _ = sync(cfg)
            by = {r.name: r for r in results}
            assert by["users"].status == "ok" and by["usage_completions"].status == "ok"
            assert by["audit_logs"].status == "failed", by["audit_logs"]
            assert "refused its rows" in by["audit_logs"].error and "no_logins" in by["audit_logs"].error
            assert dest.one("SELECT count(*) FROM openai.audit_logs") == before
            dest.exec("ALTER TABLE openai.audit_logs DROP CONSTRAINT no_logins")
            results, _ = sync(cfg)  # not blocked by the refused package, and the watermark did not move
            assert {r.name: r.status for r in results} == dict.fromkeys(TABLES, "ok")
        assert dest.one("SELECT count(*) FROM openai.audit_logs") == world.audit_seq.bound(world.now)
        assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.audit_logs") == 0
    finally:
        dest.wipe()
