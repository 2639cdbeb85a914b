"""The official SDK against the simulator: complete listings (auto-pagination) of every org and project
resource the SDK offers for a simulated route, compared with the world's ground truth.

Each object is compared whole: the SDK's `to_dict()` (what the API sent, unknown fields included) must
equal what the world renders for the clock, so that nothing is lost or reordered between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import openai
import pytest
from conftest import admin_client, project_client

from openai_sync.simulator import Simulator
from openai_sync.simulator.seq import Seq
from openai_sync.simulator.usage import USAGE_TYPES, WIDTHS
from openai_sync.simulator.world import DAY, World


def dicts(objs: Iterable[Any]) -> list[dict[str, Any]]:
    return [o.to_dict() for o in objs]


def rendered(seq: Seq | None, now: int, desc: bool = False, keep: Callable[[Any], bool] | None = None
             ) -> list[dict[str, Any]]:
    assert seq is not None
    out = [it.render(now) for it in seq.alive(now)]
    out = [x for x in out if keep is None or keep(x)]
    return out[::-1] if desc else out


@pytest.fixture(scope="module")
def admin(shared_sim: Simulator) -> openai.OpenAI:
    return admin_client(shared_sim)


@pytest.fixture(scope="module")
def world(shared_sim: Simulator) -> World:
    return shared_sim.world


# ---- organization --------------------------------------------------------------------------------
def test_users(admin, world):
    now = world.now
    got = dicts(admin.admin.organization.users.list(limit=7))
    assert got == rendered(world.users_seq, now)
    # independent of Seq: the users that exist at the clock, by the world's own records
    alive = {u.id for u in world.users if u.added_at <= now and (u.removed_at is None or now < u.removed_at)}
    assert {u["id"] for u in got} == alive and len(got) == len(alive)
    u = world.users[3]
    assert admin.admin.organization.users.retrieve(u.id).to_dict() == world.user_json(u)
    by_email = dicts(admin.admin.organization.users.list(emails=[u.email, world.users[5].email]))
    assert [x["id"] for x in by_email] == [x["id"] for x in got if x["id"] in (u.id, world.users[5].id)]


def test_user_roles(admin, world):
    for u in world.users_seq.alive(world.now):
        got = dicts(admin.admin.organization.users.roles.list(u.id, limit=1))
        assert got == rendered(world.user_roles_seq(u.id), world.now), u.id
        assert got


def test_roles_of_groups_and_project_members(admin, world):
    """group_roles, project_user_roles and project_group_roles through the SDK's own methods and paths."""
    now, o = world.now, admin.admin.organization
    for gid, *_ in world.groups:
        got = dicts(o.groups.roles.list(gid, limit=1))
        assert got == rendered(world.group_roles_seq(gid), now) and got, gid
    seen = {"users": 0, "groups": 0}
    for p in world.projects:
        for it in world.project_users_seq(p).alive(now):
            got = dicts(o.projects.users.roles.list(it.id, project_id=p.id, limit=1))
            assert got == rendered(world.project_user_roles_seq(p, it.id), now) and got, (p.id, it.id)
            seen["users"] += 1
        for it in world.project_groups_seq(p).alive(now):
            got = dicts(o.projects.groups.roles.list(it.id, project_id=p.id, limit=1))
            assert got == rendered(world.project_group_roles_seq(p, it.id), now) and got, (p.id, it.id)
            seen["groups"] += 1
    assert all(seen.values()), seen


def test_invites(admin, world):
    got = dicts(admin.admin.organization.invites.list(limit=3))
    assert got == rendered(world.invites_seq, world.now)
    assert len(got) == world.size.invites
    assert admin.admin.organization.invites.retrieve(got[-1]["id"]).to_dict() == got[-1]


def test_projects_with_and_without_archived(admin, world):
    now = world.now
    every = dicts(admin.admin.organization.projects.list(include_archived=True, limit=5))
    assert every == rendered(world.projects_seq, now)
    assert len(every) == len(world.projects)
    active = dicts(admin.admin.organization.projects.list(limit=5))
    assert active == [p for p in every if p["status"] == "active"]
    assert len(active) < len(every)
    p = world.projects[-1]
    assert admin.admin.organization.projects.retrieve(p.id).to_dict() == world.project_json(p, now)


def test_project_children(admin, world):
    """users, service accounts, API keys, rate limits, groups, roles, certificates, spend alerts, settings."""
    now = world.now
    o = admin.admin.organization.projects
    counted: dict[str, int] = {}
    for p in world.projects:
        lists = {
            "users": (o.users.list(p.id, limit=3), world.project_users_seq(p), False),
            "service_accounts": (o.service_accounts.list(p.id, limit=1),
                                 world.project_service_accounts_seq(p), False),
            "api_keys": (o.api_keys.list(p.id, limit=1), world.project_api_keys_seq(p), False),
            "rate_limits": (o.rate_limits.list_rate_limits(p.id, limit=3), world.project_rate_limits_seq(p),
                            False),
            "groups": (o.groups.list(p.id, limit=1), world.project_groups_seq(p), False),
            "roles": (o.roles.list(p.id, limit=2), world.project_roles_seq(p), False),
            "certificates": (o.certificates.list(p.id, limit=1), world.project_certificates_seq(p), True),
            "spend_alerts": (o.spend_alerts.list(p.id, limit=1), world.project_spend_alerts_seq(p), False),
        }
        for name, (page, seq, desc) in lists.items():
            got = dicts(page)
            assert got == rendered(seq, now, desc), (p.id, name)
            counted[name] = counted.get(name, 0) + len(got)
        assert o.spend_limit.retrieve(p.id).to_dict() == world.project_spend_limit(p)
        assert o.data_retention.retrieve(p.id).to_dict() == world.project_data_retention(p)
        assert o.model_permissions.retrieve(p.id).to_dict() == world.project_model_permissions(p)
        assert o.hosted_tool_permissions.retrieve(p.id).to_dict() == world.project_hosted_tool_permissions(p)
        members = [uid for uid, _r, added in p.members if added <= now
                   and (world.user_by_id[uid].removed_at is None or now < world.user_by_id[uid].removed_at)]
        assert sorted(x["id"] for x in dicts(o.users.list(p.id))) == sorted(members)
        m = members[0]
        assert o.users.retrieve(m, project_id=p.id).to_dict() == rendered(
            world.project_users_seq(p), now, keep=lambda x, m=m: x["id"] == m)[0]
        k = p.api_keys[0]
        assert o.api_keys.retrieve(k.id, project_id=p.id).to_dict()["redacted_value"] == k.redacted
        keys = dicts(o.api_keys.list(p.id))
        assert dicts(o.api_keys.list(p.id, owner_project_access="any")) == keys
        assert dicts(o.api_keys.list(p.id, owner_project_access="active")) == [
            x for x in keys if x["owner_project_access"] == "active"]
        assert dicts(o.api_keys.list(p.id, owner_project_access="inactive")) == [
            x for x in keys if x["owner_project_access"] == "inactive"]
        sa = p.service_accounts[0]
        assert o.service_accounts.retrieve(sa[0], project_id=p.id).to_dict()["name"] == sa[1]
    # every kind of child was actually listed somewhere (paging over more than one page included)
    assert all(counted.values()), counted


def test_org_level_lists(admin, world):
    now = world.now
    o = admin.admin.organization
    assert dicts(o.admin_api_keys.list(limit=1)) == rendered(world.admin_api_keys_seq, now)
    assert dicts(o.certificates.list(limit=1)) == rendered(world.certificates_seq, now, desc=True)
    assert dicts(o.groups.list(limit=2)) == rendered(world.groups_seq, now)
    assert dicts(o.roles.list(limit=3)) == rendered(world.roles_seq, now)
    assert dicts(o.spend_alerts.list(limit=1)) == rendered(world.spend_alerts_seq, now)
    for gid, *_ in world.groups:
        got = dicts(o.groups.users.list(gid, limit=3))
        assert got == rendered(world.group_users_seq(gid), now, desc=True), gid
    k = world.admin_keys[1]
    assert o.admin_api_keys.retrieve(k.id).to_dict()["redacted_value"] == k.redacted


def test_audit_logs(admin, world):
    now = world.now
    seq = world.audit_seq
    lo = now - 10 * DAY
    got = dicts(admin.admin.organization.audit_logs.list(limit=100, effective_at={"gte": lo}))
    want = [seq.make(i).render(now) for i in range(seq.bound(now) - 1, seq.bound(lo - 1) - 1, -1)]
    assert got == want
    changes = [c for c in world.audit.changes if lo <= c.t <= now]
    assert len(got) == 10 * world.size.audit_events_per_day + len(changes)
    ev = next(e for e in got[len(got) // 2:] if "project" in e and e["actor"]["type"] == "api_key"
              and "service_account" in e["actor"]["api_key"])
    actor_id = ev["actor"]["api_key"]["service_account"]["id"]
    for kw, keep in [
        ({"event_types": [ev["type"]]}, lambda e: e["type"] == ev["type"]),
        ({"project_ids": [ev["project"]["id"]]}, lambda e: e.get("project", {}).get("id") == ev["project"]["id"]),
        ({"actor_ids": [actor_id]}, lambda e: actor_id in str(e["actor"])),
        ({"actor_ids": [ev["actor"]["api_key"]["id"]]}, lambda e: ev["actor"]["api_key"]["id"] in str(e["actor"])),
    ]:
        filtered = dicts(admin.admin.organization.audit_logs.list(limit=50, effective_at={"gte": lo}, **kw))
        assert filtered == [e for e in want if keep(e)], kw
        assert ev in filtered


@pytest.mark.parametrize("kind", list(USAGE_TYPES))
def test_usage_every_endpoint(shared_sim, admin, world, kind):
    """Usage pages followed with page=next_page, compared with the engine's buckets for the same range."""
    ut = USAGE_TYPES[kind]
    fn = getattr(admin.admin.organization.usage, kind)
    start = world.now - 40 * DAY
    buckets: list[dict[str, Any]] = []
    page: str | None = None
    while True:
        kw = {"page": page} if page else {}
        r = fn(start_time=start, bucket_width="1d", group_by=list(ut.dims), limit=9, **kw)
        buckets += dicts(r.data)
        if not r.has_more:
            break
        page = r.next_page
    eng = shared_sim.app.usage
    starts = eng.bucket_starts(start, None, WIDTHS["1d"], world.now)
    assert buckets == eng.usage_buckets(kind, starts, WIDTHS["1d"], ut.dims, {}, world.now)
    assert len(buckets) == 40
    assert any(b["results"] for b in buckets), f"{kind}: the medium world has {kind} usage"


def test_costs(shared_sim, admin, world):
    start = world.now - 40 * DAY
    buckets: list[dict[str, Any]] = []
    page: str | None = None
    pages = 0
    while True:
        kw = {"page": page} if page else {}
        r = admin.admin.organization.usage.costs(start_time=start, group_by=["project_id", "line_item"],
                                                 limit=15, **kw)
        pages += 1
        buckets += dicts(r.data)
        if not r.has_more:
            break
        page = r.next_page
    eng = shared_sim.app.usage
    starts = eng.bucket_starts(start, None, DAY, world.now)
    assert buckets == eng.cost_buckets(starts, ("project_id", "line_item"), {}, world.now)
    assert len(buckets) == 40 and pages == 4, "three full pages, then the empty page after the trailing token"


def test_sdk_surfaces_api_errors(shared_sim, admin, world):
    with pytest.raises(openai.BadRequestError) as e:
        admin.admin.organization.users.list(limit=101)
    assert e.value.status_code == 400 and e.value.param == "limit"
    assert e.value.code == "integer_above_max_value"
    with pytest.raises(openai.BadRequestError) as e:
        admin.admin.organization.usage.costs(start_time=world.now - 40 * DAY, limit=181)
    assert e.value.param == "limit"
    with pytest.raises(openai.NotFoundError):
        admin.admin.organization.users.retrieve("user-doesnotexist")
    with pytest.raises(openai.NotFoundError):
        project_client(shared_sim).files.retrieve("file-doesnotexist")


# ---- project resources (project keys) --------------------------------------------------------------
def _project(shared_sim: Simulator, pid: str) -> None:
    w = shared_sim.world
    now = w.now
    pd = w.project_data(pid)
    c = project_client(shared_sim, pid)

    files = dicts(c.files.list(limit=100))
    assert files == rendered(pd.files_seq, now, desc=True)
    assert len(files) > 100
    assert dicts(c.files.list(order="asc", limit=250)) == files[::-1]
    purpose = files[0]["purpose"]
    assert dicts(c.files.list(purpose=purpose, limit=30)) == [f for f in files if f["purpose"] == purpose]
    assert c.files.retrieve(files[-1]["id"]).to_dict() == files[-1]

    batches = dicts(c.batches.list(limit=10))
    assert batches == rendered(pd.batches_seq, now, desc=True)
    assert c.batches.retrieve(batches[0]["id"]).to_dict() == batches[0]

    evals = dicts(c.evals.list(limit=1))
    assert evals == rendered(pd.evals_seq, now)
    assert dicts(c.evals.list(order_by="updated_at", limit=2)) == evals  # evals are never updated here
    with pytest.raises(openai.BadRequestError):
        c.evals.list(extra_query={"order_by": "name"})
    for ev in evals:
        runs = dicts(c.evals.runs.list(ev["id"], limit=1))
        assert runs == rendered(pd.runs_seq(ev["id"]), now)
        done = dicts(c.evals.runs.list(ev["id"], status="completed"))
        assert done == [r for r in runs if r["status"] == "completed"]
        for run in runs:
            assert c.evals.runs.retrieve(run["id"], eval_id=ev["id"]).to_dict() == run
            items = dicts(c.evals.runs.output_items.list(run["id"], eval_id=ev["id"], limit=7))
            assert items == rendered(pd.output_items_seq(ev["id"], run["id"]), now)
            assert (len(items) == w.size.output_items_per_run) is (run["status"] == "completed")
            passed = dicts(c.evals.runs.output_items.list(run["id"], eval_id=ev["id"], status="pass"))
            assert passed == [i for i in items if i["status"] == "pass"]
        assert c.evals.retrieve(ev["id"]).to_dict() == ev

    skills = dicts(c.skills.list(limit=1))
    assert skills == rendered(pd.skills_seq, now, desc=True)
    for sk in skills:
        versions = dicts(c.skills.versions.list(sk["id"], limit=1))
        assert versions == rendered(pd.skill_versions_seq(sk["id"]), now, desc=True)
        assert versions[0]["version"] == sk["latest_version"]
        assert c.skills.retrieve(sk["id"]).to_dict() == sk

    jobs = dicts(c.fine_tuning.jobs.list(limit=1))
    assert jobs == rendered(pd.ft_jobs_seq, now, desc=True)
    for job in jobs:
        assert dicts(c.fine_tuning.jobs.list_events(job["id"], limit=3)) == rendered(
            pd.ft_events_seq(job["id"]), now, desc=True)
        assert dicts(c.fine_tuning.jobs.checkpoints.list(job["id"], limit=2)) == rendered(
            pd.ft_checkpoints_seq(job["id"]), now, desc=True)
        assert c.fine_tuning.jobs.retrieve(job["id"]).to_dict() == job

    stores = dicts(c.vector_stores.list(limit=1))
    assert stores == rendered(pd.vector_stores_seq, now, desc=True)
    for vs in stores:
        vfiles = dicts(c.vector_stores.files.list(vs["id"], limit=6))
        assert vfiles == rendered(pd.vector_store_files_seq(vs["id"]), now, desc=True)
        assert dicts(c.vector_stores.files.list(vs["id"], filter="completed")) == [
            f for f in vfiles if f["status"] == "completed"]
        assert c.vector_stores.retrieve(vs["id"]).to_dict() == vs

    containers = dicts(c.containers.list(limit=1))
    assert containers == rendered(pd.containers_seq, now, desc=True)
    for ct in containers:
        assert dicts(c.containers.files.list(ct["id"], limit=2)) == rendered(
            pd.container_files_seq(ct["id"]), now, desc=True)
        assert dicts(c.containers.list(name=ct["name"])) == [ct]
        assert c.containers.retrieve(ct["id"]).to_dict() == ct

    assistants = dicts(c.beta.assistants.list(limit=1))
    assert assistants == rendered(pd.assistants_seq, now, desc=True)
    if assistants:
        assert c.beta.assistants.retrieve(assistants[0]["id"]).to_dict() == assistants[0]

    models = dicts(c.models.list())
    assert models == pd.models_json(now)
    fine_tuned = [m for m in models if m["id"].startswith("ft:")]
    assert len(fine_tuned) == sum(1 for j in jobs if j["status"] == "succeeded")

    chats = dicts(c.chat.completions.list(limit=100))
    assert chats == rendered(pd.chat_seq, now)
    model = chats[0]["model"]
    assert dicts(c.chat.completions.list(model=model, limit=100)) == [x for x in chats if x["model"] == model]
    assert dicts(c.chat.completions.list(metadata={"feature": "chat"}, limit=100)) == [
        x for x in chats if x["metadata"]["feature"] == "chat"]
    assert c.chat.completions.retrieve(chats[-1]["id"]).to_dict() == chats[-1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # client.beta.assistants
@pytest.mark.parametrize("n", range(4))
def test_projects_with_their_own_keys(shared_sim, n):
    """Four projects (the SDK's parsing, not the simulator, is what makes each one cost a second)."""
    pids = list(shared_sim.world.project_keys)
    assert len(pids) >= 4
    # spread over the organization: the first, the one archived after an advance, two later ones
    _project(shared_sim, pids[[0, 1, len(pids) // 2, len(pids) - 1][n]])


def test_project_key_sees_only_its_project(shared_sim):
    w = shared_sim.world
    a, b = list(w.project_keys)[:2]
    other = w.project_data(b).files_seq.alive(w.now)[0].id
    with pytest.raises(openai.NotFoundError):
        project_client(shared_sim, a).files.retrieve(other)
    mine = {f.id for f in project_client(shared_sim, a).files.list()}
    assert other not in mine
