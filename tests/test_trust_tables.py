"""End-to-end: the tables of the organization's trusts and encryption (workload identity providers and their
federation rules, external keys and storage), each project's webhook endpoints and service tiers, and who may use
each fine-tuned model; on DuckDB and PostgreSQL, against the simulator's ground truth, before and after its clock
moves (a provider disabled and one deleted, a rule removed, storage degraded and removed, permissions granted)."""

from __future__ import annotations

import json

import pytest
from conftest import NOW
from test_projects import config

from openai_sync.api.errors import KeyProblem
from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World

ORG = ["workload_identity_providers", "workload_identity_provider_rules", "external_keys", "external_storage",
       "projects", "project_settings"]
PROJECT = ["models", "fine_tuning_checkpoint_permissions", "webhook_endpoints"]


def live(dest, table: str, cols: str) -> set[tuple]:
    return set(dest.q(f"SELECT {cols} FROM openai.{table} WHERE NOT _deleted"))


def as_json(v):
    """A JSON column's value: DuckDB gives its text, PostgreSQL its decoded value (a bare string, for one)."""
    if isinstance(v, str) and v[:1] in '"[{':
        return json.loads(v)
    return v


def listed_models(w: World) -> set[str]:
    """The fine-tuned models that the usable project keys list now."""
    return {m["id"] for pid in w.project_keys if not _archived(w, pid)
            for m in w.project_data(pid).models_json(w.now) if m["id"].startswith("ft:")}


def truth_permissions(w: World) -> set[tuple[str, str]]:
    """(model, permitted project) for every fine-tuned model a project key lists now."""
    return {(m, it.render(w.now)["project_id"]) for m in listed_models(w)
            for it in w.security.model_permissions_seq(m).alive(w.now)}


def _archived(w: World, pid: str) -> bool:
    at = w.project_by_id[pid].archived_at
    return at is not None and at <= w.now


def check_org(dest, w: World) -> None:
    sec, now = w.security, w.now
    providers = [it.render(now) for it in sec.providers_seq.alive(now)]
    assert live(dest, "workload_identity_providers", "id, enabled, issuer") == {
        (p["id"], p["enabled"], p["issuer"]) for p in providers}
    jwks = {r[0]: as_json(r[1]) for r in dest.q("SELECT id, verification__jwks FROM openai.workload_identity_providers "
                                                 "WHERE NOT _deleted")}
    assert jwks == {p["id"]: p["verification"].get("jwks") for p in providers}  # an uploaded JWKS, whole
    rules = [it.render(now) for p in providers for it in sec.rules_seq(p["id"]).alive(now)]
    got = {r[0]: r[1:] for r in dest.q(
        "SELECT id, workload_identity_provider_id, project_id, service_account_id, permissions__type, "
        "permissions__scopes, attribute_matchers FROM openai.workload_identity_provider_rules WHERE NOT _deleted")}
    assert set(got) == {r["id"] for r in rules}
    for r in rules:
        pid, proj, sa, ptype, scopes, matchers = got[r["id"]]
        assert (pid, proj, sa, ptype) == (r["workload_identity_provider_id"], r["project_id"],
                                          r["service_account_id"], r["permissions"]["type"])
        assert as_json(matchers) == r["attribute_matchers"]  # strings, numbers and booleans, whole
        assert (as_json(scopes) if scopes is not None else None) == r["permissions"].get("scopes")
    keys = [it.render(now) for it in sec.external_keys_seq.alive(now)]
    assert live(dest, "external_keys", "id, type, kms_arn, vault_uri, key_ocid") == {
        (k["id"], k["type"], k.get("kms_arn"), k.get("vault_uri"), k.get("key_ocid")) for k in keys}
    stores = [it.render(now) for it in sec.storage_seq.alive(now)]
    assert live(dest, "external_storage", "id, project_id, status, provider__type, provider__bucket") == {
        (s["id"], s["project_id"], s["status"], s["provider"]["type"], s["provider"].get("bucket")) for s in stores}
    assert live(dest, "projects", "id, external_key_id, residency") == {
        (p.id, sec.external_key_of(p.id, now), w.project_json(p, now).get("residency")) for p in w.projects}
    tiers = {r[0]: (r[1], as_json(r[2])) for r in dest.q(
        "SELECT project_id, service_tier_settings__default, service_tier_settings__enabled_tiers "
        "FROM openai.project_settings")}
    assert tiers == {p.id: (w.project_service_tier_settings(p)["default"],
                            w.project_service_tier_settings(p)["enabled_tiers"]) for p in w.projects}


def test_trust_tables_equal_ground_truth_and_follow_the_clock(dest):
    w = World(seed=7, size="medium", now=NOW)
    with Simulator(w) as sim:
        results, _ = sync(config(sim, dest, tables=ORG + PROJECT))
        assert {r.name: r.status for r in results} == dict.fromkeys(ORG + PROJECT, "ok")
        check_org(dest, w)
        assert dest.one("SELECT count(*) FROM openai.workload_identity_providers WHERE verification__jwks IS NOT NULL")
        first_perms = live(dest, "fine_tuning_checkpoint_permissions", "fine_tuned_model_checkpoint, project_id")
        assert first_perms == truth_permissions(w) != set()
        hooks = {(p, it.id) for p in w.project_keys if not _archived(w, p)
                 for it in w.security.webhooks_seq(w.project_by_id[p]).alive(w.now)}
        assert live(dest, "webhook_endpoints", "project_id, id") == hooks != set()
        before = {t: live(dest, t, "id") for t in ("workload_identity_providers", "external_storage",
                                                   "fine_tuning_checkpoint_permissions", "webhook_endpoints")}

        w.advance(72)  # past every change the simulator schedules within two days
        results, _ = sync(config(sim, dest, tables=ORG + PROJECT))
        assert {r.name: r.status for r in results} == dict.fromkeys(ORG + PROJECT, "ok")
        check_org(dest, w)
        # the models still listed: as the API says now; those of a project archived since (its key no longer
        # works) stay as last seen, since nothing read says otherwise
        now_listed = listed_models(w)
        perms = live(dest, "fine_tuning_checkpoint_permissions", "fine_tuned_model_checkpoint, project_id")
        assert {p for p in perms if p[0] in now_listed} == truth_permissions(w)
        assert {p for p in perms if p[0] not in now_listed} <= first_perms
        # what went at the source is marked deleted, with when that was seen
        gone = before["workload_identity_providers"] - live(dest, "workload_identity_providers", "id")
        assert gone and dest.one("SELECT count(*) FROM openai.workload_identity_providers WHERE _deleted AND "
                                 "_deleted_at IS NOT NULL") == len(gone)
        assert before["external_storage"] - live(dest, "external_storage", "id")
        assert dest.one("SELECT count(*) FROM openai.workload_identity_providers WHERE NOT enabled AND NOT _deleted")
        assert live(dest, "fine_tuning_checkpoint_permissions", "id") - before["fine_tuning_checkpoint_permissions"]


def test_model_permissions_need_project_keys_too(sim, dest):
    cfg = config(sim, dest, tables=["fine_tuning_checkpoint_permissions"])
    with pytest.raises(KeyProblem, match=r"^fine_tuning_checkpoint_permissions needs a project key .* none"):
        sync(cfg.__class__(**{**cfg.__dict__, "project_keys": ()}))
