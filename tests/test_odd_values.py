"""Odd values never fail the load, and never fail other tables: against pages whose numbers change type from
page to page (the simulator's `shapes` fault), a full sync loads every table; the tables the fault did not
touch equal ground truth, the ones it touched hold every row, their odd values in variant columns."""

from __future__ import annotations

import pytest
from conftest import NOW
from test_projects import loaded as loaded_per_project
from test_projects import truth as project_truth
from test_sync import config, truth_counts

from openai_sync.catalog import ORG_TABLES, PROJECT_TABLES, TABLES
from openai_sync.config import ProjectKey
from openai_sync.runner import sync
from openai_sync.simulator import Rule, Simulator, World

# a usage table (Arrow pages), costs (decimals), a fan-out, and a project table with nested counts
ODD = {"usage_completions": "/organization/usage/completions", "costs": "/organization/costs",
       "project_rate_limits": "/organization/projects/{project_id}/rate_limits", "batches": "/batches"}


def test_a_full_sync_under_odd_values_loads_every_table(dest):
    world = World(seed=7, size="small", now=NOW)
    keys = [ProjectKey(k, p) for p, k in world.project_keys.items()]
    with Simulator(world) as sim:
        sim.set_faults([Rule("shapes", rate=1.0, endpoint=e) for e in ODD.values()])
        results, _ = sync(config(sim, dest, project_keys=keys))
        assert sim.stats()["faults"].get("shapes", 0) > 10  # the fault hit many pages
    failed = {r.name: r.error for r in results if r.status != "ok"}
    assert not failed, failed
    # untouched tables: exactly the ground truth
    want = truth_counts(world)
    for t in ORG_TABLES:
        if t.name in ODD or t.name not in want:
            continue
        live = "NOT _deleted" if TABLES[t.name].soft_delete else "true"
        assert dest.one(f"SELECT count(*) FROM openai.{t.name} WHERE {live}") == want[t.name], t.name
    projects = project_truth(world)
    for t in PROJECT_TABLES:
        if t.name not in ODD:
            assert loaded_per_project(dest, t.name) == {p: c for p, c in projects[t.name].items() if c}, t.name
    # touched tables: every row is there; some values sit in variant columns beside their column
    assert dest.one("SELECT count(*) FROM openai.project_rate_limits WHERE NOT _deleted") == \
        want["project_rate_limits"]
    assert loaded_per_project(dest, "batches") == {p: c for p, c in projects["batches"].items() if c}
    variants = [r for r in dest.q("SELECT table_name, column_name FROM information_schema.columns WHERE "
                                  "table_schema = 'openai' AND column_name LIKE '%\\_\\_v\\_%' ESCAPE '\\'")]
    assert {t for t, _c in variants} & set(ODD), variants
    assert dest.one("SELECT count(*) FROM openai.usage_completions") > 0
    assert dest.one("SELECT count(*) FROM openai.costs") > 0


@pytest.mark.parametrize("shape_hits", [5])
def test_the_shapes_fault_varies_the_types_it_promises(sim, shape_hits):
    from openai_sync.simulator.server import SHAPES, _reshape

    page = {"object": "list", "data": [{"id": "x", "n": 3, "created_at": 1, "nested": {"k": 2}, "flag": True}]}
    seen = []
    for hit in range(shape_hits):
        out = {"object": "list", "data": [dict(page["data"][0], nested=dict(page["data"][0]["nested"]))]}
        _reshape(out, hit)
        obj = out["data"][0]
        assert obj["id"] == "x" and obj["created_at"] == 1 and obj["flag"] is True  # keys and times untouched
        seen.append((SHAPES[hit % len(SHAPES)], obj["n"], obj["nested"]["k"]))
    assert seen == [("nulls", None, None), ("strings", "3", "2"), ("empty", "", ""), ("floats", 3.5, 2.5),
                    ("new", 3, 2)]


def test_a_nul_character_in_names_and_nested_values_loads(dest):
    """PostgreSQL's text cannot hold NUL (U+0000), which JSON allows: such a value must not fail its table."""
    world = World(seed=7, size="small", now=NOW)
    with Simulator(world) as sim:
        sim.set_faults([Rule("nul", rate=1.0, endpoint=e) for e in ("/organization/users", "/organization/audit_logs")])
        results, _ = sync(config(sim, dest, tables=["users", "audit_logs"]))
        assert sim.stats()["faults"].get("nul", 0) >= 2
    assert {r.name: r.status for r in results} == {"users": "ok", "audit_logs": "ok"}
    want = truth_counts(world)
    assert dest.one("SELECT count(*) FROM openai.users WHERE NOT _deleted") == want["users"]
    assert dest.one("SELECT count(*) FROM openai.audit_logs") == want["audit_logs"]
    assert dest.one("SELECT count(*) FROM openai.users WHERE name LIKE 'a%b'") == 1
