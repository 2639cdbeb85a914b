"""The catalog's change feed: which synced tables each audit event type may change, and where the event says which
of their parents (issue 20: a regular run re-lists only those, and a full reconciliation checks the rest).

`FEED[type]` is a tuple of `Touch(table, by)`. `by` says which listings of `table` the event touches:
- ""          the whole table (a top-level listing, or every parent: a user deleted leaves every project);
- "project"   the event's project (`project.id`), for a table listed per project;
- "id"        the object the event is about (`event_data.id`): the parent of a fan-out (a group's users);
- "principal" `event_data.principal_id`, when `event_data.principal_type` is the table's parent kind;
- "resource"  `event_data.resource_id`, when `event_data.resource_type` names a project;
- "resource/principal"  that project and, below it, `event_data.principal_id` (a listing of a fan-out of a fan-out:
              one project member's roles), when the principal is of the table's parent kind;
- "holder:C"  the parents of the rows whose column C names the event's object (`event_data.id`), as the
              destination holds them (the users holding a role that was deleted);
- "alike:C"   the same parents, for an event that changes the same columns of every row naming the object (a role
              or a group updated: its name, permissions, ...). One of them, listed first, tells whether any did:
              when its rows naming the object hash as the destination holds them, the others are not re-listed
              (load/feed.py). A reconciliation would report a holder whose rows differed all the same;
- "new"       the parent objects added since the table's last run;
- "invitee"   the member an accepted invite made, and the invite's projects: the event names the invite only
              (INVITED).
Rows that name an object of another table (a project member is a user) are also marked gone when that table's
complete listing no longer has the object (`REFERENCES`, load/deletes.py): a user deleted leaves every project
without re-listing every project.
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


ASSIGNMENTS = ("user_roles", "group_roles", "project_user_roles", "project_group_roles")
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
    **_each("group", "created deleted",
            (Touch("groups"), Touch("group_users", "id"), Touch("group_roles", "id"),
             Touch("project_groups", "holder:group_id"), Touch("project_group_roles", "holder:group_id"))),
    # a renamed group: its name in each project's listing of groups
    "group.updated": (Touch("groups"), Touch("group_users", "id"), Touch("group_roles", "id"),
                      Touch("project_groups", "alike:group_id"), Touch("project_group_roles", "alike:group_id")),
    # an object known gone is listed whole (the listing marks it deleted); one changed may be retrieved by its id
    "invite.sent": (Touch("invites", "id"),), "invite.deleted": (Touch("invites"),),
    # the event names the invite, not the member it made: see INVITED
    "invite.accepted": (Touch("invites"), *(Touch(t, "invitee") for t in ("users", "user_roles", "project_users",
                                                                           "project_user_roles"))),
    "organization.updated": (Touch("organization_settings"),),
    **_each("project", "created archived", (Touch("projects", "id"), *(Touch(t, "id") for t in PROJECT_TABLES))),
    "project.deleted": (Touch("projects"), *(Touch(t, "id") for t in PROJECT_TABLES)),
    "project.updated": (Touch("projects", "id"), Touch("project_settings", "id")),
    **_each("rate_limit", "updated deleted", (Touch("project_rate_limits", "project"),)),
    "role.created": (Touch("roles"), Touch("project_roles", "resource")),  # a project's role names its project
    # an assignment's row carries its role's permissions: every assignment of the role may have changed; the projects
    # that have the role, and the principals that hold it, are in the destination
    **_each("role", "deleted bound_to_resource unbound_from_resource",
            (Touch("roles"), *(Touch(t, "holder:id") for t in ("project_roles", *ASSIGNMENTS)))),
    "role.updated": (Touch("roles"), *(Touch(t, "alike:id") for t in ("project_roles", *ASSIGNMENTS))),
    **_each("role.assignment", "created deleted",
            (Touch("user_roles", "principal"), Touch("group_roles", "principal"),
             Touch("project_users", "resource"), Touch("project_user_roles", "resource/principal"),
             Touch("project_groups", "resource"), Touch("project_group_roles", "resource/principal"))),
    **_each("service_account", "created updated deleted",
            (Touch("project_service_accounts", "project"), Touch("project_api_keys", "project"))),
    # retrieved by id: a 404 marks the user gone (read/context.retrieved), and with them their projects, groups and
    # roles (REFERENCES, and the parent cascade: their roles)
    "user.deleted": (Touch("users", "id"),),
    **_each("user", "added updated", (Touch("users", "id"), Touch("user_roles", "id"))),
    **_each("workload_identity_provider", "created updated deleted",
            (Touch("workload_identity_providers"), Touch("workload_identity_provider_rules", "id"))),
    **_each("workload_identity_provider_mapping", "created updated deleted",
            (Touch("workload_identity_provider_rules"),)),
    # nothing openai-sync loads: sign-ins, network settings, tenant administration, a generic deletion notice
    **_each("login", "succeeded failed", NONE), **_each("logout", "succeeded failed", NONE),
    **_each("ip_allowlist", "created updated deleted", NONE),
    **_each("ip_allowlist.config", "activated deactivated", NONE),
    **_each("tunnel", "created updated deleted", NONE), **_each("scim", "enabled disabled", NONE),
    "resource.deleted": NONE, "api.model.request": NONE,
}
TENANT_PREFIX = "tenant."  # tenant administration (SSO, policies, migrations): above the organization's tables

# what a "principal" or "resource" scope must name for the touch to apply
PRINCIPALS = {"user_roles": "user", "group_roles": "group", "project_user_roles": "user",
              "project_group_roles": "group", "project_users": "user", "project_groups": "group"}
NEW = "+new"  # in `affected`: the parent objects added since the table's last run
INVITEE = "?@"  # in `affected`: "?@invite_id", the member an accepted invite made (read/feed.py resolves it)
# An accepted invite: the invite (retrieved by its id) names its email and projects, and the users listing filtered
# by that email names the member (load/feed.py): their row, their roles, and the invite's projects' members and
# their roles there. Where the invite cannot be read (gone, the destination cannot say), what each table falls
# back to: the users listing whole, the roles of the users added since the last run, every project's members.
INVITED = {"users": WHOLE, "user_roles": NEW, "project_users": WHOLE, "project_user_roles": NEW}
HOLDER = "?"  # in `affected`: "?column=value", the parents of the rows naming that object (read/feed.py)
ALIKE = "?~"  # "?~column=value": the same, where one of them listed tells whether any changed
# table -> (column, table): a row is gone once that table's complete listing lacks the object its column names
REFERENCES: dict[str, tuple[str, str]] = {"project_users": ("id", "users"), "group_users": ("id", "users"),
                                          "project_user_roles": ("user_id", "users")}
# top-level listings whose objects the API also serves one by one, at {path}/{id} and in the listing's shape: when
# the feed names fewer of them than the listing has pages, each is retrieved instead (a 404: listed whole after all)
RETRIEVE = frozenset({"users", "invites", "projects", "admin_api_keys"})
# tables no audit event type records at all, or not all of their changes: read whole on the volatile cadence (a fed
# table in neither TOUCHED nor here, such as one newly added to the catalog, is read whole every run). Spend alerts
# have no event; a group's members none either (a user SCIM adds to the organization arrives in their groups, and
# members added to or removed from a group later are not in the log), beyond a group's own events
UNRECORDED = frozenset({"spend_alerts", "project_spend_alerts", "group_users"})
# what the audit log does not record: columns that change without an event, read on their own cadence
# (volatile_every), and left out of what a reconciliation compares
VOLATILE: dict[str, tuple[str, ...]] = {"users": ("api_key_last_used_at",), "admin_api_keys": ("last_used_at",),
                                        "project_api_keys": ("last_used_at",)}
RESOURCE_TYPES = ("api.project", "project")


TOUCHED = frozenset(t.table for found in FEED.values() for t in found)


def touches(event_type: str) -> tuple[Touch, ...] | None:
    """What an event type may change; None for a type nobody has decided yet (a full listing is safer)."""
    if event_type in FEED:
        return FEED[event_type]
    return NONE if event_type.startswith(TENANT_PREFIX) else None


def _data(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's detail: under its type's own key as the API sends it, or `event_data` as a row holds it."""
    data = event.get(str(event.get("type") or ""), event.get("event_data"))
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
    if touch.by == "principal":  # an organization role: a project's are in the project's tables
        if data.get("principal_type") != PRINCIPALS[touch.table] or data.get("resource_type") in RESOURCE_TYPES:
            return None
        return data.get("principal_id") or WHOLE
    if touch.by in ("resource", "resource/principal"):
        if data.get("resource_type") not in RESOURCE_TYPES:
            return None
        if touch.table in PRINCIPALS and data.get("principal_type") != PRINCIPALS[touch.table]:
            return None
        if touch.by == "resource":
            return data.get("resource_id") or WHOLE
        project, principal = data.get("resource_id"), data.get("principal_id")
        return WHOLE if not project else f"{project}/{principal}" if principal else project
    if touch.by == "new":
        return NEW
    if touch.by == "invitee":
        return f"{INVITEE}{data['id']}" if data.get("id") else INVITED[touch.table]
    if touch.by.startswith(("holder:", "alike:")):
        kind, _, column = touch.by.partition(":")
        return f"{ALIKE if kind == 'alike' else HOLDER}{column}={data['id']}" if data.get("id") else WHOLE
    raise ValueError(f"unknown scope {touch.by!r} for {touch.table}")


def invited(table: str, found: tuple[tuple[str, ...], tuple[str, ...]] | None) -> set[str]:
    """What an accepted invite touches in `table`, from (the members with its email, its projects); None: the
    invite could not be read, and the table falls back (INVITED). No member with its email: nothing to read."""
    if found is None:
        return {INVITED[table]}
    users, projects = found
    if table in ("users", "user_roles"):
        return set(users)
    if table == "project_users":
        return set(projects) if users else set()
    return {f"{p}/{u}" for p in projects for u in users}


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
