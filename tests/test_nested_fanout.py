"""A fan-out below a fan-out (the roles of each user of each project) in history mode: one project's failed
listings retire nothing of that project, even for users whose roles in another project were read."""

from __future__ import annotations

from dataclasses import replace

from conftest import NOW
from test_sync import config

from openai_sync.runner import sync
from openai_sync.simulator import Rule, Simulator, World


def test_a_projects_failed_role_listings_retire_none_of_its_versions(dest):
    world = World(seed=7, size="small", now=NOW)
    current = "SELECT project_id, user_id, id FROM openai.project_user_roles WHERE _valid_to IS NULL"
    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=["project_user_roles"], history_tables=["project_user_roles"], max_retries=0)
        assert sync(cfg)[0][0].status == "ok"
        before = set(dest.q(current))
        shared = dest.q("SELECT user_id, min(project_id) FROM openai.project_user_roles GROUP BY user_id "
                        "HAVING count(DISTINCT project_id) > 1")
        assert shared, "a user holds roles in two projects"
        user, failing = shared[0]
        sim.set_faults([Rule("500", rate=1.0, endpoint=f"/projects/{failing}/users")])
        # nothing changed in the organization; a complete listing (a reconciliation): one project's role listings fail
        results, _ = sync(replace(cfg, reconcile=True))
        assert results[0].status != "ok" and failing in (results[0].error or ""), results[0]
        assert set(dest.q(current)) == before  # the failed project's versions are all current still
        assert dest.one(f"SELECT count(*) FROM openai.project_user_roles WHERE _valid_to IS NOT NULL "
                        f"AND user_id = '{user}'") == 0
