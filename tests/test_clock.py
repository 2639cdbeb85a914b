"""The simulator's clock: what changes when it advances, what never changes, and determinism (SPEC 8).

Each test starts its own simulator at the fixed clock NOW (seed 10, small: it has users who leave,
a project that gets archived, files that get deleted and skills that gain versions within days).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from conftest import NOW
from simhttp import Api, project_api, usage_buckets, walk

from openai_sync.simulator import Simulator, World
from openai_sync.simulator.world import DAY, HOUR

ALL_COMPLETION_DIMS = ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier"]


@pytest.fixture
def csim() -> Iterator[Simulator]:
    with Simulator(World(seed=10, size="small", now=NOW)) as s:
        yield s


def hours_until(sim: Simulator, t: int) -> float:
    return (t - sim.world.now) / HOUR


def by_group(buckets: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """(bucket start, group) -> result, for grouped usage buckets."""
    out = {}
    for b in buckets:
        for r in b["results"]:
            out[(b["start_time"], *(r[d] for d in ALL_COMPLETION_DIMS))] = r
    return out


# ---- the clock itself --------------------------------------------------------------------------------
def test_advance_over_http(csim):
    root = csim.base_url[: -len("/v1")]
    with httpx2.Client(base_url=root, timeout=10) as c:
        assert c.get("/_sim/clock").json()["now"] == NOW
        r = c.post("/_sim/advance", params={"hours": 5})
        assert r.status_code == 200 and r.json() == {"now": NOW + 5 * HOUR}
        assert c.post("/_sim/advance", params={"hours": 0.5}).json() == {"now": NOW + 5 * HOUR + 1800}
        assert csim.world.now == NOW + 5 * HOUR + 1800
        back = c.post("/_sim/advance", params={"hours": -1})
        assert back.status_code == 400, "the clock only moves forward"
    assert csim.world.now == NOW + 5 * HOUR + 1800
    assert csim.advance(1) == NOW + 6 * HOUR + 1800


# ---- usage --------------------------------------------------------------------------------------------
def test_new_usage_buckets_appear(csim):
    with Api(csim) as api:
        def hours() -> list[dict[str, Any]]:
            return usage_buckets(api, "/organization/usage/completions", start_time=NOW - 3 * HOUR,
                                 bucket_width="1h", limit=168)

        before = hours()
        assert [b["start_time"] for b in before] == [NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR]
        csim.advance(10)
        after = hours()
        assert [b["start_time"] for b in after] == list(range(NOW - 3 * HOUR, NOW + 10 * HOUR, HOUR))
        assert any(b["results"] for b in after[3:]), "the new hours have usage"
        days = usage_buckets(api, "/organization/usage/completions", start_time=NOW - DAY, limit=31)
        assert [b["start_time"] for b in days] == [NOW - DAY, NOW], "a new (partial) day"
        costs = usage_buckets(api, "/organization/costs", start_time=NOW - DAY, limit=31)
        assert [b["start_time"] for b in costs] == [NOW - DAY, NOW] and costs[1]["results"]


def test_recent_buckets_are_restated_and_older_ones_never_change(csim):
    with Api(csim) as api:
        def read(**kw: Any) -> dict[tuple, dict[str, Any]]:
            return by_group(usage_buckets(api, "/organization/usage/completions", start_time=NOW - 72 * HOUR,
                                          end_time=NOW, bucket_width="1h", limit=168,
                                          group_by=ALL_COMPLETION_DIMS, **kw))

        first = read()
        csim.advance(6)
        second = read()
        csim.advance(24)
        final = read()
        csim.advance(50)
        assert read() == final, "buckets that ended more than 24 h ago never change again"

    old = {k for k in first if k[0] + HOUR <= NOW - 24 * HOUR}
    recent = set(first) - old
    assert old and recent
    for k in old:
        assert second[k] == first[k] == final[k], "older buckets never change"
    grew = 0
    for k in recent:
        for m, v in first[k].items():
            if isinstance(v, int) and not isinstance(v, bool):
                assert first[k][m] <= second[k][m] <= final[k][m], (k, m)
                grew += first[k][m] < final[k][m]
    assert grew, "recent buckets are reported low, then restated up to their final count"
    assert set(second) == set(first) and set(final) == set(first), "restatement changes values, not groups"
    # the path does not matter: one jump to the same clock reads the same final counts
    with Simulator(World(seed=10, size="small", now=NOW)) as other, Api(other) as api:
        other.advance(80)
        again = by_group(usage_buckets(api, "/organization/usage/completions", start_time=NOW - 72 * HOUR,
                                       end_time=NOW, bucket_width="1h", limit=168,
                                       group_by=ALL_COMPLETION_DIMS))
    assert again == final


def test_restated_costs_follow_usage(csim):
    with Api(csim) as api:
        def day_cost() -> float:
            b = usage_buckets(api, "/organization/costs", start_time=NOW - DAY, end_time=NOW, limit=1)
            return sum(r["amount"]["value"] for x in b for r in x["results"])

        def older_cost() -> float:
            b = usage_buckets(api, "/organization/costs", start_time=NOW - 5 * DAY, end_time=NOW - 2 * DAY)
            return sum(r["amount"]["value"] for x in b for r in x["results"])

        d0, o0 = day_cost(), older_cost()
        csim.advance(30)
        assert day_cost() > d0, "yesterday's cost grows as its usage is restated"
        assert older_cost() == o0


# ---- audit logs -----------------------------------------------------------------------------------------
def test_new_audit_events_appear_and_old_ones_stay(csim):
    with Api(csim) as api:
        before = walk(api, "/organization/audit_logs", limit=100, **{"effective_at[gte]": NOW - 2 * DAY})
        csim.advance(12)
        after = walk(api, "/organization/audit_logs", limit=100, **{"effective_at[gte]": NOW - 2 * DAY})
    assert before and after[len(after) - len(before):] == before, "old events are unchanged, newest first"
    new = after[: len(after) - len(before)]
    assert len(new) >= 5
    assert all(NOW < e["effective_at"] <= NOW + 12 * HOUR for e in new)
    assert [e["effective_at"] for e in new] == sorted((e["effective_at"] for e in new), reverse=True)
    assert not {e["id"] for e in new} & {e["id"] for e in before}


# ---- organization objects ------------------------------------------------------------------------------
def test_users_with_a_future_removal_disappear(csim):
    w = csim.world
    leaving = [u for u in w.users if u.removed_at is not None and u.removed_at > NOW]
    assert len(leaving) == 3  # two drawn, and the departure the world guarantees within a day
    with Api(csim) as api:
        def members(pid: str) -> set[str]:
            return {u["id"] for u in walk(api, f"/organization/projects/{pid}/users", limit=100)}

        def groups() -> dict[str, set[str]]:
            return {g: {u["id"] for u in walk(api, f"/organization/groups/{g}/users", "next")}
                    for g, *_ in w.groups}

        users = {u["id"] for u in walk(api, "/organization/users", limit=100)}
        in_projects = {p.id: members(p.id) for p in w.projects}
        in_groups = groups()
        for u in leaving:
            assert u.id in users
            assert api.ok(f"/organization/users/{u.id}")["id"] == u.id
            assert api.ok(f"/organization/users/{u.id}/roles")["data"]
        homes = [(pid, u.id) for u in leaving for pid, ms in in_projects.items() if u.id in ms]
        assert homes, "the leaving users are project members too"

        first = min(leaving, key=lambda u: u.removed_at)
        csim.advance(hours_until(csim, first.removed_at) - 0.01)
        assert {u["id"] for u in walk(api, "/organization/users", limit=100)} == users
        csim.advance(0.01)
        assert {u["id"] for u in walk(api, "/organization/users", limit=100)} == users - {first.id}
        csim.advance(hours_until(csim, max(u.removed_at for u in leaving)))

        gone = {u.id for u in leaving}
        assert {u["id"] for u in walk(api, "/organization/users", limit=100)} == users - gone
        for u in leaving:
            api.err(404, f"/organization/users/{u.id}")
            api.err(404, f"/organization/users/{u.id}/roles")
        for pid, ms in in_projects.items():
            assert members(pid) == ms - gone
        for pid, uid in homes:
            api.err(404, f"/organization/projects/{pid}/users/{uid}")
        assert groups() == {g: ms - gone for g, ms in in_groups.items()}


def test_project_with_a_future_archive_time_becomes_archived(csim):
    w = csim.world
    p = next(p for p in w.projects if p.archived_at is not None and p.archived_at > NOW)
    key = w.project_keys[p.id]
    with Api(csim) as api, Api(csim, key) as proj:
        default = {x["id"] for x in walk(api, "/organization/projects")}
        assert p.id in default
        before = api.ok(f"/organization/projects/{p.id}")
        assert before["status"] == "active" and before["archived_at"] is None
        assert proj.ok("/files", limit=1)["data"]

        csim.advance(hours_until(csim, p.archived_at) - 0.01)
        assert api.ok(f"/organization/projects/{p.id}")["status"] == "active"
        csim.advance(0.01)

        after = api.ok(f"/organization/projects/{p.id}")
        assert after["status"] == "archived" and after["archived_at"] == p.archived_at
        assert {k: v for k, v in after.items() if k not in ("status", "archived_at")} == \
            {k: v for k, v in before.items() if k not in ("status", "archived_at")}
        assert {x["id"] for x in walk(api, "/organization/projects")} == default - {p.id}
        every = walk(api, "/organization/projects", include_archived=True)
        assert after in every
        # its historical usage is still there, and still names it
        usage = usage_buckets(api, "/organization/usage/completions", start_time=NOW - 5 * DAY,
                              group_by=["project_id"], project_ids=[p.id])
        assert any(b["results"] for b in usage)
        # and its key stops working, like a real archived project's keys
        assert proj.get("/files").status_code == 401


# ---- project objects -------------------------------------------------------------------------------------
BATCH_TIMES = ("created_at", "in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
               "cancelled_at")
TERMINAL_BATCH = {"completed", "failed", "expired", "cancelled"}
BATCH_ORDER = {"validating": 0, "in_progress": 1, "finalizing": 2, "completed": 3, "failed": 3, "expired": 3,
               "cancelled": 3}
RUN_ORDER = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2, "canceled": 2}
JOB_ORDER = {"validating_files": 0, "queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}


def test_batches_runs_and_jobs_move_forward_and_then_never_change(csim):
    """Step the clock an hour at a time over two days and watch every batch, eval run and job."""
    w = csim.world
    stable = [pid for pid in w.project_keys
              if w.project_by_id[pid].archived_at is None or w.project_by_id[pid].archived_at > NOW + 3 * DAY]
    assert len(stable) >= 2
    apis = [project_api(csim, pid) for pid in stable]
    seen_batch: dict[str, dict[str, Any]] = {}
    seen_run: dict[str, dict[str, Any]] = {}
    seen_job: dict[str, dict[str, Any]] = {}
    finished = {"batch": 0, "run": 0, "job": 0}
    items_appeared = 0
    try:
        for _step in range(49):
            now = w.now
            for api in apis:
                for b in walk(api, "/batches", limit=100):
                    for f in BATCH_TIMES:
                        assert b.get(f) is None or b[f] <= now, (b["id"], f, "a time in the future")
                    old = seen_batch.get(b["id"])
                    if old is not None:
                        if old["status"] in TERMINAL_BATCH:
                            assert b == old, "a finished batch never changes"
                        assert BATCH_ORDER[b["status"]] >= BATCH_ORDER[old["status"]]
                        if b["status"] == old["status"] == "in_progress":
                            assert b["request_counts"]["completed"] >= old["request_counts"]["completed"]
                        if old["status"] not in TERMINAL_BATCH and b["status"] in TERMINAL_BATCH:
                            finished["batch"] += 1
                    seen_batch[b["id"]] = b
                for ev in walk(api, "/evals", limit=100):
                    for r in walk(api, f"/evals/{ev['id']}/runs", limit=100):
                        items = walk(api, f"/evals/{ev['id']}/runs/{r['id']}/output_items", limit=100)
                        if r["status"] == "completed":
                            assert len(items) == w.size.output_items_per_run == r["result_counts"]["total"]
                            assert all(i["created_at"] <= now for i in items)
                        else:
                            assert items == [], "output items appear when the run completes"
                        old = seen_run.get(r["id"])
                        if old is not None:
                            assert RUN_ORDER[r["status"]] >= RUN_ORDER[old["status"]]
                            if RUN_ORDER[old["status"]] == 2:
                                assert r == old
                            elif r["status"] == "completed":
                                finished["run"] += 1
                                items_appeared += len(items)
                        seen_run[r["id"]] = r
                for j in walk(api, "/fine_tuning/jobs", "bare", limit=100):
                    assert j["finished_at"] is None or j["finished_at"] <= now
                    old = seen_job.get(j["id"])
                    if old is not None:
                        assert JOB_ORDER[j["status"]] >= JOB_ORDER[old["status"]]
                        if JOB_ORDER[old["status"]] == 2:
                            assert j == old
                        elif JOB_ORDER[j["status"]] == 2:
                            finished["job"] += 1
                    seen_job[j["id"]] = j
            csim.advance(1)
    finally:
        for api in apis:
            api.close()
    assert finished["batch"] >= 1, "an in-progress batch finished while the clock moved"
    assert finished["run"] >= 1 and items_appeared >= w.size.output_items_per_run
    assert all(finished.values()), finished


def test_batch_times_are_never_in_the_future():
    """Every project's batches, every 6 hours over 4 days: no time after the clock, no batch running
    beyond its 24 h completion window, no expiry before it."""
    with Simulator(World(seed=10, size="medium", now=NOW)) as s:
        w = s.world
        apis = [project_api(s, pid) for pid in w.project_keys
                if (w.project_by_id[pid].archived_at or NOW + 9 * DAY) > NOW + 5 * DAY]
        statuses: set[str] = set()
        try:
            for _step in range(17):
                now = w.now
                for api in apis:
                    for b in walk(api, "/batches", limit=100):
                        statuses.add(b["status"])
                        for f in BATCH_TIMES:
                            assert b.get(f) is None or b[f] <= now, (b["id"], f, b[f] - now)
                        assert b["expires_at"] == b["created_at"] + DAY
                        if b["status"] == "in_progress":
                            assert now < b["expires_at"], "running beyond its completion window"
                        if b["status"] == "expired":
                            assert b["expired_at"] == b["expires_at"] <= now
                s.advance(6)
        finally:
            for api in apis:
                api.close()
        assert {"in_progress", "completed", "expired"} <= statuses


def test_batch_in_progress_then_finished(csim):
    w = csim.world
    pid = next(iter(w.project_keys))
    pd = w.project_data(pid)
    b = next(it for it in pd.batches_seq.alive(NOW + 7 * DAY) if it.created > NOW)
    with project_api(csim, pid) as api:
        api.err(404, f"/batches/{b.id}")
        assert b.id not in {x["id"] for x in walk(api, "/batches", limit=100)}
        csim.advance(hours_until(csim, b.created) + 0.1)
        running = api.ok(f"/batches/{b.id}")
        assert running["status"] == "in_progress" and running["in_progress_at"] <= w.now
        assert walk(api, "/batches", limit=100)[0] == running, "the newest batch comes first"
        csim.advance(25)  # beyond any batch's duration and its 24 h completion window
        done = api.ok(f"/batches/{b.id}")
        assert done["status"] in TERMINAL_BATCH
        end = done.get("completed_at") or done.get("failed_at") or done.get("expired_at")
        assert running["in_progress_at"] < end <= w.now
        csim.advance(100)
        assert api.ok(f"/batches/{b.id}") == done


def test_files_with_a_deletion_time_disappear(csim):
    w = csim.world
    doomed = []
    for pid in w.project_keys:
        seq = w.project_data(pid).files_seq
        doomed += [(pid, it) for it in (seq.make(i) for i in range(seq.bound(NOW)))
                   if it.gone is not None and it.gone > NOW]
    assert doomed
    pid, f = min(doomed, key=lambda x: x[1].gone)
    with project_api(csim, pid) as api:
        before = [x["id"] for x in walk(api, "/files", limit=100)]
        assert f.id in before and api.ok(f"/files/{f.id}")["id"] == f.id
        csim.advance(hours_until(csim, f.gone) - 0.01)
        assert f.id in {x["id"] for x in walk(api, "/files", limit=100)}
        csim.advance(0.01)
        after = [x["id"] for x in walk(api, "/files", limit=100)]
        assert f.id not in after
        api.err(404, f"/files/{f.id}")
        assert [x for x in before if x != f.id] == [x for x in after if x in before], "the others stay"


def test_vector_store_with_a_deletion_time_disappears(sim):
    w = sim.world
    found = [(pid, v) for pid in w.project_keys for v in w.project_data(pid).vector_stores
             if v[1] <= NOW and v[2] is not None and v[2] > NOW]
    assert found, "seed 7 has a vector store deleted after an advance"
    pid, (vid, _c, gone) = found[0]
    with project_api(sim, pid) as api:
        assert vid in {x["id"] for x in walk(api, "/vector_stores")}
        assert walk(api, f"/vector_stores/{vid}/files")
        sim.advance(hours_until(sim, gone))
        assert vid not in {x["id"] for x in walk(api, "/vector_stores")}
        api.err(404, f"/vector_stores/{vid}")


def test_skills_gain_versions(csim):
    w = csim.world
    growing = [(pid, s) for pid in w.project_keys for s in w.project_data(pid).skills
               if s[1] <= NOW and s[2][-1][1] > NOW]
    assert growing
    pid, (sid, _c, versions) = growing[0]
    with project_api(csim, pid) as api:
        before = walk(api, f"/skills/{sid}/versions")
        skill = api.ok(f"/skills/{sid}")
        assert skill["latest_version"] == before[0]["version"] == versions[-2][0]
        csim.advance(hours_until(csim, versions[-1][1]))
        after = walk(api, f"/skills/{sid}/versions")
        assert after[1:] == before, "newest first: the new version on top, the old ones unchanged"
        assert after[0]["version"] == versions[-1][0]
        assert int(after[0]["version"]) == int(before[0]["version"]) + 1
        assert api.ok(f"/skills/{sid}")["latest_version"] == after[0]["version"]


# ---- determinism ----------------------------------------------------------------------------------------
PROBES: list[tuple[str, dict[str, Any]]] = [
    ("/organization/users", {"limit": 100}),
    ("/organization/projects", {"include_archived": True}),
    ("/organization/audit_logs", {"limit": 100}),
    ("/organization/usage/completions", {"start_time": NOW - 10 * DAY, "group_by": ALL_COMPLETION_DIMS}),
    ("/organization/usage/completions", {"start_time": NOW - 2 * DAY, "bucket_width": "1h",
                                         "group_by": ["model"]}),
    ("/organization/usage/vector_stores", {"start_time": NOW - 10 * DAY, "group_by": ["project_id"]}),
    ("/organization/costs", {"start_time": NOW - 10 * DAY, "group_by": ["line_item", "project_id"]}),
]
PROJECT_PROBES: list[tuple[str, dict[str, Any]]] = [
    ("/files", {"limit": 50}), ("/batches", {}), ("/evals", {}), ("/chat/completions", {"limit": 50}),
    ("/fine_tuning/jobs", {}), ("/vector_stores", {}), ("/skills", {}), ("/models", {}),
]


def snapshot(sim: Simulator) -> list[Any]:
    out: list[Any] = []
    with Api(sim) as api:
        out += [api.ok(p, **q) for p, q in PROBES]
    with project_api(sim) as api:
        out += [api.ok(p, **q) for p, q in PROJECT_PROBES]
    return out


def test_same_seed_and_clock_render_identical_pages():
    with Simulator(World(seed=5, size="small", now=NOW)) as a, \
            Simulator(World(seed=5, size="small", now=NOW)) as b:
        # read b's usage first: caches and reading order must not matter
        Api(b).ok("/organization/usage/completions", start_time=NOW - 30 * DAY, bucket_width="1h")
        assert snapshot(a) == snapshot(b)
        a.advance(7.5)
        b.advance(3)
        b.advance(4.5)
        assert snapshot(a) == snapshot(b)
        assert a.world.admin_key == b.world.admin_key and a.world.project_keys == b.world.project_keys


def test_different_seeds_differ():
    with Simulator(World(seed=5, size="small", now=NOW)) as a, \
            Simulator(World(seed=6, size="small", now=NOW)) as b:
        sa, sb = snapshot(a), snapshot(b)
        probes = [p for p, _q in PROBES + PROJECT_PROBES]
        for probe, x, y in zip(probes, sa, sb, strict=True):
            if probe != "/models":  # the base models are the same in every organization
                assert x != y, probe
        assert a.world.org_id != b.world.org_id


def test_date_header_carries_the_simulated_clock(sim):
    import email.utils

    import httpx2

    r = httpx2.get(sim.base_url + "/organization/users", headers={"Authorization": f"Bearer {sim.world.admin_key}"})
    assert email.utils.parsedate_to_datetime(r.headers["date"]).timestamp() == sim.world.now
    sim.advance(5)
    r = httpx2.get(sim.base_url + "/organization/users", headers={"Authorization": f"Bearer {sim.world.admin_key}"})
    assert email.utils.parsedate_to_datetime(r.headers["date"]).timestamp() == sim.world.now
