"""Save & Test (SPEC 6): every check a user needs before the first sync, each with a verdict and a
sentence that says what to do. Checks only read; they never load data.

The requests are the sync's own: the probes (probes.ADMIN_PROBES, probes.listing_probes(), probes.project_probes()),
the key index and the identification of project keys (access.py), the destination check (load/)."""

from __future__ import annotations

import re

from .access import KeyIndex, archived_key, identify, key_index, probe
from .api.client import Client, ClientOptions
from .api.errors import KeyProblem, SyncError
from .api.keys import ADMIN_KEYS_URL, ProjectKey, key_kind, mask
from .api.parallel import gather
from .api.reach import unreachable
from .catalog import TABLES
from .config import Resolved
from .load.destination_check import FAIL, PASS, WARN, Check, check_destination
from .probes import ADMIN_PROBES, PROJECT_KEY_PROBE, Probe, listing_probes, project_probes

__all__ = ["FAIL", "PASS", "WARN", "Check", "check_destination", "run_checks", "verdict"]

AUDIT_LOG_SETTINGS = "https://platform.openai.com/settings/organization/data-controls/data-retention"


def run_checks(r: Resolved, *, max_retries: int = 2, identified: dict[str, str] | None = None,
               destination: bool = True) -> list[Check]:
    """Every check, in order. `identified` receives each project key's project, where found (setup saves them).
    `destination` False leaves the destination alone (the service, while a run writes a DuckDB file, which
    allows one writer)."""
    s, sec = r.settings, r.secrets
    options = ClientOptions(s.base_url, max_retries=max_retries)
    cannot = unreachable(s.base_url) if sec.admin_key or sec.project_keys else None
    if cannot:  # every key check would say the same after its retries
        return [Check("API", FAIL, cannot + "."), *([check_destination(s.destination, s.schema_name)]
                                                     if destination else [])]
    checks, admin = _admin_checks(sec.admin_key, bool(sec.project_keys), options)
    checks += _project_checks(list(sec.project_keys), admin, options, {} if identified is None else identified)
    if destination:
        checks.append(check_destination(s.destination, s.schema_name))
    return checks


def _admin_checks(key: str | None, has_project_keys: bool, options: ClientOptions) -> tuple[list[Check],
                                                                                             Client | None]:
    if not key:
        return [Check("admin key", WARN if has_project_keys else FAIL,
                      "no Admin key: organization tables (usage, costs, audit logs, users, projects) will not "
                      f"sync. An organization Owner creates a read-only one at {ADMIN_KEYS_URL}.")], None
    if key_kind(key) == "project":
        return [Check("admin key", FAIL, f"{mask(key)} is a project key (sk-proj-...), pasted where the Admin key "
                                         "belongs. Move it to the project keys, and create a read-only Admin key "
                                         f"at {ADMIN_KEYS_URL}.")], None
    admin = options.client(key, admin=True)
    key_probe, *permissions = ADMIN_PROBES
    try:
        probe(admin, key_probe, "check")
    except SyncError as e:
        return [Check(key_probe.name, FAIL, str(e))], None
    checks = [Check(key_probe.name, PASS, f"Admin key {mask(key)} works for organization "
                                          f"{admin.organization_id or '(unknown id)'}.")]
    for p in permissions:
        try:
            page = probe(admin, p, "check")
        except KeyProblem as e:
            checks.append(Check(p.name, FAIL, f"{e} Without it, {p.covers} cannot sync."))
            continue
        except SyncError as e:
            checks.append(Check(p.name, FAIL, str(e)))
            continue
        checks.append(Check(p.name, PASS, f"the Admin key may read {p.covers}."))
        if TABLES[p.table].mode == "audit" and not page.get("data"):
            checks.append(Check("audit logging", WARN, "the audit log is empty: audit logging appears to be off. An "
                                                       "Owner can enable it (it cannot be turned off again) at "
                                                       f"{AUDIT_LOG_SETTINGS}; until then audit_logs stays empty."))
    checks.append(_listings(admin))
    return checks, admin


def _listings(admin: Client) -> Check:
    """May the key read each organization listing? One that it may not fails alone in a sync: a warning."""

    def refused(p: Probe) -> str | None:
        try:
            probe(admin, p, "check")
        except SyncError as e:
            return f"{p.covers} ({e})"
        return None

    probes = listing_probes()
    missing = [m for m in gather(probes, refused, 4, "check") if m]
    if not missing:
        return Check("organization tables", PASS, f"the Admin key may read all {len(probes)} other organization "
                                                  "listings.")
    return Check("organization tables", WARN, f"the Admin key may not read: {'; '.join(missing)}. Those tables will "
                                              "fail on their own and the others sync; an organization Owner can "
                                              "grant the access (or exclude them with exclude_tables).")


def _project_checks(keys: list[ProjectKey], admin: Client | None, options: ClientOptions,
                    identified: dict[str, str]) -> list[Check]:
    if admin is not None and not keys:
        return [Check("project keys", WARN, "no project keys: project-level tables (files, batches, evals, ...) "
                                            "will not sync. Add a read-only key per project you want.")]
    checks: list[Check] = []
    index: KeyIndex | None = None
    if admin is not None and keys:
        try:
            index = key_index(admin, "check")
        except SyncError as e:
            checks.append(Check("project keys", WARN, f"could not list the projects' keys to tell which project each "
                                                      f"key belongs to: {e}"))
    covered: set[str] = set()
    for i, pk in enumerate(keys, 1):
        checks += _project_key(f"project key {i}", pk, admin, index, options, covered, identified)
    if index is not None and index.projects:
        checks.append(_coverage(index, covered))
    return checks


def _project_key(label: str, pk: ProjectKey, admin: Client | None, index: KeyIndex | None,
                 options: ClientOptions, covered: set[str], identified: dict[str, str]) -> list[Check]:
    """Does the key work, which project is it, and which of the project tables may it read."""
    if key_kind(pk.key) == "admin":
        return [Check(label, FAIL, f"{mask(pk.key)} is an Admin key (sk-admin-...), pasted where a project key "
                                   "belongs. Use it as the Admin key instead.")]
    who = identify(pk, index)
    if who.project_id and not who.conflict and index is not None and who.project_id in index.archived():
        return [Check(label, WARN, archived_key(pk.key, who.project_id, index.names.get(who.project_id)) + ".")]
    client = options.client(pk.key, admin=False)
    key_probe, *others = project_probes()
    assert key_probe.table == PROJECT_KEY_PROBE
    missing = []
    try:
        probe(client, key_probe, "check")
    except KeyProblem as e:
        if "lacks the permission" not in str(e):
            return [Check(label, FAIL, str(e))]
        missing.append(_missing(e, key_probe))  # a restricted key: it authenticates, without this scope
    except SyncError as e:
        return [Check(label, FAIL, str(e))]
    names = index.names if index is not None else {}
    if who.conflict:
        return [Check(label, FAIL, f"{mask(pk.key)} was given for project {pk.project_id}, but it belongs to "
                                   f"{names.get(who.conflict, who.conflict)} ({who.conflict}).")]
    pid = who.project_id
    if pid and index is not None and index.projects and pid not in names:
        return [Check(label, FAIL, f"{mask(pk.key)} was given for project {pid}, which is not a project of this "
                                   "organization. Check the PROJECT_ID in PROJECT_ID=KEY.")]
    if pid:
        covered.add(pid)
        identified[pk.key] = pid
        checks = [Check(label, PASS, f"{mask(pk.key)} works and belongs to project {names.get(pid, pid)} ({pid}).")]
    else:
        why = "several projects have keys that look like it" if len(who.matches) > 1 else (
            "no Admin key to look it up" if admin is None else "no project lists a key that looks like it")
        checks = [Check(label, WARN, f"{mask(pk.key)} works, but its project is unknown ({why}). Give it as "
                                     "PROJECT_ID=KEY so that its rows carry the right project_id.")]
    for p in others:
        try:
            probe(client, p, "check")
        except KeyProblem as e:
            missing.append(_missing(e, p))
        except SyncError:
            continue  # not a permission problem; the sync will report it
    if missing:
        checks.append(Check(f"{label} permissions", WARN, f"{mask(pk.key)} may not read: {'; '.join(missing)}. Those "
                                                          "tables stay empty for this project; give the key read "
                                                          "access if you want them."))
    return checks


def _coverage(index: KeyIndex, covered: set[str]) -> Check:
    active = index.active()
    without = [p for p in active if p["id"] not in covered]
    if not without:
        return Check("projects without a key", PASS, f"every one of the {len(active)} active projects has a key.")
    shown = ", ".join(f"{index.names[p['id']]} ({p['id']})" for p in without[:5])
    more = f" and {len(without) - 5} more" if len(without) > 5 else ""
    return Check("projects without a key", WARN,
                 f"{len(without)} of {len(active)} active projects have no project key: {shown}{more}. Their "
                 "project-level tables (files, batches, ...) will be empty; add a read-only key for each project "
                 "you want.")


def _missing(e: KeyProblem, p: Probe) -> str:
    scope = re.search(r"permission (\S+)", str(e))
    return f"{scope.group(1) if scope else TABLES[p.table].path} ({p.covers})"


def verdict(checks: list[Check]) -> str:
    if any(c.status == FAIL for c in checks):
        return "failed"
    return "ok"
