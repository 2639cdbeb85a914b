"""The catalog's change feed: which synced tables each audit event type may change, and where the event says which
of their parents (issue 20: a regular run re-lists only those, and a full reconciliation checks the rest).

`FEED[type]` is a tuple of `Touch(table, by)`. `by` says which listings of `table` the event touches:
- ""          the whole table (a top-level listing, or every parent: a user deleted leaves every project);
- "project"   the event's project (`project.id`), for a table listed per project;
- "id"        the object the event is about (`event_data.id`): the parent of a fan-out (a group's users);
- "principal" `event_data.principal_id`, when `event_data.principal_type` is the table's parent kind;
- "resource"  `event_data.resource_id`, when `event_data.resource_type` names a project.
An event type mapped to () changes no synced table (logins, IP allowlists, tenant events); every type the SDK
documents is decided here (tests/test_changes.py), so a new one is noticed, not silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import TABLES

WHOLE = "*"  # in `affected`: the whole table


@dataclass(frozen=True)
class Touch:
    table: str
    by: str = ""


PROJECT_TABLES = ("project_users", "project_service_accounts", "project_api_keys", "project_rate_limits",
                  "project_groups", "project_roles", "project_certificates", "project_spend_alerts",
                  "project_settings", "project_user_roles", "project_group_roles")


def _each(prefix: str, actions: str, touches: tuple[Touch, ...]) -> dict[str, tuple[Touch, ...]]:
    return {f"{prefix}.{a}": touches for a in actions.split()}


NONE: tuple[Touch, ...] = ()
FEED: dict[str, tuple[Touch, ...]] = {
    **_each("api_key", "created updated deleted",
            (Touch("project_api_keys", "project"), Touch("admin_api_keys"))),
    **_each("certificate", "created updated deleted",
            (Touch("certificates"), Touch("project_certificates", "project"))),
    **_each("certificates", "activated deactivated",
            (Touch("certificates"), Touch("project_certificates", "project"))),
    **_each("checkpoint.permission", "created deleted", (Touch("fine_tuning_checkpoint_permissions"),)),
    **_each("external_key", "registered removed", (Touch("external_keys"),)),
    **_each("external_storage", "registered removed", (Touch("external_storage"),)),
    **_each("group", "created updated deleted",
            (Touch("groups"), Touch("group_users", "id"), Touch("group_roles", "id"), Touch("project_groups"),
             Touch("project_group_roles"))),
    **_each("invite", "sent deleted", (Touch("invites"),)),
    "invite.accepted": (Touch("invites"), Touch("users"), Touch("user_roles"), Touch("project_users"),
                        Touch("project_user_roles")),
    "organization.updated": (Touch("organization_settings"),),
    **_each("project", "created updated archived deleted",
            (Touch("projects"), *(Touch(t, "id") for t in PROJECT_TABLES))),
    **_each("rate_limit", "updated deleted", (Touch("project_rate_limits", "project"),)),
    **_each("role", "created updated deleted bound_to_resource unbound_from_resource",
            (Touch("roles"), Touch("project_roles", "project"))),
    **_each("role.assignment", "created deleted",
            (Touch("user_roles", "principal"), Touch("group_roles", "principal"),
             Touch("project_user_roles", "resource"), Touch("project_group_roles", "resource"))),
    **_each("service_account", "created updated deleted",
            (Touch("project_service_accounts", "project"), Touch("project_api_keys", "project"))),
    **_each("user", "added updated deleted",
            (Touch("users"), Touch("user_roles", "id"), Touch("project_users"), Touch("project_user_roles"),
             Touch("group_users"))),
    **_each("workload_identity_provider", "created updated deleted",
            (Touch("workload_identity_providers"), Touch("workload_identity_provider_rules", "id"))),
    **_each("workload_identity_provider_mapping", "created updated deleted",
            (Touch("workload_identity_provider_rules"),)),
    # nothing openai-sync loads: sign-ins, network settings, tenant administration, a generic deletion notice
    **_each("login", "succeeded failed", NONE), **_each("logout", "succeeded failed", NONE),
    **_each("ip_allowlist", "created updated deleted", NONE),
    **_each("ip_allowlist.config", "activated deactivated", NONE),
    **_each("tunnel", "created updated deleted", NONE), **_each("scim", "enabled disabled", NONE),
    "resource.deleted": NONE,
}
TENANT_PREFIX = "tenant."  # tenant administration (SSO, policies, migrations): above the organization's tables

# what a "principal" or "resource" scope must name for the touch to apply
PRINCIPALS = {"user_roles": "user", "group_roles": "group"}
RESOURCE_TYPES = ("api.project", "project")


def touches(event_type: str) -> tuple[Touch, ...] | None:
    """What an event type may change; None for a type nobody has decided yet (a full listing is safer)."""
    if event_type in FEED:
        return FEED[event_type]
    return NONE if event_type.startswith(TENANT_PREFIX) else None


def _data(event: Mapping[str, Any]) -> dict[str, Any]:
    data = event.get("event_data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            return {}
    return data if isinstance(data, dict) else {}


def scope(touch: Touch, event: Mapping[str, Any]) -> str | None:
    """The parent id the event touches in `touch.table` (WHOLE for the whole table), or None when the event does
    not touch it (a role assignment of a group says nothing of users' roles)."""
    data = _data(event)
    if touch.by == "":
        return WHOLE
    if touch.by == "project":
        project = event.get("project__id") or (event.get("project") or {}).get("id")
        return project or WHOLE  # an event without its project: every project's listing
    if touch.by == "id":
        return data.get("id") or WHOLE
    if touch.by == "principal":
        if data.get("principal_type") != PRINCIPALS[touch.table]:
            return None
        return data.get("principal_id") or WHOLE
    if touch.by == "resource":
        if data.get("resource_type") not in RESOURCE_TYPES:
            return None
        return data.get("resource_id") or WHOLE
    raise ValueError(f"unknown scope {touch.by!r} for {touch.table}")


def affected(events: Iterable[Mapping[str, Any]]) -> tuple[dict[str, set[str]], set[str]]:
    """The listings a run must read again after these audit events: table -> parent ids (WHOLE: all of them),
    and the event types nobody has mapped (each makes its run read everything)."""
    out: dict[str, set[str]] = {}
    unknown: set[str] = set()
    for event in events:
        kind = str(event.get("type") or "")
        found = touches(kind)
        if found is None:
            unknown.add(kind)
            continue
        for t in found:
            where = scope(t, event)
            if where is not None:
                out.setdefault(t.table, set()).add(where)
    return {t: ({WHOLE} if WHOLE in s else s) for t, s in out.items()}, unknown


def check() -> None:
    """Every touched table is a table of the catalog (run by the tests)."""
    for kind, found in FEED.items():
        for t in found:
            if t.table not in TABLES:
                raise ValueError(f"{kind} touches {t.table}, which is not in the catalog")
            if t.by == "principal" and t.table not in PRINCIPALS:
                raise ValueError(f"{kind}: {t.table} has no principal kind")
