"""The filesystem destination as Delta tables (Parquet files plus a transaction log): the same rows as
DuckDB after a first and an incremental sync, merges and soft deletes included."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NOW
from destinations_support import Dest, LakeDest

from openai_sync.api.errors import SyncError
from openai_sync.config import ProjectKey
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"),
                      project_keys=[ProjectKey(k, p) for p, k in sim.world.project_keys.items()], **kw)


def test_delta_tables_hold_what_duckdb_holds_after_a_first_and_an_incremental_sync(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "db").mkdir()
    lake, db = LakeDest(tmp_path / "lake"), Dest("duckdb", tmp_path / "db")
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        for step in range(2):
            for d in (lake, db):
                results, _ = sync(config(sim, d))
                assert {r.status for r in results} == {"ok"}, [r.error for r in results if r.error]
            expected, got = db.snapshot(), lake.snapshot()
            assert set(got) == set(expected)
            for table in expected:
                assert got[table] == expected[table], f"step {step}: {table} differs between Delta and DuckDB"
            if step == 0:
                sim.advance(48)  # new buckets and events, restated usage, deleted users and files
        # soft deletes reached the lake: a departed user is there, marked deleted
        assert lake.one("SELECT count(*) FROM openai.users WHERE _deleted") == \
            db.one("SELECT count(*) FROM openai.users WHERE _deleted") > 0
        assert lake.one("SELECT count(*) FROM openai.files WHERE _deleted") == \
            db.one("SELECT count(*) FROM openai.files WHERE _deleted") > 0
        # the files on disk are Parquet, with a Delta log beside them
        users = tmp_path / "lake" / "lake" / "openai" / "users"
        assert list(users.glob("*.parquet")) and (users / "_delta_log").is_dir()


def test_history_mode_is_refused_on_the_lake(tmp_path):
    with (Simulator(World(seed=7, size="small", now=NOW)) as sim,
          pytest.raises(SyncError, match="history mode is not available on the filesystem destination")):
        sync(config(sim, LakeDest(tmp_path), history_tables=["users"]))
