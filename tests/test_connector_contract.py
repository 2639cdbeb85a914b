"""Every request the connector makes, validated against the OpenAPI contract.

A small simulated organization is synced four times: a first full sync, an incremental one after the
clock moved 30 hours (audit logs from a watermark, usage from a re-read cursor), one with 1h and 1m
buckets over a week (so that usage pages are followed by `page` tokens), and a costs sync whose range
straddles the api_key_id cut-off (two ranges, the first with `end_time`). Every request of the
simulator's log is then held to the contract (the OpenAPI document, see contract_support.py):

- the path and method are a GET operation of the document, or, for an endpoint newer than it, of the
  installed SDK (SDK_ENDPOINTS: the SDK's params TypedDict stands in for the contract);
- the Admin key was sent (the security the document states), and every request succeeded;
- every query parameter is one the operation declares, of the declared type, within its enum and
  bounds; required ones are present; a non-array parameter is given once;
- `limit` is within the documented range: the schema's minimum/maximum or, where the document states
  it in prose only, the description's ("Limit can range between 1 and 100", "`bucket_width=1h`: ...
  max: 168"), and it is the largest page the contract allows wherever the catalog says it uses that.

openapi-core validates what it can (path, security, required parameters, declared form parameters),
and the checks below do the rest, because openapi-core silently ignores what it cannot read: an
undeclared parameter, `group_by[]=...` and `effective_at[gte]=...` are all skipped without a word (see
test_validator_is_not_vacuous). The SDK's encodings are reconciled with the document explicitly:

- arrays: the SDK sends `group_by[]=a&group_by[]=b`; the document declares `group_by` with the default
  style of a query parameter, form with explode, i.e. `group_by=a&group_by=b`. `name[]` is read as
  `name` only when the document declares `name` as such an array (the API and the simulator take
  both forms, test_contract.usage_plan checks they give the same buckets), and its items are validated
  against the array's items schema;
- objects: the SDK sends `effective_at[gte]=N` (deepObject); the document declares `effective_at` as an
  object without a style, so form, which would serialize it as a bare `gte=N` that no client sends and
  openapi-core does not read either: an omission of `style: deepObject` in the document. `name[key]`
  is read as a deepObject member only where `name` is an object parameter, `key` must be one of its
  properties, and the assembled object is validated against the parameter's schema.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import parse_qsl

import httpx2
import pytest
from conftest import NOW
from contract_support import SERVER, SPEC_URI, Contract, SpecRequest, _esc, describe, schema_error
from jsonschema import Draft202012Validator
from openai.resources.admin.organization.external_keys import ExternalKeys
from openai.resources.admin.organization.external_storage import ExternalStorage
from openai.resources.admin.organization.projects.service_tier_settings import ServiceTierSettings
from openai.resources.admin.organization.usage import Usage
from openai.resources.admin.organization.workload_identity_providers import (
    FederationRules,
    WorkloadIdentityProviders,
)
from openai.types.admin.organization import (
    external_key_list_params,
    external_storage_list_params,
    usage_completions_params,
    usage_costs_params,
    usage_decisions_params,
    usage_web_search_calls_params,
    workload_identity_provider_list_params,
)
from openai.types.admin.organization.workload_identity_providers import federation_rule_list_params
from openapi_core.exceptions import OpenAPIError
from openapi_schema_validator import OAS31Validator

from openai_sync.catalog import (
    COSTS_API_KEY_GROUPING_FROM,
    COSTS_PAGE,
    ORG_TABLES,
    TABLES,
    USAGE_PAGE,
    WIDTH_SECONDS,
    Table,
)
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.server import mask

HOUR, DAY = 3600, 86400

# Endpoints newer than the contract: the installed SDK's params TypedDict is their contract (None: it takes no
# query parameter), and (resource, method) the SDK's call that GETs it.
# test_sdk_endpoints_are_newer_than_the_contract checks that each is still missing from the document.
SDK_ENDPOINTS: dict[str, tuple[type | None, types.ModuleType | None, type, str]] = {
    "/organization/usage/decisions": (usage_decisions_params.UsageDecisionsParams, usage_decisions_params,
                                      Usage, "decisions"),
    "/organization/external_keys": (external_key_list_params.ExternalKeyListParams, external_key_list_params,
                                    ExternalKeys, "list"),
    "/organization/external_storage": (external_storage_list_params.ExternalStorageListParams,
                                       external_storage_list_params, ExternalStorage, "list"),
    "/organization/workload_identity_providers": (
        workload_identity_provider_list_params.WorkloadIdentityProviderListParams,
        workload_identity_provider_list_params, WorkloadIdentityProviders, "list"),
    "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules": (
        federation_rule_list_params.FederationRuleListParams, federation_rule_list_params, FederationRules, "list"),
    "/organization/projects/{project_id}/service_tier_settings": (None, None, ServiceTierSettings, "retrieve"),
}

# Query parameters whose values the installed SDK accepts beyond the contract (it is newer): (template, name) ->
# the SDK's params TypedDict, whose annotation of that parameter stands in for the contract's.
# test_sdk_newer_params_are_newer_than_the_contract checks that the SDK still allows strictly more.
SDK_NEWER_PARAMS: dict[tuple[str, str], type] = {
    ("/organization/usage/completions", "group_by"): usage_completions_params.UsageCompletionsParams,
    ("/organization/usage/web_search_calls", "group_by"): usage_web_search_calls_params.UsageWebSearchCallsParams,
    ("/organization/costs", "group_by"): usage_costs_params.UsageCostsParams,
}

# Endpoints whose `limit` has no documented maximum at all: the connector's page size there cannot be
# held to the contract (it is still held to the catalog). test_page_sizes_are_the_contracts_maxima
# checks that this is exactly the set of such endpoints among those the connector reads.
UNDOCUMENTED_MAXIMA = {
    "/organization/admin_api_keys": "schema: integer, default 20, 'Maximum number of keys to return.'",
    "/organization/projects/{project_id}/rate_limits": "'The default is 100.', no range",
    # newer than the contract; the SDK's params declare `limit: int` without a word on its range (100, the
    # Administration API's usual maximum, is what the connector asks for)
    "/organization/external_keys": "SDK: limit: int",
    "/organization/external_storage": "SDK: limit: int",
    "/organization/workload_identity_providers": "SDK: limit: int",
    "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules": "SDK: limit: int",
    "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions": "schema: integer, default 10, no range",
}
# read only when project keys are given too (they list the fine-tuned models), which these syncs do not give
PROJECT_KEYED = {"/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"}

# The preflight probes (pipeline.preflight): one cheap request per permission, limit=1 on purpose.
PREFLIGHT_PATHS = ("/organization/projects", "/organization/usage/completions", "/organization/audit_logs")

RANGE = re.compile(r"range between (\d+) and (\d+)")
PER_WIDTH = re.compile(r"`bucket_width=(\w+)`: default: (\d+), max: (\d+)")
DEEP = re.compile(r"([A-Za-z_][\w.]*)\[([A-Za-z_]\w*)\]")
PARAM = re.compile(r"\{\w+\}")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def template_regex(template: str) -> re.Pattern[str]:
    """/a/{x}/b -> ^/a/[^/]+/b$"""
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in PARAM.split(template)) + "$")


# ---- what an endpoint accepts: from the contract, or from the SDK ------------------------------------
@dataclass
class Param:
    name: str
    schema: dict[str, Any]  # resolved (top level, items and properties)
    validator: Any  # iter_errors(value)
    required: bool = False
    style: str = "form"
    explode: bool = True
    description: str = ""


@dataclass
class Endpoint:
    template: str
    source: str  # "contract" | "sdk"
    methods: set[str]
    params: dict[str, Param] = field(default_factory=dict)

    def limit_range(self, width: str) -> tuple[int | None, int | None]:
        """The documented range of `limit`: the schema's bounds, else the description's prose."""
        p = self.params["limit"]
        lo, hi = p.schema.get("minimum"), p.schema.get("maximum")
        if (m := RANGE.search(p.description)) is not None:
            lo = int(m[1]) if lo is None else lo
            hi = int(m[2]) if hi is None else hi
        per_width = {w: int(mx) for w, _d, mx in PER_WIDTH.findall(p.description)}
        if per_width:
            hi = per_width.get(width)
        return lo, hi

    def default_width(self) -> str:
        p = self.params.get("bucket_width")
        # the contract states the default; the SDK's docstring says "default to `1d`"
        return p.schema.get("default", "1d") if p else "1d"


def contract_endpoint(c: Contract, template: str) -> Endpoint:
    item = c.spec["paths"][template]
    ep = Endpoint(template, "contract", {m.upper() for m in item if m in HTTP_METHODS})
    base = f"/paths/{_esc(template)}"
    declared = [(f"{base}/parameters/{i}", p) for i, p in enumerate(item.get("parameters", []))]
    declared += [(f"{base}/get/parameters/{i}", p)
                 for i, p in enumerate((c.operation(template) or {}).get("parameters", []))]
    for ptr, p in declared:  # the operation's own come last: they override the path item's
        if "$ref" in p:
            ptr = p["$ref"].removeprefix("#")
            p = c._at(ptr)
        if p["in"] != "query":
            continue
        schema = resolve_all(c, p.get("schema") or {})
        style = p.get("style", "form")
        ep.params[p["name"]] = Param(
            p["name"], schema, OAS31Validator({"$ref": f"{SPEC_URI}#{ptr}/schema"}, registry=c.registry),
            required=bool(p.get("required")), style=style, explode=p.get("explode", style == "form"),
            description=" ".join(filter(None, [p.get("description"), schema.get("description")])))
    for (where, name), params_td in SDK_NEWER_PARAMS.items():
        if where == template:
            newer = sdk_schema(typing.get_type_hints(params_td)[name])
            ep.params[name].schema, ep.params[name].validator = newer, Draft202012Validator(newer)
    return ep


def resolve_all(c: Contract, schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter schema with its items and properties resolved (for reading query strings)."""
    s = dict(c._resolve(schema))
    if isinstance(s.get("items"), dict):
        s["items"] = c._resolve(s["items"])
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: c._resolve(v) for k, v in s["properties"].items()}
    return s


def sdk_schema(tp: Any) -> dict[str, Any]:
    """A JSON schema for one annotation of an SDK params TypedDict."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Required, typing.NotRequired):
        return sdk_schema(args[0])
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, f"unsupported union {tp}"
        return sdk_schema(rest[0])
    if origin is Literal:
        kinds = {type(a) for a in args}
        assert kinds == {str}, f"unsupported literal {tp}"
        return {"type": "string", "enum": list(args)}
    if origin in (list, Sequence):
        return {"type": "array", "items": sdk_schema(args[0])}
    simple = {int: "integer", bool: "boolean", str: "string", float: "number"}
    assert tp in simple, f"unsupported annotation {tp}"
    return {"type": simple[tp]}


def sdk_endpoint(template: str) -> Endpoint:
    params_td, module, _resource, _method = SDK_ENDPOINTS[template]
    ep = Endpoint(template, "sdk", {"GET"})
    if params_td is None or module is None:
        return ep
    source = inspect.getsource(module)
    for name, tp in typing.get_type_hints(params_td, include_extras=True).items():
        schema = sdk_schema(tp)
        doc = re.search(rf"^    {name}: .*?\n(?:    .*\n)*?    \"\"\"(.*?)\"\"\"", source, re.M | re.S)
        ep.params[name] = Param(name, schema, Draft202012Validator(schema),
                                required=get_origin(tp) is typing.Required, description=doc[1] if doc else "")
    return ep


class Endpoints:
    """The contract's GET paths (and SDK_ENDPOINTS), matched against concrete request paths."""

    def __init__(self, c: Contract) -> None:
        self.c = c
        templates = [*c.spec["paths"], *[t for t in SDK_ENDPOINTS if t not in c.spec["paths"]]]
        templates.sort(key=lambda t: (len(PARAM.findall(t)), t))  # literal segments win
        self.patterns = [(template_regex(t), t) for t in templates]
        self._cache: dict[str, Endpoint] = {}

    def match(self, path: str) -> Endpoint | None:
        for rx, t in self.patterns:
            if rx.match(path):
                if t not in self._cache:
                    self._cache[t] = (contract_endpoint(self.c, t) if t in self.c.spec["paths"]
                                      else sdk_endpoint(t))
                return self._cache[t]
        return None


# ---- reading and validating one request ------------------------------------------------------------
def coerce(schema: dict[str, Any], raw: str) -> Any:
    """A query string value as the type its schema declares (left a string when it is not one)."""
    t = schema.get("type")
    if t == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if t == "number" and re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return float(raw)
    if t == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def is_form_array(p: Param) -> bool:
    return p.schema.get("type") == "array" and p.style == "form" and p.explode


@dataclass
class Checked:
    template: str | None
    source: str | None
    values: dict[str, Any]
    problems: list[str]
    encodings: Counter[str]


def is_user_grouping_probe(path: str, query: str) -> bool:
    """The one-day costs request grouped by project_id and user_id with which read/costs.py finds where the API
    accepts that combination: "unsupported combinations return HTTP 400" (SDK), so a 400 is its answer."""
    q = urllib.parse.parse_qs(query)
    return (path == "/v1/organization/costs" and q.get("group_by[]") == ["project_id", "user_id"]
            and q.get("limit") == ["1"] and int(q["end_time"][0]) - int(q["start_time"][0]) == DAY)


def check_request(c: Contract, endpoints: Endpoints, entry: dict[str, Any], admin_key: str) -> Checked:
    """One logged request (method, path, raw query, status, masked key) against its endpoint's contract."""
    method, path, query = entry["method"], entry["path"], entry["query"]
    where = f"{method} {path}?{query}"
    problems: list[str] = []
    enc: Counter[str] = Counter()
    if entry["status"] != 200 and not (entry["status"] == 400 and is_user_grouping_probe(path, query)):
        problems.append(f"{where}: answered {entry['status']}")
    if entry.get("key") != mask(admin_key):
        problems.append(f"{where}: sent with the key {entry.get('key')}, not the Admin key")
    if not path.startswith("/v1/"):
        return Checked(None, None, {}, [*problems, f"{where}: not under the API's /v1"], enc)
    ep = endpoints.match(path[3:])
    if ep is None:
        return Checked(None, None, {}, [*problems, f"{where}: no such path in the contract or the SDK"], enc)
    if method != "GET":
        problems.append(f"{where}: the connector only reads, but this is a {method}")
    if method not in ep.methods:
        problems.append(f"{where}: {method} is not an operation of {ep.template} ({sorted(ep.methods)})")

    # names: declared ones, `name[]` for a form array, `name[key]` for a deepObject member
    pairs = parse_qsl(query, keep_blank_values=True)
    raws: dict[str, list[str]] = {}
    members: dict[str, dict[str, str]] = {}
    plain: list[tuple[str, str]] = []  # the query as the document spells it, for openapi-core
    for name, raw in pairs:
        if name in ep.params:
            raws.setdefault(name, []).append(raw)
            plain.append((name, raw))
        elif name.endswith("[]") and (p := ep.params.get(name[:-2])) is not None and is_form_array(p):
            raws.setdefault(p.name, []).append(raw)
            plain.append((p.name, raw))
            enc[f"{p.name}[]"] += 1
        elif (m := DEEP.fullmatch(name)) and (p := ep.params.get(m[1])) is not None \
                and p.schema.get("type") == "object":
            props = p.schema.get("properties") or {}
            if m[2] not in props:
                problems.append(f"{where}: {name}: {m[2]!r} is not a property of {p.name} ({sorted(props)})")
            elif m[2] in members.get(p.name, {}):
                problems.append(f"{where}: {name} is given more than once")
            members.setdefault(p.name, {})[m[2]] = raw
            enc[f"{p.name}[...]"] += 1
        else:
            problems.append(f"{where}: query parameter {name!r} is not declared by {ep.template} "
                            f"(declared: {sorted(ep.params)})")
    values: dict[str, Any] = {}
    for name, rs in raws.items():
        p = ep.params[name]
        if p.schema.get("type") == "array":
            values[name] = [coerce(p.schema.get("items") or {}, r) for r in rs]
        else:
            if len(rs) > 1:
                problems.append(f"{where}: {name} is given {len(rs)} times, but it is not an array")
            values[name] = coerce(p.schema, rs[-1])
    for name, got in members.items():
        props = ep.params[name].schema.get("properties") or {}
        values[name] = {k: coerce(props.get(k) or {}, v) for k, v in got.items()}
    for name, p in ep.params.items():
        if p.required and name not in values:
            problems.append(f"{where}: the required query parameter {name!r} is missing")
    for name, v in values.items():
        problems += [f"{where}: {name}: {schema_error(e)}" for e in ep.params[name].validator.iter_errors(v)]

    # limit within the documented range (for the bucket width the request asked for)
    if "limit" in values and isinstance(values["limit"], int) and ep.template not in UNDOCUMENTED_MAXIMA:
        width = values.get("bucket_width", ep.default_width())
        lo, hi = ep.limit_range(width) if isinstance(width, str) else (None, None)
        if hi is None:
            problems.append(f"{where}: no documented maximum for limit on {ep.template}")
        elif not (lo or 0) <= values["limit"] <= hi:
            problems.append(f"{where}: limit={values['limit']} is outside the documented range "
                            f"{lo or 0}..{hi}")

    # and openapi-core, on the request as the document spells it, with the key it names
    if ep.source == "contract":
        c.requests += 1
        # a parameter whose newer values the SDK allows was checked against the SDK above
        known = [(n, v) for n, v in plain if (ep.template, n) not in SDK_NEWER_PARAMS]
        url = httpx2.URL(f"{SERVER}{path}", params=known)
        req = httpx2.Request(method, url, headers={"Authorization": f"Bearer {admin_key}"})
        try:
            c.app.validate_apicall_request(SpecRequest(req))
        except OpenAPIError as e:
            problems.append(f"{where}: openapi-core: {describe(e)}")
    return Checked(ep.template, ep.source, values, problems, enc)


# ---- the syncs ----------------------------------------------------------------------------------------
@dataclass
class SyncLog:
    label: str
    cfg: SyncConfig
    entries: list[dict[str, Any]]
    admin_key: str
    failed: dict[str, str | None]  # tables that failed: reported with the requests' problems


def run_sync(sim: Simulator, label: str, cfg: SyncConfig) -> SyncLog:
    before = len(sim.app.stats.snapshot(with_log=True)["log"])
    results, _run = sync(cfg)
    log = sim.app.stats.snapshot(with_log=True)["log"]
    return SyncLog(label, cfg, log[before:], sim.world.admin_key,
                   {r.name: r.error for r in results if r.status != "ok"})


def cfg_for(sim: Simulator, tmp: Path, name: str, **kw: Any) -> SyncConfig:
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                      destination=f"duckdb:///{tmp}/{name}.duckdb", pipelines_dir=str(tmp / f"{name}-state"), **kw)


@pytest.fixture(scope="module")
def syncs(tmp_path_factory: pytest.TempPathFactory) -> list[SyncLog]:
    tmp = tmp_path_factory.mktemp("connector_contract")
    out = []
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:  # the `sim` organization
        full = cfg_for(sim, tmp, "org")
        out.append(run_sync(sim, "first sync", full))
        sim.advance(30)
        out.append(run_sync(sim, "incremental sync", full))
        widths = cfg_for(sim, tmp, "widths", bucket_widths={"usage_completions": "1h", "usage_embeddings": "1m",
                                                            "usage_decisions": "1m"},
                         tables=["usage_completions", "usage_embeddings", "usage_decisions", "usage_images"],
                         start_date=sim.world.now - 8 * DAY)  # 1h: two pages; 1m: page after page
        out.append(run_sync(sim, "1h and 1m buckets", widths))
    # an organization whose history starts before the costs' api_key_id cut-off: two ranges
    with Simulator(World(seed=7, size="small", now=COSTS_API_KEY_GROUPING_FROM + 10 * DAY)) as sim:
        out.append(run_sync(sim, "costs around the cut-off", cfg_for(sim, tmp, "costs", tables=["costs"])))
    return out


@pytest.fixture(scope="module")
def checked(syncs: list[SyncLog], contract: Contract) -> list[tuple[SyncLog, dict[str, Any], Checked]]:
    endpoints = Endpoints(contract)
    return [(s, e, check_request(contract, endpoints, e, s.admin_key)) for s in syncs for e in s.entries]


# ---- the tests ----------------------------------------------------------------------------------------
def test_every_request_honours_the_contract(checked, capsys: pytest.CaptureFixture[str]) -> None:
    problems = [p for _s, _e, ck in checked for p in ck.problems]
    problems += [f"{s.label}: {name} failed: {err}" for s in {s.label: s for s, _e, _ck in checked}.values()
                 for name, err in s.failed.items()]
    per_endpoint = Counter((ck.source, ck.template) for _s, _e, ck in checked)
    per_sync = Counter(s.label for s, _e, _ck in checked)
    encodings = sum((ck.encodings for _s, _e, ck in checked), Counter())
    with capsys.disabled():
        print(f"\nconnector requests validated: {len(checked)} ({dict(per_sync)}); "
              f"SDK encodings read: {dict(encodings)}")
        for (source, template), n in sorted(per_endpoint.items(), key=lambda kv: str(kv[0][1])):
            print(f"  {n:4d}  {template}{'  (SDK)' if source == 'sdk' else ''}")
    assert not problems, f"{len(problems)} contract violation(s):\n" + "\n".join(problems[:40])
    # not vacuous: every endpoint the catalog reads was requested, in each of the SDK's encodings
    templates = {ck.template for _s, _e, ck in checked}
    for t in ORG_TABLES:
        if t.path in PROJECT_KEYED:
            continue
        for path in [t.path] if t.path else [p for _n, p in t.settings_paths]:
            concrete = re.sub(r"\{\w+\}", "x", path)
            assert any(x and template_regex(x).match(concrete) for x in templates), \
                f"{t.name}: {path} was never requested"
    assert encodings["group_by[]"] and encodings["effective_at[...]"]
    seen = {(k, str(v)) for _s, _e, ck in checked for k, v in ck.values.items() if k in ("bucket_width", "page")}
    assert {("bucket_width", w) for w in ("1m", "1h", "1d")} <= seen
    # usage and costs ranges are cut to one page each, so page tokens are rarely followed in a sync;
    # tests/test_parallel.py follows them with the connector
    assert any("after" in ck.values for _s, _e, ck in checked), "no list was followed by its cursor"
    assert any("end_time" in ck.values for _s, _e, ck in checked), "costs were not read in two ranges"


def expected_limit(table: Table, cfg: SyncConfig) -> int:
    """The page size the catalog says this table is read with."""
    if table.mode == "usage":
        return USAGE_PAGE[cfg.width_for(table)]
    if table.mode == "costs":
        return COSTS_PAGE
    return table.page_limit


def table_of(path: str) -> Table | None:
    for t in ORG_TABLES:
        if t.path and template_regex(t.path).match(path):
            return t
    return None


def test_page_sizes_are_the_contracts_maxima(checked, contract: Contract) -> None:
    """Each page request asks for the largest page the contract allows, as the catalog says it does."""
    wrong: list[str] = []
    endpoints = Endpoints(contract)
    no_max: set[str] = set()
    by_sync: dict[str, list[tuple[dict[str, Any], Checked]]] = {}
    for s, e, ck in checked:
        by_sync.setdefault(s.label, []).append((e, ck))
    for s in {s.label: s for s, _e, _ck in checked}.values():
        rows = by_sync[s.label]
        # the preflight probes come first, one per permission the selected tables need
        modes = {t.mode for t in (TABLES[n] for n in s.cfg.tables)} if s.cfg.tables else None
        want = [PREFLIGHT_PATHS[0]]
        if modes is None or modes & {"usage", "costs"}:
            want.append(PREFLIGHT_PATHS[1])
        if modes is None or "audit" in modes:
            want.append(PREFLIGHT_PATHS[2])
        probes = [e["path"][3:] for e, _ck in rows[:len(want)]]
        assert probes == want, f"{s.label}: preflight {probes} != {want}"
        assert all(ck.values.get("limit") == 1 for _e, ck in rows[:len(want)])
        for e, ck in rows[len(want):]:
            path = e["path"][3:]
            where = f"{s.label}: GET {e['path']}?{e['query']}"
            table = table_of(path)
            if table is None:
                is_setting = any(template_regex(p).match(path)
                                 for t in ORG_TABLES for _n, p in t.settings_paths)
                if not is_setting or ck.values:
                    wrong.append(f"{where}: not a table's listing, nor a project setting")
                continue
            got = ck.values.get("limit")
            if table.mode in ("usage", "costs") and str(got) == "1" and "end_time" in ck.values and (
                    int(ck.values["end_time"]) - int(ck.values["start_time"])
                    == WIDTH_SECONDS[s.cfg.width_for(table)]):
                continue  # the one-bucket probe that sizes pages to the memory bound (pipeline.buckets)
            claim = expected_limit(table, s.cfg)
            if got != claim:
                wrong.append(f"{where}: limit={got}, but the catalog reads {table.name} with {claim}")
            if table.mode in ("usage", "costs"):
                width = s.cfg.width_for(table)
                if ck.values.get("bucket_width") != width:
                    wrong.append(f"{where}: bucket_width={ck.values.get('bucket_width')}, configured {width}")
            ep = endpoints.match(path)
            assert ep is not None and "limit" in ep.params, where
            if ep.template in UNDOCUMENTED_MAXIMA:
                no_max.add(ep.template)
                continue
            _lo, hi = ep.limit_range(ck.values.get("bucket_width", ep.default_width()))
            if got != hi:
                wrong.append(f"{where}: limit={got}, but the contract allows {hi} on {ep.template}")
    assert not wrong, f"{len(wrong)} page size(s) not the largest:\n" + "\n".join(wrong[:40])
    assert no_max == set(UNDOCUMENTED_MAXIMA) - PROJECT_KEYED, "UNDOCUMENTED_MAXIMA is stale: " \
        f"{sorted(no_max ^ (set(UNDOCUMENTED_MAXIMA) - PROJECT_KEYED))}"
    for template in UNDOCUMENTED_MAXIMA:  # and the contract still says nothing about their maximum
        ep = endpoints.match(template)
        assert ep is not None
        assert ep.limit_range("1d")[1] is None, f"{template} documents its maximum now: drop it"


def test_catalog_claims_the_contracts_maxima(contract: Contract) -> None:
    """The catalog's page sizes, every table and width, against the documented maxima (even those a small
    organization's syncs do not reach, like usage at widths that were not configured)."""
    endpoints = Endpoints(contract)
    wrong = []
    for t in ORG_TABLES:
        if not t.path:
            continue
        ep = endpoints.match(re.sub(r"\{\w+\}", "x", t.path))
        assert ep is not None and "limit" in ep.params, t.name
        if ep.template in UNDOCUMENTED_MAXIMA:
            continue
        if t.mode == "usage":
            for w, page in USAGE_PAGE.items():
                if ep.limit_range(w)[1] != page:
                    wrong.append(f"{t.name} ({w}): USAGE_PAGE {page}, documented {ep.limit_range(w)[1]}")
        else:
            claim = COSTS_PAGE if t.mode == "costs" else t.page_limit
            if ep.limit_range("1d")[1] != claim:
                wrong.append(f"{t.name}: page {claim}, documented maximum {ep.limit_range('1d')[1]}")
    assert not wrong, "\n".join(wrong)


def test_sdk_newer_params_are_newer_than_the_contract(contract: Contract) -> None:
    """Each SDK_NEWER_PARAMS entry: the SDK allows every value the contract does, and more."""
    for (template, name), params_td in SDK_NEWER_PARAMS.items():
        documented = resolve_all(contract, next(p for p in contract.operation(template)["parameters"]
                                                if p["name"] == name)["schema"])
        sdk = sdk_schema(typing.get_type_hints(params_td)[name])
        assert set(documented["items"]["enum"]) < set(sdk["items"]["enum"]), (template, name)


def test_sdk_endpoints_are_newer_than_the_contract(contract: Contract) -> None:
    """Each SDK_ENDPOINTS entry is still missing from the document, and the SDK really GETs it."""
    for template, (_params, _module, resource, method) in SDK_ENDPOINTS.items():
        assert template not in contract.spec["paths"], f"{template} is in the contract now: drop it"
        src = inspect.getsource(getattr(resource, method))
        call = rf'self\._get(?:_api_list)?\(\s*(?:path_template\(\s*)?"{re.escape(template)}"'
        assert re.search(call, src), f"the SDK does not GET {template}"


def test_validator_is_not_vacuous(contract: Contract) -> None:
    """Broken requests are reported, in particular what openapi-core alone lets through."""
    endpoints = Endpoints(contract)
    key = "sk-admin-" + "x" * 40

    def problems(path: str, query: str = "", method: str = "GET", status: int = 200) -> list[str]:
        e = {"method": method, "path": "/v1" + path, "query": query, "status": status, "key": mask(key)}
        return check_request(contract, endpoints, e, key).problems

    u, d = "/organization/usage/completions", "/organization/usage/decisions"
    gb = "&group_by%5B%5D=project_id&group_by%5B%5D=model"
    ok = [("/organization/users", "limit=100"), ("/organization/users", "limit=100&after=user-1"),
          ("/organization/audit_logs", "effective_at%5Bgte%5D=5&limit=100"),
          ("/organization/projects", "include_archived=true&limit=100"),
          (u, "start_time=1&bucket_width=1h&limit=168" + gb), (u, "start_time=1&limit=31&page=tok" + gb),
          (u, "start_time=1&group_by=project_id"), ("/organization/costs", "start_time=1&end_time=9&limit=180"),
          (d, "start_time=1&bucket_width=1m&limit=1440&group_by%5B%5D=api_source"),
          ("/organization/groups", "limit=1000"), ("/organization/projects/proj_1/groups", "limit=100"),
          ("/organization/projects/proj_1/spend_limit", "")]
    for path, query in ok:
        assert problems(path, query) == [], (path, query)
    broken = [
        # openapi-core alone says nothing about these
        ("/organization/users", "limit=100&bogus=1"),  # undeclared
        (u, "start_time=1&group_by%5B%5D=colour"),  # SDK-encoded array, value outside the enum
        ("/organization/audit_logs", "effective_at%5Bgte%5D=yesterday"),  # deepObject member, not an integer
        ("/organization/audit_logs", "effective_at%5Bsince%5D=5"),  # not a property of effective_at
        ("/organization/audit_logs", "gte=5"),  # the form serialization of the object: not declared
        ("/organization/users", "limit=101"),  # above the maximum stated in prose
        (u, "start_time=1&limit=32"),  # above 1d's maximum (the default width)
        (u, "start_time=1&bucket_width=1h&limit=169"),
        ("/organization/costs", "start_time=1&limit=181"),
        ("/organization/users", "limit=0"),  # below "between 1 and 100"
        ("/organization/users", "limit=10&limit=20"),  # not an array
        ("/organization/projects/proj_1/spend_limit", "limit=5"),  # takes no parameters
        # openapi-core catches these too
        ("/organization/users", "limit=ten"), (u, "start_time=1&group_by=colour"), (u, "limit=5"),
        (u, "start_time=1&bucket_width=1w"), ("/organization/groups", "limit=1001"),
        # the SDK's TypedDict, for the endpoint the contract lacks
        (d, "start_time=1&group_by%5B%5D=colour"), (d, "start_time=1&colour=red"), (d, "limit=5"),
        (d, "start_time=1&bucket_width=1w"), (d, "start_time=1&bucket_width=1m&limit=1441"),
        (d, "start_time=soon"), (d, "start_time=1&batch=maybe"),
        # paths
        ("/organization/nonexistent", ""),
    ]
    for path, query in broken:
        assert problems(path, query), f"not reported: {path}?{query}"
    assert problems("/organization/users/user-1", "", method="DELETE")  # in the contract, but not a read
    assert problems("/organization/users", "limit=100", method="PUT")  # not in the contract
    assert problems("/organization/users", "limit=100", status=400)
