"""Usage and cost buckets: alignment, widths that agree, group_by and filters, references to the world,
and costs that agree with usage under the price table (SPEC 4.3, 7).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest
from conftest import NOW
from simhttp import Api, usage_buckets, usage_pages

from openai_sync.simulator import Simulator
from openai_sync.simulator.usage import USAGE_TYPES
from openai_sync.simulator.world import (
    AUDIO_SPEECH_PRICE,
    CODE_INTERPRETER_PRICE,
    COMPLETION_PRICES,
    DAY,
    EMBEDDING_PRICES,
    FILE_SEARCH_PRICE,
    HOUR,
    IMAGE_PRICES,
    MODERATION_MODELS,
    SPEECH_MODELS,
    TRANSCRIPTION_MODELS,
    TRANSCRIPTION_PRICE,
    WEB_SEARCH_PRICE,
)

CUTOFF = 1764979200  # 2025-12-06: costs accept group_by=api_key_id from here on
KINDS = list(USAGE_TYPES)
SECS = {"1m": 60, "1h": HOUR, "1d": DAY}
LIMIT = {"1m": 1440, "1h": 168, "1d": 31}
# the documented group_by dimensions of each endpoint (SPEC 4.3, the OpenAPI contract)
DIMS = {
    # api_source (and the decisions endpoint) are newer than the OpenAPI document; the SDK has them
    "completions": ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source"),
    "decisions": ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source"),
    "embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "moderations": ("project_id", "user_id", "api_key_id", "model"),
    "images": ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    "audio_speeches": ("project_id", "user_id", "api_key_id", "model"),
    "audio_transcriptions": ("project_id", "user_id", "api_key_id", "model"),
    "vector_stores": ("project_id",),
    "code_interpreter_sessions": ("project_id",),
    "file_search_calls": ("project_id", "user_id", "api_key_id", "vector_store_id"),
    "web_search_calls": ("project_id", "user_id", "api_key_id", "model", "context_level", "api_source"),
}
COST_DIMS = ("project_id", "user_id", "line_item", "api_key_id", "api_source")
ALL_DIMS = sorted({d for ds in DIMS.values() for d in ds} | {"line_item"})


def path(kind: str) -> str:
    return f"/organization/usage/{kind}"


def metrics(kind: str) -> tuple[str, ...]:
    return USAGE_TYPES[kind].metrics


def totals(buckets: list[dict[str, Any]], kind: str, dims: tuple[str, ...]) -> dict[tuple, dict[str, int]]:
    """Metric sums over all buckets, per group (the dims' values)."""
    out: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in buckets:
        for r in b["results"]:
            g = tuple(r.get(d) for d in dims)
            for m in metrics(kind):
                out[g][m] += r[m]
    return {g: dict(v) for g, v in out.items()}


def grand(buckets: list[dict[str, Any]], kind: str) -> dict[str, int]:
    return {m: sum(r[m] for b in buckets for r in b["results"]) for m in metrics(kind)}


@pytest.fixture(scope="module")
def api(shared_sim: Simulator):
    with Api(shared_sim) as a:
        yield a


def get_buckets(api: Api, kind: str, **params: Any) -> list[dict[str, Any]]:
    width = params.get("bucket_width", "1d")
    return usage_buckets(api, path(kind), limit=LIMIT[width], **params)


# ---- alignment and range -------------------------------------------------------------------------
@pytest.mark.parametrize("width", ["1m", "1h", "1d"])
def test_buckets_are_utc_aligned_start_inclusive_end_exclusive(api, width):
    s = SECS[width]
    # unaligned range: the first bucket holds start_time, the last one starts before end_time
    start, end = NOW - 40 * s - s // 3 - 7, NOW - 5 * s + s // 2
    got = get_buckets(api, "completions", start_time=start, end_time=end, bucket_width=width)
    assert [b["start_time"] for b in got] == list(range(start // s * s, end, s))
    for b in got:
        assert b["object"] == "bucket"
        assert b["start_time"] % s == 0, "UTC-aligned (1d buckets start at 00:00 UTC)"
        assert b["end_time"] - b["start_time"] == s
    assert got[0]["start_time"] <= start < got[0]["end_time"]
    assert got[-1]["start_time"] < end <= got[-1]["end_time"]
    # aligned range: start_time is the first bucket (inclusive), end_time is not a bucket (exclusive)
    start, end = NOW - 10 * s, NOW - 4 * s
    got = get_buckets(api, "completions", start_time=start, end_time=end, bucket_width=width)
    assert [b["start_time"] for b in got] == [start + i * s for i in range(6)]
    one = get_buckets(api, "completions", start_time=start, end_time=start + s, bucket_width=width)
    assert len(one) == 1 and one[0]["start_time"] == start
    assert one == got[:1]


def test_buckets_stop_at_the_clock(api, shared_sim):
    now = shared_sim.world.now
    got = get_buckets(api, "completions", start_time=now - 3 * DAY, bucket_width="1h")
    assert got[-1]["start_time"] == now - HOUR, "nothing starts at or after the clock"
    later = get_buckets(api, "completions", start_time=now - 3 * DAY, end_time=now + 5 * DAY,
                        bucket_width="1h")
    assert later == got
    assert get_buckets(api, "completions", start_time=now + HOUR, bucket_width="1h") == []


def test_range_errors(api):
    e = api.err(400, path("completions"))
    assert e["param"] == "start_time"
    e = api.err(400, path("completions"), start_time=NOW - DAY, end_time=NOW - DAY)
    assert e["param"] == "end_time"
    assert api.err(400, path("completions"), start_time="yesterday")["param"] == "start_time"
    assert api.err(400, path("images"), start_time=NOW - DAY, bucket_width="1w")["param"] == "bucket_width"


# ---- widths agree ----------------------------------------------------------------------------------
def _widths_agree(api: Api, kind: str, day: int, hour: int) -> None:
    dims = DIMS[kind]
    d1 = get_buckets(api, kind, start_time=day, end_time=day + DAY, bucket_width="1d", group_by=list(dims))
    h24 = get_buckets(api, kind, start_time=day, end_time=day + DAY, bucket_width="1h", group_by=list(dims))
    assert len(d1) == 1 and len(h24) == 24
    assert totals(h24, kind, dims) == totals(d1, kind, dims)
    one_hour = dict(start_time=hour, end_time=hour + HOUR, group_by=list(dims))
    h1 = get_buckets(api, kind, bucket_width="1h", **one_hour)
    m60 = get_buckets(api, kind, bucket_width="1m", **one_hour)
    assert len(h1) == 1 and len(m60) == 60
    assert totals(m60, kind, dims) == totals(h1, kind, dims)


@pytest.mark.parametrize("kind", KINDS)
def test_widths_agree_on_final_and_restated_days(api, kind):
    # a final day (ended long ago) and the day that just ended (still being restated)
    for day in (NOW - 20 * DAY, NOW - DAY):
        busiest = max(range(day, day + DAY, HOUR), key=lambda h: sum(grand(get_buckets(
            api, kind, start_time=h, end_time=h + HOUR, bucket_width="1h"), kind).values()))
        _widths_agree(api, kind, day, busiest)
    some = grand(get_buckets(api, kind, start_time=NOW - 20 * DAY, end_time=NOW, bucket_width="1d"), kind)
    assert any(some.values()), f"{kind}: the medium world has this usage"


def test_widths_agree_while_the_clock_is_inside_an_hour(sim):
    """A partial hour and a partial day: 60 minutes add up to the hour, 24 hours to the day."""
    sim.advance(13.75)
    now = sim.world.now
    hour, day = now // HOUR * HOUR, now // DAY * DAY
    with Api(sim) as a:
        for kind in ("completions", "embeddings", "vector_stores", "code_interpreter_sessions"):
            dims = DIMS[kind]
            d1 = get_buckets(a, kind, start_time=day, bucket_width="1d", group_by=list(dims))
            h = get_buckets(a, kind, start_time=day, bucket_width="1h", group_by=list(dims))
            m = get_buckets(a, kind, start_time=hour, bucket_width="1m", group_by=list(dims))
            h_cur = get_buckets(a, kind, start_time=hour, bucket_width="1h", group_by=list(dims))
            assert len(d1) == 1 and len(h) == 14 and len(h_cur) == 1 and len(m) == 45
            assert totals(h, kind, dims) == totals(d1, kind, dims), kind
            assert totals(m, kind, dims) == totals(h_cur, kind, dims), kind
        minutes = get_buckets(a, "completions", start_time=hour, bucket_width="1m")
        assert any(grand(minutes, "completions").values()), "the partial hour has usage"


# ---- group_by ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def month(api) -> dict[str, list[dict[str, Any]]]:
    """30 days of 1d buckets per endpoint, ungrouped."""
    return {k: get_buckets(api, k, start_time=NOW - 30 * DAY, end_time=NOW) for k in KINDS}


@pytest.mark.parametrize(("kind", "dim"), [(k, d) for k in KINDS for d in DIMS[k]])
def test_group_by_each_dimension(api, month, kind, dim):
    got = get_buckets(api, kind, start_time=NOW - 30 * DAY, end_time=NOW, group_by=[dim])
    assert [b["start_time"] for b in got] == [b["start_time"] for b in month[kind]]
    values = set()
    for b in got:
        groups = [r.get(dim) for r in b["results"]]
        assert len(groups) == len(set(groups)), "one result per group and bucket"
        values |= set(groups)
        for r in b["results"]:
            assert r["object"] == USAGE_TYPES[kind].result_object
            for other in DIMS[kind]:
                if other != dim:
                    assert r.get(other) is None, f"{other} is null unless grouped by"
    assert values - {None}, f"{kind} grouped by {dim} names its groups"
    # a partition: the groups add up to the ungrouped totals, bucket by bucket
    for g, u in zip(got, month[kind], strict=True):
        assert grand([g], kind) == grand([u], kind)


@pytest.mark.parametrize("kind", KINDS)
def test_group_by_unsupported_dimension_answers_400(api, kind):
    for dim in [d for d in ALL_DIMS if d not in DIMS[kind]] + ["organization_id"]:
        e = api.err(400, path(kind), start_time=NOW - DAY, group_by=[dim])
        assert e["param"] == "group_by" and e["type"] == "invalid_request_error", (kind, dim)
        e = api.err(400, path(kind), start_time=NOW - DAY, group_by=["project_id", dim])
        assert e["param"] == "group_by"


@pytest.mark.parametrize("kind", KINDS)
def test_usage_references_the_world(shared_sim, api, kind):
    """Every grouped row names a project, user, key and model that the organization has (had)."""
    w = shared_sim.world
    dims = DIMS[kind]
    got = get_buckets(api, kind, start_time=w.start - 3 * DAY, group_by=list(dims))
    assert got[0]["results"] == [], "nothing before the organization existed"
    key_of = {k.id: (p, k) for p in w.projects for k in p.api_keys}
    models = {*COMPLETION_PRICES, *EMBEDDING_PRICES, *IMAGE_PRICES, *MODERATION_MODELS, *SPEECH_MODELS,
              *TRANSCRIPTION_MODELS}
    rows = [r for b in got for r in b["results"]]
    assert rows
    for b in got:
        for r in b["results"]:
            p = w.project_by_id[r["project_id"]]
            assert p.created_at < b["end_time"], "no usage before the project existed"
            assert p.archived_at is None or b["start_time"] < p.archived_at, "none after it was archived"
            if "api_key_id" in dims:
                kp, k = key_of[r["api_key_id"]]
                assert kp.id == p.id, "the key belongs to the row's project"
                assert r["user_id"] == (k.owner_id if k.owner_kind == "user" else None)
                if r["user_id"] is not None:
                    assert r["user_id"] in w.user_by_id
                    assert r["user_id"] in {m[0] for m in p.members}
            if "model" in dims:
                assert r["model"] in models
            if "vector_store_id" in dims:
                assert r["vector_store_id"].startswith("vs_")
            if "batch" in dims:
                assert isinstance(r["batch"], bool)
                assert r["service_tier"] in ("default", "flex", "priority")
                assert r["batch"] is False or r["service_tier"] == "default"
            for m in metrics(kind):
                assert isinstance(r[m], int) and r[m] >= 0
    if kind == "completions":
        for r in rows:
            assert r["input_tokens"] == r["input_cached_tokens"] + r["input_uncached_tokens"]
            assert r["num_model_requests"] > 0 and r["input_tokens"] > 0


# ---- filters ----------------------------------------------------------------------------------------
FILTERS = [
    ("completions", "project_ids", "project_id"), ("completions", "user_ids", "user_id"),
    ("completions", "api_key_ids", "api_key_id"), ("completions", "models", "model"),
    ("embeddings", "models", "model"), ("embeddings", "project_ids", "project_id"),
    ("moderations", "api_key_ids", "api_key_id"), ("images", "sizes", "size"),
    ("images", "sources", "source"),
    ("images", "models", "model"), ("audio_speeches", "user_ids", "user_id"),
    ("audio_transcriptions", "project_ids", "project_id"), ("vector_stores", "project_ids", "project_id"),
    ("code_interpreter_sessions", "project_ids", "project_id"),
    ("file_search_calls", "vector_store_ids", "vector_store_id"),
    ("file_search_calls", "project_ids", "project_id"),
    ("web_search_calls", "context_levels", "context_level"), ("web_search_calls", "models", "model"),
]


@pytest.mark.parametrize(("kind", "param", "dim"), FILTERS)
def test_filters(api, kind, param, dim):
    rng = dict(start_time=NOW - 30 * DAY, end_time=NOW)
    grouped = get_buckets(api, kind, group_by=[dim], **rng)
    per = totals(grouped, kind, (dim,))
    values = sorted((g[0] for g in per if g[0] is not None), key=lambda v: -sum(per[(v,)].values()))
    assert values, (kind, dim)
    pick = values[:2] if len(values) > 2 else values[:1]
    # filtered without grouping: the picked groups' totals
    got = get_buckets(api, kind, **{param: pick}, **rng)
    want = {m: sum(per[(v,)][m] for v in pick) for m in metrics(kind)}
    assert grand(got, kind) == want
    # filtered and grouped: only the picked groups, with the same values
    got = get_buckets(api, kind, group_by=[dim], **{param: pick}, **rng)
    assert totals(got, kind, (dim,)) == {(v,): per[(v,)] for v in pick}
    # a value that matches nothing
    assert grand(get_buckets(api, kind, **{param: ["nothing-like-this"]}, **rng), kind) == dict.fromkeys(
        metrics(kind), 0)


def test_batch_filter(api):
    rng = dict(start_time=NOW - 30 * DAY, end_time=NOW)
    per = totals(get_buckets(api, "completions", group_by=["batch"], **rng), "completions", ("batch",))
    assert set(per) == {(True,), (False,)}
    for flag in (True, False):
        got = get_buckets(api, "completions", batch=flag, **rng)
        assert grand(got, "completions") == per[(flag,)]


# ---- costs ------------------------------------------------------------------------------------------
def cost_buckets(api: Api, **params: Any) -> list[dict[str, Any]]:
    return usage_buckets(api, "/organization/costs", limit=180, **params)


def test_costs_only_1d_and_limits(api):
    assert cost_buckets(api, start_time=NOW - 3 * DAY, bucket_width="1d")
    for w in ("1h", "1m"):
        assert api.err(400, "/organization/costs", start_time=NOW - 3 * DAY, bucket_width=w)["param"] == \
            "bucket_width"
    assert len(api.ok("/organization/costs", start_time=NOW - 400 * DAY, limit=180)["data"]) == 180
    assert api.err(400, "/organization/costs", start_time=NOW - 400 * DAY, limit=181)["param"] == "limit"
    assert api.err(400, "/organization/costs")["param"] == "start_time"


@pytest.mark.parametrize("dims", [["project_id"], ["line_item"], ["api_key_id"], ["project_id", "line_item"],
                                  list(COST_DIMS)])
def test_costs_group_by(shared_sim, api, dims):
    start = CUTOFF
    since = shared_sim.world.costs_user_with_project_from  # user_id with project_id: from that day, if ever
    if "user_id" in dims and "project_id" in dims:
        if since is None or since > NOW - DAY:
            e = api.err(400, "/organization/costs", start_time=CUTOFF, end_time=NOW, group_by=dims)
            assert e["param"] == "group_by" and "user_id" in e["message"]
            return
        start = max(CUTOFF, since)
        if since > CUTOFF:
            assert api.err(400, "/organization/costs", start_time=since - DAY, end_time=NOW, group_by=dims)
    got = cost_buckets(api, start_time=start, end_time=NOW, group_by=dims)
    flat = cost_buckets(api, start_time=start, end_time=NOW)
    assert len(got) == (NOW - start) // DAY
    w = shared_sim.world
    keys = {k.id for p in w.projects for k in p.api_keys}
    for b, f in zip(got, flat, strict=True):
        total = sum(r["amount"]["value"] for r in b["results"])
        assert math.isclose(total, sum(r["amount"]["value"] for r in f["results"]), rel_tol=1e-9)
        for r in b["results"]:
            assert r["object"] == "organization.costs.result"
            assert r["amount"]["currency"] == "usd" and r["amount"]["value"] > 0
            for d in ("project_id", "line_item"):
                assert (r.get(d) is not None) is (d in dims), (d, r)
            if "project_id" in dims:
                assert r["project_id"] in w.project_by_id
            # project-level costs (code interpreter sessions here) have no key: null even when grouped
            assert r.get("api_key_id") in (keys | {None} if "api_key_id" in dims else {None})
            if "line_item" in dims and "api_key_id" in dims and r["line_item"] != "code interpreter sessions":
                assert r["api_key_id"] is not None
            if "line_item" in dims:
                assert r["quantity"] > 0 and r["quantity_unit"]
    assert any(b["results"] for b in got)
    if "api_key_id" in dims:
        assert any(r["api_key_id"] for b in got for r in b["results"])


def test_costs_line_items_filter(api):
    rng = dict(start_time=NOW - 10 * DAY, end_time=NOW)
    per: dict[str, float] = defaultdict(float)
    for b in cost_buckets(api, group_by=["line_item"], **rng):
        for r in b["results"]:
            per[r["line_item"]] += r["amount"]["value"]
    pick = sorted(per)[:2]
    got = cost_buckets(api, group_by=["line_item"], line_items=pick, **rng)
    assert {r["line_item"] for b in got for r in b["results"]} == set(pick)
    total = sum(r["amount"]["value"] for b in cost_buckets(api, line_items=pick, **rng) for r in b["results"])
    assert math.isclose(total, sum(per[li] for li in pick), rel_tol=1e-9)


def test_costs_refuse_api_key_grouping_before_the_cutoff(api):
    e = api.err(400, "/organization/costs", start_time=CUTOFF - 1, group_by=["api_key_id"])
    assert e["param"] == "group_by" and "1764979200" in e["message"]
    costs = "/organization/costs"
    api.err(400, costs, start_time=CUTOFF - 30 * DAY, end_time=CUTOFF, group_by=["api_key_id"])
    assert api.ok(costs, start_time=CUTOFF, group_by=["api_key_id"])["data"]
    assert api.ok(costs, start_time=CUTOFF + 5 * DAY, group_by=["project_id", "api_key_id"])["data"]
    # the same range without the key grouping is fine
    assert api.ok("/organization/costs", start_time=CUTOFF - 30 * DAY, group_by=["project_id"])["data"]


def test_costs_unsupported_group_by(api):
    for dim in ("model", "user_ids", "size", "batch", "bogus"):
        e = api.err(400, "/organization/costs", start_time=NOW - DAY, group_by=[dim])
        assert e["param"] == "group_by"


@pytest.mark.parametrize(("days", "limit"), [(10, 4), (14, 7), (5, 7), (1, 1)])
def test_costs_trailing_next_page(api, days, limit):
    """The last non-empty page still has a next_page; the request after it is an empty, final page."""
    ps = list(usage_pages(api, "/organization/costs", start_time=NOW - days * DAY, limit=limit))
    full = -(-days // limit)
    assert len(ps) == full + 1
    for p in ps[:-1]:
        assert p["data"] and p["has_more"] is True and p["next_page"]
    assert ps[-1] == {"object": "page", "data": [], "has_more": False, "next_page": None}
    assert [b["start_time"] for p in ps for b in p["data"]] == list(range(NOW - days * DAY, NOW, DAY))


def test_usage_has_no_trailing_page(api):
    ps = list(usage_pages(api, path("completions"), start_time=NOW - 14 * DAY, limit=7))
    assert len(ps) == 2 and ps[-1]["data"] and ps[-1]["next_page"] is None


def _usage_cost(kind: str, r: dict[str, Any]) -> float:
    """What a (model-grouped) usage result costs under the price table in world.py."""
    if kind == "completions":
        pin, pcache, pout = COMPLETION_PRICES[r["model"]]
        return (r["input_uncached_tokens"] * pin + r["input_cached_tokens"] * pcache
                + r["output_tokens"] * pout) / 1e6
    if kind == "decisions":  # billed at the model's input and output prices, no cache discount
        pin, _pcache, pout = COMPLETION_PRICES[r["model"]]
        return (r["input_tokens"] * pin + r["output_tokens"] * pout) / 1e6
    if kind == "embeddings":
        return r["input_tokens"] * EMBEDDING_PRICES[r["model"]] / 1e6
    if kind == "images":
        return r["images"] * IMAGE_PRICES[r["model"]]
    if kind == "audio_speeches":
        return r["characters"] * AUDIO_SPEECH_PRICE
    if kind == "audio_transcriptions":
        return r["seconds"] * TRANSCRIPTION_PRICE
    if kind == "web_search_calls":
        return r["num_requests"] * WEB_SEARCH_PRICE
    if kind == "file_search_calls":
        return r["num_requests"] * FILE_SEARCH_PRICE
    if kind == "code_interpreter_sessions":
        return r["num_sessions"] * CODE_INTERPRETER_PRICE
    return 0.0  # moderations and vector store storage carry no line item here


def test_costs_agree_with_usage_under_the_price_table(api):
    rng = dict(start_time=NOW - 30 * DAY, end_time=NOW)
    costs = cost_buckets(api, group_by=["project_id", "line_item"], **rng)
    line_total: dict[tuple[int, str], float] = defaultdict(float)  # (day, line item) -> USD
    qty: dict[str, float] = defaultdict(float)
    for b in costs:
        for r in b["results"]:
            line_total[(b["start_time"], r["line_item"])] += r["amount"]["value"]
            qty[r["line_item"]] += r["quantity"]
    usage_total: dict[int, float] = defaultdict(float)
    for kind in KINDS:
        by = ["model"] if "model" in DIMS[kind] else []
        for b in get_buckets(api, kind, group_by=by, **rng):
            usage_total[b["start_time"]] += sum(_usage_cost(kind, r) for r in b["results"])
    cost_total: dict[int, float] = defaultdict(float)
    for (day, _li), v in line_total.items():
        cost_total[day] += v
    assert set(cost_total) <= set(usage_total) and len(usage_total) == 30
    for day in usage_total:
        assert math.isclose(cost_total[day], usage_total[day], rel_tol=1e-9, abs_tol=1e-9), day
    # completions, per model and per line item: tokens x price == the line's cost, tokens == its quantity
    comp = get_buckets(api, "completions", group_by=["model"], **rng)
    per_model = totals(comp, "completions", ("model",))
    assert len(per_model) >= 2
    for (model,), t in per_model.items():
        pin, pcache, pout = COMPLETION_PRICES[model]
        for li, tokens, price in ((f"{model}, input", t["input_uncached_tokens"], pin),
                                  (f"{model}, cached input", t["input_cached_tokens"], pcache),
                                  (f"{model}, output", t["output_tokens"], pout)):
            cost = sum(v for (_d, name), v in line_total.items() if name == li)
            assert math.isclose(cost, tokens * price / 1e6, rel_tol=1e-9, abs_tol=1e-9), li
            assert qty[li] == tokens, li
    assert sum(cost_total.values()) > 1


def test_costs_agree_with_usage_per_project(shared_sim, api):
    rng = dict(start_time=NOW - 10 * DAY, end_time=NOW)
    costs = totals_cost(cost_buckets(api, group_by=["project_id"], **rng))
    usage: dict[str, float] = defaultdict(float)
    for kind in KINDS:
        by = ["project_id", "model"] if "model" in DIMS[kind] else ["project_id"]
        for b in get_buckets(api, kind, group_by=by, **rng):
            for r in b["results"]:
                usage[r["project_id"]] += _usage_cost(kind, r)
    spent = {p for p, v in usage.items() if v > 0}
    assert set(costs) == spent and len(spent) >= 2
    for p in spent:
        assert math.isclose(costs[p], usage[p], rel_tol=1e-9), p
    one = cost_buckets(api, project_ids=[min(spent)], **rng)
    assert math.isclose(sum(r["amount"]["value"] for b in one for r in b["results"]), usage[min(spent)],
                        rel_tol=1e-9)


def totals_cost(buckets: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for b in buckets:
        for r in b["results"]:
            out[r["project_id"]] += r["amount"]["value"]
    return dict(out)


# ---- endpoints and fields newer than the OpenAPI document: checked against the SDK's models ------
def _sdk_fields(model: type) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize(("kind", "response_module", "result_model"), [
    ("decisions", "usage_decisions_response", "DataResult"),
    ("completions", "usage_completions_response", "DataResultOrganizationUsageCompletionsResult"),
    ("web_search_calls", "usage_web_search_calls_response", "DataResultOrganizationUsageWebSearchesResult"),
])
def test_newer_usage_shapes_match_the_sdk(api, kind, response_module, result_model):
    """Every field the simulator sends is one the installed SDK declares, and the page parses."""
    import importlib

    mod = importlib.import_module(f"openai.types.admin.organization.{response_module}")
    page_model = next(getattr(mod, n) for n in dir(mod) if n.startswith("Usage") and n.endswith("Response"))
    fields = _sdk_fields(getattr(mod, result_model))
    dims = DIMS[kind]
    got = get_buckets(api, kind, start_time=NOW - 5 * DAY, end_time=NOW, group_by=list(dims))
    results = [r for b in got for r in b["results"]]
    assert results, kind
    for r in results:
        assert set(r) <= fields, set(r) - fields
        assert r.get("api_source") in ("agents_api", "unlabeled")
    page = page_model.model_validate({"object": "page", "data": got, "has_more": False, "next_page": None})
    assert len(page.data) == len(got)


def test_costs_newer_dimensions_match_the_sdk(api):
    from openai.types.admin.organization import usage_costs_response as mod

    fields = _sdk_fields(mod.DataResultOrganizationCostsResult)
    got = cost_buckets(api, group_by=list(COST_DIMS), start_time=NOW - 5 * DAY, end_time=NOW)
    results = [r for b in got for r in b["results"]]
    assert results
    for r in results:
        assert set(r) <= fields, set(r) - fields
        assert r["api_source"] in ("agents_api", "unlabeled")
    assert any(r["user_id"] for r in results) and any(r["user_id"] is None for r in results)
