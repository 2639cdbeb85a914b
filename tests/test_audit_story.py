"""The simulator's audit log and its objects tell the same story.

Every change that the clock makes to what the Admin API lists (an object appears, goes or changes) is an event
of the audit log with the ids of what it touched, and every event of a type that records such a change names a
change that happened. The other event types are activity: they leave every listing as it was. And the log
speaks every event type the installed SDK knows, each with the detail payload the SDK declares."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import NOW
from openai.types.admin.organization.audit_log_list_response import AuditLogListResponse
from pydantic import BaseModel

from openai_sync.simulator import World
from openai_sync.simulator.audit import ACTIVITY, CHANGE_TYPES, every

HOUR = 3600
SDK_TYPES = set(typing.get_args(AuditLogListResponse.model_fields["type"].annotation))
Key = tuple[Any, ...]


def _alive(seq: Any, now: int) -> Iterator[Any]:
    return (it for it in every(seq) if it.alive(now))


def snapshot(w: World, now: int) -> dict[str, dict[Key, Any]]:
    """What the listings show at `now`, by family: key -> the state an event would record a change of."""
    s: dict[str, dict[Key, Any]] = {f: {} for f in ("user", "project", "api_key", "service_account", "rate_limit",
                                                    "assignment", "group", "invite", "provider", "rule",
                                                    "external_key", "storage", "permission", "certificate")}
    for it in _alive(w.users_seq, now):
        s["user"][(it.id,)] = None
    for k in w.admin_keys:
        s["api_key"][(k.id,)] = None
    for it in _alive(w.certificates_seq, now):
        s["certificate"][(it.id,)] = None
    for it in _alive(w.invites_seq, now):
        s["invite"][(it.id,)] = it.render(now)["status"] == "accepted"
    for gid, _n, created, _scim in w.groups:
        if created <= now:
            s["group"][(gid,)] = None
        for it in _alive(w.group_roles_seq(gid), now):
            s["assignment"][(it.id, gid, w.org_id)] = None
    for u in w.users:
        for it in _alive(w.user_roles_seq(u.id), now):
            s["assignment"][(it.id, u.id, w.org_id)] = None
    for p in w.projects:
        if p.created_at > now:
            continue
        s["project"][(p.id,)] = p.archived_at is not None and p.archived_at <= now
        for it in _alive(w.project_api_keys_seq(p), now):
            s["api_key"][(it.id,)] = None
        for it in _alive(w.project_service_accounts_seq(p), now):
            s["service_account"][(it.id,)] = None
        for it in _alive(w.project_rate_limits_seq(p), now):
            s["rate_limit"][(p.id, it.id)] = sorted(it.render(now).items())
        for it in _alive(w.project_certificates_seq(p), now):
            s["certificate"][(it.id,)] = None
        for uid, _r, _a in p.members:
            for it in _alive(w.project_user_roles_seq(p, uid), now):
                s["assignment"][(it.id, uid, p.id)] = None
        for g in _alive(w.project_groups_seq(p), now):
            for it in _alive(w.project_group_roles_seq(p, g.id), now):
                s["assignment"][(it.id, g.id, p.id)] = None
    sec = w.security
    for it in _alive(sec.providers_seq, now):
        s["provider"][(it.id,)] = it.render(now)["enabled"]
        for r in _alive(sec.rules_seq(it.id), now):
            s["rule"][(r.id,)] = None
    for it in _alive(sec.external_keys_seq, now):
        s["external_key"][(it.id,)] = None
    for it in _alive(sec.storage_seq, now):
        s["storage"][(it.id,)] = None
    for model in w.ft_model_names():
        for it in _alive(sec.model_permissions_seq(model), now):
            s["permission"][(it.id,)] = None
    return s


# family -> (type when it appears, type when it goes, type when its state changes)
EVENTS = {"user": ("user.added", "user.deleted", None), "project": ("project.created", None, "project.archived"),
          "api_key": ("api_key.created", "api_key.deleted", None),
          "service_account": ("service_account.created", None, None),
          "rate_limit": (None, None, "rate_limit.updated"),
          "assignment": ("role.assignment.created", "role.assignment.deleted", None),
          "group": ("group.created", None, None), "invite": ("invite.sent", None, "invite.accepted"),
          "provider": ("workload_identity_provider.created", "workload_identity_provider.deleted",
                       "workload_identity_provider.updated"),
          "rule": ("workload_identity_provider_mapping.created", "workload_identity_provider_mapping.deleted", None),
          "external_key": ("external_key.registered", None, None),
          "storage": ("external_storage.registered", "external_storage.removed", None),
          "permission": ("checkpoint.permission.created", None, None),
          "certificate": ("certificate.created", None, None)}


def story(before: dict[str, dict[Key, Any]], after: dict[str, dict[Key, Any]]) -> set[tuple[str, Key]]:
    """The events that the difference between two snapshots calls for."""
    out = set()
    for family, (appears, goes, changes) in EVENTS.items():
        b, a = before[family], after[family]
        for key in a.keys() - b.keys():
            if appears:
                out.add((appears, key))
            if changes and family in ("project", "invite") and a[key]:
                out.add((changes, key))  # archived or accepted already when first listed
        for key in b.keys() - a.keys():
            assert goes, f"{family} {key} went without an event type to say so"
            out.add((goes, key))
        for key in a.keys() & b.keys():
            if a[key] != b[key]:
                assert changes, f"{family} {key} changed without an event type to say so"
                out.add((changes, key))
    return out


def event_key(ev: dict[str, Any]) -> tuple[str, Key]:
    d = ev[ev["type"]]
    if ev["type"].startswith("role.assignment."):
        return ev["type"], (d["id"], d["principal_id"], d["resource_id"])
    if ev["type"] == "rate_limit.updated":
        return ev["type"], (ev["project"]["id"], d["id"])
    return ev["type"], (d["id"],)


def events(w: World, lo: int, hi: int, now: int) -> list[dict[str, Any]]:
    """Events with lo < effective_at <= hi, as listed at `now`."""
    seq = w.audit_seq
    return [seq.make(i).render(now) for i in range(seq.bound(lo), seq.bound(hi))]


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=3, size="medium", now=NOW)


def test_every_change_of_the_clock_is_an_event_and_every_change_event_a_change(world: World) -> None:
    t0, t1 = world.now, world.now + 72 * HOUR
    want = story(snapshot(world, t0), snapshot(world, t1))
    assert {t for t, _k in want} >= {"user.deleted", "api_key.deleted", "project.archived", "rate_limit.updated",
                                     "role.assignment.deleted", "workload_identity_provider.deleted",
                                     "workload_identity_provider.updated", "external_storage.removed"}
    got = {event_key(ev) for ev in events(world, t0, t1, t1) if ev["type"] in CHANGE_TYPES}
    assert got - want == set(), "events of changes that the listings do not show"
    assert want - got == set(), "changes that the audit log does not record"


def test_every_object_listed_has_the_event_that_made_it(world: World) -> None:
    empty = {f: {} for f in EVENTS}
    want = story(empty, snapshot(world, world.now))
    got = {event_key(ev) for ev in events(world, world.start - 1, world.now, world.now)
           if ev["type"] in CHANGE_TYPES}
    assert want - got == set()


def test_activity_changes_nothing(world: World) -> None:
    assert not set(ACTIVITY) & set(CHANGE_TYPES)
    assert set(ACTIVITY) | set(CHANGE_TYPES) == SDK_TYPES


def _undeclared(obj: Any, model: type[BaseModel], where: str) -> list[str]:
    """Keys of obj that the SDK model does not declare, at any depth."""
    if not isinstance(obj, dict):
        return []
    fields = {(f.alias or n): f.annotation for n, f in model.model_fields.items()}
    out = []
    for k, v in obj.items():
        if k not in fields:
            out.append(f"{where}.{k}")
            continue
        subs = _models(fields[k])
        for item in (v if isinstance(v, list) else [v]) if subs else []:
            # a union (the storage providers): the item is declared if one of its members declares it all
            out += min((_undeclared(item, sub, f"{where}.{k}") for sub in subs), key=len)
    return out


def _models(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for a in typing.get_args(ann) for m in _models(a)]


def test_every_sdk_type_with_its_payload_and_every_kind_of_actor(world: World) -> None:
    now = world.now + 72 * HOUR
    evs = events(world, world.start - 1, now, now)
    assert {ev["type"] for ev in evs} == SDK_TYPES
    undeclared = set()
    for ev in evs:
        AuditLogListResponse.model_validate(ev)
        undeclared.update(_undeclared(ev, AuditLogListResponse, ev["type"]))
    assert not undeclared
    with_detail = {name for name, f in AuditLogListResponse.model_fields.items() if f.alias and "." in f.alias}
    detailed = {ev["type"] for ev in evs if ev.get(ev["type"])}
    assert {AuditLogListResponse.model_fields[n].alias for n in with_detail} - detailed <= {
        "login.succeeded", "logout.succeeded"}, "a type the SDK gives a payload is always sent without one"
    actors = {(ev["actor"]["type"], ev["actor"].get("api_key", {}).get("type")) for ev in evs}
    assert actors == {("session", None), ("api_key", "user"), ("api_key", "service_account")}
    # an action taken with an Admin API key is scoped to the default project, as the SDK documents
    admin = [ev for ev in evs if ev["actor"].get("api_key", {}).get("id") == world.admin_keys[0].id]
    assert admin and all(ev["project"]["id"] == world.projects[0].id for ev in admin)
    assert any("project" not in ev for ev in evs) and any("project" in ev for ev in evs)
