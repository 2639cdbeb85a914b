"""The organization's trusts and encryption: workload identity providers and their federation rules, external
(customer-managed) keys and storage, each project's webhook endpoints, and who may use each fine-tuned model.

Deterministic from the world's seed, like everything else; each collection has an object that appears after
the initial clock and one that changes or goes, so that an advancing clock exercises updates and soft deletes.
Shapes follow the installed SDK (types/admin/organization/*, types/webhooks/webhook_endpoint.py,
types/fine_tuning/checkpoints/permission_list_response.py)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import rng
from .constants import DAY, HOUR
from .seq import Item, Seq

if TYPE_CHECKING:
    from .world import Project, World

ISSUERS = (("GitHub Actions", "https://token.actions.githubusercontent.com", "repo:acme/app:ref:refs/heads/main"),
           ("Google Cloud", "https://accounts.google.com", "113285421209876543210"),
           ("EKS cluster", "https://oidc.eks.us-east-1.amazonaws.com/id/5C0FFEE5C0FFEE",
            "system:serviceaccount:ml:job"),
           ("Azure AD", "https://login.microsoftonline.com/72f988bf/v2.0", "0c1f9b5e-5a8e-4d4b-9a8e-2f6c0a1b2c3d"))
PROVIDER_TYPES = ("aws", "gcp", "azure", "oci")
STORAGE_STATES = ("validated", "pending", "degraded", "unhealthy")
WEBHOOK_EVENTS = ("response.completed", "response.failed", "batch.completed", "batch.failed", "batch.expired",
                  "fine_tuning.job.succeeded", "fine_tuning.job.failed", "eval.run.succeeded", "eval.run.failed")


class Security:
    def __init__(self, w: World) -> None:
        self.w = w
        self.seed = w.seed

    def _u(self, *parts: object) -> float:
        return rng.unit(self.seed, "sec", *parts)

    def _later(self, *parts: object) -> int:
        """A moment within two days after the initial clock: when something appears, changes or goes."""
        return self.w.now0 + rng.randint(2 * HOUR, 2 * DAY, self.seed, "later", *parts)

    # ---- workload identity providers and their federation rules ------------------------------------------
    @cached_property
    def providers(self) -> list[tuple[str, int, int | None, int]]:
        """(id, created, removed, issuer index): one created after the initial clock, one deleted after it."""
        n = 2 + self.w.size.projects // 10
        out = []
        for i in range(n):
            created = self.w.start + rng.randint(DAY, 20 * DAY, self.seed, "wipc", i)
            removed = None
            if i == n - 1:
                created = self._later("wipnew")
            elif i == 1:
                removed = self._later("wipgone")
            out.append((self.w._id("wip_", 24, "wip", i), created, removed, i % len(ISSUERS)))
        return out

    @cached_property
    def providers_seq(self) -> Seq:
        return Seq.of([Item(pid, c, gone, lambda now, i=i: self._provider(i, now))
                       for i, (pid, c, gone, _x) in enumerate(self.providers)])

    def _provider(self, i: int, now: int) -> dict[str, Any]:
        pid, created, _gone, iss = self.providers[i]
        label, issuer, _sub = ISSUERS[iss]
        verification: dict[str, Any] = (
            {"type": "discovery", "discovery_url": f"{issuer}/.well-known/openid-configuration" if i % 4 else None}
            if i % 3 != 1 else
            {"type": "uploaded_jwks", "jwks": {"keys": [{"kty": "RSA", "kid": rng.token(8, self.seed, pid), "e": "AQAB",
                                                          "n": rng.token(40, self.seed, pid, "n"), "use": "sig"}]}})
        toggled = i == 0 and now >= self._later("wiptoggle")  # disabled after the clock advances
        return {"object": "organization.workload_identity_provider", "id": pid, "type": "oidc",
                "name": f"{label} {i}", "issuer": issuer, "audience": "https://api.openai.com/v1",
                "description": f"Tokens from {label}" if i % 2 == 0 else None, "enabled": not toggled,
                "created_at": created, "updated_at": self._later("wiptoggle") if toggled else created,
                "attribute_transformations": [{"attribute": "repository", "expression": "claims.repository"}]
                if i % 2 == 0 else [],
                "verification": verification}

    def rules_seq(self, provider_id: str) -> Seq | None:
        idx = next((i for i, p in enumerate(self.providers) if p[0] == provider_id), None)
        if idx is None:
            return None
        _pid, p_created, p_gone, iss = self.providers[idx]
        targets = [p for p in self.w.projects if p.service_accounts and p.archived_at is None]
        items = []
        for j in range(1 + rng.randint(0, 2, self.seed, "wifn", provider_id)):
            if not targets:
                break
            proj = targets[rng.randint(0, len(targets) - 1, self.seed, "wift", provider_id, j)]
            sa = proj.service_accounts[j % len(proj.service_accounts)]
            rid = self.w._id("wifr_", 24, "wifr", provider_id, j)
            created = max(p_created, sa[2]) + (j + 1) * HOUR
            gone = self._later("wifrgone", provider_id) if j == 2 else p_gone  # a rule removed later
            items.append(Item(rid, created, gone, lambda now, rid=rid, created=created, proj=proj, sa=sa, j=j:
                              self._rule(provider_id, iss, rid, created, proj, sa, j)))
        return Seq.of(items)

    def _rule(self, provider_id: str, iss: int, rid: str, created: int, proj: Project, sa: tuple[str, str, int],
              j: int) -> dict[str, Any]:
        _label, _issuer, sub = ISSUERS[iss]
        matchers: dict[str, Any] = {"sub": sub}
        if j == 1:
            matchers |= {"repository_owner_id": 4242, "ref_protected": True, "weight": 0.5}
        return {"object": "organization.workload_identity_federation_rule", "id": rid,
                "workload_identity_provider_id": provider_id, "name": f"deploy-{j}" if j != 1 else None,
                "description": "Deploys from main" if j == 0 else None, "enabled": j != 2,
                "attribute_matchers": matchers, "project_id": proj.id, "service_account_id": sa[0],
                "permissions": {"type": "service_account_default"} if j % 2 == 0 else
                {"type": "restricted", "scopes": ["api.model.request", "api.files.read"]},
                "created_at": created, "updated_at": created + (DAY if j == 1 else 0)}

    # ---- external keys and storage -------------------------------------------------------------------------
    @cached_property
    def external_keys(self) -> list[tuple[str, int, int | None, str, list[str]]]:
        """(id, created, removed, provider type, project ids): a key per provider type, and one more added later."""
        projects = [p.id for p in self.w.projects if p.archived_at is None]
        out = []
        for i, kind in enumerate((*PROVIDER_TYPES, PROVIDER_TYPES[0])):
            created = self.w.start + (i + 1) * DAY if i < len(PROVIDER_TYPES) else self._later("eknew")
            users = [pid for k, pid in enumerate(projects) if k % 5 == i]
            out.append((self.w._id("ekey_", 24, "ekey", i), created, None, kind, users))
        return out

    def external_key_of(self, project_id: str, now: int) -> str | None:
        """The key that encrypts a project's data (projects.external_key_id), if one does."""
        return next((k for k, c, _g, _t, pids in self.external_keys if project_id in pids and c <= now), None)

    @cached_property
    def external_keys_seq(self) -> Seq:
        return Seq.of([Item(kid, c, gone, lambda now, i=i: self._external_key(i))
                       for i, (kid, c, gone, _t, _p) in enumerate(self.external_keys)])

    def _external_key(self, i: int) -> dict[str, Any]:
        kid, created, _gone, kind, pids = self.external_keys[i]
        tok = rng.token(12, self.seed, kid)
        out: dict[str, Any] = {"object": "organization.external_key", "id": kid, "name": f"{kind}-kms-{i}",
                               "type": kind, "created_at": created, "api_project_ids": pids,
                               "workspace_id": f"ws-{rng.token(12, self.seed, 'ws')}",
                               "purpose": "ekm" if i != 1 else "psp_decryption"}
        out |= {"aws": {"kms_arn": f"arn:aws:kms:us-east-1:123456789012:key/{tok}",
                        "role_arn": "arn:aws:iam::123456789012:role/openai-ekm", "external_id": f"ext-{tok}",
                        "region": "us-east-1"},
                "gcp": {"kms_project_id": "acme-kms", "kms_key_location": "us", "kms_key_ring_name": "openai",
                        "kms_key_name": f"key-{tok}", "kms_key_version": "3", "audience": "//iam.googleapis.com/x",
                        "workload_identity_pool_id": "openai-pool", "workload_identity_project_number": "4815162342",
                        "workload_identity_provider_id": "openai-oidc"},
                "azure": {"vault_uri": "https://acme.vault.azure.net", "key_name": f"key-{tok}",
                          "key_version": tok, "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
                "oci": {"vault_ocid": f"ocid1.vault.oc1..{tok}", "key_ocid": f"ocid1.key.oc1..{tok}",
                        "key_version_ocid": f"ocid1.keyversion.oc1..{tok}", "region": "us-ashburn-1"}}[kind]
        return out

    @cached_property
    def storage(self) -> list[tuple[str, int, int | None, str, str]]:
        """(id, created, removed, project id, provider type): one per second project; one removed later."""
        out = []
        for k, p in enumerate(self.w.projects):
            if k % 2 != 0 or p.archived_at is not None:
                continue
            n = len(out)
            gone = self._later("esgone") if n == 1 else None
            out.append((self.w._id("exst_", 24, "exst", p.id), p.created_at + DAY, gone, p.id,
                        PROVIDER_TYPES[n % len(PROVIDER_TYPES)]))
        return out

    @cached_property
    def storage_seq(self) -> Seq:
        return Seq.of([Item(sid, c, gone, lambda now, i=i: self._storage(i, now))
                       for i, (sid, c, gone, _p, _t) in enumerate(self.storage)])

    def _storage(self, i: int, now: int) -> dict[str, Any]:
        sid, created, _gone, pid, kind = self.storage[i]
        status = STORAGE_STATES[i % len(STORAGE_STATES)]
        if i == 0 and now >= self._later("esdegrade"):
            status = "degraded"  # its health changes after the clock advances
        bucket = f"acme-openai-{rng.token(6, self.seed, sid)}"
        provider = {"aws": {"type": "aws", "bucket": bucket, "region": "us-east-1", "account_id": "123456789012",
                            "role_arn": "arn:aws:iam::123456789012:role/openai-storage",
                            "external_id": f"ext-{sid[-6:]}"},
                    "gcp": {"type": "gcp", "bucket": bucket, "region": "us-central1",
                            "audience": "//iam.googleapis.com/y", "workload_identity_pool_id": "openai-pool",
                            "workload_identity_project_number": "4815162342",
                            "workload_identity_provider_id": "openai-oidc"},
                    "azure": {"type": "azure", "account_name": "acmeopenai", "container": bucket, "region": "eastus",
                              "resource_group": "rg-openai", "subscription_id": "a1b2c3d4-0000-1111-2222-333344445555",
                              "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
                    "oci": {"type": "oci", "bucket": bucket, "region": "us-ashburn-1",
                            "tenancy_ocid": f"ocid1.tenancy.oc1..{sid[-8:]}"}}[kind]
        return {"object": "organization.external_storage", "id": sid, "project_id": pid, "created_at": created,
                "geography": "us" if i % 2 == 0 else "eu", "status": status, "provider": provider}

    # ---- a project's webhook endpoints ------------------------------------------------------------------
    def webhooks_seq(self, p: Project) -> Seq:
        items = []
        for j in range(1 + p.index % 3):
            wid = self.w._id("whep_", 24, "whep", p.id, j)
            created = p.created_at + (j + 1) * DAY
            gone = self._later("whgone", p.id) if j == 1 else None
            items.append(Item(wid, created, gone, lambda now, wid=wid, created=created, j=j: {
                "object": "webhook_endpoint", "id": wid, "name": f"events-{j}", "created_at": created,
                "url": f"https://hooks.example.com/openai/{wid[-8:]}",
                "event_types": list(WEBHOOK_EVENTS[j::2]),
                "signing_secret_hint": f"whsec_...{rng.token(4, self.seed, wid)}" if j == 0 else None,
                "updated_at": created + HOUR if j == 0 else None}))
        return Seq.of(items)

    # ---- who may use each fine-tuned model ---------------------------------------------------------------
    def model_permissions_seq(self, model: str) -> Seq | None:
        """The projects a fine-tuned model (or one of its checkpoints) is shared with, beyond its own."""
        owner = self.w.ft_model_owner(model)
        if owner is None:
            return None
        ready = owner[1]
        others = [p for p in self.w.projects if p.id != owner[0] and p.archived_at is None]
        items = []
        for j in range(min(len(others), rng.randint(0, 2, self.seed, "cpn", model))):
            proj = others[rng.randint(0, len(others) - 1, self.seed, "cpp", model, j)]
            cid = self.w._id("cp_", 24, "cp", model, proj.id)
            created = max(ready, self.w.now0 - DAY) if j == 0 else max(ready, self._later("cpnew", model))
            if any(it.id == cid for it in items):
                continue
            items.append(Item(cid, created, None, lambda now, cid=cid, created=created, proj=proj: {
                "object": "checkpoint.permission", "id": cid, "created_at": created, "project_id": proj.id}))
        return Seq.of(items)
