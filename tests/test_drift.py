"""Schema drift on both destinations: a new API field becomes a new column; a type change loses nothing."""

from __future__ import annotations

from dataclasses import replace

import httpx2
from conftest import NOW
from destinations_support import Dest

from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World


def drift(sim: Simulator, endpoint: str, field: str, value: object) -> None:
    r = httpx2.post(sim.base_url.replace("/v1", "/_sim/drift"),
                    json={"endpoint": endpoint, "field": field, "value": value})
    assert r.status_code == 200, r.text


def columns(dest: Dest, table: str) -> dict[str, str]:
    return dict(dest.q("SELECT column_name, data_type FROM information_schema.columns "
                       f"WHERE table_schema = 'openai' AND table_name = '{table}'"))


def test_a_new_field_becomes_a_new_column(dest):
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        cfg = SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=dest.destination,
                         schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), tables=["users", "costs"])
        sync(cfg)
        assert "department" not in columns(dest, "users")
        drift(sim, "/organization/users", "department", "Research")
        drift(sim, "/organization/users", "seat", {"tier": "enterprise", "renewed_at": 1767000000})
        # no audit event says the listing changed shape: its next complete listing (a reconciliation) brings it
        results, _ = sync(replace(cfg, reconcile=True))
        assert all(r.status == "ok" for r in results)
    cols = columns(dest, "users")
    assert "department" in cols and "seat__tier" in cols
    assert cols["seat__renewed_at"] == dest.type_name("TIMESTAMP WITH TIME ZONE")  # new *_at fields are typed
    alive = len(world.users_seq.alive(world.now))
    assert dest.one("SELECT count(*) FROM openai.users WHERE department = 'Research' AND NOT _deleted") == alive


def test_a_type_change_keeps_every_value(dest):
    """Policy: a value that no longer fits its column's type goes to a variant column beside it
    (`role__v_bigint`), so nothing is lost and the original column keeps its type; nothing fails."""
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        cfg = SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=dest.destination,
                         schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), tables=["project_rate_limits"])
        sync(cfg)
        assert columns(dest, "project_rate_limits")["max_requests_per_1_minute"] == dest.type_name("BIGINT")
        drift(sim, "/organization/projects/{project_id}/rate_limits", "max_requests_per_1_minute", "unlimited")
        results, _ = sync(replace(cfg, reconcile=True))  # unannounced by the audit log: the reconciliation
        assert all(r.status == "ok" for r in results), [r.error for r in results]
    cols = columns(dest, "project_rate_limits")
    assert cols["max_requests_per_1_minute"] == dest.type_name("BIGINT")
    variant = [c for c in cols if c.startswith("max_requests_per_1_minute__v_")]
    assert variant, cols
    n = dest.one("SELECT count(*) FROM openai.project_rate_limits WHERE NOT _deleted")
    assert n > 0 and dest.one(f"SELECT count(*) FROM openai.project_rate_limits WHERE {variant[0]} = 'unlimited' "
                              "AND NOT _deleted") == n
