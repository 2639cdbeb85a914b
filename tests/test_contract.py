"""Contract tests: real requests to the simulator, and its responses, against the OpenAPI document.

The contract is OpenAI's published OpenAPI document, kept unmodified in the repository as test data,
tests/data/openai-openapi/openapi.yaml (override with OPENAI_OPENAPI_SPEC). Its paths are relative to the
server https://api.openai.com/v1, so each request is validated as if it had been sent there.

For every route of the simulator's ROUTES table the tests send a sample of realistic requests over
HTTP (path parameters filled with ids taken from the lists, limits, orders, cursors from earlier
pages, the filters and groupings the contract declares), and validate each request and each response
with openapi-core. Error responses (400, 401, 403, 404, 429, 500, 503) are validated against the
response the operation declares for that status, or else against components.schemas.ErrorResponse.

Beyond what openapi-core checks, every response is held to three more rules:
- no undocumented properties where a schema lists its properties (except those the installed SDK,
  newer than the contract, already has: SDK_NEWER_PROPERTIES);
- first_id/last_id are the ids of the page's first and last items, and null only on an empty page;
- a filter returns only matching items, consecutive pages never repeat an item, and `before` gives
  back the previous page.
Three defects of the document are repaired at load, each explained where it is done:
repair_discriminators, repair_empty_page_ids and repair_boolean_exclusive_bounds. The audit log's event
types and detail payloads that the installed SDK has and the document lacks are taken from the SDK
(adopt_sdk_audit_log).

The contract machinery (loading, repairs, the Contract validator) is in contract_support.py, shared
with test_connector_contract.py; the session fixture `contract` is in conftest.py.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from conftest import NOW
from contract_support import SDK_NEWER_PROPERTIES, SPEC_FILE, SPEC_SHA256, Contract

from openai_sync.simulator import Rule, Simulator, World
from openai_sync.simulator.routes import ROUTES, Route
from openai_sync.simulator.usage import COSTS_API_KEY_GROUPING_FROM, USAGE_LIMITS

HOUR, DAY = 3600, 86400


@pytest.fixture(scope="module")
def small_sim() -> Iterator[Simulator]:
    """The `sim` organization (small, seed 7), shared by this module's read-only tests."""
    with Simulator(World(seed=7, size="small", now=NOW)) as s:
        yield s


# ---- a client that validates every exchange -----------------------------------------------------
Params = list[tuple[str, str]]


@dataclass
class Checker:
    sim: Simulator
    contract: Contract
    http: httpx2.Client
    problems: list[str] = field(default_factory=list)

    def get(self, template: str, path: str, key: str | None, params: Params | None = None, *,
            request_valid: bool = True, status: int | None = 200) -> httpx2.Response:
        """GET a path, check the status, and validate the request and the response."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        r = self.http.get(self.sim.base_url + path, params=params or [], headers=headers)
        if status is not None and r.status_code != status:
            self.problems.append(f"GET {r.request.url.raw_path.decode()}: expected {status}, "
                                 f"got {r.status_code}: {r.text[:300]}")
        self.problems += self.contract.check(template, r, request_valid=request_valid)
        return r

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def assert_clean(self) -> None:
        if self.problems:
            shown = "\n".join(self.problems[:40])
            more = f"\n... and {len(self.problems) - 40} more" if len(self.problems) > 40 else ""
            pytest.fail(f"{len(self.problems)} contract violation(s):\n{shown}{more}", pytrace=False)


@pytest.fixture
def checker(small_sim: Simulator, contract: Contract) -> Iterator[Checker]:
    with httpx2.Client(timeout=30) as http:
        yield Checker(small_sim, contract, http)


ROUTE_BY_TEMPLATE = {r.template: r for r in ROUTES}
PARAM = re.compile(r"\{(\w+)\}")


def template_of(path: str) -> str:
    for r in ROUTES:
        if r.regex.match("/v1" + path):
            return r.template
    raise AssertionError(f"no simulated route serves {path}")


def key_for(sim: Simulator, route: Route, project_id: str | None) -> str:
    if route.auth == "admin":
        return sim.world.admin_key
    return sim.world.project_keys[project_id]  # type: ignore[index]


def ids_of(body: dict[str, Any]) -> list[str]:
    return [d["id"] for d in body.get("data", []) if isinstance(d, dict) and "id" in d]


def parent_ids(ck: Checker, list_path: str, key: str) -> tuple[str, list[str]]:
    """The path that lists a parameter's objects, and their ids. A project's users and groups are listed under
    /organization (/organization/projects/{project_id}/users) while their roles are under /projects; a project
    group's id is its group_id."""
    if not any(r.regex.match("/v1" + list_path) for r in ROUTES):
        list_path = "/organization" + list_path
    body = ck.get(template_of(list_path), list_path, key).json()
    return list_path, [d.get("id") or d["group_id"] for d in body.get("data", []) if isinstance(d, dict)]


def pick(ids: list[str], n: int) -> list[str]:
    """Up to n ids spread over the list: the first, the last, then between."""
    if len(ids) <= n:
        return ids
    idx = sorted({0, len(ids) - 1, *(len(ids) * k // n for k in range(1, n))})[:n]
    return [ids[i] for i in idx]


def concrete_paths(ck: Checker, route: Route, per_level: int = 2) -> list[tuple[str, str | None]]:
    """(path, project_id) pairs for a route, its path parameters filled with ids taken from the lists.

    Admin routes under a project run for every project (archived ones too); project-key routes run
    with every project's key. Each other parameter takes ids from the list one level up: for
    /evals/{eval_id}/runs/{run_id}, eval ids come from /evals and run ids from /evals/{eval_id}/runs.
    """
    world = ck.sim.world
    starts: list[tuple[str, str | None]] = (
        [("", pid) for pid in world.project_keys] if route.auth == "project" else [("", None)])
    out: list[tuple[str, str | None]] = []
    for partial in starts:
        level = [partial]
        rest = route.template
        while (m := PARAM.search(rest)) is not None:
            lead, name, rest = rest[: m.start()].rstrip("/"), m.group(1), rest[m.end():]
            nxt: list[tuple[str, str | None]] = []
            for prefix, pid in level:
                if name == "fine_tuned_model_checkpoint":  # nothing lists them: the fine-tuned models project keys list
                    models = sorted({m["id"] for p in world.project_keys for m in
                                     world.project_data(p).models_json(world.now) if m["id"].startswith("ft:")})
                    nxt += [(f"{prefix}{lead}/{m}", pid) for m in pick(models, per_level)]
                    continue
                if name == "project_id":  # every project, from the admin list
                    body = ck.get("/organization/projects", "/organization/projects", world.admin_key,
                                  [("include_archived", "true"), ("limit", "100")]).json()
                    nxt += [(f"{prefix}{lead}/{i}", i) for i in ids_of(body)]
                    continue
                list_path = prefix + lead
                _listed_at, ids = parent_ids(ck, list_path, key_for(ck.sim, route, pid))
                nxt += [(f"{list_path}/{i}", pid) for i in pick(ids, per_level)]
            level = nxt
        out += [(prefix + rest, pid) for prefix, pid in level]
    assert out, f"{route.template}: no ids to fill its path parameters"
    return out


# ---- request plans ------------------------------------------------------------------------------
def cursor_of(body: dict[str, Any]) -> str | None:
    """The `after` cursor of a page: last_id, or `next` (groups, roles), or the last item's id."""
    if "last_id" in body:
        return body["last_id"]
    if "next" in body:
        return body["next"]
    ids = ids_of(body)
    return ids[-1] if ids else None


def first_of(body: dict[str, Any]) -> str | None:
    if body.get("first_id"):
        return body["first_id"]
    ids = ids_of(body)
    return ids[0] if ids else None


def item_keys(body: dict[str, Any]) -> list[str]:
    """What identifies a page's items (id, or group_id for project groups)."""
    return [d.get("id") or d.get("group_id") or repr(d) for d in body["data"]]


def walk(ck: Checker, template: str, path: str, key: str, base: Params, *, limit: int = 2,
         pages: int = 3) -> list[dict[str, Any]]:
    """Page through a cursor list with `limit`, in each order the contract offers, then `before`.

    Besides the contract: consecutive pages never repeat an item, and `before` the first item of the
    second page gives back the first page.
    """
    c = ck.contract
    orders = c.param_enum(template, "order") or [None]
    bodies = []
    for order in orders:
        params = [*base, ("limit", str(limit))] + ([("order", order)] if order else [])
        seen: list[dict[str, Any]] = []
        cursor = None
        for _ in range(pages):
            r = ck.get(template, path, key, params + ([("after", cursor)] if cursor else []))
            if r.status_code != 200:
                break
            body = r.json()
            seen.append(body)
            cursor = cursor_of(body)
            if not body.get("has_more") or cursor is None or not c.has_param(template, "after"):
                break
        keys = [k for b in seen for k in item_keys(b)]
        ck.expect(len(keys) == len(set(keys)), f"{path} {params}: pages repeat items: {keys}")
        if c.has_param(template, "before") and len(seen) > 1 and (b := first_of(seen[1])):
            r = ck.get(template, path, key, [*params, ("before", b)])
            if r.status_code == 200:
                ck.expect(item_keys(r.json()) == item_keys(seen[0]),
                          f"{path} {params} before={b}: {item_keys(r.json())} != {item_keys(seen[0])}")
        bodies += seen
    return bodies


def follow_pages(ck: Checker, template: str, path: str, key: str, params: Params,
                 pages: int = 3) -> list[dict[str, Any]]:
    """Usage-style pagination: follow next_page tokens."""
    out = []
    tok = None
    for _ in range(pages):
        r = ck.get(template, path, key, params + ([("page", tok)] if tok else []))
        if r.status_code != 200:
            break
        body = r.json()
        out.append(body)
        tok = body.get("next_page")
        if not body.get("has_more") or not tok:
            break
    return out


def results(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [res for body in bodies for b in body["data"] for res in b["results"]]


def usage_plan(ck: Checker, route: Route) -> None:
    """Usage and costs: each bucket width, every group_by dimension the contract allows, each filter
    with values seen in grouped results, and next_page tokens."""
    t, key, c = route.template, ck.sim.world.admin_key, ck.contract
    dims = c.param_enum(t, "group_by")
    assert dims, f"{t}: the contract lists no group_by dimensions"
    gb = [("group_by", d) for d in dims]
    costs = t == "/organization/costs"
    # costs refuse group_by=api_key_id before the cut-off; 1d is their only width
    start = str(max(NOW - 20 * DAY, COSTS_API_KEY_GROUPING_FROM) if costs else NOW - 2 * DAY)
    width = "1d" if costs else "1h"
    follow_pages(ck, t, t, key, [("start_time", str(NOW - 10 * DAY))])  # defaults: 1d buckets, default limit
    grouped = follow_pages(ck, t, t, key, [("start_time", start), ("bucket_width", width), ("limit", "7"),
                                           *gb])
    # the SDK sends arrays as group_by[]=...: the same buckets
    sdk_form = follow_pages(ck, t, t, key, [("start_time", start), ("bucket_width", width), ("limit", "7"),
                                            *[("group_by[]", d) for d in dims]], pages=1)
    ck.expect(sdk_form[:1] == grouped[:1], f"{t}: group_by[]= and group_by= disagree")
    if costs:
        follow_pages(ck, t, t, key, [("start_time", start), ("end_time", str(NOW)), ("limit", "180"),
                                     ("group_by", "line_item")], pages=1)
    else:
        for w in ("1m", "1h", "1d"):
            hi = USAGE_LIMITS[w][1]
            span = {"1m": 3 * HOUR, "1h": 3 * DAY, "1d": 40 * DAY}[w]
            follow_pages(ck, t, t, key, [("start_time", str(NOW - span)), ("end_time", str(NOW - span // 3)),
                                         ("bucket_width", w), ("limit", str(hi)), *gb[:2]], pages=2)
    # filters: each array parameter (project_ids, models, ...) with values seen in the grouped results
    seen: dict[str, list[Any]] = {}
    for res in results(grouped):
        for d in dims:
            if res.get(d) is not None and res[d] not in seen.setdefault(d, []):
                seen[d].append(res[d])
    for name in c.query_params(t):
        if name == "group_by" or c.param_schema(t, name).get("type") != "array":
            continue
        dim = name.removesuffix("[]").removesuffix("s")
        vals = [str(v) for v in seen.get(dim, [])[:2]]
        if not vals:
            continue
        got = results(follow_pages(ck, t, t, key, [("start_time", start), ("bucket_width", width),
                                                   *[(name, v) for v in vals], *gb], pages=1))
        bad = {str(r.get(dim)) for r in got} - set(vals)
        ck.expect(not bad, f"{t}: filter {name}={vals} let through {dim} {sorted(bad)}")
    if c.has_param(t, "batch"):
        for v in (True, False):
            got = results(follow_pages(ck, t, t, key, [("start_time", str(NOW - DAY)), ("bucket_width", "1h"),
                                                       ("batch", str(v).lower()), *gb], pages=1))
            ck.expect(all(r["batch"] is v for r in got), f"{t}: batch={v} let through other batches")


def audit_plan(ck: Checker, route: Route) -> None:
    t, key, world = route.template, ck.sim.world.admin_key, ck.sim.world
    bodies = walk(ck, t, t, key, [])
    walk(ck, t, t, key, [("effective_at[gte]", str(NOW - 2 * DAY)), ("effective_at[lt]", str(NOW))], limit=5)
    ck.get(t, t, key, [("effective_at[gt]", str(NOW - DAY)), ("effective_at[lte]", str(NOW)),
                       ("limit", "100")])
    events = [e for b in bodies for e in b["data"]]
    assert events, "no audit events"
    p0, p1 = world.projects[0].id, world.projects[1].id
    for params in ([("project_ids[]", p0), ("project_ids[]", p1)],
                   [("event_types[]", "project.created"), ("event_types[]", "login.succeeded")],
                   [("event_types[]", events[0]["type"]), ("effective_at[gte]", str(NOW - 30 * DAY))],
                   [("actor_emails[]", world.users[0].email)],
                   [("actor_ids[]", world.users[0].id)],
                   [("resource_ids[]", p0)]):
        walk(ck, t, t, key, params, limit=10, pages=2)


# extra requests for particular list routes (each is also paged through)
def extras(ck: Checker, template: str) -> list[Params]:
    world = ck.sim.world
    if template == "/organization/projects":
        return [[("include_archived", "true")], [("include_archived", "false")]]
    if template == "/organization/users":
        return [[("emails", world.users[0].email), ("emails", world.users[1].email)]]
    return []


PAGING = {"limit", "after", "before", "order", "page"}
FIELD_OF = {"filter": "status"}  # a filter parameter and the field of the items it filters on


def filter_plan(ck: Checker, t: str, path: str, key: str, first: dict[str, Any]) -> None:
    """Each filter the contract declares for a list: every value of an enum filter, and a string filter
    with a value taken from the first page. Besides the contract: every item returned matches."""
    c = ck.contract
    sample = next((d for d in first["data"] if isinstance(d, dict)), {})
    for name in c.query_params(t):
        schema = c.param_schema(t, name)
        if name in PAGING or schema.get("type") not in ("string", "boolean"):
            continue
        fld = FIELD_OF.get(name, name)
        values = [str(v) for v in c.param_enum(t, name)]
        if not values and schema.get("type") == "string" and isinstance(sample.get(fld), str):
            values = [sample[fld]]
        for v in values:
            for body in walk(ck, t, path, key, [(name, v)], limit=5, pages=2):
                odd = [d.get(fld) for d in body["data"] if isinstance(d, dict) and fld in d and d[fld] != v]
                ck.expect(v == "any" or not odd, f"{path}?{name}={v}: returned items with {fld} {odd[:5]}")


def run_route(ck: Checker, route: Route) -> None:
    t = route.template
    if t.startswith("/organization/usage/") or t == "/organization/costs":
        usage_plan(ck, route)
        return
    if t == "/organization/audit_logs":
        audit_plan(ck, route)
        return
    is_list = ck.contract.has_param(t, "limit") or ck.contract.has_param(t, "after")
    for path, pid in concrete_paths(ck, route):
        key = key_for(ck.sim, route, pid)
        r = ck.get(t, path, key)  # the defaults
        if not is_list or r.status_code != 200:
            continue
        walk(ck, t, path, key, [])
        for params in extras(ck, t):
            walk(ck, t, path, key, params, limit=5, pages=2)
        filter_plan(ck, t, path, key, r.json())


# ---- the tests ----------------------------------------------------------------------------------
def test_contract_machinery_catches_violations(contract: Contract) -> None:
    """The checks are not vacuous: broken bodies and requests are reported."""
    def exchange(path: str, body: Any, status: int = 200, auth: str | None = "Bearer sk-admin-x",
                 query: str = "") -> httpx2.Response:
        req = httpx2.Request("GET", f"http://127.0.0.1/v1{path}{query}",
                             headers={"Authorization": auth} if auth else {})
        return httpx2.Response(status, json=body, request=req)

    user = {"object": "organization.user", "id": "user-1", "name": "A", "email": "a@example.com",
            "role": "owner", "added_at": 1}
    t = "/organization/users/{user_id}"
    assert contract.check(t, exchange("/organization/users/user-1", user)) == []
    assert contract.check(t, exchange("/organization/users/user-1", {**user, "added_at": "yesterday"}))
    no_id = {k: v for k, v in user.items() if k != "id"}
    assert contract.check(t, exchange("/organization/users/user-1", no_id))
    assert any("undocumented" in p for p in contract.check(t, exchange("/organization/users/user-1",
                                                                       {**user, "nickname": "a"})))
    page = {"object": "list", "data": [user], "first_id": "user-1", "last_id": "user-1", "has_more": False}
    t = "/organization/users"
    assert contract.check(t, exchange("/organization/users", page)) == []
    assert contract.check(t, exchange("/organization/users", {**page, "last_id": "user-2"}))
    assert contract.check(t, exchange("/organization/users", page, auth=None))  # no key: breaks security
    bucket = {"object": "bucket", "start_time": 0, "end_time": 60, "results": [
        {"object": "organization.usage.completions.result", "input_tokens": "many", "output_tokens": 1,
         "num_model_requests": 1}]}
    usage = {"object": "page", "data": [bucket], "has_more": False, "next_page": None}
    t = "/organization/usage/completions"
    assert contract.check(t, exchange(t, usage, query="?start_time=0"))  # input_tokens: "many"
    usage["data"][0]["results"][0]["input_tokens"] = 1
    assert contract.check(t, exchange(t, usage, query="?start_time=0")) == []
    assert contract.check(t, exchange(t, usage, query="?start_time=0&group_by=colour"))  # not a dimension
    assert contract.check(t, exchange(t, usage))  # start_time is required
    err = {"error": {"message": "no", "type": "invalid_request_error", "param": None, "code": None}}
    assert contract.check("/organization/users", exchange("/organization/users", err, 401)) == []
    assert contract.check("/organization/users", exchange("/organization/users", {"error": "no"}, 401))


@pytest.mark.parametrize("template", [r.template for r in ROUTES])
def test_route_honours_contract(template: str, checker: Checker, contract: Contract) -> None:
    """A sample of requests to one route, each request and response validated against the contract."""
    if contract.operation(template) is None:
        pytest.skip(f"GET {template} is not in the OpenAPI document (an endpoint newer than this copy)")
    before = contract.responses
    run_route(checker, ROUTE_BY_TEMPLATE[template])
    one_object = "{" not in template and not contract.has_param(template, "limit")  # /organization/spend_limit
    assert contract.responses - before >= (1 if one_object else 2)
    checker.assert_clean()


def test_sdk_newer_properties(contract: Contract) -> None:
    """Each tolerated undocumented property is in the SDK's model and still missing from the contract."""
    for (schema, prop), (module, model) in SDK_NEWER_PROPERTIES.items():
        fields = getattr(importlib.import_module(module), model).model_fields
        names = {f.alias or name for name, f in fields.items()}  # `async` is the alias of async_
        assert prop in names, f"{schema}.{prop}: not in the SDK's {model} either"
        assert prop not in contract.spec["components"]["schemas"][schema].get("properties", {}), \
            f"{schema}.{prop} is in the contract now: drop it from SDK_NEWER_PROPERTIES"


def test_routes_use_the_contracts_keys(contract: Contract) -> None:
    """Admin routes take the Admin API key the contract names (AdminApiKeyAuth), the others a project key."""
    wrong = []
    for r in ROUTES:
        op = contract.operation(r.template)
        if op is None:
            continue
        schemes = {name for req in op.get("security", contract.spec.get("security", [])) for name in req}
        # the permissions of fine-tuned models: ApiKeyAuth in the document, whose text (and the SDK's) says
        # "This endpoint requires an admin API key"
        if "requires an [admin API key]" in op.get("summary", "") + op.get("description", ""):
            schemes = {"AdminApiKeyAuth"}
        if (r.auth == "admin") != (schemes == {"AdminApiKeyAuth"}):
            wrong.append(f"{r.template}: simulator wants a {r.auth} key, contract says {sorted(schemes)}")
    assert not wrong, "\n".join(wrong)


def test_error_responses(checker: Checker, contract: Contract) -> None:
    """400 / 401 / 403 / 404 on every route, against the declared response or ErrorResponse."""
    world = checker.sim.world
    pid = next(iter(world.project_keys))
    pkey = world.project_keys[pid]
    for route in ROUTES:
        t = route.template
        if contract.operation(t) is None:
            continue
        path, path_pid = concrete_paths(checker, route, per_level=1)[0]
        good = key_for(checker.sim, route, path_pid)
        bad = pkey if route.auth == "admin" else world.admin_key
        base: Params = [("start_time", str(NOW - DAY))] if contract.has_param(t, "start_time") else []
        # 401: an unknown key; 403: the other kind of key
        checker.get(t, path, "sk-proj-" + "0" * 40 + "dead", base, status=401)
        checker.get(t, path, bad, base, status=403)
        # 404: an id that does not exist, in each path parameter position (the others real)
        segments, tsegs = path.split("/"), t.split("/")
        for i, seg in enumerate(tsegs):
            if PARAM.fullmatch(seg):
                bogus = segments.copy()
                bogus[i] = seg.strip("{}") + "_does_not_exist"
                checker.get(t, "/".join(bogus), good, base, status=404)
        if route.auth == "project" and not PARAM.search(t):
            # 403: a project key without the route's scope
            others = [s for s in ("api.model.read", "api.files.read") if s != route.scope]
            restricted = world.mint_key("project", pid, scopes=others)
            checker.get(t, path, restricted, base, status=403)
        # 400: limit above the maximum. Where the contract states the maximum, the request itself
        # breaks the contract; elsewhere the maximum is documented in prose only.
        if contract.has_param(t, "limit"):
            ls = contract.param_schema(t, "limit")
            mx = ls.get("maximum")
            checker.get(t, path, good, [*base, ("limit", str(mx + 1 if mx is not None else 100_001))],
                        request_valid=mx is None, status=400)
            checker.get(t, path, good, [*base, ("limit", "-1")], request_valid="minimum" not in ls,
                        status=400)
            checker.get(t, path, good, [*base, ("limit", "ten")], request_valid=False, status=400)
        if contract.has_param(t, "order"):
            checker.get(t, path, good, [*base, ("order", "sideways")], request_valid=False, status=400)
        if contract.has_param(t, "after") and t != "/organization/audit_logs":
            checker.get(t, path, good, [*base, ("after", "obj_does_not_exist")], status=400)
        if contract.has_param(t, "start_time"):  # usage and costs
            checker.get(t, path, good, [], request_valid=False, status=400)
            checker.get(t, path, good, [*base, ("bucket_width", "1w")], request_valid=False, status=400)
            checker.get(t, path, good, [*base, ("group_by", "colour")], request_valid=False, status=400)
            checker.get(t, path, good, [*base, ("page", "not-a-token")], status=400)
    for width, (_d, mx) in USAGE_LIMITS.items():  # usage maximums, documented per bucket width
        t = "/organization/usage/completions"
        checker.get(t, t, world.admin_key, [("start_time", str(NOW - DAY)), ("bucket_width", width),
                                            ("limit", str(mx + 1))], status=400)
    # no key at all: the request breaks the contract's bearer security
    checker.get("/organization/users", "/organization/users", None, status=401, request_valid=False)
    checker.get("/files", "/files", None, status=401, request_valid=False)
    # an unknown URL is not in the contract, but its body is still an ErrorResponse
    r = checker.http.get(checker.sim.base_url + "/organization/nonexistent",
                         headers={"Authorization": f"Bearer {world.admin_key}"})
    checker.expect(r.status_code == 404, f"unknown URL: {r.status_code}")
    checker.problems += contract.check_error_body("GET /v1/organization/nonexistent", r)
    checker.assert_clean()


def test_fault_responses(sim: Simulator, contract: Contract) -> None:
    """A 429 against the TooManyRequests response the contract declares (body and Retry-After);
    500 and 503 bodies against ErrorResponse."""
    sim.set_faults([Rule("429", endpoint="/organization/usage/completions", retry_after=2.5),
                    Rule("429", endpoint="/evals", retry_after=0.2),
                    Rule("500", endpoint="/models"), Rule("503", endpoint="/organization/users")])
    with httpx2.Client(timeout=30) as http:
        ck = Checker(sim, contract, http)
        t = "/organization/usage/completions"
        assert contract.declares(t, 429) and contract.declares("/evals", 429)
        r = ck.get(t, t, sim.world.admin_key, [("start_time", str(NOW - DAY))], status=429)
        assert r.headers["retry-after"] == "3"
        pkey = next(iter(sim.world.project_keys.values()))
        ck.get("/evals", "/evals", pkey, status=429)
        ck.get("/models", "/models", pkey, status=500)
        ck.get("/organization/users", "/organization/users", sim.world.admin_key, status=503)
        ck.assert_clean()


def test_medium_org_pages(shared_sim: Simulator, contract: Contract) -> None:
    """Many generated objects of a medium organization, page after page, across the routes."""
    objects0, responses0 = contract.objects, contract.responses
    with httpx2.Client(timeout=60) as http:
        ck = Checker(shared_sim, contract, http)
        world = shared_sim.world
        admin = world.admin_key

        def full(t: str, path: str, key: str, params: Params | None = None, limit: int = 100,
                 pages: int = 50) -> list[dict[str, Any]]:
            """Every page of a cursor list (up to `pages`)."""
            out, cursor = [], None
            for _ in range(pages):
                r = ck.get(t, path, key, [*(params or []), ("limit", str(limit))]
                           + ([("after", cursor)] if cursor else []))
                if r.status_code != 200:
                    break
                body = r.json()
                out.append(body)
                cursor = cursor_of(body)
                if not body.get("has_more") or not cursor or not contract.has_param(t, "after"):
                    break
            return out

        def items(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [d for b in bodies for d in b["data"]]

        def sample(objs: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
            """A few of a page's objects to fetch one by one (the pages themselves validate them all)."""
            by_id = {o["id"]: o for o in objs}
            return [by_id[i] for i in pick(list(by_id), n)]

        # the organization
        users = items(full("/organization/users", "/organization/users", admin))
        for u in sample(users, 6):
            ck.get("/organization/users/{user_id}", f"/organization/users/{u['id']}", admin)
            ck.get("/organization/users/{user_id}/roles", f"/organization/users/{u['id']}/roles", admin)
        for inv in sample(items(full("/organization/invites", "/organization/invites", admin)), 3):
            ck.get("/organization/invites/{invite_id}", f"/organization/invites/{inv['id']}", admin)
        projects = items(full("/organization/projects", "/organization/projects", admin,
                              [("include_archived", "true")]))
        for k in items(full("/organization/admin_api_keys", "/organization/admin_api_keys", admin)):
            ck.get("/organization/admin_api_keys/{key_id}", f"/organization/admin_api_keys/{k['id']}", admin)
        full("/organization/certificates", "/organization/certificates", admin)
        for g in items(full("/organization/groups", "/organization/groups", admin, limit=1000)):
            full("/organization/groups/{group_id}/users", f"/organization/groups/{g['id']}/users", admin,
                 limit=1000)
        full("/organization/roles", "/organization/roles", admin, limit=1000)
        full("/organization/spend_alerts", "/organization/spend_alerts", admin)
        full("/organization/audit_logs", "/organization/audit_logs", admin,
             [("effective_at[gte]", str(NOW - 2 * DAY))], pages=5)
        for t in [r.template for r in ROUTES if r.template.startswith("/organization/usage/")
                  and contract.operation(r.template) is not None]:  # newer endpoints: see test_usage
            gb = [("group_by", d) for d in contract.param_enum(t, "group_by")]
            follow_pages(ck, t, t, admin, [("start_time", str(NOW - 3 * DAY)), ("bucket_width", "1h"),
                                           ("limit", "72"), *gb], pages=1)
        t = "/organization/costs"
        gb = [("group_by", d) for d in contract.param_enum(t, "group_by")]
        follow_pages(ck, t, t, admin, [("start_time", str(NOW - 30 * DAY)), ("limit", "30"), *gb], pages=1)

        # every project, through the admin API
        for p in projects:
            base = f"/organization/projects/{p['id']}"
            ck.get("/organization/projects/{project_id}", base, admin)
            for sub, id_name in (("users", "user_id"), ("service_accounts", "service_account_id"),
                                 ("api_keys", "api_key_id")):
                t = f"/organization/projects/{{project_id}}/{sub}"
                for it in sample(items(full(t, f"{base}/{sub}", admin)), 1):
                    ck.get(f"{t}/{{{id_name}}}", f"{base}/{sub}/{it['id']}", admin)
            for sub in ("rate_limits", "groups", "certificates", "spend_alerts"):
                full(f"/organization/projects/{{project_id}}/{sub}", f"{base}/{sub}", admin)
            for sub in ("spend_limit", "data_retention", "model_permissions", "hosted_tool_permissions"):
                ck.get(f"/organization/projects/{{project_id}}/{sub}", f"{base}/{sub}", admin)
            full("/projects/{project_id}/roles", f"/projects/{p['id']}/roles", admin, limit=1000)

        # every active project, with its own key
        for key in world.project_keys.values():
            files = items(full("/files", "/files", key, limit=250, pages=1))
            for f in sample(files, 2):
                ck.get("/files/{file_id}", f"/files/{f['id']}", key)
            for b in sample(items(full("/batches", "/batches", key)), 2):
                ck.get("/batches/{batch_id}", f"/batches/{b['id']}", key)
            for e in items(full("/evals", "/evals", key)):
                ck.get("/evals/{eval_id}", f"/evals/{e['id']}", key)
                runs = items(full("/evals/{eval_id}/runs", f"/evals/{e['id']}/runs", key))
                for run in sample(runs, 1):
                    ck.get("/evals/{eval_id}/runs/{run_id}", f"/evals/{e['id']}/runs/{run['id']}", key)
                for run in runs[:1]:
                    full("/evals/{eval_id}/runs/{run_id}/output_items",
                         f"/evals/{e['id']}/runs/{run['id']}/output_items", key)
            for s in items(full("/skills", "/skills", key)):
                ck.get("/skills/{skill_id}", f"/skills/{s['id']}", key)
                full("/skills/{skill_id}/versions", f"/skills/{s['id']}/versions", key)
            for j in items(full("/fine_tuning/jobs", "/fine_tuning/jobs", key)):
                jp = f"/fine_tuning/jobs/{j['id']}"
                ck.get("/fine_tuning/jobs/{fine_tuning_job_id}", jp, key)
                full("/fine_tuning/jobs/{fine_tuning_job_id}/events", f"{jp}/events", key)
                full("/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", f"{jp}/checkpoints", key)
            for v in items(full("/vector_stores", "/vector_stores", key)):
                ck.get("/vector_stores/{vector_store_id}", f"/vector_stores/{v['id']}", key)
                full("/vector_stores/{vector_store_id}/files", f"/vector_stores/{v['id']}/files", key)
            for c in items(full("/containers", "/containers", key)):
                ck.get("/containers/{container_id}", f"/containers/{c['id']}", key)
                full("/containers/{container_id}/files", f"/containers/{c['id']}/files", key)
            for a in items(full("/assistants", "/assistants", key)):
                ck.get("/assistants/{assistant_id}", f"/assistants/{a['id']}", key)
            ck.get("/models", "/models", key)
            chats = items(full("/chat/completions", "/chat/completions", key, pages=1))
            for c in sample(chats, 2):
                ck.get("/chat/completions/{completion_id}", f"/chat/completions/{c['id']}", key)
        ck.assert_clean()
    assert contract.objects - objects0 > 5000, contract.objects - objects0
    assert contract.responses - responses0 > 500


def test_the_contract_is_the_unmodified_published_document():
    """The copy in tests/data is byte for byte the document its README names (source, commit, checksum)."""
    import hashlib

    assert hashlib.sha256(SPEC_FILE.read_bytes()).hexdigest() == SPEC_SHA256
    assert SPEC_SHA256 in (SPEC_FILE.parent / "README.md").read_text()
