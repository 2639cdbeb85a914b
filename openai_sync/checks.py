"""Save & Test (SPEC 6): every check a user needs before the first sync, each with a verdict and a
sentence that says what to do. Checks only read; they never load data."""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import destinations
from .client import ADMIN_KEYS_URL, Client, KeyProblem, SyncError, key_kind, mask, redacted_matches
from .config import SCHEMA_RE, Resolved
from .projects import key_index

PASS, WARN, FAIL = "pass", "warn", "fail"
AUDIT_LOG_SETTINGS = "https://platform.openai.com/settings/organization/data-controls/data-retention"

# What a project key reads (SPEC 4.2), by the endpoint probed for its permission.
PROJECT_PROBES: dict[str, str] = {
    "/files": "files",
    "/batches": "batches",
    "/evals": "evals, eval_runs, eval_run_output_items",
    "/skills": "skills, skill_versions",
    "/fine_tuning/jobs": "fine_tuning_jobs and their events and checkpoints",
    "/vector_stores": "vector_stores, vector_store_files",
    "/containers": "containers, container_files",
    "/assistants": "assistants",
    "/models": "models",
    "/chat/completions": "chat_completions",
}


@dataclass
class Check:
    name: str
    status: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def check_destination(destination: str, schema: str) -> Check:
    if not SCHEMA_RE.fullmatch(schema):
        return Check("destination", FAIL, f"the schema name {schema!r} is not valid: use letters, digits and _, "
                                          "not starting with a digit.")
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    actual = NamingConvention().normalize_identifier(schema)
    found = _check_destination(destination, actual)
    if actual != schema and found.status == PASS:
        return Check("destination", WARN, f"{found.message} dlt writes snake_case names, so schema {schema!r} "
                                          f"becomes {actual!r}; set --schema {actual} to use the name you get.")
    return found


def _check_destination(destination: str, schema: str) -> Check:
    kind = destinations.kind(destination)
    if kind == "duckdb":
        path = destinations.duckdb_path(destination)
        folder = path.parent
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            return Check("destination", FAIL, f"the folder {folder} {what}; create it or choose another DuckDB "
                                              "path.")
        if path.is_dir():
            return Check("destination", FAIL, f"{path} is a folder; give the path of a DuckDB file in it, "
                                              f"such as {path / 'openai.duckdb'}.")
        collision = destinations.duckdb_collision(destination, schema)
        if collision:
            return Check("destination", FAIL, collision)
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            if os.statvfs(folder).f_flag & os.ST_RDONLY:
                return Check("destination", FAIL, f"{path} is on a read-only file system; mount it read-write or "
                                                  "choose another path.")
            return Check("destination", FAIL, f"{path} is not writable by this user; fix its permissions or choose "
                                              "another path.")
        if path.exists():
            import duckdb

            try:
                duckdb.connect(str(path)).close()
            except duckdb.Error as e:
                first = str(e).splitlines()[0]
                hint = ("it is not a DuckDB database: choose another path, or move that file away"
                        if "not a valid DuckDB database" in first else "is another process using it?")
                return Check("destination", FAIL, f"{path} cannot be opened ({type(e).__name__}: {first}); "
                                                  f"{hint}.")
        return Check("destination", PASS, f"DuckDB file {path} is writable; tables go in schema {schema!r}.")
    if kind == "postgres":
        return _check_postgres(destinations.normalize(destination), schema)
    if kind == "filesystem":
        folder = destinations.filesystem_path(destination).resolve()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".openai-sync-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            return Check("destination", FAIL, f"the folder {folder} is not writable ({e.strerror}); choose another "
                                              "folder or fix its permissions.")
        return Check("destination", PASS, f"folder {folder} is writable; tables go in {folder / schema} as Delta "
                                          "tables (Parquet files with a transaction log).")
    from dlt.common.destination import Destination

    try:
        Destination.from_reference(destination)
    except Exception:  # dlt raises several kinds; none of them says more than this
        import dlt.destinations

        names = ", ".join(n for n in dlt.destinations.__all__ if n not in ("destination", "dummy"))
        return Check("destination", FAIL, f"{destination!r} is not a destination: use a DuckDB path (ending in "
                                          ".duckdb, or duckdb:///PATH), postgresql://USER@HOST:PORT/DB, "
                                          f"filesystem:///FOLDER, or one of dlt's destinations: {names}.")
    return Check("destination", WARN, f"{destination!r} is a destination that dlt configures itself (its "
                                      "credentials in .dlt/secrets.toml or the environment); it cannot be checked "
                                      "here, the first sync will tell.")


def _check_postgres(dsn: str, schema: str) -> Check:
    import psycopg2

    shown = destinations.shown(dsn)
    try:
        con = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Check("destination", FAIL, f"cannot connect to {shown}: {first}. Check the host, port, user and "
                                          "that the server accepts connections.")
    try:
        with con.cursor() as cur:
            cur.execute("SELECT has_database_privilege(current_user, current_database(), 'CREATE'), "
                        "(SELECT nspname FROM pg_namespace WHERE nspname = %s), "
                        "has_schema_privilege(current_user, coalesce((SELECT nspname FROM pg_namespace "
                        "WHERE nspname = %s), 'public'), 'CREATE')", (schema, schema))
            can_create_schema, exists, can_create_in = cur.fetchone()
    finally:
        con.close()
    if exists and not can_create_in:
        return Check("destination", FAIL, f"the user may not create tables in schema {schema!r} of {shown}; grant "
                                          f"CREATE on schema {schema} to it.")
    if not exists and not can_create_schema:
        return Check("destination", FAIL, f"schema {schema!r} does not exist in {shown} and the user may not create "
                                          f"it; create it, or grant CREATE on the database.")
    return Check("destination", PASS, f"PostgreSQL {shown} is reachable; tables go in schema {schema!r}.")


def run_checks(r: Resolved, *, max_retries: int = 2) -> list[Check]:
    s, sec = r.settings, r.secrets
    checks: list[Check] = []
    admin: Client | None = None
    now = int(time.time())

    # ---- the Admin key ---------------------------------------------------------------------------
    if not sec.admin_key:
        checks.append(Check("admin key", FAIL if not sec.project_keys else WARN,
                            "no Admin key: organization tables (usage, costs, audit logs, users, projects) will not "
                            f"sync. An organization Owner creates a read-only one at {ADMIN_KEYS_URL}."))
    elif key_kind(sec.admin_key) == "project":
        checks.append(Check("admin key", FAIL, f"{mask(sec.admin_key)} is a project key (sk-proj-...), pasted where "
                                               "the Admin key belongs. Move it to the project keys, and create a "
                                               f"read-only Admin key at {ADMIN_KEYS_URL}."))
    else:
        admin = Client(s.base_url, sec.admin_key, admin=True, max_retries=max_retries)
        try:
            admin.get("/organization/projects", {"limit": 1}, label="check")
            now = admin.server_time or now
            checks.append(Check("admin key", PASS, f"Admin key {mask(sec.admin_key)} works for organization "
                                                   f"{admin.organization_id or '(unknown id)'}."))
        except SyncError as e:
            checks.append(Check("admin key", FAIL, str(e)))
            admin = None
    if admin is not None:
        for label, path, params, tables in (
                ("usage permission", "/organization/usage/completions", {"start_time": now - 86400, "limit": 1},
                 "usage_* and costs"),
                ("audit log permission", "/organization/audit_logs", {"limit": 1}, "audit_logs")):
            try:
                page = admin.get(path, params, label="check")
                checks.append(Check(label, PASS, f"the Admin key may read {tables}."))
                if path.endswith("audit_logs") and not page.get("data"):
                    checks.append(Check("audit logging", WARN, "the audit log is empty: audit logging appears to be "
                                                               "off. An Owner can enable it (it cannot be turned off "
                                                               f"again) at {AUDIT_LOG_SETTINGS}; until then audit_logs "
                                                               "stays empty."))
            except KeyProblem as e:
                checks.append(Check(label, FAIL, f"{e} Without it, {tables} cannot sync."))
            except SyncError as e:
                checks.append(Check(label, FAIL, str(e)))

    # ---- project keys ----------------------------------------------------------------------------
    projects: list[dict[str, Any]] = []
    redacted: dict[str, list[str]] = {}
    if admin is not None and sec.project_keys:
        try:
            projects, redacted = key_index(admin, "check")
        except SyncError as e:
            checks.append(Check("project keys", WARN, f"could not list the projects' keys to tell which project each "
                                                      f"key belongs to: {e}"))
    names = {p["id"]: p.get("name") or p["id"] for p in projects}
    covered: set[str] = set()
    for i, pk in enumerate(sec.project_keys, 1):
        label = f"project key {i}"
        if key_kind(pk.key) == "admin":
            checks.append(Check(label, FAIL, f"{mask(pk.key)} is an Admin key (sk-admin-...), pasted where a project "
                                             "key belongs. Use it as the Admin key instead."))
            continue
        client = Client(s.base_url, pk.key, admin=False, max_retries=max_retries)
        missing = []
        try:
            client.get("/models", label="check")
        except KeyProblem as e:
            if "lacks the permission" not in str(e):
                checks.append(Check(label, FAIL, str(e)))
                continue
            missing.append(_missing(e, "/models"))  # a restricted key: it authenticates, without this scope
        except SyncError as e:
            checks.append(Check(label, FAIL, str(e)))
            continue
        matches = [pid for pid, vals in redacted.items() if any(redacted_matches(v, pk.key) for v in vals)]
        if pk.project_id and matches and pk.project_id not in matches:
            checks.append(Check(label, FAIL, f"{mask(pk.key)} was given for project {pk.project_id}, but it belongs "
                                             f"to {names.get(matches[0], matches[0])} ({matches[0]})."))
            continue
        pid = pk.project_id or (matches[0] if len(matches) == 1 else None)
        if pid and projects and pid not in names:
            checks.append(Check(label, FAIL, f"{mask(pk.key)} was given for project {pid}, which is not a project "
                                             "of this organization. Check the PROJECT_ID in PROJECT_ID=KEY."))
            continue
        if pid:
            covered.add(pid)
            checks.append(Check(label, PASS, f"{mask(pk.key)} works and belongs to project {names.get(pid, pid)} "
                                             f"({pid})."))
        else:
            why = "several projects have keys that look like it" if len(matches) > 1 else (
                "no Admin key to look it up" if admin is None else "no project lists a key that looks like it")
            checks.append(Check(label, WARN, f"{mask(pk.key)} works, but its project is unknown ({why}). Give it as "
                                             "PROJECT_ID=KEY so that its rows carry the right project_id."))
        for path in PROJECT_PROBES:
            if path == "/models":
                continue
            try:
                client.get(path, {"limit": 1}, label="check")
            except KeyProblem as e:
                missing.append(_missing(e, path))
            except SyncError:
                continue  # not a permission problem; the sync will report it
        if missing:
            checks.append(Check(f"{label} permissions", WARN, f"{mask(pk.key)} may not read: {'; '.join(missing)}. "
                                                              "Those tables stay empty for this project; give the key "
                                                              "read access if you want them."))

    if admin is not None and projects:
        active = [p for p in projects if p.get("status", "active") == "active" and not p.get("archived_at")]
        without = [p for p in active if p["id"] not in covered]
        if without:
            shown = ", ".join(f"{names[p['id']]} ({p['id']})" for p in without[:5])
            more = f" and {len(without) - 5} more" if len(without) > 5 else ""
            checks.append(Check("projects without a key", WARN,
                                f"{len(without)} of {len(active)} active projects have no project key: {shown}{more}. "
                                "Their project-level tables (files, batches, ...) will be empty; add a read-only key "
                                "for each project you want."))
        else:
            checks.append(Check("projects without a key", PASS, f"every one of the {len(active)} active projects has "
                                                                 "a key."))
    elif admin is not None and not sec.project_keys:
        checks.append(Check("project keys", WARN, "no project keys: project-level tables (files, batches, evals, ...) "
                                                  "will not sync. Add a read-only key per project you want."))

    checks.append(check_destination(s.destination, s.schema_name))
    return checks


def _missing(e: KeyProblem, path: str) -> str:
    scope = re.search(r"permission (\S+)", str(e))
    return f"{scope.group(1) if scope else path} ({PROJECT_PROBES[path]})"


def verdict(checks: list[Check]) -> str:
    if any(c.status == FAIL for c in checks):
        return "failed"
    return "ok"
