"""Fault injection, latency, the per-key rate limit, and the request counters (SPEC 7, 8).

Raw HTTP (httpx2, the SDK's transport) shows exactly what the server sends; the official SDK shows that a
client with retries recovers from the transient faults and returns the right data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest
from conftest import NOW, admin_client, project_client

from openai_sync.simulator import FAULT_KINDS, Rule, Simulator, World

# one client for the module: a fresh client per request would build an SSL context each time (~40 ms)
HTTP = httpx2.Client(timeout=30)

USERS = "/organization/users"
PROJECTS = "/organization/projects"
RATELIMIT_HEADERS = tuple(f"x-ratelimit-{what}-{unit}" for unit in ("requests", "tokens")
                          for what in ("limit", "remaining", "reset"))


@pytest.fixture(scope="module")
def shared() -> Iterator[Simulator]:
    with Simulator(World(seed=7, size="small", now=NOW)) as s:
        yield s


@pytest.fixture
def sim(shared: Simulator) -> Simulator:
    """One small organization for the module (overrides the per-test fixture), reset before each test: no
    faults, no latency, no rate limit, zero counters. No test here moves its clock."""
    shared.reset()
    return shared


def get(sim: Simulator, path: str, key: str | None = None, **params) -> httpx2.Response:
    key = key or sim.world.admin_key
    return HTTP.get(sim.base_url + path, headers={"Authorization": f"Bearer {key}"}, params=params or None)


def root(sim: Simulator) -> str:
    return sim.base_url.removesuffix("/v1")


def post(sim: Simulator, path: str, body: dict | None = None) -> httpx2.Response:
    return HTTP.post(root(sim) + path, json=body or {})


def stats(sim: Simulator, log: bool = False) -> dict:
    r = HTTP.get(root(sim) + "/_sim/stats" + ("?log=1" if log else ""))
    assert r.status_code == 200
    return r.json()


def error_of(r: httpx2.Response) -> dict:
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def user_ids(sim: Simulator) -> list[str]:
    return [u.id for u in sim.world.users_seq.alive(sim.world.now)]


# ---- 429 -----------------------------------------------------------------------------------------
def test_429_fault_has_retry_after_and_ratelimit_headers(sim):
    sim.set_faults([Rule("429", endpoint=USERS, retry_after=3)])
    r = get(sim, USERS)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    assert r.headers["retry-after-ms"] == "3000"
    for h in RATELIMIT_HEADERS:
        assert h in r.headers, h
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    err = error_of(r)
    assert err["code"] == "rate_limit_exceeded"
    assert get(sim, PROJECTS).status_code == 200  # another endpoint is unaffected
    with pytest.raises(openai.RateLimitError):
        admin_client(sim).admin.organization.users.list()


def test_ratelimit_headers_on_ordinary_responses(sim):
    r = get(sim, USERS)
    assert r.status_code == 200
    limit = int(r.headers["x-ratelimit-limit-requests"])
    remaining = int(r.headers["x-ratelimit-remaining-requests"])
    assert 0 < remaining < limit  # without a rate limit the budget is never reported as exhausted
    assert "retry-after" not in r.headers


def test_sustained_rate_limit_per_key():
    with Simulator(World(seed=7, size="small", now=NOW), rate_limit=3) as sim:
        clock = [1000.0]
        sim.app.limiter.clock = lambda: clock[0]  # frozen, so that a slow machine cannot refill the bucket
        a = sim.world.admin_key
        p = next(iter(sim.world.project_keys.values()))
        assert [get(sim, USERS, a).status_code for _ in range(3)] == [200, 200, 200]
        r = get(sim, USERS, a)
        assert r.status_code == 429
        retry = float(r.headers["retry-after"])
        assert 1 <= retry <= 2
        wait_ms = int(r.headers["retry-after-ms"])
        assert 0 < wait_ms <= 1000 / 3 + 50
        assert r.headers["x-ratelimit-limit-requests"] == "180"
        assert r.headers["x-ratelimit-remaining-requests"] == "0"
        assert error_of(r)["code"] == "rate_limit_exceeded"
        # another key has its own budget
        assert [get(sim, "/files", p).status_code for _ in range(3)] == [200, 200, 200]
        # the budget comes back after the advertised wait
        clock[0] += wait_ms / 1000 + 0.001
        assert get(sim, USERS, a).status_code == 200
        s = stats(sim)
        assert s["by_status"] == {"200": 7, "429": 1}
        assert s["faults"] == {"ratelimit": 1}


def test_rate_limit_below_one_request_per_second():
    with Simulator(World(seed=7, size="small", now=NOW), rate_limit=0.5) as sim:
        assert get(sim, USERS).status_code == 200
        r = get(sim, USERS)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2"


def test_rate_limit_through_control_endpoint(sim):
    assert [get(sim, USERS).status_code for _ in range(4)] == [200] * 4
    assert post(sim, "/_sim/rate_limit", {"rps": 2}).json() == {"rps": 2.0}
    assert [get(sim, USERS).status_code for _ in range(3)] == [200, 200, 429]
    assert post(sim, "/_sim/rate_limit", {"rps": None}).json() == {"rps": None}
    assert [get(sim, USERS).status_code for _ in range(4)] == [200] * 4


def test_sdk_makes_progress_under_sustained_rate_limit():
    with Simulator(World(seed=7, size="small", now=NOW), rate_limit=20) as sim:
        pid = next(iter(sim.world.project_keys))
        want = [it.id for it in sim.world.project_data(pid).files_seq.alive(NOW)]
        c = project_client(sim, max_retries=10)
        got = [f.id for f in c.files.list(limit=1)]  # one request per file: beyond the burst of 20
        assert sorted(got) == sorted(want) and len(got) == len(want) > 20
        s = stats(sim)
        assert s["by_status"]["429"] >= 1
        assert s["by_status"]["200"] == len(want)  # one page per file; the last says has_more: false


# ---- 5xx -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_5xx_fault_with_error_json(sim, kind):
    sim.set_faults([Rule(kind, endpoint=USERS)])
    r = get(sim, USERS)
    assert r.status_code == int(kind)
    assert r.headers["content-type"] == "application/json"
    assert error_of(r)["type"] == "server_error"
    assert get(sim, PROJECTS).status_code == 200
    with pytest.raises(openai.InternalServerError) as ei:
        admin_client(sim).admin.organization.users.list()
    assert ei.value.status_code == int(kind)


def test_fault_per_key(sim):
    (_, ka), (_, kb) = list(sim.world.project_keys.items())[:2]
    sim.set_faults([Rule("503", key=ka)])
    assert get(sim, "/files", ka).status_code == 503
    assert get(sim, "/batches", ka).status_code == 503
    assert get(sim, "/files", kb).status_code == 200
    assert get(sim, USERS).status_code == 200


def test_fault_per_endpoint_template_and_prefix(sim):
    pids = [p.id for p in sim.world.projects]
    sim.set_faults([Rule("500", endpoint="/organization/projects/{project_id}/users")])
    assert {get(sim, f"/organization/projects/{pid}/users").status_code for pid in pids} == {500}
    assert get(sim, f"/organization/projects/{pids[0]}/service_accounts").status_code == 200
    assert get(sim, PROJECTS).status_code == 200
    # a path prefix matches that path and the paths below it; "/v1" and the leading slash are optional
    sim.set_faults([Rule("502", endpoint=f"v1/organization/projects/{pids[0]}")])
    assert get(sim, f"/organization/projects/{pids[0]}").status_code == 502
    assert get(sim, f"/organization/projects/{pids[0]}/users").status_code == 502
    assert get(sim, f"/organization/projects/{pids[1]}/users").status_code == 200
    assert get(sim, PROJECTS).status_code == 200


def test_times_limits_the_count(sim):
    sim.set_faults([Rule("500", endpoint=USERS, times=2)])
    assert [get(sim, USERS).status_code for _ in range(4)] == [500, 500, 200, 200]
    rules = HTTP.get(root(sim) + "/_sim/faults").json()["rules"]
    assert rules[0]["hits"] == 2 and rules[0]["times"] == 2


def test_rate_is_a_fraction_of_requests(sim):
    sim.set_faults([Rule("500", endpoint=USERS, rate=0.3)])
    codes = [get(sim, USERS).status_code for _ in range(200)]
    assert set(codes) == {200, 500}
    assert 30 <= codes.count(500) <= 90
    sim.set_faults([Rule("500", endpoint=USERS, rate=0.0)])
    assert {get(sim, USERS).status_code for _ in range(20)} == {200}


def test_sdk_with_retries_recovers_from_transient_5xx_and_429(sim):
    want = [p.id for p in sim.world.projects]
    sim.set_faults([Rule("500", endpoint=PROJECTS, times=1), Rule("503", endpoint=PROJECTS, times=1),
                    Rule("429", endpoint=PROJECTS, times=1, retry_after=0.05)])
    c = admin_client(sim, max_retries=4)
    got = [p.id for p in c.admin.organization.projects.list(include_archived=True, limit=2)]
    assert got == want
    s = stats(sim)
    pages = -(-len(want) // 2)
    assert s["by_endpoint"] == {"GET /organization/projects": pages + 3}
    assert s["by_status"] == {"200": pages, "500": 1, "503": 1, "429": 1}
    assert s["faults"] == {"500": 1, "503": 1, "429": 1}


def test_sdk_gives_up_when_faults_persist(sim):
    sim.set_faults([Rule("503", endpoint=PROJECTS)])
    with pytest.raises(openai.InternalServerError):
        admin_client(sim, max_retries=1).admin.organization.projects.list()
    assert stats(sim)["by_status"] == {"503": 2}


# ---- slow, latency -------------------------------------------------------------------------------
def test_slow_fault_delays_the_response(sim):
    sim.set_faults([Rule("slow", endpoint=USERS, ms=800)])
    t = time.monotonic()
    r = get(sim, USERS)
    slow = time.monotonic() - t
    assert r.status_code == 200 and [u["id"] for u in r.json()["data"]] == user_ids(sim)[:20]
    assert slow >= 0.8
    t = time.monotonic()
    assert get(sim, PROJECTS).status_code == 200
    assert time.monotonic() - t < 0.6  # only the endpoint of the rule is slow


def test_latency_applies_to_every_request():
    with Simulator(World(seed=7, size="small", now=NOW), latency_ms=400) as sim:
        for path, key, status in ((USERS, None, 200), (PROJECTS, None, 200), (USERS, "sk-unknown", 401)):
            t = time.monotonic()
            assert get(sim, path, key).status_code == status
            assert time.monotonic() - t >= 0.4
        assert post(sim, "/_sim/latency", {"ms": 0}).json() == {"latency_ms": 0.0}
        t = time.monotonic()
        assert get(sim, USERS).status_code == 200
        assert time.monotonic() - t < 0.3


def test_latency_through_control_endpoint(sim):
    assert post(sim, "/_sim/latency", {"ms": 300}).status_code == 200
    t = time.monotonic()
    assert get(sim, "/files", next(iter(sim.world.project_keys.values()))).status_code == 200
    assert time.monotonic() - t >= 0.3


# ---- drop, malformed, html -----------------------------------------------------------------------
def test_drop_closes_the_connection_mid_body(sim):
    sim.set_faults([Rule("drop", endpoint=USERS, times=1)])
    with pytest.raises(httpx2.RemoteProtocolError, match=r"incomplete|without sending complete"):
        get(sim, USERS)
    assert get(sim, USERS).status_code == 200  # times=1: the next request is whole


def test_drop_with_streaming_read_gets_part_of_the_body(sim):
    sim.set_faults([Rule("drop", endpoint=USERS)])
    received = b""
    auth = {"Authorization": f"Bearer {sim.world.admin_key}"}
    with httpx2.Client(timeout=30) as c, c.stream("GET", sim.base_url + USERS, headers=auth) as r:
        assert r.status_code == 200
        expected = int(r.headers["content-length"])
        with pytest.raises(httpx2.RemoteProtocolError):
            for chunk in r.iter_raw():
                received += chunk
    assert 0 < len(received) < expected


def test_sdk_recovers_from_dropped_connection(sim):
    sim.set_faults([Rule("drop", endpoint="/files", times=1)])
    with pytest.raises(openai.APIConnectionError):
        project_client(sim).files.list(limit=5)
    sim.set_faults([Rule("drop", endpoint="/files", times=2)])
    pid = next(iter(sim.world.project_keys))
    want = [it.id for it in sorted(sim.world.project_data(pid).files_seq.alive(NOW),
                                   key=lambda it: it.created, reverse=True)][:5]
    got = project_client(sim, pid, max_retries=3).files.list(limit=5)
    assert [f.id for f in got.data] == want
    assert stats(sim)["faults"] == {"drop": 3}


def test_malformed_body_does_not_parse(sim):
    sim.set_faults([Rule("malformed", endpoint=USERS, times=1)])
    r = get(sim, USERS)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert len(r.content) == int(r.headers["content-length"])  # whole, but not JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert get(sim, USERS).json()["object"] == "list"
    sim.set_faults([Rule("malformed", endpoint=USERS, times=1)])
    with pytest.raises(ValueError):  # the SDK does not retry a 200 it cannot parse
        admin_client(sim, max_retries=3).admin.organization.users.list()


def test_html_error_page(sim):
    sim.set_faults([Rule("html", endpoint=USERS, times=2)])
    r = get(sim, USERS)
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<html") and "502 Bad Gateway" in r.text
    with pytest.raises(openai.InternalServerError) as ei:
        admin_client(sim).admin.organization.users.list()
    assert ei.value.status_code == 502
    sim.set_faults([Rule("html", endpoint=USERS, times=1)])
    users = admin_client(sim, max_retries=2).admin.organization.users.list(limit=100)
    assert [u.id for u in users.data] == user_ids(sim)


# ---- pagination faults ---------------------------------------------------------------------------
def test_stuck_cursor_returns_the_same_page(sim):
    first = get(sim, USERS, limit=3).json()
    assert first["has_more"] is True
    honest = get(sim, USERS, limit=3, after=first["last_id"]).json()
    assert honest["data"][0]["id"] != first["data"][0]["id"]
    sim.set_faults([Rule("stuck", endpoint=USERS)])
    for _ in range(3):
        again = get(sim, USERS, limit=3, after=first["last_id"]).json()
        assert again["data"] == first["data"]
        assert again["last_id"] == first["last_id"]
        assert again["has_more"] is True


def test_stuck_cursor_on_usage_pages(sim):
    q = {"start_time": NOW - 10 * 86400, "bucket_width": "1d", "limit": 2}
    first = get(sim, "/organization/usage/completions", **q).json()
    assert first["has_more"] is True and first["next_page"]
    sim.set_faults([Rule("stuck", endpoint="/organization/usage/completions")])
    again = get(sim, "/organization/usage/completions", **q, page=first["next_page"]).json()
    assert again["has_more"] is True
    assert again["next_page"] == first["next_page"]  # the cursor does not advance
    assert again["data"] == first["data"]


def test_stuck_cursor_on_audit_logs(sim):
    first = get(sim, "/organization/audit_logs", limit=5).json()
    sim.set_faults([Rule("stuck", endpoint="/organization/audit_logs")])
    again = get(sim, "/organization/audit_logs", limit=5, after=first["last_id"]).json()
    assert [e["id"] for e in again["data"]] == [e["id"] for e in first["data"]]
    assert again["last_id"] == first["last_id"] and again["has_more"] is True


def test_nocursor_has_more_without_cursor(sim):
    sim.set_faults([Rule("nocursor", endpoint=USERS)])
    page = get(sim, USERS, limit=100).json()
    assert page["data"] and page["has_more"] is True
    assert page["last_id"] is None and page["first_id"] is None
    sim.set_faults([Rule("nocursor", endpoint="/organization/usage/completions")])
    page = get(sim, "/organization/usage/completions", start_time=NOW - 86400).json()
    assert page["has_more"] is True and page["next_page"] is None
    sim.set_faults([Rule("nocursor", endpoint="/organization/groups")])
    page = get(sim, "/organization/groups").json()
    assert page["has_more"] is True and page["next"] is None


# ---- rules through the control endpoint ----------------------------------------------------------
def test_faults_through_control_endpoint(sim):
    body = {"rules": [{"kind": 429, "endpoint": "/v1/organization/users", "times": 1, "retry_after": 2},
                      {"kind": "503", "key": next(iter(sim.world.project_keys.values())), "rate": 1}]}
    assert post(sim, "/_sim/faults", body).json() == {"rules": 2}
    r = get(sim, USERS)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert get(sim, USERS).status_code == 200
    assert get(sim, "/files", next(iter(sim.world.project_keys.values()))).status_code == 503
    listed = HTTP.get(root(sim) + "/_sim/faults").json()["rules"]
    assert [(r["kind"], r["endpoint"], r["hits"]) for r in listed] == [("429", USERS, 1), ("503", None, 1)]
    # replace: false appends; the default replaces
    assert post(sim, "/_sim/faults", {"rules": [{"kind": "500"}], "replace": False}).json() == {"rules": 3}
    assert post(sim, "/_sim/faults", {"rules": []}).json() == {"rules": 0}
    assert get(sim, "/files", next(iter(sim.world.project_keys.values()))).status_code == 200


@pytest.mark.parametrize("rule", [{"kind": "boom"}, {"kind": "500", "rate": 2}, {"kind": "500", "rate": "x"},
                                  {"kind": "500", "bogus": 1}, {"rate": 0.5}, {"kind": "slow", "ms": -1}])
def test_bad_fault_rules_are_refused(sim, rule):
    r = post(sim, "/_sim/faults", {"rules": [rule]})
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert msg
    if rule.get("kind") == "boom":
        assert all(k in msg for k in FAULT_KINDS)
    assert HTTP.get(root(sim) + "/_sim/faults").json() == {"rules": []}


def test_unknown_control_endpoint_is_404(sim):
    assert post(sim, "/_sim/nothing").status_code == 404
    assert post(sim, "/_sim/stats").status_code == 404  # stats is GET


# ---- request log and counters --------------------------------------------------------------------
def test_stats_count_exactly_the_requests_made(sim):
    pid, pkey = next(iter(sim.world.project_keys.items()))
    get(sim, USERS)  # before the reset: not counted
    assert post(sim, "/_sim/stats/reset").json() == {"ok": True}
    assert stats(sim)["total"] == 0
    sim.set_faults([Rule("500", endpoint=PROJECTS, times=1)])
    for _ in range(3):
        get(sim, USERS)
    get(sim, PROJECTS)
    get(sim, PROJECTS)
    get(sim, f"/organization/projects/{pid}/users")
    get(sim, "/files", pkey)
    get(sim, "/files", "sk-wrong")
    get(sim, USERS, pkey)
    get(sim, "/nowhere")
    s = stats(sim)
    assert s["total"] == 10
    assert s["by_endpoint"] == {"GET /organization/users": 4, "GET /organization/projects": 2,
                                "GET /organization/projects/{project_id}/users": 1, "GET /files": 2,
                                "GET unknown": 1}
    assert s["by_status"] == {"200": 6, "500": 1, "401": 1, "403": 1, "404": 1}
    assert s["by_endpoint_status"]["GET /organization/projects 500"] == 1
    assert s["faults"] == {"500": 1}
    # control requests are not counted, and the SDK's requests are
    stats(sim)
    list(admin_client(sim).admin.organization.users.list(limit=5))
    n_pages = -(-len(user_ids(sim)) // 5)
    assert stats(sim)["total"] == 10 + n_pages


def test_request_log(sim):
    post(sim, "/_sim/stats/reset")
    pkey = next(iter(sim.world.project_keys.values()))
    get(sim, "/files", pkey, limit=2)
    get(sim, USERS)
    log = stats(sim, log=True)["log"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("GET", "/v1/files", 200),
                                                                    ("GET", "/v1/organization/users", 200)]
    assert log[0]["query"] == "limit=2"
    assert pkey not in json.dumps(log)  # keys are masked
    assert log[0]["key"].startswith(pkey[:8])
    assert "log" not in stats(sim)


def test_reset_undoes_faults_latency_rate_limit_and_counters(sim):
    sim.set_faults([Rule("500")])
    post(sim, "/_sim/latency", {"ms": 300})
    post(sim, "/_sim/rate_limit", {"rps": 1})
    assert get(sim, USERS).status_code == 500
    assert post(sim, "/_sim/reset").json() == {"ok": True}
    assert stats(sim)["total"] == 0
    t = time.monotonic()
    assert [get(sim, USERS).status_code for _ in range(3)] == [200] * 3  # no fault, no rate limit
    assert time.monotonic() - t < 0.6  # no latency (with it, 0.9 s at least)


def test_reset_restores_the_start_up_configuration():
    with Simulator(World(seed=7, size="small", now=NOW), faults=[Rule("503", endpoint=USERS, times=1)],
                   latency_ms=100) as sim:
        assert get(sim, USERS).status_code == 503
        assert get(sim, USERS).status_code == 200
        sim.set_faults([])
        post(sim, "/_sim/latency", {"ms": 0})
        sim.reset()
        t = time.monotonic()
        assert get(sim, USERS).status_code == 503  # the start-up rule, its count back to zero
        assert time.monotonic() - t >= 0.1
        assert get(sim, USERS).status_code == 200
        assert stats(sim)["by_status"] == {"503": 1, "200": 1}


def test_stats_reset_through_simulator_and_http_agree(sim):
    get(sim, USERS)
    assert sim.stats()["total"] == stats(sim)["total"] == 1
    post(sim, "/_sim/stats/reset")
    assert sim.stats()["total"] == 0


def test_cli_fault_spec_per_endpoint():
    from openai_sync.simulator.faults import parse_faults

    rules = parse_faults("429:0.05, drop:0.5@/files ,503@/organization/users")
    assert [(r.kind, r.rate, r.endpoint) for r in rules] == [
        ("429", 0.05, None), ("drop", 0.5, "/files"), ("503", 1.0, "/organization/users")]
    for bad in ("500:0.1@files", "500:2@/files", "nope@/files"):
        with pytest.raises(ValueError, match="KIND:RATE\\[@ENDPOINT\\]"):
            parse_faults(bad)


def test_cli_per_endpoint_fault_hits_only_that_endpoint(sim):
    from openai_sync.simulator.faults import parse_faults

    sim.set_faults(parse_faults("503:1@/organization/users"))
    c = admin_client(sim)
    with pytest.raises(openai.InternalServerError):
        c.admin.organization.users.list()
    assert list(c.admin.organization.projects.list(include_archived=True))


def test_rate_limit_headers_count_down_in_requests_per_minute():
    """x-ratelimit-remaining-requests shrinks with each request and reaches 0 when the key is limited."""
    with Simulator(World(seed=7, size="small", now=NOW), rate_limit=4) as sim:
        sim.app.limiter.clock = lambda: 1000.0  # frozen: no refill between requests, however slow they are
        seen = []
        for _ in range(5):
            r = get(sim, USERS)
            assert r.headers["x-ratelimit-limit-requests"] == "240"
            seen.append((r.status_code, int(r.headers["x-ratelimit-remaining-requests"])))
        assert seen == [(200, 180), (200, 120), (200, 60), (200, 0), (429, 0)]


def test_skip_lets_the_first_matching_requests_through(sim):
    sim.set_faults([Rule("503", endpoint="/organization/users", skip=2, times=1)])
    assert [get(sim, USERS).status_code for _ in range(4)] == [200, 200, 503, 200]
