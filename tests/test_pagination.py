"""Pagination of every simulated list: envelopes, cursors, order, limits and their errors (SPEC 7, 8).

Ground truth is the world's own collections (`Seq.alive`), never another page of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simhttp import Api, pages, project_api, usage_buckets, usage_pages, walk

from openai_sync.simulator import Simulator
from openai_sync.simulator.seq import Seq
from openai_sync.simulator.world import DAY, HOUR, World

Truth = Callable[[World, int], Seq]


@dataclass(frozen=True)
class L:
    """One simulated list route, as the OpenAPI contract (and the SDK, where newer) describes it."""

    name: str
    path: Callable[[World], str]
    truth: Truth  # the world's collection behind it
    envelope: str = "list"  # list | next | bare
    default: int = 20
    hi: int = 100
    lo: int = 1
    order: str = "asc"  # the default order
    order_param: bool = True  # accepts ?order=
    before: bool = False  # accepts ?before=
    project: bool = False  # read with a project key (of the first project)
    keep: Callable[[World, int, str], bool] | None = None  # a filter the route applies by default
    id_key: str = "id"  # the field that holds the object's id

    def __repr__(self) -> str:  # readable hypothesis / parametrize ids
        return self.name


# -- choosing sub-resources with the most items, so that paging is exercised ----------------------
def _richest(options: list[Any], size: Callable[[Any], int]) -> Any:
    return max(options, key=size)


def _proj(w: World, seq_of: Callable[[Any], Seq]):
    return _richest(w.projects, lambda p: len(seq_of(p).alive(w.now0)))


def _pd(w: World):
    return w.project_data(next(iter(w.project_keys)))


def _eval(w: World) -> str:
    pd = _pd(w)
    return _richest([e.id for e in pd.evals_seq.alive(w.now0)], lambda e: len(pd.runs_seq(e).alive(w.now0)))


def _run(w: World) -> tuple[str, str]:
    pd = _pd(w)
    e = _eval(w)
    r = _richest([r.id for r in pd.runs_seq(e).alive(w.now0)],
                 lambda r: len(pd.output_items_seq(e, r).alive(w.now0)))
    return e, r


def _skill(w: World) -> str:
    pd = _pd(w)
    return _richest([s.id for s in pd.skills_seq.alive(w.now0)],
                    lambda s: len(pd.skill_versions_seq(s).alive(w.now0)))


def _vs(w: World) -> str:
    pd = _pd(w)
    return _richest([v.id for v in pd.vector_stores_seq.alive(w.now0)],
                    lambda v: len(pd.vector_store_files_seq(v).alive(w.now0)))


def _container(w: World) -> str:
    pd = _pd(w)
    return _richest([c.id for c in pd.containers_seq.alive(w.now0)],
                    lambda c: len(pd.container_files_seq(c).alive(w.now0)))


def _job(w: World) -> str:
    return _pd(w).ft_jobs_seq.alive(w.now0)[0].id


def _group(w: World) -> str:
    return _richest([g[0] for g in w.groups], lambda g: len(w.group_users_seq(g).alive(w.now0)))


def _user(w: World) -> str:
    return _richest([u.id for u in w.users_seq.alive(w.now0)],
                    lambda u: len(w.user_roles_seq(u).alive(w.now0)))


def _group_with_roles(w: World) -> str:
    return _richest([g[0] for g in w.groups], lambda g: len(w.group_roles_seq(g).alive(w.now0)))


def _member(w: World, seq_of: Callable[[Any], Seq]) -> tuple[Any, str]:
    """A project and one of its members (a user, a group) as of the initial clock."""
    p = _proj(w, seq_of)
    return p, seq_of(p).alive(w.now0)[0].id


def _member_roles_path(w: World, seq_of: Callable[[Any], Seq], kind: str) -> str:
    p, member = _member(w, seq_of)
    return f"/projects/{p.id}/{kind}/{member}/roles"


def _not_archived(w: World, now: int, pid: str) -> bool:
    p = w.project_by_id[pid]
    return p.archived_at is None or p.archived_at > now


def _provider(w: World) -> str:
    return _richest([p[0] for p in w.security.providers], lambda pid: len(w.security.rules_seq(pid).alive(w.now0)))


def _ft_model(w: World) -> str:
    models = [m for p in w.project_keys for m, _done in w.project_data(p).ft_models()]
    return _richest(models, lambda m: len(w.security.model_permissions_seq(m).alive(w.now0)))


LISTS: list[L] = [
    L("users", lambda w: "/organization/users", lambda w, n: w.users_seq, order_param=False),
    L("user_roles", lambda w: f"/organization/users/{_user(w)}/roles",
      lambda w, n: w.user_roles_seq(_user(w)), envelope="next", default=100, hi=1000, lo=0),
    L("invites", lambda w: "/organization/invites", lambda w, n: w.invites_seq, order_param=False),
    L("projects", lambda w: "/organization/projects", lambda w, n: w.projects_seq, order_param=False,
      keep=_not_archived),
    L("project_users", lambda w: f"/organization/projects/{_proj(w, w.project_users_seq).id}/users",
      lambda w, n: w.project_users_seq(_proj(w, w.project_users_seq)), order_param=False),
    L("project_service_accounts",
      lambda w: f"/organization/projects/{_proj(w, w.project_service_accounts_seq).id}/service_accounts",
      lambda w, n: w.project_service_accounts_seq(_proj(w, w.project_service_accounts_seq)),
      order_param=False),
    L("project_api_keys", lambda w: f"/organization/projects/{_proj(w, w.project_api_keys_seq).id}/api_keys",
      lambda w, n: w.project_api_keys_seq(_proj(w, w.project_api_keys_seq)), order_param=False),
    L("project_rate_limits",
      lambda w: f"/organization/projects/{_proj(w, w.project_rate_limits_seq).id}/rate_limits",
      lambda w, n: w.project_rate_limits_seq(_proj(w, w.project_rate_limits_seq)), default=100,
      order_param=False, before=True),
    L("project_groups", lambda w: f"/organization/projects/{_proj(w, w.project_groups_seq).id}/groups",
      lambda w, n: w.project_groups_seq(_proj(w, w.project_groups_seq)), envelope="next", lo=0,
      id_key="group_id"),
    L("project_certificates",
      lambda w: f"/organization/projects/{_proj(w, w.project_certificates_seq).id}/certificates",
      lambda w, n: w.project_certificates_seq(_proj(w, w.project_certificates_seq)), order="desc"),
    L("project_spend_alerts",
      lambda w: f"/organization/projects/{_proj(w, w.project_spend_alerts_seq).id}/spend_alerts",
      lambda w, n: w.project_spend_alerts_seq(_proj(w, w.project_spend_alerts_seq)), lo=0, before=True),
    L("project_roles", lambda w: f"/projects/{w.projects[0].id}/roles",
      lambda w, n: w.project_roles_seq(w.projects[0]), envelope="next", default=1000, hi=1000, lo=0),
    L("project_user_roles",
      lambda w: _member_roles_path(w, w.project_users_seq, "users"),
      lambda w, n: w.project_user_roles_seq(*_member(w, w.project_users_seq)), envelope="next", default=100,
      hi=1000, lo=0),
    L("project_group_roles",
      lambda w: _member_roles_path(w, w.project_groups_seq, "groups"),
      lambda w, n: w.project_group_roles_seq(*_member(w, w.project_groups_seq)), envelope="next", default=100,
      hi=1000, lo=0),
    L("admin_api_keys", lambda w: "/organization/admin_api_keys", lambda w, n: w.admin_api_keys_seq),
    L("certificates", lambda w: "/organization/certificates", lambda w, n: w.certificates_seq, order="desc"),
    L("groups", lambda w: "/organization/groups", lambda w, n: w.groups_seq, envelope="next", default=100,
      hi=1000, lo=0),
    L("group_users", lambda w: f"/organization/groups/{_group(w)}/users",
      lambda w, n: w.group_users_seq(_group(w)), envelope="next", default=100, hi=1000, lo=0, order="desc"),
    L("group_roles", lambda w: f"/organization/groups/{_group_with_roles(w)}/roles",
      lambda w, n: w.group_roles_seq(_group_with_roles(w)), envelope="next", default=100, hi=1000, lo=0),
    L("roles", lambda w: "/organization/roles", lambda w, n: w.roles_seq, envelope="next", default=1000,
      hi=1000, lo=0),
    L("spend_alerts", lambda w: "/organization/spend_alerts", lambda w, n: w.spend_alerts_seq, lo=0,
      before=True),
    L("workload_identity_providers", lambda w: "/organization/workload_identity_providers",
      lambda w, n: w.security.providers_seq),
    L("workload_identity_provider_rules",
      lambda w: f"/organization/workload_identity_providers/{_provider(w)}/federation_rules",
      lambda w, n: w.security.rules_seq(_provider(w))),
    L("external_keys", lambda w: "/organization/external_keys", lambda w, n: w.security.external_keys_seq),
    L("external_storage", lambda w: "/organization/external_storage", lambda w, n: w.security.storage_seq),
    L("fine_tuning_checkpoint_permissions", lambda w: f"/fine_tuning/checkpoints/{_ft_model(w)}/permissions",
      lambda w, n: w.security.model_permissions_seq(_ft_model(w)), default=10, order="desc", order_param=False),
    # project keys
    L("files", lambda w: "/files", lambda w, n: _pd(w).files_seq, default=10000, hi=10000, order="desc",
      project=True),
    L("batches", lambda w: "/batches", lambda w, n: _pd(w).batches_seq, order="desc", order_param=False,
      project=True),
    L("evals", lambda w: "/evals", lambda w, n: _pd(w).evals_seq, project=True),
    L("eval_runs", lambda w: f"/evals/{_eval(w)}/runs", lambda w, n: _pd(w).runs_seq(_eval(w)), project=True),
    L("eval_output_items", lambda w: "/evals/{}/runs/{}/output_items".format(*_run(w)),
      lambda w, n: _pd(w).output_items_seq(*_run(w)), project=True),
    L("skills", lambda w: "/skills", lambda w, n: _pd(w).skills_seq, lo=0, order="desc", project=True),
    L("skill_versions", lambda w: f"/skills/{_skill(w)}/versions",
      lambda w, n: _pd(w).skill_versions_seq(_skill(w)), lo=0, order="desc", project=True),
    L("fine_tuning_jobs", lambda w: "/fine_tuning/jobs", lambda w, n: _pd(w).ft_jobs_seq, envelope="bare",
      order="desc", order_param=False, project=True),
    L("fine_tuning_events", lambda w: f"/fine_tuning/jobs/{_job(w)}/events",
      lambda w, n: _pd(w).ft_events_seq(_job(w)), envelope="bare", order="desc", order_param=False,
      project=True),
    L("fine_tuning_checkpoints", lambda w: f"/fine_tuning/jobs/{_job(w)}/checkpoints",
      lambda w, n: _pd(w).ft_checkpoints_seq(_job(w)), default=10, order="desc", order_param=False,
      project=True),
    L("vector_stores", lambda w: "/vector_stores", lambda w, n: _pd(w).vector_stores_seq, order="desc",
      before=True, project=True),
    L("vector_store_files", lambda w: f"/vector_stores/{_vs(w)}/files",
      lambda w, n: _pd(w).vector_store_files_seq(_vs(w)), order="desc", before=True, project=True),
    L("containers", lambda w: "/containers", lambda w, n: _pd(w).containers_seq, order="desc", project=True),
    L("container_files", lambda w: f"/containers/{_container(w)}/files",
      lambda w, n: _pd(w).container_files_seq(_container(w)), order="desc", project=True),
    L("assistants", lambda w: "/assistants", lambda w, n: _pd(w).assistants_seq, order="desc", before=True,
      project=True),
    L("chat_completions", lambda w: "/chat/completions", lambda w, n: _pd(w).chat_seq, project=True),
    L("videos", lambda w: "/videos", lambda w, n: _pd(w).videos_seq, order="desc", project=True),
    L("webhook_endpoints", lambda w: "/webhook_endpoints",
      lambda w, n: w.security.webhooks_seq(w.project_by_id[next(iter(w.project_keys))]), order="desc",
      order_param=False, project=True),
]
BY_NAME = {x.name: x for x in LISTS}


def truth_ids(r: L, w: World, order: str | None = None) -> list[str]:
    now = w.now
    ids = [it.id for it in r.truth(w, now).alive(now) if r.keep is None or r.keep(w, now, it.id)]
    return ids[::-1] if (order or r.order) == "desc" else ids


def api_for(sim: Simulator, r: L) -> Api:
    return project_api(sim) if r.project else Api(sim)


@pytest.fixture(scope="module")
def apis(shared_sim):
    admin, proj = Api(shared_sim), project_api(shared_sim)
    yield {False: admin, True: proj}
    admin.close()
    proj.close()


def test_every_list_route_is_catalogued():
    """The catalogue covers every simulated list route (a new route must be added here)."""
    from openai_sync.simulator.routes import ROUTES

    w = World(seed=3, size="small", now=NOW)
    catalogued = [r.path(w) for r in LISTS]
    singles = {"/organization/costs", "/organization/audit_logs", "/models"}
    lists = [t for t in (r.template for r in ROUTES)
             if not t.endswith("}") and t not in singles and not t.startswith("/organization/usage/")
             and t.rsplit("/", 1)[-1] not in ("spend_limit", "data_retention", "model_permissions",
                                              "hosted_tool_permissions", "service_tier_settings")]
    missing = [t for t in lists
               if not any(re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", t), c) for c in catalogued)]
    assert missing == []
    assert len(lists) == len(LISTS)


# ---- envelopes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("r", [x for x in LISTS if x.envelope == "list"], ids=repr)
def test_list_envelope_pages_with_after(shared_sim, apis, r):
    w = shared_sim.world
    want = truth_ids(r, w)
    assert want, f"{r.name}: the medium world should have items here"
    limit = min(r.hi, max(1, len(want) // 3))
    got: list[str] = []
    ps = list(pages(apis[r.project], r.path(w), limit=limit))
    for i, p in enumerate(ps):
        assert set(p) == {"object", "data", "first_id", "last_id", "has_more"}, p.keys()
        assert p["object"] == "list"
        assert 1 <= len(p["data"]) <= limit
        assert p["first_id"] == p["data"][0]["id"]
        assert p["last_id"] == p["data"][-1]["id"], "last_id is set on every page, the last one too"
        assert p["has_more"] is (i < len(ps) - 1)
        got += [x["id"] for x in p["data"]]
    assert got == want
    # after the last item: an empty page that ends the list
    end = apis[r.project].ok(r.path(w), limit=limit, after=want[-1])
    assert end == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize("r", [x for x in LISTS if x.envelope == "next"], ids=repr)
def test_next_envelope_groups_and_roles(shared_sim, apis, r):
    w = shared_sim.world
    want = truth_ids(r, w)
    assert want
    limit = 1 if len(want) > 1 else 5
    got: list[str] = []
    ps = list(pages(apis[r.project], r.path(w), "next", limit=limit))
    for i, p in enumerate(ps):
        assert set(p) == {"object", "data", "has_more", "next"}, "`next`, not first_id/last_id"
        last = i == len(ps) - 1
        assert p["has_more"] is (not last)
        assert p["next"] == (None if last else p["data"][-1][r.id_key])
        got += [x[r.id_key] for x in p["data"]]
    assert got == want
    if len(want) > 1:
        assert len(ps) == len(want)


@pytest.mark.parametrize("r", [x for x in LISTS if x.envelope == "bare"], ids=repr)
def test_bare_envelope_fine_tuning(shared_sim, apis, r):
    w = shared_sim.world
    want = truth_ids(r, w)
    assert len(want) > 1
    got: list[str] = []
    ps = list(pages(apis[r.project], r.path(w), "bare", limit=min(r.hi, max(1, len(want) // 3))))
    for i, p in enumerate(ps):
        assert set(p) == {"object", "data", "has_more"}
        assert p["has_more"] is (i < len(ps) - 1)
        got += [x["id"] for x in p["data"]]
    assert got == want
    assert len(ps) > 1


# ---- order and before ----------------------------------------------------------------------------
@pytest.mark.parametrize("r", [x for x in LISTS if x.order_param], ids=repr)
def test_order_asc_and_desc(shared_sim, apis, r):
    w = shared_sim.world
    api = apis[r.project]
    default = [x[r.id_key] for x in walk(api, r.path(w), r.envelope, limit=r.hi)]
    asc = [x[r.id_key] for x in walk(api, r.path(w), r.envelope, limit=r.hi, order="asc")]
    desc = [x[r.id_key] for x in walk(api, r.path(w), r.envelope, limit=r.hi, order="desc")]
    assert asc == truth_ids(r, w, "asc")
    assert desc == asc[::-1]
    assert default == (asc if r.order == "asc" else desc), f"{r.name}: default order is {r.order}"
    e = api.err(400, r.path(w), order="sideways")
    assert e["param"] == "order"


@pytest.mark.parametrize("r", [x for x in LISTS if not x.order_param], ids=repr)
def test_fixed_order_lists(shared_sim, apis, r):
    """Lists without an order parameter come in their documented order (batches, jobs: newest first)."""
    w = shared_sim.world
    got = [x["id"] for x in walk(apis[r.project], r.path(w), r.envelope, limit=r.hi)]
    assert got == truth_ids(r, w)


@pytest.mark.parametrize(("r", "order"), [(x, o) for x in LISTS if x.before
                                          for o in (["asc", "desc", None] if x.order_param else [None])],
                         ids=lambda v: repr(v) if isinstance(v, L) else str(v))
def test_before_cursor(shared_sim, apis, r, order):
    w = shared_sim.world
    api = apis[r.project]
    full = truth_ids(r, w, order)
    assert len(full) >= 2, r.name
    for k in range(len(full)):
        for m in (1, 2, len(full)):
            p = api.ok(r.path(w), before=full[k], limit=m, order=order)
            want = full[max(0, k - m):k]
            assert [x["id"] for x in p["data"]] == want, (k, m)
            assert p["has_more"] is (k - m > 0)
            assert p["first_id"] == (want[0] if want else None)
            assert p["last_id"] == (want[-1] if want else None)


def test_before_on_audit_logs_pages_back_to_the_newest(shared_sim, apis):
    api = apis[False]
    lo = NOW - DAY
    newest_first = walk(api, "/organization/audit_logs", limit=100, **{"effective_at[gte]": lo})
    ids = [e["id"] for e in newest_first]
    # walk backwards (towards newer events) from the oldest one with `before`
    back: list[str] = []
    cursor = ids[-1]
    while True:
        p = api.ok("/organization/audit_logs", before=cursor, limit=37, **{"effective_at[gte]": lo})
        back = [e["id"] for e in p["data"]] + back
        if not p["has_more"]:
            break
        cursor = p["first_id"]
    assert back == ids[:-1]


# ---- limits --------------------------------------------------------------------------------------
@pytest.mark.parametrize("r", LISTS, ids=repr)
def test_limit_default_and_maximum(shared_sim, apis, r):
    w = shared_sim.world
    api = apis[r.project]
    want = truth_ids(r, w)
    p = api.ok(r.path(w))
    assert len(p["data"]) == min(r.default, len(want)), f"{r.name}: default limit {r.default}"
    assert p["has_more"] is (len(want) > r.default)
    assert [x[r.id_key] for x in api.ok(r.path(w), limit=r.hi)["data"]] == want[: r.hi]
    e = api.err(400, r.path(w), limit=r.hi + 1)
    assert e["param"] == "limit" and e["type"] == "invalid_request_error"
    assert e["code"] == "integer_above_max_value"
    assert str(r.hi) in e["message"]
    e = api.err(400, r.path(w), limit=-1)
    assert e["param"] == "limit" and e["code"] == "integer_below_min_value"
    e = api.err(400, r.path(w), limit="ten")
    assert e["param"] == "limit"
    if r.lo == 0:
        assert api.ok(r.path(w), limit=0)["data"] == []
    else:
        assert api.err(400, r.path(w), limit=0)["param"] == "limit"


def test_files_allow_ten_thousand_per_page(shared_sim, apis):
    files = apis[True].ok("/files")
    n = len(truth_ids(BY_NAME["files"], shared_sim.world))
    assert len(files["data"]) == n and n > 100 and files["has_more"] is False
    assert len(apis[True].ok("/files", limit=10000)["data"]) == n
    apis[True].err(400, "/files", limit=10001)


def test_audit_log_limits(shared_sim, apis):
    api = apis[False]
    assert len(api.ok("/organization/audit_logs")["data"]) == 20
    assert len(api.ok("/organization/audit_logs", limit=100)["data"]) == 100
    e = api.err(400, "/organization/audit_logs", limit=101)
    assert e["param"] == "limit" and e["type"] == "invalid_request_error"
    api.err(400, "/organization/audit_logs", limit=0)


USAGE_WIDTHS = {"1d": (7, 31, DAY), "1h": (24, 168, HOUR), "1m": (60, 1440, 60)}


@pytest.mark.parametrize("width", list(USAGE_WIDTHS))
@pytest.mark.parametrize("kind", ["completions", "embeddings", "vector_stores"])
def test_usage_limits_by_bucket_width(shared_sim, apis, width, kind):
    api = apis[False]
    default, hi, secs = USAGE_WIDTHS[width]
    path = f"/organization/usage/{kind}"
    start = NOW - 3 * hi * secs
    p = api.ok(path, start_time=start, bucket_width=width)
    assert p["object"] == "page" and set(p) == {"object", "data", "has_more", "next_page"}
    assert len(p["data"]) == default and p["has_more"] is True and p["next_page"]
    assert len(api.ok(path, start_time=start, bucket_width=width, limit=hi)["data"]) == hi
    e = api.err(400, path, start_time=start, bucket_width=width, limit=hi + 1)
    assert e["param"] == "limit" and e["type"] == "invalid_request_error" and str(hi) in e["message"]
    api.err(400, path, start_time=start, bucket_width=width, limit=0)
    e = api.err(400, path, start_time=start, bucket_width="2h")
    assert e["param"] == "bucket_width"


def test_costs_limits(shared_sim, apis):
    api = apis[False]
    start = NOW - 400 * DAY
    p = api.ok("/organization/costs", start_time=start)
    assert len(p["data"]) == 7 and p["has_more"] is True
    assert len(api.ok("/organization/costs", start_time=start, limit=180)["data"]) == 180
    e = api.err(400, "/organization/costs", start_time=start, limit=181)
    assert e["param"] == "limit" and "180" in e["message"]
    api.err(400, "/organization/costs", start_time=start, limit=0)


# ---- usage and costs pages -----------------------------------------------------------------------
@pytest.mark.parametrize("width", list(USAGE_WIDTHS))
def test_usage_page_and_next_page(shared_sim, apis, width):
    api = apis[False]
    _default, hi, secs = USAGE_WIDTHS[width]
    start, end = NOW - 2 * hi * secs - 5 * secs, NOW - 3 * secs
    params = dict(start_time=start, end_time=end, bucket_width=width, group_by=["project_id", "model"])
    whole = usage_buckets(api, "/organization/usage/completions", limit=hi, **params)
    ps = list(usage_pages(api, "/organization/usage/completions", limit=hi // 3 + 1, **params))
    assert len(ps) > 1
    for i, p in enumerate(ps):
        last = i == len(ps) - 1
        assert p["has_more"] is (not last)
        assert (p["next_page"] is None) is last
    got = [b for p in ps for b in p["data"]]
    assert got == whole
    starts = [b["start_time"] for b in got]
    assert starts == list(range(start // secs * secs, end, secs)), "contiguous, no gaps, no duplicates"
    e = api.err(400, "/organization/usage/completions", page="not-a-token", **params)
    assert e["param"] == "page"


def test_costs_pages_end_with_an_empty_page(shared_sim, apis):
    api = apis[False]
    start = NOW - 20 * DAY
    ps = list(usage_pages(api, "/organization/costs", limit=6, start_time=start, group_by=["project_id"]))
    days = [b["start_time"] for p in ps for b in p["data"]]
    assert days == list(range(start, NOW, DAY)), "every day up to the clock (exactly midnight here)"
    assert ps[-1]["data"] == [] and ps[-1]["has_more"] is False and ps[-1]["next_page"] is None
    assert ps[-2]["data"] and ps[-2]["next_page"], "the last non-empty page still carries a next_page"


# ---- audit logs ----------------------------------------------------------------------------------
def _audit_truth(w: World, now: int) -> list[dict[str, Any]]:
    """Every event at `now`, newest first, from the world's own collection."""
    seq = w.audit_seq
    return [seq.make(i).render(now) for i in range(seq.bound(now) - 1, -1, -1)]


@pytest.fixture(scope="module")
def audit_truth(shared_sim):
    return _audit_truth(shared_sim.world, shared_sim.world.now)


def test_audit_logs_newest_first_and_complete(shared_sim, apis, audit_truth):
    got = walk(apis[False], "/organization/audit_logs", limit=100)
    assert got == audit_truth
    times = [e["effective_at"] for e in got]
    assert times == sorted(times, reverse=True)
    assert times[0] <= NOW


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_audit_logs_effective_at_bounds_are_exact(shared_sim, apis, audit_truth, op):
    api = apis[False]
    cmp = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
           "lte": lambda a, b: a <= b}[op]
    # an exact event time, so that gt and gte (lt and lte) differ by that event
    t = audit_truth[len(audit_truth) // 2 if op in ("lt", "lte") else 300]["effective_at"]
    window = {"effective_at[gte]": t - 2 * DAY} if op in ("lt", "lte") else {}
    got = walk(api, "/organization/audit_logs", limit=100, **{f"effective_at[{op}]": t}, **window)
    want = [e for e in audit_truth
            if cmp(e["effective_at"], t) and (not window or e["effective_at"] >= t - 2 * DAY)]
    assert got == want
    assert any(e["effective_at"] == t for e in want) is (op in ("gte", "lte"))


def test_audit_logs_range_and_cursor_outside_it(shared_sim, apis, audit_truth):
    api = apis[False]
    lo, hi = NOW - 3 * DAY + 1234, NOW - 2 * DAY + 77
    rng = {"effective_at[gte]": lo, "effective_at[lt]": hi}
    want = [e for e in audit_truth if lo <= e["effective_at"] < hi]
    assert len(want) > 100
    assert walk(api, "/organization/audit_logs", limit=33, **rng) == want
    # a cursor newer than the range (from an unfiltered listing) still reads the range from its top
    newer = next(e["id"] for e in audit_truth if e["effective_at"] >= hi)
    p = api.ok("/organization/audit_logs", limit=5, after=newer, **rng)
    assert p["data"] == want[:5]
    # a cursor older than the range: nothing after it within the range
    older = next(e["id"] for e in audit_truth if e["effective_at"] < lo)
    assert api.ok("/organization/audit_logs", limit=5, after=older, **rng)["data"] == []
    # an empty range
    empty = {"effective_at[gt]": hi, "effective_at[lt]": lo}
    assert api.ok("/organization/audit_logs", **empty)["data"] == []
    api.err(400, "/organization/audit_logs", **{"effective_at[gt]": "yesterday"})


def test_audit_logs_empty_until_logging_is_enabled():
    with Simulator(World(seed=7, size="small", now=NOW, audit_logging=False)) as s, Api(s) as api:
        empty = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        assert api.ok("/organization/audit_logs") == empty
        assert api.ok("/organization/audit_logs", limit=100, **{"effective_at[gte]": NOW - DAY}) == empty
        s.advance(24)
        assert api.ok("/organization/audit_logs") == empty
        assert api.err(400, "/organization/audit_logs", after="audit_log-0123456789a0")["param"] == "after"


def test_audit_log_filters(shared_sim, apis, audit_truth):
    api = apis[False]
    lo = NOW - DAY
    recent = [e for e in audit_truth if e["effective_at"] >= lo]
    for etype in ("api_key.updated", "login.failed"):
        got = walk(api, "/organization/audit_logs", limit=100, event_types=[etype], **{"effective_at[gte]": lo})
        assert got == [e for e in recent if e["type"] == etype] and got
    pid = next(e["project"]["id"] for e in recent if "project" in e)
    got = walk(api, "/organization/audit_logs", limit=100, project_ids=[pid], **{"effective_at[gte]": lo})
    assert got == [e for e in recent if e.get("project", {}).get("id") == pid] and got


# ---- projects: include_archived --------------------------------------------------------------------
def test_include_archived(shared_sim, apis):
    api = apis[False]
    w = shared_sim.world
    archived = {p.id for p in w.projects if p.archived_at is not None and p.archived_at <= NOW}
    assert archived
    default = walk(api, "/organization/projects", limit=5)
    assert {p["id"] for p in default} == {p.id for p in w.projects} - archived
    assert all(p["status"] == "active" and p["archived_at"] is None for p in default)
    assert walk(api, "/organization/projects", limit=5, include_archived=False) == default
    every = walk(api, "/organization/projects", limit=5, include_archived=True)
    assert [p["id"] for p in every] == [p.id for p in sorted(w.projects, key=lambda p: (p.created_at, p.id))]
    for p in every:
        assert (p["status"] == "archived") is (p["id"] in archived)
        assert (p["archived_at"] is not None) is (p["id"] in archived)
    assert api.err(400, "/organization/projects", include_archived="maybe")["param"] == "include_archived"


# ---- bad cursors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("r", LISTS, ids=repr)
def test_unknown_cursor_answers_400(shared_sim, apis, r):
    w = shared_sim.world
    e = apis[r.project].err(400, r.path(w), after="obj_does_not_exist")
    assert e["param"] == "after" and e["type"] == "invalid_request_error"
    if r.before:
        assert apis[r.project].err(400, r.path(w), before="obj_does_not_exist")["param"] == "before"


def test_unknown_audit_cursor_and_page_tokens(shared_sim, apis):
    api = apis[False]
    assert api.err(400, "/organization/audit_logs", after="audit_log-nope")["param"] == "after"
    assert api.err(400, "/organization/audit_logs", before="audit_log-nope")["param"] == "before"
    assert api.err(400, "/organization/costs", start_time=NOW - DAY, page="garbage")["param"] == "page"
    assert api.err(400, "/organization/usage/images", start_time=NOW - DAY, page="page_!!")["param"] == "page"


def test_cursor_of_another_list_is_unknown(shared_sim, apis):
    """A cursor is an object of the list being read: a user id means nothing to the invites list."""
    w = shared_sim.world
    assert apis[False].err(400, "/organization/invites", after=w.users[0].id)["param"] == "after"
    assert apis[True].err(400, "/batches", after=_pd(w).file_id(0))["param"] == "after"


# ---- the property: any limit, any order, the complete listing --------------------------------------
@st.composite
def list_requests(draw):
    r = draw(st.sampled_from(LISTS))
    limit = draw(st.one_of(st.integers(1, 12), st.integers(1, min(r.hi, 500))))
    order = draw(st.sampled_from(["asc", "desc", None])) if r.order_param else None
    return r, limit, order


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(req=list_requests())
def test_paging_with_any_limit_yields_the_complete_listing(shared_sim, apis, req):
    r, limit, order = req
    w = shared_sim.world
    ps = list(pages(apis[r.project], r.path(w), r.envelope, limit=limit, order=order))
    got = [x[r.id_key] for p in ps for x in p["data"]]
    want = truth_ids(r, w, order)
    assert len(got) == len(set(got)), "no duplicates"
    assert got == want, "no gaps, in order"
    assert len(ps) == max(1, -(-len(want) // limit))
    assert all(len(p["data"]) == limit for p in ps[:-1])


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(limit=st.integers(1, 100), lo_off=st.integers(0, 3 * DAY), span=st.integers(1, 2 * DAY))
def test_audit_paging_with_any_limit_and_range(shared_sim, apis, audit_truth, limit, lo_off, span):
    lo = NOW - 4 * DAY + lo_off
    hi = lo + span
    got = walk(apis[False], "/organization/audit_logs", limit=limit,
               **{"effective_at[gte]": lo, "effective_at[lt]": hi})
    assert [e["id"] for e in got] == [e["id"] for e in audit_truth if lo <= e["effective_at"] < hi]


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(width=st.sampled_from(list(USAGE_WIDTHS)), data=st.data())
def test_usage_paging_with_any_limit_yields_every_bucket(shared_sim, apis, width, data):
    _default, hi, secs = USAGE_WIDTHS[width]
    n = data.draw(st.integers(1, 2 * hi), label="buckets")
    limit = data.draw(st.integers(1, hi), label="limit")
    start = NOW - n * secs - data.draw(st.integers(0, secs - 1), label="offset")
    got = usage_buckets(apis[False], "/organization/usage/embeddings", start_time=start, end_time=NOW,
                        bucket_width=width, limit=limit, group_by=["project_id"])
    assert [b["start_time"] for b in got] == list(range(start // secs * secs, NOW, secs))
    whole = usage_buckets(apis[False], "/organization/usage/embeddings", start_time=start, end_time=NOW,
                          bucket_width=width, limit=hi, group_by=["project_id"])
    assert got == whole
