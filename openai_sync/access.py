"""Which keys a run may use, and for what: the Admin key's probes, the index of projects and their keys'
redacted values, and which project each project key belongs to. The sync and Save & Test both use these;
each says what it found in its own words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .api.client import Client, ClientOptions, now_from
from .api.errors import KeyProblem
from .api.keys import ADMIN_KEYS_URL, ProjectKey, key_kind, mask, redacted_matches
from .api.pagination import list_pages
from .api.parallel import gather
from .catalog import TABLES, Table
from .probes import ADMIN_PROBES, Probe, admin_probes, project_probes

NO_ADMIN_KEY = ("no Admin key: set OPENAI_ADMIN_KEY to a read-only Admin key (sk-admin-...), created by an "
                f"organization owner at {ADMIN_KEYS_URL}.")


@dataclass(frozen=True)
class ProjectAccess:
    """A project key that may be used, with the project it reads."""

    project_id: str
    client: Client


def probe(client: Client, p: Probe, label: str) -> dict[str, Any]:
    """Ask the probe's endpoint for one object (raises SyncError when the key may not)."""
    table = TABLES[p.table]
    params: dict[str, Any] = {"start_time": now_from(client) - 86400} if p.since_day else {}
    if table.page_limit:
        params["limit"] = 1
    return client.get(table.path, params, label=label)


def preflight(admin_key: str | None, tables: list[Table], options: ClientOptions) -> Client:
    """Check the Admin key before anything is written: present, of the right kind, accepted, scoped (one cheap
    request per permission the selected tables need). Returns its client."""
    if not admin_key:
        raise KeyProblem(NO_ADMIN_KEY)
    if key_kind(admin_key) == "project":
        raise KeyProblem(f"the Admin key {mask(admin_key)} is a project key (sk-proj-...). Organization "
                         "tables need a read-only Admin key (sk-admin-...); project keys go in "
                         "OPENAI_PROJECT_KEYS.")
    client = options.client(admin_key, admin=True)
    for p in admin_probes(tables):
        probe(client, p, "preflight")
    return client


def organization_of(client: Client) -> str | None:
    """The organization a key belongs to, as the API says in its responses (one cheap request if none was
    made with it yet); None when the API does not say."""
    if client.organization_id is None:
        probe(client, ADMIN_PROBES[0] if client.admin else project_probes()[0], "organization")
    return client.organization_id


@dataclass(frozen=True)
class KeyIndex:
    """Every project (archived included) and the redacted values of its API keys, as the Admin key sees them."""

    projects: list[dict[str, Any]]
    redacted: dict[str, list[str]]
    names: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", {p["id"]: p.get("name") or p["id"] for p in self.projects})

    def matches(self, key: str) -> list[str]:
        """The projects with a key whose redacted value looks like this key."""
        return [pid for pid, values in self.redacted.items() if any(redacted_matches(v, key) for v in values)]

    def archived(self) -> set[str]:
        return {p["id"] for p in self.projects if p.get("archived_at") or p.get("status") == "archived"}

    def active(self) -> list[dict[str, Any]]:
        return [p for p in self.projects if p.get("status", "active") == "active" and not p.get("archived_at")]


def key_index(admin: Client, label: str, workers: int = 8, *, keys: bool = True) -> KeyIndex:
    """One listing of the projects, then (with `keys`) one of each project's keys, in parallel."""
    projects = [p for page in list_pages(admin, "/organization/projects", {"include_archived": "true"}, limit=100,
                                         label=label) for p in page]
    if not keys:
        return KeyIndex(projects, {})

    def redacted(pid: str) -> list[str]:
        return [k.get("redacted_value", "") for page in list_pages(
            admin, f"/organization/projects/{pid}/api_keys", {}, limit=100, label=label) for k in page]

    ids = [p["id"] for p in projects]
    return KeyIndex(projects, dict(zip(ids, gather(ids, redacted, workers, "key-index"), strict=True)))


@dataclass(frozen=True)
class Identity:
    """Which project a key belongs to, as far as can be told."""

    project_id: str | None  # None: unknown (or in conflict)
    matches: tuple[str, ...]  # the projects whose keys look like it
    conflict: str | None = None  # the project it belongs to, when it was given for another one


def identify(pk: ProjectKey, index: KeyIndex | None) -> Identity:
    """The key's project: the one given (PROJECT_ID=KEY) unless the index says otherwise, else the one project
    whose keys look like it."""
    found = tuple(index.matches(pk.key)) if index is not None else ()
    if pk.project_id is not None and found and pk.project_id not in found:
        return Identity(None, found, conflict=found[0])
    return Identity(pk.project_id or (found[0] if len(found) == 1 else None), found)


@dataclass(frozen=True)
class ProjectKeys:
    """The project keys a run may use, why the others may not (problems: the run is partial), and the keys
    skipped for a reason that is not the user's mistake (warnings: an archived project)."""

    usable: tuple[ProjectAccess, ...]
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


def archived_key(key: str, project_id: str, name: str | None) -> str:
    """The one sentence Save & Test and the sync both give for a key of an archived project: a warning, since
    the other projects sync (true on a first sync too: it claims no earlier data)."""
    shown = f"{name} ({project_id})" if name and name != project_id else project_id
    return (f"project {shown} is archived, so its key {mask(key)} no longer works and its project tables are not "
            "read; remove the key, or unarchive the project")


def open_project_keys(keys: tuple[ProjectKey, ...], admin: Client | None, options: ClientOptions) -> ProjectKeys:
    """Each project key with its project, found with the Admin key when not given. When every key was given with
    its project (PROJECT_ID=KEY, as setup saves them), nothing is looked up but the projects (which are archived):
    each key is sent with its project, and the API refuses a key given for another project. Keys of archived
    projects are skipped with a note; every unusable key gets a sentence saying why and what to do."""
    usable: list[ProjectAccess] = []
    problems: list[str] = []
    warnings: list[str] = []
    index: KeyIndex | None = None
    lookup = any(pk.project_id is None for pk in keys if key_kind(pk.key) != "admin")
    for pk in keys:
        if key_kind(pk.key) == "admin":
            problems.append(f"the project key {mask(pk.key)} is an Admin key (sk-admin-...); use it as the Admin key "
                            "(OPENAI_ADMIN_KEY) instead")
            continue
        if admin is not None and index is None:
            index = key_index(admin, "identify project keys", keys=lookup)
        who = identify(pk, index)
        if who.conflict:
            problems.append(f"the project key {mask(pk.key)} was given for project {pk.project_id}, but it belongs "
                            f"to {who.conflict}; fix its PROJECT_ID=KEY entry")
            continue
        if who.project_id is None:
            problems.append(f"the project of key {mask(pk.key)} is unknown"
                            + (" (no project lists a key like it)" if admin is not None else " (no Admin key to look "
                               "it up)") + "; give it as PROJECT_ID=KEY in OPENAI_PROJECT_KEYS or the secrets file")
            continue
        if index is not None and who.project_id in index.archived():
            warnings.append(archived_key(pk.key, who.project_id, index.names.get(who.project_id)))
            continue
        if any(u.project_id == who.project_id for u in usable):
            problems.append(f"the project key {mask(pk.key)} was given for project {who.project_id}, which has a key "
                            "already; only the first is used: remove the other, or fix its PROJECT_ID=KEY entry")
            continue
        usable.append(ProjectAccess(who.project_id, options.client(pk.key, admin=False, project=who.project_id)))
    return ProjectKeys(tuple(usable), tuple(problems), tuple(warnings))
