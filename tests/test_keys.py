"""The simulator's key model (SPEC 7, 8): which key may call which endpoint, and how refusals look.

Raw HTTP (httpx2) checks the status codes and the error JSON; the official SDK checks that each refusal
maps to the exception class a connector catches.
"""

from __future__ import annotations

import re

import httpx2
import openai
import pytest
from conftest import NOW, admin_client, project_client

from openai_sync.simulator import Simulator, World
from openai_sync.simulator.world import ADMIN_SCOPES, PROJECT_SCOPES

# one client for the module: a fresh client per request would build an SSL context each time (~40 ms)
HTTP = httpx2.Client(timeout=30)

ADMIN_PATHS = [
    "/organization/users",
    "/organization/projects",
    "/organization/invites",
    "/organization/audit_logs",
    f"/organization/usage/completions?start_time={NOW - 86400}",
    f"/organization/costs?start_time={NOW - 86400}",
]
PROJECT_PATHS = ["/files", "/batches", "/evals", "/fine_tuning/jobs", "/vector_stores", "/models",
                 "/assistants", "/skills", "/containers", "/chat/completions"]


@pytest.fixture(scope="module")
def sim():
    """One small organization for this module (overrides the per-test fixture): the tests here only add
    and revoke keys of their own, except the one that moves the clock, which builds its own simulator."""
    with Simulator(World(seed=7, size="small", now=NOW)) as s:
        yield s


def get(sim: Simulator, path: str, key: str | None = None, headers: dict[str, str] | None = None,
        **params) -> httpx2.Response:
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return HTTP.get(sim.base_url + path, headers=h, params=params or None)


def error_of(r: httpx2.Response) -> dict:
    """The API's error object; fails unless the body is exactly {error: {message, type, param, code}}."""
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and err["type"]
    return err


def two_projects(sim: Simulator) -> tuple[tuple[str, str], tuple[str, str]]:
    (pa, ka), (pb, kb) = list(sim.world.project_keys.items())[:2]
    return (pa, ka), (pb, kb)


def control(sim: Simulator, path: str, body: dict | None = None) -> httpx2.Response:
    root = sim.base_url.removesuffix("/v1")
    return HTTP.post(root + path, json=body or {})


# ---- admin keys --------------------------------------------------------------------------------
def test_admin_key_works_on_administration_endpoints(sim):
    key = sim.world.admin_key
    pid = next(iter(sim.world.project_keys))
    for path in [*ADMIN_PATHS, f"/organization/projects/{pid}/users", f"/projects/{pid}/roles"]:
        r = get(sim, path, key)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["object"] in ("list", "page")
    c = admin_client(sim)
    assert [p.id for p in c.admin.organization.projects.list(include_archived=True)] == [
        p.id for p in sim.world.projects]
    roles = c.admin.organization.projects.roles.list(pid)
    assert roles.data and all(r.object == "role" for r in roles.data)


@pytest.mark.parametrize("path", PROJECT_PATHS)
def test_admin_key_on_project_endpoint_is_403(sim, path):
    r = get(sim, path, sim.world.admin_key)
    assert r.status_code == 403
    err = error_of(r)
    assert err["code"] == "insufficient_permissions"
    assert "project API key" in err["message"]


def test_admin_key_with_sdk_on_files_raises_permission_denied(sim):
    c = openai.OpenAI(api_key=sim.world.admin_key, base_url=sim.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as ei:
        c.files.list()
    assert ei.value.status_code == 403
    assert ei.value.code == "insufficient_permissions"


# ---- project keys ------------------------------------------------------------------------------
def test_project_key_works_on_its_project_endpoints(sim):
    _, key = next(iter(sim.world.project_keys.items()))
    for path in PROJECT_PATHS:
        r = get(sim, path, key)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["object"] == "list"


@pytest.mark.parametrize("path", [*ADMIN_PATHS, "/organization/admin_api_keys", "/organization/groups",
                                  "/organization/roles"])
def test_project_key_on_admin_endpoint_is_403(sim, path):
    r = get(sim, path, next(iter(sim.world.project_keys.values())))
    assert r.status_code == 403
    err = error_of(r)
    assert err["code"] == "insufficient_permissions"
    assert "Admin API key" in err["message"]


def test_project_key_on_its_own_project_admin_endpoints_is_403(sim):
    pid, key = next(iter(sim.world.project_keys.items()))
    for path in (f"/organization/projects/{pid}", f"/organization/projects/{pid}/users",
                 f"/organization/projects/{pid}/api_keys", f"/projects/{pid}/roles"):
        r = get(sim, path, key)
        assert r.status_code == 403, path
        error_of(r)


def test_project_key_with_sdk_on_admin_endpoint_raises_permission_denied(sim):
    key = next(iter(sim.world.project_keys.values()))
    c = openai.OpenAI(admin_api_key=key, api_key="unused", base_url=sim.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        c.admin.organization.users.list()
    with pytest.raises(openai.PermissionDeniedError):
        c.admin.organization.usage.completions(start_time=NOW - 86400)


def test_project_key_sees_only_its_own_project(sim):
    (pa, ka), (pb, kb) = two_projects(sim)
    files_a = {f.id for f in project_client(sim, pa).files.list(limit=100)}
    files_b = {f.id for f in project_client(sim, pb).files.list(limit=100)}
    assert files_a and files_b and not files_a & files_b
    assert files_a == {it.id for it in sim.world.project_data(pa).files_seq.alive(sim.world.now)}

    other_file = sorted(files_b)[0]
    own_file = sorted(files_a)[0]
    assert get(sim, f"/files/{own_file}", ka).json()["id"] == own_file
    r = get(sim, f"/files/{other_file}", ka)
    assert r.status_code == 404
    assert other_file in error_of(r)["message"]
    assert get(sim, f"/files/{other_file}", kb).status_code == 200

    ca = project_client(sim, pa)
    with pytest.raises(openai.NotFoundError) as ei:
        ca.files.retrieve(other_file)
    assert ei.value.status_code == 404

    # other object kinds of the other project: batches and evals (and an eval's runs)
    batch_b = project_client(sim, pb).batches.list().data[0].id
    eval_b = project_client(sim, pb).evals.list().data[0].id
    with pytest.raises(openai.NotFoundError):
        ca.batches.retrieve(batch_b)
    with pytest.raises(openai.NotFoundError):
        ca.evals.retrieve(eval_b)
    assert get(sim, f"/evals/{eval_b}/runs", ka).status_code == 404
    assert get(sim, f"/evals/{eval_b}/runs", kb).status_code == 200


# ---- unknown, missing, revoked keys ------------------------------------------------------------
@pytest.mark.parametrize("path", ["/files", "/organization/users"])
def test_unknown_key_is_401(sim, path):
    r = get(sim, path, "sk-proj-thisisnotakeythisisnotakey1234")
    assert r.status_code == 401
    err = error_of(r)
    assert err["code"] == "invalid_api_key"
    assert err["type"] == "invalid_request_error"
    assert "Incorrect API key" in err["message"]
    assert "thisisnotakeythisisnotakey" not in err["message"]  # the key is masked in the message


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bearer"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
@pytest.mark.parametrize("path", ["/files", "/organization/users"])
def test_missing_authorization_is_401(sim, path, headers):
    r = get(sim, path, headers=headers)
    assert r.status_code == 401
    err = error_of(r)
    assert "didn't provide an API key" in err["message"]


def test_sdk_raises_authentication_error(sim):
    c = openai.OpenAI(api_key="sk-proj-nope", base_url=sim.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as ei:
        c.files.list()
    assert ei.value.status_code == 401
    a = openai.OpenAI(admin_api_key="sk-admin-nope", api_key="unused", base_url=sim.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        a.admin.organization.users.list()


def test_revoked_minted_key_is_401(sim):
    pid = next(iter(sim.world.project_keys))
    for kind, project_id, path in (("project", pid, "/files"), ("admin", None, "/organization/users")):
        key = sim.world.mint_key(kind, project_id, revoked=True)
        r = get(sim, path, key)
        assert r.status_code == 401, kind
        assert error_of(r)["code"] == "invalid_api_key"


def test_key_revoked_mid_test_stops_working(sim):
    pid = next(iter(sim.world.project_keys))
    pkey = sim.world.mint_key("project", pid)
    akey = sim.world.mint_key("admin")
    c = openai.OpenAI(api_key=pkey, base_url=sim.base_url, max_retries=0)
    assert c.files.list(limit=3).data
    assert get(sim, "/organization/users", akey).status_code == 200

    sim.world.revoke(pkey)
    assert pkey != sim.world.project_keys[pid]
    with pytest.raises(openai.AuthenticationError):
        c.files.list(limit=3)
    assert get(sim, "/organization/users", akey).status_code == 200  # only the revoked key is affected

    # and through the control endpoint
    assert control(sim, "/_sim/revoke", {"key": akey}).status_code == 200
    assert get(sim, "/organization/users", akey).status_code == 401
    assert control(sim, "/_sim/revoke", {"key": "sk-nope"}).status_code == 400
    # the original keys still work
    assert get(sim, "/organization/users", sim.world.admin_key).status_code == 200
    assert get(sim, "/files", sim.world.project_keys[pid]).status_code == 200


def test_key_of_archived_project_is_401():
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        check_archived_project_keys(sim)


def check_archived_project_keys(sim: Simulator) -> None:
    w = sim.world
    # keys of projects archived before the clock are revoked and not handed out
    archived = [p for p in w.projects if p.archived_at is not None and p.archived_at <= w.now]
    assert archived
    for p in archived:
        assert p.id not in w.project_keys
        secret = next(k.secret for k in p.api_keys if k.secret)
        assert get(sim, "/files", secret).status_code == 401
    # a project archived later: its key works until the clock passes the archive time
    later = [p for p in w.projects if p.archived_at is not None and p.archived_at > w.now]
    assert later
    p = later[0]
    key = w.project_keys[p.id]
    assert get(sim, "/files", key).status_code == 200
    sim.advance((p.archived_at - w.now) / 3600 + 1)
    r = get(sim, "/files", key)
    assert r.status_code == 401
    error_of(r)


# ---- scopes ------------------------------------------------------------------------------------
def test_project_key_missing_a_scope_is_403_naming_it(sim):
    pid = next(iter(sim.world.project_keys))
    key = sim.world.mint_key("project", pid, scopes=["api.files.read"])
    assert get(sim, "/files", key).status_code == 200
    for path, scope in (("/batches", "api.batches.read"), ("/evals", "api.evals.read"),
                        ("/models", "api.model.read")):
        r = get(sim, path, key)
        assert r.status_code == 403
        err = error_of(r)
        assert err["code"] == "insufficient_permissions"
        assert scope in err["message"]
    c = openai.OpenAI(api_key=key, base_url=sim.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match=re.escape("api.batches.read")):
        c.batches.list()


def test_admin_key_missing_a_scope_is_403_naming_it(sim):
    key = sim.world.mint_key("admin", scopes=["api.usage.read"])
    assert get(sim, f"/organization/usage/completions?start_time={NOW - 86400}", key).status_code == 200
    r = get(sim, "/organization/users", key)
    assert r.status_code == 403
    assert "api.management.read" in error_of(r)["message"]
    r = get(sim, "/organization/audit_logs", key)
    assert r.status_code == 403
    assert "api.audit_logs.read" in error_of(r)["message"]
    c = openai.OpenAI(admin_api_key=key, api_key="unused", base_url=sim.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match=re.escape("api.management.read")):
        c.admin.organization.projects.list()


def test_keys_with_every_scope_work(sim):
    pid = next(iter(sim.world.project_keys))
    pkey = sim.world.mint_key("project", pid, scopes=list(PROJECT_SCOPES))
    akey = sim.world.mint_key("admin", scopes=list(ADMIN_SCOPES))
    assert all(get(sim, p, pkey).status_code == 200 for p in PROJECT_PATHS)
    assert all(get(sim, p, akey).status_code == 200 for p in ADMIN_PATHS)


# ---- other errors through the SDK --------------------------------------------------------------
def test_sdk_raises_bad_request_and_not_found(sim):
    c = project_client(sim)
    with pytest.raises(openai.BadRequestError) as ei:
        c.files.list(limit=0)
    assert ei.value.status_code == 400
    assert ei.value.param == "limit"
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve("file-doesnotexist")
    a = admin_client(sim)
    with pytest.raises(openai.BadRequestError):
        a.admin.organization.usage.completions(start_time=NOW - 86400, bucket_width="1h", limit=1000)
    with pytest.raises(openai.NotFoundError):
        a.admin.organization.projects.retrieve("proj_doesnotexist")


def test_unknown_url_is_404_with_error_json(sim):
    r = get(sim, "/no/such/endpoint", sim.world.admin_key)
    assert r.status_code == 404
    assert "Invalid URL" in error_of(r)["message"]


# ---- minting through the control endpoint ------------------------------------------------------
def test_mint_keys_through_control_endpoint(sim):
    (pa, _), (pb, kb) = two_projects(sim)
    r = control(sim, "/_sim/keys", {"kind": "project", "project_id": pb})
    assert r.status_code == 200
    minted = r.json()
    assert minted["kind"] == "project" and minted["project_id"] == pb
    key = minted["key"]
    assert key.startswith("sk-proj-") and key != kb
    mine = {f["id"] for f in get(sim, "/files", key, limit=100).json()["data"]}
    assert mine == {f["id"] for f in get(sim, "/files", kb, limit=100).json()["data"]}
    assert get(sim, "/organization/users", key).status_code == 403

    akey = control(sim, "/_sim/keys", {"kind": "admin"}).json()["key"]
    assert akey.startswith("sk-admin-")
    assert get(sim, "/organization/users", akey).status_code == 200
    assert get(sim, "/files", akey).status_code == 403

    revoked = control(sim, "/_sim/keys", {"kind": "project", "project_id": pa, "revoked": True}).json()
    assert revoked["revoked"] is True
    assert get(sim, "/files", revoked["key"]).status_code == 401

    scoped = control(sim, "/_sim/keys", {"kind": "project", "project_id": pa,
                                         "scopes": ["api.batches.read"]}).json()["key"]
    assert get(sim, "/batches", scoped).status_code == 200
    r = get(sim, "/files", scoped)
    assert r.status_code == 403 and "api.files.read" in error_of(r)["message"]


@pytest.mark.parametrize("body", [{"kind": "superuser"}, {"kind": "project", "project_id": "proj_nope"},
                                  {"kind": "project"}, {}, {"kind": "admin", "scopes": "api.usage.read"}])
def test_mint_key_control_endpoint_rejects_bad_requests(sim, body):
    r = control(sim, "/_sim/keys", body)
    assert r.status_code == 400
    assert r.json()["error"]["message"]
