"""The synthetic organization.

Everything is a deterministic function of (seed, size) and of the clock: each object carries the
times at which it appears, changes state and disappears, and renders itself for the current clock.
Advancing the clock therefore finishes batches, removes users, archives projects, deletes files,
adds skill versions and usage buckets, without any mutation code. Objects are generated up to
`HORIZON` past the initial clock, so a test can advance by up to a week and see every kind of change;
usage and audit events are continuous and go on forever.

Org-level objects are built eagerly (they are few); project-level objects are built on first use of a
project, and the big collections (files, stored completions, audit events) build items from their index.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from . import rng
from .audit import AuditLog
from .constants import (  # noqa: F401  (re-exported: the simulator's modules and tests import them from here)
    AUDIO_SPEECH_PRICE,
    BASE_MODELS,
    CODE_INTERPRETER_PRICE,
    COMPLETION_PRICES,
    DAY,
    EMBEDDING_PRICES,
    FILE_SEARCH_PRICE,
    HORIZON,
    HOUR,
    IMAGE_PRICES,
    MODERATION_MODELS,
    SPEECH_MODELS,
    TRANSCRIPTION_MODELS,
    TRANSCRIPTION_PRICE,
    WEB_SEARCH_PRICE,
)
from .project_data import ProjectData
from .security import Security
from .seq import Item, Seq

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim", "Margaret",
         "Linus", "Guido", "Katherine", "John", "Hedy", "Claude", "Sophie", "Yukihiro", "Anders"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman",
        "Berners-Lee", "Hamilton", "Torvalds", "van Rossum", "Johnson", "McCarthy", "Lamarr", "Shannon",
        "Wilson"]
PROJECT_WORDS = ["Support Bot", "Search", "Analytics", "Labs", "Copilot", "Summaries", "Translation",
                 "Voice", "Vision", "Agents", "Evaluation", "Data Platform", "Marketing", "Billing", "Docs"]

# Price table (USD). Stated here so that tests can check that costs agree with usage.
# Completions: per 1M tokens (input, cached input, output). Embeddings: per 1M input tokens.

ADMIN_SCOPES = ("api.management.read", "api.usage.read", "api.audit_logs.read")
PROJECT_SCOPES = ("api.files.read", "api.batches.read", "api.evals.read", "api.skills.read",
                  "api.fine_tuning.jobs.read", "api.vector_stores.read", "api.containers.read",
                  "api.assistants.read", "api.model.read", "api.chat.completions.read", "api.webhooks.read",
                  "api.videos.read")


@dataclass(frozen=True)
class Size:
    """How big the organization is. Presets below; any field can be overridden."""

    projects: int
    archived_projects: int
    users: int
    history_days: int
    audit_events_per_day: int
    files_per_project: int
    big_project_files: int  # the first project gets this many files (0: same as the others)
    batches_per_project: int
    evals_per_project: int
    runs_per_eval: int
    output_items_per_run: int
    skills_per_project: int
    ft_jobs_per_project: int
    vector_stores_per_project: int
    files_per_vector_store: int
    containers_per_project: int
    assistants_per_project: int
    chat_completions_per_project: int
    invites: int
    groups: int
    members_per_project: int
    keys_per_project: int
    usage_models_per_key: int


SIZES: dict[str, Size] = {
    "small": Size(projects=4, archived_projects=1, users=12, history_days=30, audit_events_per_day=20,
                  files_per_project=40, big_project_files=0, batches_per_project=8, evals_per_project=2,
                  runs_per_eval=2, output_items_per_run=5, skills_per_project=2, ft_jobs_per_project=2,
                  vector_stores_per_project=2, files_per_vector_store=5, containers_per_project=2,
                  assistants_per_project=2, chat_completions_per_project=30, invites=3, groups=2,
                  members_per_project=4, keys_per_project=2, usage_models_per_key=2),
    "medium": Size(projects=12, archived_projects=2, users=60, history_days=90, audit_events_per_day=200,
                   files_per_project=500, big_project_files=0, batches_per_project=40, evals_per_project=4,
                   runs_per_eval=4, output_items_per_run=20, skills_per_project=4, ft_jobs_per_project=4,
                   vector_stores_per_project=4, files_per_vector_store=20, containers_per_project=3,
                   assistants_per_project=4, chat_completions_per_project=500, invites=8, groups=5,
                   members_per_project=10, keys_per_project=3, usage_models_per_key=2),
    "large": Size(projects=300, archived_projects=30, users=3000, history_days=365, audit_events_per_day=1000,
                  files_per_project=1000, big_project_files=100_000, batches_per_project=100,
                  evals_per_project=5, runs_per_eval=5, output_items_per_run=50, skills_per_project=5,
                  ft_jobs_per_project=5, vector_stores_per_project=5, files_per_vector_store=50,
                  containers_per_project=3, assistants_per_project=5, chat_completions_per_project=2000,
                  invites=50, groups=40, members_per_project=20, keys_per_project=3, usage_models_per_key=2),
}
# the large organization after another year at twice the activity: 1.46M audit events, about 5M usage rows
# (bench/perf.py shows with it that a sync's peak memory does not grow with the organization)
SIZES["xlarge"] = replace(SIZES["large"], history_days=730, audit_events_per_day=2000)


def floor_hour(t: float) -> int:
    return int(t) // HOUR * HOUR


@dataclass
class Key:
    secret: str
    kind: str  # "admin" | "project"
    project_id: str | None = None
    revoked: bool = False
    scopes: frozenset[str] | None = None  # None: every read scope
    id: str = ""


@dataclass
class User:
    id: str
    name: str
    email: str
    role: str
    added_at: int
    removed_at: int | None


@dataclass
class ApiKeyRec:
    id: str
    name: str
    created_at: int
    owner_kind: str  # "user" | "service_account"
    owner_id: str
    secret: str | None  # only the project's own read key has a usable secret
    redacted: str
    deleted_at: int | None = None


@dataclass
class Project:
    index: int
    id: str
    name: str
    created_at: int
    archived_at: int | None
    members: list[tuple[str, str, int]] = field(default_factory=list)  # (user_id, role, added_at)
    service_accounts: list[tuple[str, str, int]] = field(default_factory=list)  # (id, name, created_at)
    api_keys: list[ApiKeyRec] = field(default_factory=list)


class World:
    """A simulated organization. Thread-safe for reads; the clock moves under a lock."""

    def __init__(self, seed: int = 0, size: str | Size = "small", now: int | None = None,
                 audit_logging: bool = True, audit_delay: str | tuple[tuple[float, int], ...] = (),
                 costs_user_with_project_from: int | str | None = "seed", **overrides: Any) -> None:
        base = SIZES[size] if isinstance(size, str) else size
        self.size = replace(base, **overrides) if overrides else base
        self.size_name = size if isinstance(size, str) else "custom"
        self.seed = seed
        self.now0 = floor_hour(time.time() if now is None else now)
        self.now = self.now0
        self.start = (self.now0 - self.size.history_days * DAY) // DAY * DAY
        self.audit_logging = audit_logging
        # ingestion delay of audit events: (share, longest delay in seconds) bands; see parse_audit_delay
        self.audit_delay = parse_audit_delay(audit_delay) if isinstance(audit_delay, str) else tuple(audit_delay)
        self.lock = threading.Lock()
        self.keys: dict[str, Key] = {}
        self.org_id = "org-" + rng.token(24, seed, "org")
        # costs grouped by user_id together with project_id: "depends on the organization and requested time
        # range" (SDK). Here: answered for ranges starting on or after this day, 400 before it; None: never.
        # By default a day within the history in three organizations of four, never in the fourth.
        if costs_user_with_project_from == "seed":
            days = self.size.history_days
            costs_user_with_project_from = None if rng.unit(seed, "cupn") < 0.25 else \
                self.start + rng.randint(1, max(1, days - 1), seed, "cupf") * DAY
        self.costs_user_with_project_from = costs_user_with_project_from
        self.org_name = "Simulated Org " + rng.token(4, seed, "orgname")
        self._project_data: dict[str, ProjectData] = {}
        self._build_org()

    # ---- clock -----------------------------------------------------------------------------------
    def advance(self, hours: float) -> int:
        if hours < 0:
            raise ValueError("the clock only moves forward")
        with self.lock:
            self.now += round(hours * HOUR)
            return self.now

    # ---- helpers ---------------------------------------------------------------------------------
    def _id(self, prefix: str, n: int, *parts: object) -> str:
        return prefix + rng.token(n, self.seed, *parts)

    def _t(self, lo: int, hi: int, *parts: object) -> int:
        return rng.randint(lo, max(lo, hi), self.seed, *parts)

    # ---- organization ----------------------------------------------------------------------------
    def _build_org(self) -> None:
        s, sz = self.seed, self.size
        self.users: list[User] = []
        for i in range(sz.users):
            first, last = rng.choice(FIRST, s, "uf", i), rng.choice(LAST, s, "ul", i)
            added = self.start + int((self.now0 - self.start) * i / max(1, sz.users)) if i else self.start
            if i >= 1 and rng.unit(s, "unew", i) < 0.03:
                added = self.now0 + self._t(HOUR, HORIZON, "uadd", i)  # joins later
            removed = None
            r = rng.unit(s, "urm", i)
            if i >= 1 and r < 0.05:
                removed = self.now0 + self._t(HOUR, 3 * DAY, "urmt", i)  # leaves after the clock advances
            elif i >= 1 and r < 0.08:
                removed = self.now0 - self._t(HOUR, 10 * DAY, "urmp", i)  # already gone
                removed = max(removed, added + HOUR)
            email = f"{first.lower()}.{last.lower().replace(' ', '')}{i}@example.com"
            role = "owner" if i == 0 or rng.unit(s, "urole", i) < 0.1 else "reader"
            self.users.append(User(self._id("user-", 24, "user", i), f"{first} {last}", email, role, added,
                                   removed))
        # Whatever the draw, someone leaves within a day of the initial clock, so that a test that
        # advances the clock always sees a removal.
        if not any(u.removed_at and self.now0 < u.removed_at <= self.now0 + DAY for u in self.users):
            stay = [u for u in self.users[1:] if u.added_at <= self.now0 and u.removed_at is None]
            if stay:
                stay[-1].removed_at = self.now0 + self._t(2 * HOUR, 20 * HOUR, "urmx")
        self.user_by_id = {u.id: u for u in self.users}

        self.projects: list[Project] = []
        n_arch = min(sz.archived_projects, max(0, sz.projects - 1))
        for i in range(sz.projects):
            created = self.start + int((self.now0 - self.start) * 0.6 * i / max(1, sz.projects))
            archived = None
            if i >= sz.projects - n_arch:
                archived = self.now0 - self._t(2 * DAY, 20 * DAY, "parch", i)
                archived = max(archived, created + DAY)
            elif i == 1 and sz.projects > 2:
                archived = self.now0 + self._t(6 * HOUR, 2 * DAY, "parchf", i)  # archived after an advance
            name = "Default project" if i == 0 else f"{rng.choice(PROJECT_WORDS, s, 'pw', i)} {i}"
            p = Project(i, self._id("proj_", 24, "proj", i), name, created, archived)
            self._populate_project(p)
            self.projects.append(p)
        self.project_by_id = {p.id: p for p in self.projects}
        self._project_created = [p.created_at for p in self.projects]

        # The organization's admin keys: the first is the one handed to the user.
        self.admin_keys: list[ApiKeyRec] = []
        for i in range(2):
            secret = "sk-admin-" + rng.token(48, s, "adminkey", i)
            rec = ApiKeyRec(self._id("key_", 16, "akid", i), f"Admin key {i}", self.start + i * DAY, "user",
                            self.users[0].id, secret, redact(secret))
            self.admin_keys.append(rec)
            self.keys[secret] = Key(secret, "admin", id=rec.id)
        self.admin_key = self.admin_keys[0].secret
        self.project_keys: dict[str, str] = {}
        for p in self.projects:
            for k in p.api_keys:
                if k.secret:
                    gone = p.archived_at is not None and p.archived_at <= self.now0
                    self.keys[k.secret] = Key(k.secret, "project", p.id, id=k.id, revoked=gone)
                    if not self.keys[k.secret].revoked:
                        self.project_keys[p.id] = k.secret

        self.roles = self._build_roles()
        self.groups = [(self._id("group_", 20, "grp", i), f"{rng.choice(PROJECT_WORDS, s, 'gw', i)} team",
                        self.start + i * HOUR, i % 3 == 0) for i in range(sz.groups)]
        self.group_members = {
            g[0]: [u.id for j, u in enumerate(self.users)
                   if rng.unit(s, "gm", g[0], j) < min(1.0, 8 / sz.users + 0.05)]
            for g in self.groups
        }

    def _build_roles(self) -> list[dict[str, Any]]:
        roles = [
            ("role_owner", "owner", ["api.organization.read", "api.organization.write"], True),
            ("role_reader", "reader", ["api.organization.read"], True),
        ]
        roles += [(self._id("role_", 16, "role", i), f"custom-role-{i}", ["api.usage.read", "api.model.read"],
                   False)
                  for i in range(2)]
        return [{"object": "role", "id": rid, "name": name, "description": f"The {name} role",
                 "permissions": perms, "resource_type": "api.organization", "predefined_role": pre}
                for rid, name, perms, pre in roles]

    def _populate_project(self, p: Project) -> None:
        s, sz = self.seed, self.size
        # members: the owner user plus a deterministic sample
        cand = [u for u in self.users if u.added_at <= max(p.created_at, self.now0)]
        picks = {0}
        for j in range(min(len(cand), sz.members_per_project) * 3):
            if len(picks) >= min(len(cand), sz.members_per_project):
                break
            picks.add(rng.randint(0, len(cand) - 1, s, "pm", p.index, j))
        for j in sorted(picks):
            u = cand[j]
            added = max(u.added_at, p.created_at) + self._t(0, DAY, "pmadd", p.index, j)
            p.members.append((u.id,
                              "owner" if j == 0 else rng.choice(["member", "owner"], s, "pmr", p.index, j),
                              added))
        for j in range(1 + p.index % 2):
            p.service_accounts.append((self._id("svc_acct_", 16, "sa", p.index, j), f"bot-{j}",
                                       p.created_at + j * HOUR))
        for j in range(sz.keys_per_project):
            if j % 2 == 1 and p.service_accounts:
                owner_kind, owner_id = "service_account", p.service_accounts[0][0]
            else:
                owner_kind, owner_id = "user", p.members[j % len(p.members)][0]
            secret = "sk-proj-" + rng.token(56, s, "projkey", p.index, j) if j == 0 else None
            shown = secret or "sk-proj-" + rng.token(56, s, "otherkey", p.index, j)
            # one project in four deletes its last key after the initial clock
            deleted = self.now0 + self._t(HOUR, 2 * DAY, "kdel", p.index) \
                if j == sz.keys_per_project - 1 and j > 0 and p.index % 4 == 2 else None
            p.api_keys.append(ApiKeyRec(self._id("key_", 16, "pkid", p.index, j), f"key-{j}",
                                        p.created_at + j * HOUR, owner_kind, owner_id, secret, redact(shown),
                                        deleted))

    # ---- keys ------------------------------------------------------------------------------------
    def mint_key(self, kind: str, project_id: str | None = None, revoked: bool = False,
                 scopes: list[str] | None = None) -> str:
        """Create a key for tests: admin or project, optionally revoked or restricted to `scopes`."""
        if kind not in ("admin", "project"):
            raise ValueError("kind must be 'admin' or 'project'")
        if kind == "project" and project_id not in self.project_by_id:
            raise ValueError(f"unknown project {project_id!r}")
        with self.lock:
            n = len(self.keys)
            prefix = "sk-admin-" if kind == "admin" else "sk-proj-"
            secret = prefix + rng.token(48, self.seed, "minted", n, time.time_ns())
            self.keys[secret] = Key(secret, kind, project_id if kind == "project" else None, revoked,
                                    frozenset(scopes) if scopes is not None else None, "key_minted" + str(n))
        return secret

    def revoke(self, secret: str) -> None:
        with self.lock:
            self.keys[secret].revoked = True

    # ---- org-level collections -------------------------------------------------------------------
    def user_json(self, u: User) -> dict[str, Any]:
        i = int(rng.h64(self.seed, "ujson", u.id) % 1000)
        scim = i % 5 == 0
        out = {"object": "organization.user", "id": u.id, "name": u.name, "email": u.email, "role": u.role,
               "added_at": u.added_at, "is_default": u is self.users[0], "created": u.added_at - 30 * DAY,
               "is_service_account": False, "is_scim_managed": scim,
               "is_scale_tier_authorized_purchaser": (True if u.role == "owner" else None) if i % 2 else False,
               "api_key_last_used_at": max(u.added_at, floor_hour(self.now0 - (i % 72) * HOUR)) if i % 3 else None,
               "technical_level": ("developer", "non_technical", None)[i % 3],
               "developer_persona": ("builder", "researcher", None)[i % 3],
               "user": {"object": "user", "id": "user_" + u.id[5:], "email": u.email, "name": u.name,
                        "picture": f"https://avatars.example.com/{u.id}.png" if i % 4 else None,
                        "enabled": True, "banned": i % 50 == 7,
                        "banned_at": u.added_at + DAY if i % 50 == 7 else None}}
        if i % 3 != 2:  # "if included"
            out["projects"] = {"object": "list", "data": self.user_projects.get(u.id, [])}
        return out

    @cached_property
    def user_projects(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for p in self.projects:
            for uid, role, _added in p.members:
                out.setdefault(uid, []).append({"id": p.id, "name": p.name, "role": role})
        return out

    @cached_property
    def users_seq(self) -> Seq:
        return Seq.of([Item(u.id, u.added_at, u.removed_at, lambda now, u=u: self.user_json(u),
                            {"email": u.email}) for u in self.users])

    def user_roles_seq(self, user_id: str) -> Seq | None:
        u = self.user_by_id.get(user_id)
        if u is None:
            return None
        role = self.roles[0] if u.role == "owner" else self.roles[1]
        extra = [self.roles[2]] if rng.unit(self.seed, "uxr", u.id) < 0.2 else []
        return Seq.of([Item(r["id"], u.added_at, u.removed_at, self._assignment(r, u.id, "user", u.added_at))
                       for r in [role, *extra]])

    def _assignment(self, r: dict[str, Any], principal: str, kind: str, added: int) -> Any:
        """How a role assignment renders (RoleListResponse): the role, when it was assigned, to whom."""
        def render(now: int) -> dict[str, Any]:
            return {**{k: r[k] for k in ("id", "name", "permissions", "resource_type", "predefined_role",
                                          "description")},
                    "created_at": added, "updated_at": added, "created_by": self.users[0].id,
                    "created_by_user_obj": {"id": self.users[0].id, "name": self.users[0].name},
                    "metadata": {}, "assignment_sources": [{"principal_id": principal, "principal_type": kind}]}
        return render

    def group_roles_seq(self, group_id: str) -> Seq | None:
        """A group's roles in the organization: reader for every group; a custom role for some, which some
        groups lose a day or two after the initial clock (a role removed)."""
        g = next((g for g in self.groups if g[0] == group_id), None)
        if g is None:
            return None
        gid, _name, created, _scim = g
        items = [Item(self.roles[1]["id"], created, None, self._assignment(self.roles[1], gid, "group", created))]
        if rng.unit(self.seed, "gxr", gid) < 0.5 or gid == self.groups[0][0]:
            removed = self.now0 + self._t(HOUR, 2 * DAY, "gxrt", gid) if gid == self.groups[0][0] else None
            items.append(Item(self.roles[2]["id"], created, removed,
                              self._assignment(self.roles[2], gid, "group", created)))
        return Seq.of(items)

    def project_user_roles_seq(self, p: Project, user_id: str) -> Seq | None:
        """A project member's roles on the project (owner or member, as project_users says); they leave with
        the user. Not a member: None (not found)."""
        m = next((m for m in p.members if m[0] == user_id), None)
        if m is None:
            return None
        uid, role, added = m
        r = next(r for r in self.project_roles if r["name"] == role)
        return Seq.of([Item(r["id"], added, self.user_by_id[uid].removed_at,
                            self._assignment(r, uid, "user", added))])

    def project_group_roles_seq(self, p: Project, group_id: str) -> Seq | None:
        """A project group's roles on the project: member, or reader for one group in three."""
        if self.project_groups_seq(p).index_of(group_id) is None:
            return None
        c = max(next(g[2] for g in self.groups if g[0] == group_id), p.created_at)
        name = "reader" if rng.unit(self.seed, "pgr", p.id, group_id) < 0.34 else "member"
        r = next(r for r in self.project_roles if r["name"] == name)
        return Seq.of([Item(r["id"], c, None, self._assignment(r, group_id, "group", c))])

    @cached_property
    def invites_seq(self) -> Seq:
        items = []
        for i in range(self.size.invites):
            iid = self._id("invite-", 20, "inv", i)
            created = self.now0 - self._t(HOUR, 20 * DAY, "invc", i)
            accepted = (created + self._t(HOUR, 5 * DAY, "inva", i)
                        if rng.unit(self.seed, "invs", i) < 0.5 else None)
            email = f"invitee{i}@example.com"
            projs = [{"id": self.projects[i % len(self.projects)].id, "role": "member"}]

            def render(now: int, iid=iid, created=created, accepted=accepted, email=email,
                       projs=projs) -> dict:
                expires = created + 7 * DAY
                status = ("accepted" if accepted and accepted <= now else
                          "expired" if now >= expires else "pending")
                return {"object": "organization.invite", "id": iid, "email": email, "role": "reader",
                        "status": status, "created_at": created, "expires_at": expires,
                        "accepted_at": accepted if accepted and accepted <= now else None, "projects": projs}
            items.append(Item(iid, created, None, render))
        return Seq.of(items)

    def project_json(self, p: Project, now: int) -> dict[str, Any]:
        archived = p.archived_at is not None and p.archived_at <= now
        return {"id": p.id, "object": "organization.project", "name": p.name, "created_at": p.created_at,
                "archived_at": p.archived_at if archived else None,
                "status": "archived" if archived else "active",
                "external_key_id": self.security.external_key_of(p.id, now),
                # ProjectResidency: where the project's data lives (absent where none was chosen)
                **({"residency": ("GLOBAL", "US_STORAGE_PROCESSING", "EU_STORAGE_PROCESSING")[p.index % 4]}
                   if p.index % 4 < 3 else {})}

    @cached_property
    def security(self) -> Security:
        """Workload identity providers, external keys and storage, webhooks, fine-tuned model permissions."""
        return Security(self)

    @cached_property
    def _ft_owners(self) -> dict[str, tuple[str, int]]:
        return {name: (p.id, done) for p in self.projects for name, done in self.project_data(p.id).ft_models()}

    def ft_model_names(self) -> list[str]:
        return list(self._ft_owners)

    def ft_model_owner(self, model: str) -> tuple[str, int] | None:
        """The project that trained a fine-tuned model (or checkpoint) and when it became usable."""
        return self._ft_owners.get(model.split(":ckpt-step-")[0])

    @cached_property
    def projects_seq(self) -> Seq:
        return Seq.of([Item(p.id, p.created_at, None, lambda now, p=p: self.project_json(p, now))
                       for p in self.projects])

    def project_users_seq(self, p: Project) -> Seq:
        items = []
        for uid, role, added in p.members:
            u = self.user_by_id[uid]
            items.append(Item(uid, added, u.removed_at, lambda now, u=u, role=role, added=added: {
                "object": "organization.project.user", "id": u.id, "name": u.name, "email": u.email,
                "role": role, "added_at": added}))
        return Seq.of(items)

    def project_service_accounts_seq(self, p: Project) -> Seq:
        return Seq.of([Item(sid, c, None, lambda now, sid=sid, name=name, c=c: {
            "object": "organization.project.service_account", "id": sid, "name": name, "role": "member",
            "created_at": c}) for sid, name, c in p.service_accounts])

    def project_api_keys_seq(self, p: Project) -> Seq:
        items = []
        for k in p.api_keys:
            def render(now: int, k=k) -> dict[str, Any]:
                if k.owner_kind == "user":
                    # ProjectApiKeyOwnerUser (spec and SDK OwnerUser): id, email, name, created_at, role
                    u = self.user_by_id[k.owner_id]
                    role = next((r for uid, r, _a in p.members if uid == u.id), "member")
                    owner = {"type": "user", "user": {"id": u.id, "name": u.name, "email": u.email,
                                                      "created_at": u.added_at, "role": role}}
                else:
                    sa = next(x for x in p.service_accounts if x[0] == k.owner_id)
                    owner = {"type": "service_account", "service_account": {
                        "id": sa[0], "name": sa[1], "role": "member", "created_at": sa[2]}}
                last_used = floor_hour(now - rng.randint(0, 48, self.seed, "klu", k.id) * HOUR)
                return {"object": "organization.project.api_key", "redacted_value": k.redacted,
                        "name": k.name, "created_at": k.created_at,
                        "last_used_at": max(last_used, k.created_at), "id": k.id,
                        "owner_project_access": "active", "owner": owner,
                        "expires_at": None}  # expires_at: in the SDK's ProjectAPIKey, newer than the spec
            items.append(Item(k.id, k.created_at, k.deleted_at, render))
        return Seq.of(items)

    def _rate_limit_change(self, p: Project, m_i: int) -> int | None:
        """When the rate limits of a project's model double (three in ten do, after the initial clock)."""
        if rng.unit(self.seed, "rlx", p.id, m_i) >= 0.3:
            return None
        return self.now0 + self._t(HOUR, 3 * DAY, "rlc", p.id, m_i)

    def rate_limit_changes(self, p: Project) -> list[tuple[int, str, dict[str, int]]]:
        """(when, model, the limits asked for) of each change of a project's rate limits."""
        out = []
        for m_i, model in enumerate(list(COMPLETION_PRICES)[:4]):
            if (t := self._rate_limit_change(p, m_i)) is not None:
                rpm = 10000 * (1 + m_i)
                out.append((t, model, {"max_requests_per_1_minute": rpm, "max_tokens_per_1_minute": rpm * 160,
                                       "max_requests_per_1_day": rpm * 1000,
                                       "batch_1_day_max_input_tokens": rpm * 20000}))
        for m_i, (model, field_, n) in enumerate(self.MEDIA_LIMITS, start=4):
            if (t := self._rate_limit_change(p, m_i)) is not None:
                out.append((t, model, {field_: n * 2}))
        return out

    # an image and an audio model: their own kinds of limit
    MEDIA_LIMITS = (("gpt-image-1", "max_images_per_1_minute", 50),
                    ("whisper-1", "max_audio_megabytes_per_1_minute", 250))

    def project_rate_limits_seq(self, p: Project) -> Seq:
        items = []
        for m_i, model in enumerate(list(COMPLETION_PRICES)[:4]):
            change_at = self._rate_limit_change(p, m_i)

            def render(now: int, model=model, m_i=m_i, change_at=change_at) -> dict[str, Any]:
                rpm = 5000 * (1 + m_i)
                if change_at is not None and now >= change_at:
                    rpm *= 2
                return {"object": "project.rate_limit", "id": f"rl-{model}", "model": model,
                        "max_requests_per_1_minute": rpm, "max_tokens_per_1_minute": rpm * 160,
                        "max_requests_per_1_day": rpm * 1000, "batch_1_day_max_input_tokens": rpm * 20000}
            items.append(Item(f"rl-{model}", p.created_at, None, render))
        for m_i, (model, field_, n) in enumerate(self.MEDIA_LIMITS, start=4):
            change_at = self._rate_limit_change(p, m_i)
            items.append(Item(f"rl-{model}", p.created_at, None, lambda now, model=model, field_=field_, n=n,
                              change_at=change_at: {
                "object": "project.rate_limit", "id": f"rl-{model}", "model": model, "max_requests_per_1_minute": 500,
                "max_tokens_per_1_minute": 0, field_: n * 2 if change_at is not None and now >= change_at else n}))
        return Seq.of(items)

    def project_groups_seq(self, p: Project) -> Seq:
        items = []
        for j, (gid, name, created, _scim) in enumerate(self.groups):
            if rng.unit(self.seed, "pg", p.id, j) < 0.3:
                c = max(created, p.created_at)
                items.append(Item(gid, c, None, lambda now, gid=gid, name=name, c=c: {
                    "object": "project.group", "project_id": p.id, "group_id": gid, "group_name": name,
                    "group_type": "group", "created_at": c}))
        return Seq.of(items)

    @cached_property
    def project_roles(self) -> list[dict[str, Any]]:
        base = [("role_proj_owner", "owner"), ("role_proj_member", "member"), ("role_proj_reader", "reader")]
        return [{"object": "role", "id": rid, "name": name, "description": f"Project {name}",
                 "permissions": ["api.project.read"] + (["api.project.write"] if name != "reader" else []),
                 "resource_type": "api.project", "predefined_role": True} for rid, name in base]

    def project_roles_seq(self, p: Project) -> Seq:
        return Seq.of([Item(r["id"], p.created_at, None, lambda now, r=r: dict(r)) for r in self.project_roles])

    def _certificates(self, scope: str, n: int, created_floor: int) -> Seq:
        obj = "organization.certificate" if scope == "org" else "organization.project.certificate"
        items = []
        for j in range(n):
            cid = self._id("cert_", 20, "cert", scope, j)
            c = created_floor + self._t(0, 10 * DAY, "certc", scope, j)
            items.append(Item(cid, c, None, lambda now, cid=cid, c=c, j=j: {
                "object": obj, "id": cid, "name": f"cert-{j}", "created_at": c, "active": j == 0,
                "certificate_details": {"valid_at": c, "expires_at": c + 365 * DAY}}))
        return Seq.of(items)

    @cached_property
    def certificates_seq(self) -> Seq:
        return self._certificates("org", 2, self.start)

    def project_certificates_seq(self, p: Project) -> Seq:
        return self._certificates(p.id, p.index % 2, p.created_at)

    def _spend_alerts(self, scope: str, obj: str, created_floor: int) -> Seq:
        items = []
        for j in range(2 if scope == "org" else rng.randint(0, 2, self.seed, "sa#", scope)):
            aid = self._id("spend_alert_", 16, "sal", scope, j)
            items.append(Item(aid, created_floor + j * DAY, None, lambda now, aid=aid, j=j: {
                "id": aid, "object": obj, "threshold_amount": 1000 * (j + 1), "currency": "USD",
                "interval": "month", "notification_channel": {"type": "email",
                                                             "recipients": [self.users[0].email],
                                                             "subject_prefix": None}}))
        return Seq.of(items)

    @cached_property
    def spend_alerts_seq(self) -> Seq:
        return self._spend_alerts("org", "organization.spend_alert", self.start)

    def project_spend_alerts_seq(self, p: Project) -> Seq:
        return self._spend_alerts(p.id, "project.spend_alert", p.created_at)

    def organization_spend_limit(self) -> dict[str, Any]:
        return {"object": "organization.spend_limit", "threshold_amount": 250_000, "currency": "USD",
                "interval": "month", "enforcement": {"status": "enforcing"}}

    def organization_data_retention(self) -> dict[str, Any]:
        return {"object": "organization.data_retention",
                "type": ["zero_data_retention", "modified_abuse_monitoring"][self.seed % 2]}

    def project_spend_limit(self, p: Project) -> dict[str, Any]:
        return {"object": "project.spend_limit", "threshold_amount": 500 * (1 + p.index % 4),
                "currency": "USD", "interval": "month",
                "enforcement": {"status": "enforcing" if p.index % 3 else "inactive"}}

    def project_data_retention(self, p: Project) -> dict[str, Any]:
        return {"object": "project.data_retention",
                "type": ["organization_default", "zero_data_retention", "none"][p.index % 3]}

    def project_model_permissions(self, p: Project) -> dict[str, Any]:
        return {"object": "project.model_permissions", "mode": "deny_list" if p.index % 2 else "allow_list",
                "model_ids": list(COMPLETION_PRICES)[: 1 + p.index % 3]}

    def project_service_tier_settings(self, p: Project) -> dict[str, Any]:
        tiers: Any = ("all", [], ["flex"], ["flex", "fast", "ultrafast"])[p.index % 4]
        return {"object": "project.service_tier_settings", "default": ("standard", "fast", "scale")[p.index % 3],
                "enabled_tiers": tiers}

    def project_hosted_tool_permissions(self, p: Project) -> dict[str, Any]:
        return {t: {"enabled": rng.unit(self.seed, "htp", p.id, t) < 0.7}
                for t in ("file_search", "web_search", "image_generation", "mcp", "code_interpreter")}

    @cached_property
    def admin_api_keys_seq(self) -> Seq:
        owner = self.users[0]
        return Seq.of([Item(k.id, k.created_at, None, lambda now, k=k: {
            "object": "organization.admin_api_key", "id": k.id, "name": k.name, "redacted_value": k.redacted,
            "created_at": k.created_at, "expires_at": None, "last_used_at": floor_hour(now),
            "owner": {"type": "user", "object": "organization.user", "id": owner.id, "name": owner.name,
                      "created_at": owner.added_at, "role": "owner"}}) for k in self.admin_keys])

    @cached_property
    def groups_seq(self) -> Seq:
        # GroupResponse (spec) / Group (SDK): no `object` field
        return Seq.of([Item(gid, c, None, lambda now, gid=gid, name=name, c=c, scim=scim: {
            "id": gid, "name": name, "created_at": c, "is_scim_managed": scim,
            "group_type": "group"}) for gid, name, c, scim in self.groups])

    def group_users_seq(self, group_id: str) -> Seq | None:
        if group_id not in self.group_members:
            return None
        return Seq.of([Item(uid, self.user_by_id[uid].added_at, self.user_by_id[uid].removed_at,
                            # GroupUser (spec) / OrganizationGroupUser (SDK): id, name, email only
                            lambda now, u=self.user_by_id[uid]: {"id": u.id, "name": u.name,
                                                                 "email": u.email})
                       for uid in self.group_members[group_id]])

    @cached_property
    def roles_seq(self) -> Seq:
        return Seq.of([Item(r["id"], self.start, None, lambda now, r=r: dict(r)) for r in self.roles])

    # ---- audit logs ------------------------------------------------------------------------------
    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self)

    @property
    def audit_seq(self) -> Seq:
        """Every event, in effective_at order: the world's changes and its activity, forever."""
        return self.audit.seq

    def audit_visible_after(self, i: int) -> int:
        """Seconds between activity event i's effective_at and when the audit log lists it."""
        return self.audit.visible_after(i)

    # ---- project data ----------------------------------------------------------------------------
    def project_data(self, project_id: str) -> ProjectData:
        pd = self._project_data.get(project_id)
        if pd is None:
            with self.lock:
                pd = self._project_data.get(project_id)
                if pd is None:
                    pd = ProjectData(self, self.project_by_id[project_id])
                    self._project_data[project_id] = pd
        return pd


def parse_audit_delay(spec: str) -> tuple[tuple[float, int], ...]:
    """`SHARE:SECONDS,...`: that share of the audit events (0..1) becomes visible up to that many seconds after
    its effective_at; the rest at once. `0.15:300,0.05:1200`: 15 % within 5 minutes, 5 % within 20."""
    bands = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        share, sep, seconds = part.partition(":")
        try:
            band = (float(share), int(seconds))
        except ValueError:
            band = (-1.0, -1)
        if not sep or not 0 <= band[0] <= 1 or band[1] < 1:
            raise ValueError(f"bad audit delay {part!r}: SHARE:SECONDS with SHARE in 0..1 and SECONDS >= 1, "
                             "e.g. 0.15:300,0.05:1200")
        bands.append(band)
    if sum(b[0] for b in bands) > 1:
        raise ValueError(f"the shares of the audit delay {spec!r} add up to more than 1")
    return tuple(bands)


def redact(secret: str) -> str:
    return f"{secret[:8]}****{secret[-4:]}"

