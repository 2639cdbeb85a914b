"""Column blocking and keyed hashing, on both destinations."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from conftest import NOW
from destinations_support import Dest

from openai_sync.api.errors import SyncError
from openai_sync.load.privacy import ColumnPolicy, PolicyError, keyed_hash
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World

KEY = "a-long-random-hash-key-for-tests"



def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), **kw)


def columns(dest: Dest, table: str) -> set[str]:
    return {r[0] for r in dest.q("SELECT column_name FROM information_schema.columns "
                                 f"WHERE table_schema = 'openai' AND table_name = '{table}'")}


def test_blocked_columns_never_arrive_and_hashed_ones_still_join(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        results, _ = sync(config(sim, dest, tables=["users", "audit_logs", "usage_completions"],
                                 block_columns=["users.name", "audit_logs.actor__session__ip_address"],
                                 hash_columns=["users.email", "audit_logs.actor__session__user__email",
                                               "usage_completions.user_id", "users.id"],
                                 hash_key=KEY))
    assert all(r.status == "ok" for r in results)
    assert "name" not in columns(dest, "users")
    assert "actor__session__ip_address" not in columns(dest, "audit_logs")
    u = world.users_seq.alive(world.now)[1].render(world.now)
    want = hmac.new(KEY.encode(), u["email"].encode(), hashlib.sha256).hexdigest()
    assert dest.one(f"SELECT count(*) FROM openai.users WHERE email = '{want}'") == 1
    assert dest.one(f"SELECT count(*) FROM openai.users WHERE email = '{u['email']}'") == 0
    # hashed with the same key, an email still joins the audit log's actor email
    assert dest.one("SELECT count(*) FROM openai.audit_logs a JOIN openai.users u "
                    "ON u.email = a.actor__session__user__email") > 0
    # a hashed key column (users.id) joins a hashed dimension of another table (usage user_id)
    assert dest.one("SELECT count(*) FROM openai.usage_completions c JOIN openai.users u ON u.id = c.user_id") > 0


def test_hashes_are_stable_across_runs_and_destinations():
    assert keyed_hash(KEY.encode(), "ada@example.com") == keyed_hash(KEY.encode(), "ada@example.com")
    assert keyed_hash(KEY.encode(), "ada@example.com") != keyed_hash(b"another key", "ada@example.com")
    assert keyed_hash(KEY.encode(), None) is None
    assert keyed_hash(KEY.encode(), {"b": 1, "a": 2}) == keyed_hash(KEY.encode(), {"a": 2, "b": 1})


@pytest.mark.parametrize(("block", "hash_", "key", "message"), [
    (["users.id"], [], None, "users.id is part of the primary key"),
    (["project_users.project_id"], [], None, "project_users.project_id is part of the primary key"),
    (["users"], [], None, "must be TABLE.COLUMN"),
    (["nope.x"], [], None, "unknown table 'nope'"),
    ([], ["users.email"], None, "hash_columns needs a key"),
])
def test_bad_policies_are_refused_with_a_sentence(block, hash_, key, message):
    with pytest.raises(PolicyError, match=message):
        ColumnPolicy(block, hash_, key)


def test_a_bad_policy_stops_the_run_before_anything_is_read(tmp_path):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        cfg = SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                         destination=f"duckdb:///{tmp_path}/x.duckdb", block_columns=["users.id"])
        with pytest.raises(SyncError, match="primary key"):
            sync(cfg)
        assert sim.stats()["total"] == 0
    assert not (tmp_path / "x.duckdb").exists()
