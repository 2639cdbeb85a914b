"""The audit log: the organization's story as events, in effective_at order.

Two streams, merged:
- changes: every change the world makes to what the Admin API lists (a user added or removed, a project
  created or archived, a key created or deleted, a rate limit raised, a role assigned or removed, a provider,
  rule, key, storage or permission registered or removed, ...), each written as the event the API writes, with
  the ids of the objects it touched, at the moment the listings change;
- activity: `audit_events_per_day` evenly slotted events forever: logins and logouts, updates that leave the
  listed objects as they were, and every other type the SDK knows (ip allowlists, SCIM, tunnels, tenant events,
  objects created and deleted between two listings), each with its detail payload.
Actors are sessions, API keys of users and API keys of service accounts; an action taken with an Admin API key
is scoped to the default project, as the SDK documents. Shapes follow
types/admin/organization/audit_log_list_response.py of the installed SDK.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import rng
from .constants import DAY
from .seq import Item, Seq

if TYPE_CHECKING:
    from .world import Project, User, World

TENANT_TYPES = (
    "tenant.metadata.updated", "tenant.microsoft_entra_mapping.upserted", "tenant.microsoft_entra_mapping.deleted",
    "tenant.workload_identity.provider.created", "tenant.workload_identity.provider.updated",
    "tenant.workload_identity.provider.archived", "tenant.workload_identity.mapping.created",
    "tenant.workload_identity.mapping.updated", "tenant.workload_identity.mapping.archived",
    "tenant.workload_identity.binding.created", "tenant.workload_identity.principal.provisioned",
    "tenant.workload_identity.access_token.issued", "tenant.admin_api_key.created", "tenant.admin_api_key.updated",
    "tenant.admin_api_key.deleted", "tenant.project_api_key.created",
    "tenant.trusted_access.business_verification.started", "tenant.trusted_access.application.submitted",
    "tenant.chatgpt_access_token.revoked", "tenant.migration.completed", "tenant.sso.migrated",
    "tenant.domains.migrated", "tenant.sso_connection.created", "tenant.sso_connection.updated",
    "tenant.sso_connection.deleted", "tenant.sso_connection.setup.started", "tenant.policy.created",
    "tenant.policy.updated", "tenant.policy.deleted", "tenant.policy.attached", "tenant.policy.detached",
    "tenant.principal_authentication_policy.resolved", "tenant.scim.setup.started", "tenant.scim.deletion.requested",
    "tenant.scim.directory.created", "tenant.product_access_policy.updated", "tenant.resource_share_grant.created",
    "tenant.resource_share_grant.updated", "tenant.resource_share_grant.accepted",
    "tenant.resource_share_grant.declined", "tenant.resource_share_grant.revoked",
    "tenant.resource_share_grant.deleted", "tenant.service_account.updated", "tenant.service_account.deleted",
    "tenant.service_account.token.revoked", "tenant.billing.overage_limit.updated", "tenant.billing.alerts.updated",
    "tenant.billing.info.updated", "tenant.usage_limit.workspace.updated", "tenant.usage_limit.group.updated",
    "tenant.usage_limit.user.updated", "tenant.usage_limit.increase_request.updated",
    "tenant.usage_limit.increase_request.resolved", "tenant.group.created", "tenant.group.updated",
    "tenant.group.deleted", "tenant.group.member.added", "tenant.group.member.removed",
    "tenant.migration_rollout.status.updated", "tenant.migration_rollout.tier.updated", "tenant.role.metadata.updated",
    "tenant.custom_role.created", "tenant.custom_role.updated", "tenant.custom_role.deleted",
    "tenant.role_assignment.created", "tenant.role_assignment.deleted", "tenant.resource_role_assignment.created",
    "tenant.resource_role_assignment.deleted", "tenant.resource_access.updated", "tenant.resource_access.deleted",
    "tenant.ads_account.onboarding.redemption", "tenant.session_policy.created", "tenant.session_policy.updated",
    "tenant.session_policy.deleted", "tenant.session_revocation.started", "tenant.third_party_app_policy.updated",
    "tenant.user.added", "tenant.user.updated", "tenant.user.removed", "tenant.user.looked_up",
    "tenant.user.invited", "tenant.membership.revoked", "tenant.api_organization_invite.upserted",
    "tenant.api_organization_invite.deleted", "tenant.chatgpt_workspace_invite.upserted",
    "tenant.membership.accepted", "tenant.membership.declined", "tenant.workspace_invite_email_settings.updated")

# Types written only by the world's changes: an event of one of them always names an object the listings show.
CHANGE_TYPES = (
    "api_key.created", "api_key.deleted", "certificate.created", "checkpoint.permission.created",
    "external_key.registered", "external_storage.registered", "external_storage.removed", "group.created",
    "invite.sent", "invite.accepted", "project.created", "project.archived", "rate_limit.updated", "role.created",
    "role.assignment.created", "role.assignment.deleted", "service_account.created", "user.added", "user.deleted",
    "workload_identity_provider.created", "workload_identity_provider.updated", "workload_identity_provider.deleted",
    "workload_identity_provider_mapping.created", "workload_identity_provider_mapping.deleted")


@dataclass(frozen=True, slots=True)
class Change:
    t: int
    type: str
    detail: dict[str, Any]
    project: Project | None  # the project the action was scoped to; None: the organization
    by_admin_key: bool = False  # taken with an Admin API key (so scoped to the default project)


class AuditLog:
    def __init__(self, w: World) -> None:
        self.w = w
        self.seed = w.seed
        per_day = w.size.audit_events_per_day if w.audit_logging else 0
        self.slot = DAY / per_day if per_day else 0.0
        self.n_activity = per_day * 365 * 50
        changes = self._changes() if w.audit_logging else []
        self.changes = sorted(changes, key=lambda c: (c.t, c.type, str(c.detail.get("id"))))
        self.times = [c.t for c in self.changes]
        # merged position of each change: activity at the same second comes first
        self.pos = [k + self._activity_bound(c.t) for k, c in enumerate(self.changes)]
        self.seq = Seq(self.n_activity + len(self.changes), self._make, self._index_of, self._effective_at)

    # ---- the merged sequence -------------------------------------------------------------------------------------
    def _activity_at(self, j: int) -> int:
        return self.w.start + int(j * self.slot + rng.unit(self.seed, "alj", j) * self.slot * 0.9)

    def _activity_bound(self, t: int) -> int:
        """How many activity events have effective_at <= t."""
        if not self.n_activity or t < self.w.start:
            return 0
        j0 = int((t - self.w.start) / self.slot)  # event j falls in slot j: the answer is within a few of j0
        lo, hi = max(0, j0 - 2), min(self.n_activity, j0 + 3)
        return lo + bisect.bisect_right(range(lo, hi), t, key=self._activity_at)

    def _locate(self, i: int) -> tuple[bool, int]:
        """(is a change, index within its stream) of merged slot i."""
        k = bisect.bisect_right(self.pos, i) - 1
        if k >= 0 and self.pos[k] == i:
            return True, k
        return False, i - (k + 1)

    def _effective_at(self, i: int) -> int:
        change, k = self._locate(i)
        return self.times[k] if change else self._activity_at(k)

    def _make(self, i: int) -> Item:
        change, k = self._locate(i)
        if change:
            aid, t, key = self._change_id(k), self.times[k], ("c", k)
            render: Callable[[int], dict[str, Any]] = lambda now: self._render_change(k, aid)  # noqa: E731
        else:
            aid, t, key = self._activity_id(k), self._activity_at(k), (k,)
            render = lambda now: self._render_activity(k, aid, t)  # noqa: E731
        # listed from when it becomes visible (t plus its ingestion delay); effective_at stays t
        return Item(aid, t + self.visible_after(*key), None, render, None)

    def _activity_id(self, j: int) -> str:
        return f"audit_log-{rng.token(10, self.seed, 'al', j)}{j:x}"

    def _change_id(self, k: int) -> str:
        return f"audit_log-{rng.token(10, self.seed, 'alc', k)}z{k:x}"

    def _index_of(self, aid: str) -> int | None:
        if not aid.startswith("audit_log-") or len(aid) < 21:
            return None
        tail = aid[20:]
        try:
            n = int(tail[1:] if tail[0] == "z" else tail, 16)
        except ValueError:
            return None
        if tail[0] == "z":
            return self.pos[n] if 0 <= n < len(self.changes) and aid == self._change_id(n) else None
        if not 0 <= n < self.n_activity or aid != self._activity_id(n):
            return None
        return n + bisect.bisect_left(self.times, self._activity_at(n))

    def visible_after(self, *key: object) -> int:
        """Seconds between an event's effective_at and when the audit log lists it: the real API writes the log
        asynchronously. Each event falls in one band of `audit_delay` (by a hash), uniformly within it."""
        u = rng.unit(self.seed, "ald", *key)
        for share, longest in self.w.audit_delay:
            if u < share:
                return 1 + int(rng.unit(self.seed, "aldv", *key) * longest)
            u -= share
        return 0

    # ---- rendering -------------------------------------------------------------------------------------------------
    def _session(self, u: User, *key: object) -> dict[str, Any]:
        return {"type": "session", "session": {"user": {"id": u.id, "email": u.email},
                                               "ip_address": f"203.0.113.{rng.randint(1, 254, self.seed, 'ip', *key)}"}}

    def _admin_key_actor(self) -> dict[str, Any]:
        owner = self.w.users[0]
        return {"type": "api_key", "api_key": {"id": self.w.admin_keys[0].id, "type": "user",
                                               "user": {"id": owner.id, "email": owner.email}}}

    @staticmethod
    def _scope(p: Project | None) -> dict[str, Any]:
        return {"project": {"id": p.id, "name": p.name}} if p is not None else {}

    def _render_change(self, k: int, aid: str) -> dict[str, Any]:
        c = self.changes[k]
        if c.by_admin_key:  # "admin actions taken via Admin API keys are associated with the default project"
            actor, scope = self._admin_key_actor(), self._scope(self.w.projects[0])
        else:
            actor, scope = self._session(self.w.users[0], "c", k), self._scope(c.project)
        return {"id": aid, "type": c.type, "effective_at": c.t, "actor": actor, **scope, c.type: c.detail}

    def _render_activity(self, j: int, aid: str, t: int) -> dict[str, Any]:
        etype = rng.choice(ACTIVITY, self.seed, "alt", j)
        w, s = self.w, self.seed
        alive = [u for u in w.users[: max(1, min(len(w.users), 50))]
                 if u.added_at <= t and (u.removed_at is None or t < u.removed_at)] or [w.users[0]]
        u = rng.choice(alive, s, "alu", j)
        # projects are created in index order, so those existing at t are a prefix of the list
        n_projs = max(1, bisect.bisect_right(w._project_created, t))
        p = w.projects[rng.h64(s, "alp", j) % n_projs]
        actor = self._session(u, j)
        a = rng.unit(s, "alk", j)
        if not etype.startswith(("login.", "logout.")) and a < 0.4:
            k = p.api_keys[rng.randint(0, len(p.api_keys) - 1, s, "alkk", j)]
            actor = {"type": "api_key", "api_key": {"id": k.id, "type": k.owner_kind}}
            if k.owner_kind == "user":
                owner = w.user_by_id[k.owner_id]
                actor["api_key"]["user"] = {"id": owner.id, "email": owner.email}
            else:
                actor["api_key"]["service_account"] = {"id": k.owner_id}
        ev: dict[str, Any] = {"id": aid, "type": etype, "effective_at": t, "actor": actor}
        org_level = etype.startswith(ORG_LEVEL)
        ev |= self._scope(None if org_level else p)
        detail = ACTIVITY_DETAIL.get(etype, lambda *_: None)(self, j, u, p)
        if detail is not None:
            ev[etype] = detail
        return ev

    def fresh_id(self, prefix: str, j: int, n: int = 20) -> str:
        """An object created and gone between two listings: never in a table, only in the log."""
        return prefix + rng.token(n, self.seed, "alx", prefix, j)

    # ---- the world's changes ---------------------------------------------------------------------------------------
    def _changes(self) -> list[Change]:
        out: list[Change] = []
        for gather in (self._directory, self._projects, self._assignments, self._trusts):
            out.extend(gather())
        horizon = self.w.now0 + 400 * DAY
        return [c for c in out if c.t < horizon]

    def _admin(self, *key: object) -> bool:
        return rng.unit(self.seed, "aladm", *key) < 0.2

    def _directory(self) -> list[Change]:
        w, out = self.w, []
        for u in w.users:
            out.append(Change(u.added_at, "user.added", {"id": u.id, "data": {"role": u.role}}, None,
                              self._admin("ua", u.id)))
            if u.removed_at is not None:
                out.append(Change(u.removed_at, "user.deleted", {"id": u.id}, None, self._admin("ud", u.id)))
        far = w.now0 + 365 * DAY
        for it in every(w.invites_seq):
            inv = it.render(far)
            out.append(Change(inv["created_at"], "invite.sent",
                              {"id": inv["id"], "data": {"email": inv["email"], "role": inv["role"]}}, None))
            if inv["accepted_at"]:
                out.append(Change(inv["accepted_at"], "invite.accepted", {"id": inv["id"]}, None))
        for gid, name, created, _scim in w.groups:
            out.append(Change(created, "group.created", {"id": gid, "data": {"group_name": name}}, None))
        for r in w.roles[2:]:  # the custom roles; the predefined ones exist with the organization
            out.append(Change(w.start, "role.created", {"id": r["id"], "role_name": r["name"],
                                                         "permissions": r["permissions"],
                                                         "resource_type": r["resource_type"],
                                                         "resource_id": w.org_id}, None))
        for k in w.admin_keys:
            out.append(Change(k.created_at, "api_key.created",
                              {"id": k.id, "data": {"scopes": ["api.management.read"]}}, None))
        for it in every(w.certificates_seq):
            out.append(Change(it.created, "certificate.created", {"id": it.id, "name": it.render(far)["name"]}, None))
        return out

    def _projects(self) -> list[Change]:
        w, out, far = self.w, [], self.w.now0 + 365 * DAY
        for p in w.projects:
            out.append(Change(p.created_at, "project.created", {"id": p.id, "data": {"name": p.name, "title": p.name}},
                              p))
            if p.archived_at is not None:
                out.append(Change(p.archived_at, "project.archived", {"id": p.id}, p, self._admin("pa", p.id)))
            for sid, _name, created in p.service_accounts:
                out.append(Change(created, "service_account.created", {"id": sid, "data": {"role": "member"}}, p,
                                  self._admin("sa", sid)))
            for k in p.api_keys:
                out.append(Change(k.created_at, "api_key.created", {"id": k.id, "data": {"scopes": ["/v1/*"]}}, p))
                if k.deleted_at is not None:
                    out.append(Change(k.deleted_at, "api_key.deleted", {"id": k.id}, p, self._admin("kd", k.id)))
            for t, model, limits in w.rate_limit_changes(p):
                out.append(Change(t, "rate_limit.updated", {"id": f"rl-{model}", "changes_requested": limits}, p))
            for it in every(w.project_certificates_seq(p)):
                out.append(Change(it.created, "certificate.created", {"id": it.id, "name": it.render(far)["name"]}, p))
        return out

    def _assignments(self) -> list[Change]:
        """Every role assignment the listings show, when it starts and when it ends."""
        w, out = self.w, []
        seqs: list[tuple[Seq | None, str, str, str, Project | None]] = []
        for u in w.users:
            seqs.append((w.user_roles_seq(u.id), u.id, "user", "api.organization", None))
        for gid, *_ in w.groups:
            seqs.append((w.group_roles_seq(gid), gid, "group", "api.organization", None))
        for p in w.projects:
            for uid, _role, _added in p.members:
                seqs.append((w.project_user_roles_seq(p, uid), uid, "user", "api.project", p))
            for it in every(w.project_groups_seq(p)):
                seqs.append((w.project_group_roles_seq(p, it.id), it.id, "group", "api.project", p))
        for seq, principal, kind, rtype, p in seqs:
            for it in every(seq):
                detail = {"id": it.id, "principal_id": principal, "principal_type": kind,
                          "resource_id": p.id if p else w.org_id, "resource_type": rtype}
                out.append(Change(it.created, "role.assignment.created", detail, p))
                if it.gone is not None:
                    out.append(Change(it.gone, "role.assignment.deleted", detail, p, self._admin("rd", principal)))
        return out

    def _trusts(self) -> list[Change]:
        w, sec, out = self.w, self.w.security, []
        for i, (pid, created, gone, _iss) in enumerate(sec.providers):
            out.append(Change(created, "workload_identity_provider.created",
                              {"id": pid, "data": {k: v for k, v in sec._provider(i, created).items()
                                                   if k in ("name", "issuer", "audience", "type")}}, None))
            if i == 0:
                out.append(Change(sec._later("wiptoggle"), "workload_identity_provider.updated",
                                  {"id": pid, "changes_requested": {"enabled": False}}, None))
            if gone is not None:
                out.append(Change(gone, "workload_identity_provider.deleted",
                                  {"id": pid, "name": sec._provider(i, created)["name"]}, None))
            for it in every(sec.rules_seq(pid)):
                rule = it.render(it.created)
                out.append(Change(it.created, "workload_identity_provider_mapping.created",
                                  {"id": it.id, "identity_provider_id": pid,
                                   "data": {"project_id": rule["project_id"],
                                            "service_account_id": rule["service_account_id"],
                                            "attribute_matchers": rule["attribute_matchers"]}}, None))
                if it.gone is not None:
                    out.append(Change(it.gone, "workload_identity_provider_mapping.deleted",
                                      {"id": it.id, "identity_provider_id": pid, "project_id": rule["project_id"],
                                       "service_account_id": rule["service_account_id"]}, None))
        for i, (kid, created, _gone, _kind, _pids) in enumerate(sec.external_keys):
            out.append(Change(created, "external_key.registered", {"id": kid, "data": sec._external_key(i)}, None))
        for i, (sid, created, gone, pid, _kind) in enumerate(sec.storage):
            st = sec._storage(i, created)
            out.append(Change(created, "external_storage.registered",
                              {"id": sid, "data": {"geography": st["geography"], "provider": st["provider"]}},
                              w.project_by_id[pid]))
            if gone is not None:
                out.append(Change(gone, "external_storage.removed", {"id": sid}, w.project_by_id[pid]))
        for model in w.ft_model_names():
            for it in every(sec.model_permissions_seq(model)):
                pid = it.render(it.created)["project_id"]
                out.append(Change(it.created, "checkpoint.permission.created",
                                  {"id": it.id, "data": {"fine_tuned_model_checkpoint": model, "project_id": pid}},
                                  None))
        return out


def every(seq: Seq | None) -> list[Item]:
    """Every item of a small collection, whenever it appears or goes."""
    return [seq.make(i) for i in range(len(seq))] if seq is not None else []


# ---- activity: every other type, with the detail payload the SDK declares ------------------------------------------
# Types of organization-wide actions: no `project`.
ORG_LEVEL = ("login.", "logout.", "organization.", "user.", "invite.", "group.", "role.", "scim.", "ip_allowlist.",
             "tenant.", "certificates.", "external_key.", "workload_identity_provider", "tunnel.")

Detail = Callable[[AuditLog, int, "User", "Project"], "dict[str, Any] | None"]


def _pick(log: AuditLog, j: int, *options: Any) -> Any:
    return options[rng.h64(log.seed, "alo", j) % len(options)]


def _ips(log: AuditLog, j: int) -> list[str]:
    return [f"198.51.100.{rng.randint(1, 254, log.seed, 'alip', j, n)}/32" for n in range(1 + j % 3)]


def _certs(log: AuditLog, j: int) -> list[dict[str, Any]]:
    return [{"id": it.id, "name": it.render(log.w.now0)["name"]} for it in log.w.certificates_seq.alive(2**62)]


def _binding(log: AuditLog, j: int, p: Project) -> dict[str, Any]:
    ws, conn = f"ws-{rng.token(12, log.seed, 'ws')}", f"conn_{rng.token(10, log.seed, 'alconn', j % 7)}"
    return {"id": f"{ws}__{conn}", "connector_id": conn, "connector_name": _pick(log, j, "Google Drive", "GitHub",
                                                                                   "SharePoint", conn),
            "enabled": j % 2 == 0, "permissions": ["read"], "resource_id": f"{ws}__{conn}",
            "resource_type": "chatgpt.workspace.connector", "role_id": log.w.roles[2]["id"],
            "source": _pick(log, j, "role_toggle", "role_connector_update", "role_delete", "workspace_permissions",
                            "connector_publish"), "workspace_id": ws}


ACTIVITY_DETAIL: dict[str, Detail] = {
    "login.failed": lambda log, j, u, p: {"error_code": _pick(log, j, "invalid_credentials", "mfa_required"),
                                          "error_message": _pick(log, j, "Invalid password", "MFA challenge failed")},
    "logout.failed": lambda log, j, u, p: {"error_code": "session_expired", "error_message": "The session expired"},
    "login.succeeded": lambda log, j, u, p: {} if j % 2 else None,
    "logout.succeeded": lambda log, j, u, p: {} if j % 2 else None,
    "organization.updated": lambda log, j, u, p: {"id": log.w.org_id, "changes_requested": _pick(
        log, j, {"title": log.w.org_name, "name": log.w.org_name.lower().replace(" ", "-")},
        {"description": "Our OpenAI organization"},
        {"api_call_logging": "enabled_for_selected_projects", "api_call_logging_project_ids": p.id},
        {"threads_ui_visibility": "OWNERS", "usage_dashboard_visibility": "ANY_ROLE"})},
    "project.updated": lambda log, j, u, p: {"id": p.id, "changes_requested": {"title": p.name}},
    "project.deleted": lambda log, j, u, p: {"id": log.fresh_id("proj_", j, 24)},
    "api_key.updated": lambda log, j, u, p: {"id": p.api_keys[0].id, "changes_requested": _pick(
        log, j, {"scopes": ["/v1/models", "/v1/chat/completions"]}, {"expires_in_seconds": 90 * DAY})},
    "certificate.updated": lambda log, j, u, p: dict(_certs(log, j)[0]),
    "certificate.deleted": lambda log, j, u, p: {"id": log.fresh_id("cert_", j), "name": f"rotated-{j % 9}",
                                                 "certificate": "-----BEGIN CERTIFICATE-----\nMIIB...\n"
                                                                "-----END CERTIFICATE-----"},
    "certificates.activated": lambda log, j, u, p: {"certificates": _certs(log, j)[:1]},
    "certificates.deactivated": lambda log, j, u, p: {"certificates": _certs(log, j)[1:]},
    "checkpoint.permission.deleted": lambda log, j, u, p: {"id": log.fresh_id("cp_", j, 24)},
    "external_key.removed": lambda log, j, u, p: {"id": log.fresh_id("ekey_", j, 24)},
    "group.updated": lambda log, j, u, p: (lambda g: {"id": g[0], "changes_requested": {"group_name": g[1]}})(
        log.w.groups[j % len(log.w.groups)]) if log.w.groups else {"id": log.fresh_id("group_", j)},
    "group.deleted": lambda log, j, u, p: {"id": log.fresh_id("group_", j)},
    "invite.deleted": lambda log, j, u, p: {"id": log.fresh_id("invite-", j)},
    "ip_allowlist.created": lambda log, j, u, p: {"id": log.fresh_id("ipal_", j % 5), "name": f"office-{j % 5}",
                                                  "allowed_ips": _ips(log, j)},
    "ip_allowlist.updated": lambda log, j, u, p: {"id": log.fresh_id("ipal_", j % 5), "allowed_ips": _ips(log, j)},
    "ip_allowlist.deleted": lambda log, j, u, p: {"id": log.fresh_id("ipal_", j % 5), "name": f"office-{j % 5}",
                                                  "allowed_ips": _ips(log, j)},
    "ip_allowlist.config.activated": lambda log, j, u, p: {"configs": [{"id": log.fresh_id("ipal_", j % 5),
                                                                        "name": f"office-{j % 5}"}]},
    "ip_allowlist.config.deactivated": lambda log, j, u, p: {"configs": [{"id": log.fresh_id("ipal_", j % 5),
                                                                          "name": f"office-{j % 5}"}]},
    "rate_limit.deleted": lambda log, j, u, p: {"id": f"rl-{log.fresh_id('ft:gpt-4o-mini:acme::', j, 8)}"},
    "resource.deleted": lambda log, j, u, p: None,
    "role.updated": lambda log, j, u, p: {"id": log.w.roles[2]["id"], "changes_requested": {
        "description": log.w.roles[2]["description"], "role_name": log.w.roles[2]["name"], "metadata": {},
        "permissions_added": [], "permissions_removed": [], "resource_id": log.w.org_id,
        "resource_type": "api.organization"}},
    "role.deleted": lambda log, j, u, p: {"id": log.fresh_id("role_", j, 16)},
    "role.bound_to_resource": lambda log, j, u, p: _binding(log, j, p),
    "role.unbound_from_resource": lambda log, j, u, p: _binding(log, j, p),
    "scim.enabled": lambda log, j, u, p: {"id": log.w.org_id},
    "scim.disabled": lambda log, j, u, p: {"id": log.w.org_id},
    "service_account.updated": lambda log, j, u, p: {"id": p.service_accounts[0][0],
                                                     "changes_requested": {"role": "member"}},
    "service_account.deleted": lambda log, j, u, p: {"id": log.fresh_id("svc_acct_", j, 16)},
    "user.updated": lambda log, j, u, p: {"id": u.id, "changes_requested": {"role": u.role}},
    "workload_identity_provider_mapping.updated": lambda log, j, u, p: (
        lambda pr: {"id": log.fresh_id("wifr_", j, 24), "identity_provider_id": pr[0],
                    "changes_requested": {"description": "Deploys from main"}})(log.w.security.providers[0]),
}

# The activity's types, by weight: sign-ins dominate, as in a real organization; every other type the SDK knows
# and that the world's changes do not write appears too.
_EVERY_TYPE = (("login.succeeded",) * 40 + ("login.failed",) * 6 + ("logout.succeeded",) * 12
               + ("api_key.updated", "project.updated", "user.updated", "organization.updated") * 3)
ACTIVITY = (*_EVERY_TYPE, *(t for t in ACTIVITY_DETAIL if t not in _EVERY_TYPE),
            "tunnel.created", "tunnel.updated", "tunnel.deleted", *TENANT_TYPES)
assert not set(ACTIVITY) & set(CHANGE_TYPES), "a change's type is never mere activity"

