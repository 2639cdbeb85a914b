"""`openai-sync setup` and `openai-sync test` (issue #4, SPEC 6) against the simulator: every check with
its exact verdict and exit code; setup interactively through a pseudo-terminal (keys read without echo)
and non-interactively; named connections; --json; --help and option errors; no key ever shown or
written outside the secrets file (a full setup + test + sync run is searched for every key)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pexpect
import pytest
from conftest import NOW
from typer.testing import CliRunner

from openai_sync.api.keys import mask
from openai_sync.cli import app
from openai_sync.cli.setup import BASE_URL_PROMPT
from openai_sync.simulator import Rule, Simulator, World

runner = CliRunner()
SCRIPT = Path(sys.executable).with_name("openai-sync")  # the installed command, as a user runs it
PG_OK = "postgresql://postgres@127.0.0.1:5432/test"  # a real PostgreSQL (trust auth) runs in the test environment


@pytest.fixture(scope="module")
def sim():
    """One small organization for the module (overrides the per-test fixture): tests here only mint, revoke
    and rename keys of their own, which changes nothing the others look at."""
    with Simulator(World(seed=7, size="small", now=NOW)) as s:
        yield s


# ---- helpers -------------------------------------------------------------------------------------
def flat(text: str) -> str:
    """Rich's boxes and line wrapping removed: one line of single-spaced words."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def secrets_of(sim: Simulator) -> list[str]:
    """Every key the simulator knows (the organization's and the ones a test minted)."""
    return list(sim.world.keys)


def assert_no_secret(text: str | bytes, keys: list[str], where: str = "output") -> None:
    data = text.encode() if isinstance(text, str) else text
    for k in keys:
        # the whole key, and its distinctive middle (a fragment is a leak too); masks show only the end
        for piece in {k, k[9:-4]}:
            assert piece.encode() not in data, f"{mask(k)} found in {where}"


def cli(sim: Simulator, tmp: Path, *args: str, admin: str | None = None, project: list[str] | None = None,
        **env: str) -> Any:
    """The command in-process, with the keys in the environment and the config file in tmp."""
    full_env = {"OPENAI_BASE_URL": sim.base_url, "OPENAI_ADMIN_KEY": admin or "",
                "OPENAI_PROJECT_KEYS": ",".join(project or []), "OPENAI_SYNC_CONFIG": str(tmp / "openai-sync.toml"),
                "OPENAI_SYNC_CONNECTION": "", "OPENAI_SYNC_DESTINATION": "", "OPENAI_SYNC_SCHEMA": "",
                "COLUMNS": "250", "NO_COLOR": "1", **env}
    return runner.invoke(app, list(args), env=full_env)


def checks(sim: Simulator, tmp: Path, *args: str, **kw: Any) -> tuple[int, dict[str, Any], dict[str, dict]]:
    """`test --json`: (exit code, the JSON, {check name: check})."""
    if not any(a.startswith("--destination") for a in args):
        args = (*args, "--destination", f"duckdb:///{tmp}/out.duckdb")
    r = cli(sim, tmp, "test", "--json", *args, **kw)
    assert_no_secret(r.output, secrets_of(sim))
    out = json.loads(r.stdout)
    assert set(out) == {"status", "connection", "checks"}
    assert out["status"] == ("ok" if r.exit_code == 0 else "failed"), r.output
    by_name = {c["name"]: c for c in out["checks"]}
    assert len(by_name) == len(out["checks"])
    for c in out["checks"]:
        assert set(c) == {"name", "status", "message"} and c["status"] in ("pass", "warn", "fail")
        assert len(c["message"]) > 20, c
        if c["name"] != "configuration":  # those name the setting and where it came from: "(from flag)"
            assert c["message"].endswith("."), c  # a sentence
    return r.exit_code, out, by_name


def statuses(by_name: dict[str, dict]) -> dict[str, str]:
    return {n: c["status"] for n, c in by_name.items()}


def pid_key(sim: Simulator, i: int = 0) -> tuple[str, str]:
    return list(sim.world.project_keys.items())[i]


def active_projects(sim: Simulator) -> list[str]:
    return [p.id for p in sim.world.projects if p.archived_at is None or p.archived_at > sim.world.now]


# ---- test: each check's verdict -------------------------------------------------------------------
def test_all_checks_pass_with_every_key(sim, tmp_path):
    w = sim.world
    code, out, by = checks(sim, tmp_path, admin=w.admin_key, project=list(w.project_keys.values()))
    assert code == 0 and out["status"] == "ok" and out["connection"] == "default"
    n = len(w.project_keys)
    assert list(by) == ["admin key", "usage permission", "audit log permission", "organization tables",
                        *[f"project key {i}" for i in range(1, n + 1)], "projects without a key", "destination"]
    assert set(statuses(by).values()) == {"pass"}
    assert by["admin key"]["message"] == f"Admin key {mask(w.admin_key)} works for organization {w.org_id}."
    # which project each key belongs to, by name and id
    for i, (pid, key) in enumerate(w.project_keys.items(), 1):
        name = w.project_by_id[pid].name
        assert by[f"project key {i}"]["message"] == f"{mask(key)} works and belongs to project {name} ({pid})."
    assert by["projects without a key"]["message"] == (
        f"every one of the {len(active_projects(sim))} active projects has a key.")
    assert by["destination"]["message"].startswith(f"DuckDB file {tmp_path}/out.duckdb is writable")


def test_human_output_one_line_per_check_and_exit_codes(sim, tmp_path):
    w = sim.world
    pid, key = pid_key(sim)
    r = cli(sim, tmp_path, "test", "--destination", f"duckdb:///{tmp_path}/out.duckdb", admin=w.admin_key,
            project=[key])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] == f"✔ pass  admin key: Admin key {mask(w.admin_key)} works for organization {w.org_id}."
    assert f"✔ pass  project key 1: {mask(key)} works and belongs to project {w.project_by_id[pid].name} ({pid})." \
        in lines
    assert any(line.startswith("! warn  projects without a key: ") for line in lines)
    assert lines[-1] == "All checks passed."
    assert_no_secret(r.output, secrets_of(sim))

    r = cli(sim, tmp_path, "test", "--destination", f"duckdb:///{tmp_path}/out.duckdb", admin=key)
    assert r.exit_code == 1
    assert r.stdout.splitlines()[0].startswith(f"✖ fail  admin key: {mask(key)} is a project key (sk-proj-...)")
    assert r.stdout.strip().splitlines()[-1] == "Some checks failed: fix them and run `openai-sync test` again."
    assert_no_secret(r.output, secrets_of(sim))


def test_a_project_key_pasted_as_the_admin_key_is_named(sim, tmp_path):
    _, key = pid_key(sim)
    sim.reset()
    code, _, by = checks(sim, tmp_path, admin=key)
    assert code == 1
    assert by["admin key"]["status"] == "fail"
    assert by["admin key"]["message"].startswith(f"{mask(key)} is a project key (sk-proj-...), pasted where the "
                                                 "Admin key belongs. Move it to the project keys, and create a "
                                                 "read-only Admin key at https://platform.openai.com/")
    assert sim.stats()["total"] == 0  # told from the key alone


def test_an_admin_key_pasted_as_a_project_key_is_named(sim, tmp_path):
    w = sim.world
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[w.admin_key])
    assert code == 1
    assert statuses(by)["admin key"] == "pass"
    assert by["project key 1"] == {"name": "project key 1", "status": "fail", "message": (
        f"{mask(w.admin_key)} is an Admin key (sk-admin-...), pasted where a project key belongs. Use it as the "
        "Admin key instead.")}


def test_keys_without_their_prefix_are_named_by_the_api(sim, tmp_path):
    """A key whose prefix was cut off when pasted: the API's refusal names the kind of key."""
    w = sim.world
    pid, _ = pid_key(sim)
    proj = w.mint_key("project", pid)
    bare_proj = "sk-" + proj.removeprefix("sk-proj-")
    adm = w.mint_key("admin")
    bare_admin = "sk-" + adm.removeprefix("sk-admin-")
    for key, bare in ((proj, bare_proj), (adm, bare_admin)):
        w.keys[bare] = w.keys.pop(key)
    code, _, by = checks(sim, tmp_path, admin=bare_proj, project=[bare_admin])
    assert code == 1
    assert by["admin key"]["status"] == "fail"
    assert "may not call GET /organization/projects (403)" in by["admin key"]["message"]
    assert "Project API keys cannot call the Administration API" in by["admin key"]["message"]
    assert by["project key 1"]["status"] == "fail"
    assert "Admin API keys can only call the Administration API" in by["project key 1"]["message"]


def test_revoked_keys_fail(sim, tmp_path):
    w = sim.world
    pid, _ = pid_key(sim)
    admin, proj = w.mint_key("admin"), w.mint_key("project", pid)
    w.revoke(admin)
    w.revoke(proj)
    code, _, by = checks(sim, tmp_path, admin=admin, project=[proj])
    assert code == 1
    assert by["admin key"]["status"] == "fail"
    assert by["admin key"]["message"].startswith(f"the Admin key {mask(admin)} was rejected (401: unknown, revoked "
                                                 "or mistyped). Create a read-only Admin key at ")
    assert by["project key 1"]["status"] == "fail"
    assert by["project key 1"]["message"].startswith(f"the project key {mask(proj)} was rejected (401")
    assert "usage permission" not in by  # nothing more to learn from a key that does not work


def test_a_key_given_for_the_wrong_project(sim, tmp_path):
    w = sim.world
    (pa, ka), (pb, _) = pid_key(sim, 0), pid_key(sim, 1)
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[f"{pb}={ka}"])
    assert code == 1
    assert by["project key 1"] == {"name": "project key 1", "status": "fail", "message": (
        f"{mask(ka)} was given for project {pb}, but it belongs to {w.project_by_id[pa].name} ({pa}).")}


def test_a_key_given_for_a_project_that_does_not_exist(sim, tmp_path):
    w = sim.world
    _, ka = pid_key(sim)
    key = w.mint_key("project", pid_key(sim)[0])  # not listed among the project's keys: cannot be matched
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[f"proj_doesnotexist={key}", ka])
    assert code == 1
    assert by["project key 1"]["status"] == "fail"
    assert by["project key 1"]["message"] == (f"{mask(key)} was given for project proj_doesnotexist, which is not "
                                              "a project of this organization. Check the PROJECT_ID in "
                                              "PROJECT_ID=KEY.")
    assert by["project key 2"]["status"] == "pass"


def test_a_key_whose_project_cannot_be_told_is_a_warning(sim, tmp_path):
    w = sim.world
    pid, _ = pid_key(sim)
    key = w.mint_key("project", pid)  # works, but the projects' key listings do not show it
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[key])
    assert code == 0
    assert by["project key 1"]["status"] == "warn"
    assert by["project key 1"]["message"] == (f"{mask(key)} works, but its project is unknown (no project lists a "
                                              "key that looks like it). Give it as PROJECT_ID=KEY so that its rows "
                                              "carry the right project_id.")
    # given with its project: a pass
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[f"{pid}={key}"])
    assert code == 0 and by["project key 1"]["status"] == "pass"


@pytest.mark.parametrize(("scopes", "check", "scope", "tables"), [
    (["api.management.read", "api.audit_logs.read"], "usage permission", "api.usage.read", "usage_* and costs"),
    (["api.management.read", "api.usage.read"], "audit log permission", "api.audit_logs.read", "audit_logs"),
    (["api.usage.read", "api.audit_logs.read"], "admin key", "api.management.read", None),
])
def test_an_admin_key_missing_a_scope_names_it(sim, tmp_path, scopes, check, scope, tables):
    key = sim.world.mint_key("admin", scopes=scopes)
    code, _, by = checks(sim, tmp_path, admin=key)
    assert code == 1
    assert [n for n, s in statuses(by).items() if s == "fail"] == [check]
    msg = by[check]["message"]
    assert msg.startswith(f"the Admin key {mask(key)} lacks the permission {scope} needed for GET ")
    assert "Give the key read access to it" in msg
    if tables:
        assert msg.endswith(f"Without it, {tables} cannot sync.")
        assert by["admin key"]["status"] == "pass"


def test_an_organization_listing_the_admin_key_may_not_read_is_a_warning_naming_its_tables(sim, tmp_path):
    """An organization without customer-managed keys (its plan), or a key whose owner's role may not see them:
    the sync would fail those tables alone, so Save & Test warns and names them, and the others pass."""
    w = sim.world
    sim.set_faults([Rule("403", endpoint="/organization/external_keys"),
                    Rule("403", endpoint="/organization/workload_identity_providers")])
    try:
        code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=list(w.project_keys.values()))
    finally:
        sim.set_faults([])
    assert code == 0 and by["admin key"]["status"] == "pass"
    msg = by["organization tables"]["message"]
    assert by["organization tables"]["status"] == "warn"
    assert msg.startswith("the Admin key may not read: workload_identity_providers, workload_identity_provider_rules "
                          f"(the Admin key {mask(w.admin_key)} may not call GET "
                          "/organization/workload_identity_providers")
    assert "; external_keys (" in msg and "external_storage" not in msg
    assert msg.endswith("(or exclude them with exclude_tables).")


def test_a_restricted_project_key_is_a_warning_naming_each_missing_scope(sim, tmp_path):
    w = sim.world
    pid, _ = pid_key(sim)
    key = w.mint_key("project", pid, scopes=["api.files.read", "api.batches.read"])  # not even api.model.read
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[f"{pid}={key}"])
    assert code == 0, by
    assert by["project key 1"]["status"] == "pass"  # it authenticates: a read-only, restricted key is enough
    perm = by["project key 1 permissions"]
    assert perm["status"] == "warn"
    assert perm["message"].startswith(f"{mask(key)} may not read: api.model.read (models); api.evals.read (evals, ")
    for scope in ("api.skills.read", "api.fine_tuning.jobs.read", "api.vector_stores.read", "api.containers.read",
                  "api.assistants.read", "api.chat.completions.read"):
        assert scope in perm["message"]
    assert "api.files.read" not in perm["message"] and "api.batches.read" not in perm["message"]
    assert perm["message"].endswith("give the key read access if you want them.")


def test_audit_logging_off_is_a_warning_that_says_where_to_enable_it(tmp_path):
    with Simulator(World(seed=7, size="small", now=NOW, audit_logging=False)) as sim:
        w = sim.world
        code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=list(w.project_keys.values()))
    assert code == 0
    assert by["audit log permission"]["status"] == "pass"
    assert by["audit logging"]["status"] == "warn"
    assert by["audit logging"]["message"].startswith("the audit log is empty: audit logging appears to be off. An "
                                                     "Owner can enable it")
    assert "https://platform.openai.com/settings/organization/data-controls" in by["audit logging"]["message"]


def test_with_audit_logging_on_there_is_no_audit_warning(sim, tmp_path):
    code, _, by = checks(sim, tmp_path, admin=sim.world.admin_key)
    assert code == 0 and "audit logging" not in by


def test_projects_without_a_key_are_a_warning_naming_each(sim, tmp_path):
    w = sim.world
    pid, key = pid_key(sim)
    code, _, by = checks(sim, tmp_path, admin=w.admin_key, project=[key])
    assert code == 0
    c = by["projects without a key"]
    active = active_projects(sim)
    others = [p for p in active if p != pid]
    assert c["status"] == "warn"
    assert c["message"].startswith(f"{len(others)} of {len(active)} active projects have no project key: ")
    for p in others:
        assert f"{w.project_by_id[p].name} ({p})" in c["message"]
    assert pid not in c["message"]
    archived = [p.id for p in w.projects if p.id not in active]
    assert archived and not any(p in c["message"] for p in archived)  # archived projects need no key
    assert "Their project-level tables (files, batches, ...) will be empty" in c["message"]


def test_no_project_key_at_all_is_a_warning(sim, tmp_path):
    code, _, by = checks(sim, tmp_path, admin=sim.world.admin_key)
    assert code == 0
    assert by["project keys"]["status"] == "warn"
    assert by["project keys"]["message"].startswith("no project keys: project-level tables")


def test_no_admin_key(sim, tmp_path):
    code, _, by = checks(sim, tmp_path)
    assert code == 1 and by["admin key"]["status"] == "fail"
    assert by["admin key"]["message"].startswith("no Admin key: organization tables")
    # project keys alone: organization tables will not sync, a warning
    _, key = pid_key(sim)
    code, _, by = checks(sim, tmp_path, project=[key])
    assert code == 0 and by["admin key"]["status"] == "warn"
    assert by["project key 1"]["status"] == "warn" and "no Admin key to look it up" in by["project key 1"]["message"]


# ---- the destination check ------------------------------------------------------------------------
def dest(sim: Simulator, tmp: Path, destination: str, *args: str) -> tuple[int, dict]:
    code, _, by = checks(sim, tmp, "--destination", destination, *args, admin=sim.world.admin_key)
    others = {n: s for n, s in statuses(by).items() if n != "destination"}
    assert "fail" not in others.values(), others
    return code, by["destination"]


def test_an_unreachable_postgresql_fails(sim, tmp_path):
    code, c = dest(sim, tmp_path, "postgresql://nobody@127.0.0.1:1/x")
    assert code == 1 and c["status"] == "fail"
    assert c["message"].startswith("cannot connect to postgresql://nobody@127.0.0.1:1/x: ")
    assert c["message"].endswith("Check the host, port, user and that the server accepts connections.")


def test_a_postgresql_password_is_not_shown(sim, tmp_path):
    code, c = dest(sim, tmp_path, "postgresql://nobody:hunter2secret@127.0.0.1:1/x")
    assert code == 1 and c["status"] == "fail"
    assert "postgresql://nobody:***@127.0.0.1:1/x" in c["message"] and "hunter2secret" not in c["message"]


def test_a_reachable_postgresql_passes(sim, tmp_path):
    code, c = dest(sim, tmp_path, PG_OK)
    assert code == 0, c
    assert c == {"name": "destination", "status": "pass",
                 "message": f"PostgreSQL {PG_OK} is reachable; tables go in schema 'openai'."}


def test_a_duckdb_file_in_a_missing_folder_fails(sim, tmp_path):
    code, c = dest(sim, tmp_path, f"duckdb:///{tmp_path}/missing/out.duckdb")
    assert code == 1 and c["status"] == "fail"
    assert c["message"] == (f"the folder {tmp_path}/missing does not exist; create it (mkdir -p {tmp_path}/missing) "
                            "or choose another DuckDB path.")
    assert not (tmp_path / "missing").exists()  # the check creates nothing


def test_a_duckdb_path_under_a_file_fails(sim, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, c = dest(sim, tmp_path, f"{tmp_path}/afile/out.duckdb")
    assert code == 1 and c["status"] == "fail"
    assert c["message"].startswith(f"{tmp_path}/afile is a file, not a folder")


def test_a_file_that_is_not_a_duckdb_database_fails(sim, tmp_path):
    (tmp_path / "notes.duckdb").write_text("not a database\n" * 100)
    code, c = dest(sim, tmp_path, f"{tmp_path}/notes.duckdb")
    assert code == 1 and c["status"] == "fail"
    assert c["message"].startswith(f"{tmp_path}/notes.duckdb cannot be opened (")
    assert c["message"].endswith("it is not a DuckDB database: choose another path, or move that file away.")
    assert (tmp_path / "notes.duckdb").read_text() == "not a database\n" * 100


def test_a_duckdb_file_named_like_the_schema_fails(sim, tmp_path):
    """DuckDB names the database after the file: `openai.duckdb` with schema `openai` makes every load fail
    ("Ambiguous reference to catalog or schema"), so the check says so before a sync does."""
    code, c = dest(sim, tmp_path, f"duckdb:///{tmp_path}/openai.duckdb")
    assert code == 1 and c["status"] == "fail"
    assert c["message"] == ("DuckDB names the database after its file, so openai.duckdb and schema 'openai' collide "
                            "and the load would fail; name the file otherwise (e.g. openai_data.duckdb) or choose "
                            "another schema.")
    code, c = dest(sim, tmp_path, f"duckdb:///{tmp_path}/openai.duckdb", "--schema", "analytics")
    assert code == 0 and c["status"] == "pass"


def test_an_existing_duckdb_database_passes(sim, tmp_path):
    duckdb.connect(str(tmp_path / "old.duckdb")).close()
    code, c = dest(sim, tmp_path, f"duckdb:///{tmp_path}/old.duckdb")
    assert code == 0 and c["status"] == "pass"


def test_an_unknown_destination_name_lists_the_valid_ones(sim, tmp_path):
    code, c = dest(sim, tmp_path, "bigqeury")
    assert code == 1 and c["status"] == "fail"
    assert c["message"].startswith("'bigqeury' is not a destination (did you mean bigquery?): use a DuckDB path "
                                   "(ending in .duckdb")
    for name in ("postgres", "bigquery", "snowflake", "databricks", "clickhouse", "motherduck"):
        assert re.search(rf"\b{name}\b", c["message"]), name
    # a path without .duckdb is not taken for a destination name that happens to be missing
    code, c = dest(sim, tmp_path, f"{tmp_path}/data.db")
    assert code == 1 and c["status"] == "fail"
    assert "is not a destination I know (a DuckDB file's name ends in .duckdb)" in c["message"]


def test_a_dlt_destination_name_is_a_warning(sim, tmp_path, monkeypatch):
    """With its credentials where dlt looks for them, it cannot be checked further here: a warning."""
    code, c = dest(sim, tmp_path, "bigquery")
    assert code == 1 and c["status"] == "fail"
    assert c["message"].startswith("dlt's bigquery destination has no credentials: set them in .dlt/secrets.toml "
                                   "under [destination.bigquery.credentials]")
    monkeypatch.setenv("DESTINATION__CLICKHOUSE__CREDENTIALS", "clickhouse://u:p@127.0.0.1:9000/db")
    code, c = dest(sim, tmp_path, "clickhouse")
    assert code == 0 and c["status"] == "warn"
    assert "dlt configures itself" in c["message"]


@pytest.mark.parametrize("schema", ["1openai", "open-ai", "open ai", "x" * 64])
def test_an_invalid_schema_name_fails(sim, tmp_path, schema):
    code, _, by = checks(sim, tmp_path, "--schema", schema, admin=sim.world.admin_key)
    assert code == 1
    assert list(by) == ["configuration"] and by["configuration"]["status"] == "fail"
    assert by["configuration"]["message"] == (f"schema: {schema!r} is not a valid schema name: use letters, digits "
                                              "and _, not starting with a digit, at most 63 characters (from flag)")
    # the same in words, and from the environment
    r = cli(sim, tmp_path, "test", admin=sim.world.admin_key, OPENAI_SYNC_SCHEMA=schema)
    assert r.exit_code == 1
    assert r.stdout.startswith(f"✖ fail  configuration: schema: {schema!r} is not a valid schema name")
    assert "(from env OPENAI_SYNC_SCHEMA)" in r.stdout


def test_a_schema_name_that_dlt_rewrites_is_a_warning(sim, tmp_path):
    code, c = dest(sim, tmp_path, f"duckdb:///{tmp_path}/out.duckdb", "--schema", "OpenAI")
    assert code == 0 and c["status"] == "warn"
    assert c["message"].endswith("dlt writes snake_case names, so schema 'OpenAI' becomes 'open_ai'; set --schema "
                                 "open_ai to use the name you get.")


# ---- configuration errors through `test` -----------------------------------------------------------
def test_configuration_problems_are_a_failed_check(sim, tmp_path):
    w = sim.world
    r = cli(sim, tmp_path, "test", "--json", "--connection", "nope", admin=w.admin_key)
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out == {"status": "failed", "connection": "nope", "checks": [{
        "name": "configuration", "status": "fail",
        "message": f"no connection named 'nope' in {tmp_path}/openai-sync.toml (no such file); connections: (none "
                   "yet: run openai-sync setup)"}]}
    bad = w.admin_key[:20] + "…" + w.admin_key[20:]  # a key with a character keys never have
    r = cli(sim, tmp_path, "test", admin=bad)
    assert r.exit_code == 1
    assert r.stdout.startswith("✖ fail  configuration: the Admin key (from OPENAI_ADMIN_KEY) contains a character")
    assert "Traceback" not in r.output and (r.exception is None or isinstance(r.exception, SystemExit))
    assert_no_secret(r.output, [w.admin_key])


def test_a_secrets_file_others_can_read_is_refused(sim, tmp_path):
    cfg = tmp_path / "openai-sync.toml"
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--destination", f"duckdb:///{tmp_path}/o.duckdb",
            admin=sim.world.admin_key)
    assert r.exit_code == 0, r.output
    sec = tmp_path / "openai-sync.secrets.toml"
    os.chmod(sec, 0o644)
    r = cli(sim, tmp_path, "test")
    assert r.exit_code == 1
    assert flat(r.stdout) == f"✖ fail configuration: {sec} holds keys but other users can read it; run: chmod 600 {sec}"
    r = cli(sim, tmp_path, "sync")
    assert r.exit_code == 2 and "chmod 600" in r.stderr
    os.chmod(sec, 0o600)
    assert cli(sim, tmp_path, "test").exit_code == 0
    assert cfg.exists()


# ---- setup, non-interactive ------------------------------------------------------------------------
def test_setup_non_interactive_saves_then_test_reads_the_files(sim, tmp_path):
    w = sim.world
    keys = list(w.project_keys.values())
    cfg, sec = tmp_path / "openai-sync.toml", tmp_path / "openai-sync.secrets.toml"
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--json", "--schema", "analytics", "--destination",
            f"{tmp_path}/wh.duckdb", admin=w.admin_key, project=keys)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)  # stdout is the JSON alone; the rest went to stderr
    assert out["status"] == "ok" and out["connection"] == "default"
    assert {c["status"] for c in out["checks"]} == {"pass"}
    assert f"Saved connection 'default': settings in {cfg}, keys in {sec} (mode 0600)." in flat(r.stderr)
    assert "Next: openai-sync sync" in r.stderr
    assert_no_secret(r.output, secrets_of(sim))
    # the files: settings apart from keys, keys readable by the owner alone
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    text = cfg.read_text()
    assert_no_secret(text, secrets_of(sim), "the config file")
    assert "sk-" not in text
    assert 'schema = "analytics"' in text and f'base_url = "{sim.base_url}"' in text
    assert all(k in sec.read_text() for k in [w.admin_key, *keys])
    # `test` needs nothing more than the files
    r2 = cli(sim, tmp_path, "test", "--json")
    assert r2.exit_code == 0, r2.output
    again = json.loads(r2.stdout)
    assert again["checks"] == out["checks"]
    assert "analytics" in again["checks"][-1]["message"] and "wh.duckdb" in again["checks"][-1]["message"]


def test_setup_refuses_to_save_when_a_check_fails_unless_forced(sim, tmp_path):
    _, key = pid_key(sim)
    cfg, sec = tmp_path / "openai-sync.toml", tmp_path / "openai-sync.secrets.toml"
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--destination", f"{tmp_path}/o.duckdb", admin=key)
    assert r.exit_code == 1
    assert "note: the Admin key sk-proj-…" in r.stdout and "is a project key" in r.stdout
    assert "✖ fail  admin key:" in r.stdout and r.stdout.strip().endswith("Nothing saved.")
    assert not cfg.exists() and not sec.exists()
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--force", "--destination", f"{tmp_path}/o.duckdb",
            admin=key)
    assert r.exit_code == 1  # saved, but the failure is still reported
    assert "Saved connection 'default'" in r.stdout
    assert cfg.exists() and stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert_no_secret(r.output, secrets_of(sim))
    assert_no_secret(cfg.read_text(), secrets_of(sim))


def test_setup_non_interactive_bad_value_is_an_error(sim, tmp_path):
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--schema", "9lives", admin=sim.world.admin_key)
    assert r.exit_code == 2
    assert "schema: '9lives' is not a valid schema name" in flat(r.stderr)
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--json", "--schema", "9lives", admin=sim.world.admin_key)
    assert r.exit_code == 2 and json.loads(r.stdout)["status"] == "error"
    assert not (tmp_path / "openai-sync.toml").exists()


def test_several_named_connections(sim, tmp_path):
    """Two connections (two destinations, different keys) in one file; each chosen with --connection."""
    w = sim.world
    (pa, ka), (pb, kb) = pid_key(sim, 0), pid_key(sim, 1)
    other_admin = w.mint_key("admin")
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--schema", "first", "--destination",
            f"{tmp_path}/a.duckdb", admin=w.admin_key, project=[ka])
    assert r.exit_code == 0, r.output
    r = cli(sim, tmp_path, "setup", "--non-interactive", "-c", "prod", "--schema", "second", "--destination",
            PG_OK, admin=other_admin, project=[f"{pb}={kb}"])
    assert r.exit_code == 0, r.output
    assert "Next: openai-sync sync --connection prod" in r.stdout  # the default connection stays the first
    text = (tmp_path / "openai-sync.toml").read_text()
    assert 'default_connection = "default"' in text and "[connections.default]" in text
    assert "[connections.prod]" in text
    assert_no_secret(text, secrets_of(sim))

    _, out, by = checks(sim, tmp_path, "--destination", f"{tmp_path}/a.duckdb")  # the default one
    assert out["connection"] == "default" and "'first'" in by["destination"]["message"]
    assert mask(w.admin_key) in by["admin key"]["message"] and pa in by["project key 1"]["message"]
    code, out, by = checks(sim, tmp_path, "--destination", PG_OK, "--connection", "prod")
    assert code == 0 and out["connection"] == "prod"
    assert mask(other_admin) in by["admin key"]["message"] and pb in by["project key 1"]["message"]
    r = cli(sim, tmp_path, "test", "--json")  # the file's settings, no flag
    assert json.loads(r.stdout)["connection"] == "default"
    r = cli(sim, tmp_path, "test", "--json", "-c", "prod")
    assert json.loads(r.stdout)["checks"][-1]["message"].startswith(f"PostgreSQL {PG_OK}")
    r = cli(sim, tmp_path, "test", "--json", OPENAI_SYNC_CONNECTION="prod")
    assert json.loads(r.stdout)["connection"] == "prod"
    # an unknown one names the valid ones, for test and for sync
    r = cli(sim, tmp_path, "test", "-c", "staging")
    assert r.exit_code == 1
    assert f"no connection named 'staging' in {tmp_path}/openai-sync.toml; connections: default, prod" in r.stdout
    r = cli(sim, tmp_path, "sync", "-c", "staging")
    assert r.exit_code == 2 and "connections: default, prod" in flat(r.stderr)
    # setting up the first again keeps the second
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--schema", "first_again", admin=w.admin_key,
            project=[ka])
    assert r.exit_code == 0, r.output
    r = cli(sim, tmp_path, "test", "--json", "-c", "prod")
    assert r.exit_code == 0 and mask(other_admin) in json.loads(r.stdout)["checks"][0]["message"]


def test_environment_over_file_in_test(sim, tmp_path):
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--destination", f"{tmp_path}/file.duckdb",
            admin=sim.world.admin_key)
    assert r.exit_code == 0, r.output
    r = cli(sim, tmp_path, "test", "--json", OPENAI_SYNC_DESTINATION=f"{tmp_path}/env.duckdb")
    assert "env.duckdb" in json.loads(r.stdout)["checks"][-1]["message"]
    r = cli(sim, tmp_path, "test", "--json", "--destination", f"{tmp_path}/flag.duckdb",
            OPENAI_SYNC_DESTINATION=f"{tmp_path}/env.duckdb")
    assert "flag.duckdb" in json.loads(r.stdout)["checks"][-1]["message"]
    # a key from the environment over the saved one
    _, key = pid_key(sim)
    r = cli(sim, tmp_path, "test", "--json", OPENAI_ADMIN_KEY=key)
    assert r.exit_code == 1 and "is a project key" in json.loads(r.stdout)["checks"][0]["message"]


# ---- help and option errors ------------------------------------------------------------------------
@pytest.mark.parametrize(("command", "example"), [
    ("simulator", "openai-sync simulator --port 8765"),
    ("sync", "openai-sync sync --connection prod"),
    ("test", "openai-sync test --connection prod --json"),
    ("setup", "openai-sync setup --non-interactive"),
    ("demo", "openai-sync demo --destination duckdb:///tmp/demo.duckdb"),
    ("resync", "openai-sync resync audit_logs usage_completions"),
])
def test_help_with_examples_for_every_command(command, example):
    r = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert r.exit_code == 0
    text = flat(r.stdout)
    assert "Examples" in text and example in text, text
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert command in top.stdout


def test_help_of_setup_and_test_name_their_options():
    for command, options in (("setup", ["--connection", "--config", "--base-url", "--destination", "--schema",
                                        "--non-interactive", "--force", "--json"]),
                             ("test", ["--connection", "--config", "--base-url", "--destination", "--schema",
                                       "--json"])):
        text = flat(runner.invoke(app, [command, "-h"], env={"COLUMNS": "200", "NO_COLOR": "1"}).stdout)
        for opt in options:
            assert opt in text, (command, opt)
    text = flat(runner.invoke(app, ["sync", "-h"], env={"COLUMNS": "200", "NO_COLOR": "1"}).stdout)
    assert "OPENAI_SYNC_DESTINATION" in text and "OPENAI_SYNC_SCHEMA" in text and "--connection" in text


@pytest.mark.parametrize(("command", "valid"), [
    ("test", ["--connection", "--config", "--base-url", "--destination", "--schema", "--json"]),
    ("setup", ["--connection", "--non-interactive", "--force", "--json"]),
    ("sync", ["--tables", "--bucket-width", "--start-date", "--state-dir"]),
    ("demo", ["--destination", "--size", "--seed"]),
    ("simulator", ["--port", "--faults", "--size"]),
    ("resync", ["--connection", "--destination", "--schema", "--json"]),
])
def test_an_unknown_option_names_the_valid_ones(command, valid):
    r = runner.invoke(app, [command, "--xyzzy"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert r.exit_code == 2 and r.stdout == ""
    msg = flat(r.stderr)
    assert "No such option: --xyzzy. Valid options: " in msg
    for opt in valid:
        assert opt in msg, (opt, msg)


def test_a_misspelt_option_or_command_suggests_and_lists():
    r = runner.invoke(app, ["test", "--destinaton", "x"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert r.exit_code == 2
    assert "No such option: --destinaton (did you mean --destination?). Valid options: --connection" in flat(r.stderr)
    r = runner.invoke(app, ["synk"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert r.exit_code == 2
    assert ("No such command 'synk'. Did you mean 'sync', 'resync'? Commands: simulator, sync, resync, test, setup, "
            "report, export, serve, password, demo.") in flat(
        r.stderr)


@pytest.mark.parametrize(("args", "expected"), [
    (["sync", "--bucket-width", "2d"], "bucket width '2d' is not one of 1m, 1h, 1d"),
    (["sync", "--tables", "users,bogus"], "unknown table(s) bogus; valid tables: audit_logs"),
    (["sync", "--start-date", "yesterday"], "'yesterday' is not a date; use YYYY-MM-DD"),
    (["sync", "--base-url", "localhost:8000"], "'localhost:8000' is not an http(s) URL"),
    (["sync", "--base-url", "https://api.openai.com"], "'https://api.openai.com' does not end with /v1, where the "
                                                       "API's paths start; add it: https://api.openai.com/v1"),
    (["setup", "--non-interactive", "--schema", "a-b"], "'a-b' is not a valid schema name: use letters, digits"),
])
def test_a_bad_value_names_what_is_valid(tmp_path, args, expected):
    r = runner.invoke(app, [*args, "--config", str(tmp_path / "c.toml")], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert r.exit_code == 2
    assert expected in flat(r.stderr)
    assert "Traceback" not in r.output


def test_tracebacks_never_show_local_variables():
    """A crash must not print the locals of its frames (a key is a local somewhere)."""
    assert app.pretty_exceptions_show_locals is False


def test_interactive_key_questions_keep_the_known_keys_on_enter(monkeypatch):
    """Setting up a connection again to change its destination: Enter keeps the saved keys."""
    from rich.console import Console

    from openai_sync.cli import setup as cli_module
    from openai_sync.config import ProjectKey, Secrets

    admin, proj = "sk-admin-" + "k" * 40 + "AAAA", "sk-proj-" + "p" * 40 + "BBBB"
    known = Secrets(admin, [ProjectKey(proj, "proj_x")])
    asked: list[tuple[str, bool]] = []

    def answer(answers: list[str]):
        def prompt(text: str, default: str = "", hide_input: bool = False, **_: Any) -> str:
            asked.append((text, hide_input))
            return answers.pop(0)
        return prompt

    monkeypatch.setattr(cli_module.typer, "prompt", answer(["", ""]))
    got = cli_module._ask_keys(Console(quiet=True), known)
    assert got.admin_key == admin and [(p.key, p.project_id) for p in got.project_keys] == [(proj, "proj_x")]
    assert asked == [("Admin key (sk-admin-..., input hidden; Enter to keep sk-admin-…AAAA)", True),
                     ("Project key 1 (sk-proj-... or PROJECT_ID=KEY; several at once separated by commas, spaces or "
                      "new lines; input hidden; Enter to keep the 1 known)", True)]
    # new keys replace the known ones; a malformed entry is asked again
    new = "sk-proj-" + "n" * 40 + "CCCC"
    monkeypatch.setattr(cli_module.typer, "prompt", answer(["", "notproj=" + new, f"proj_y={new}", ""]))
    got = cli_module._ask_keys(Console(quiet=True), known)
    assert got.admin_key == admin and [(p.key, p.project_id) for p in got.project_keys] == [(new, "proj_y")]


# ---- setup through a pseudo-terminal ---------------------------------------------------------------
def spawn_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DESTINATION__"))}
    (tmp / "home").mkdir(exist_ok=True)
    env.update(HOME=str(tmp / "home"), COLUMNS="200", LINES="50", NO_COLOR="1", TERM="dumb",
               RUNTIME__DLTHUB_TELEMETRY="false")
    return env


def project_prompt(n: int, enter: str = "Enter when done") -> str:
    return (f"Project key {n} (sk-proj-... or PROJECT_ID=KEY; several at once separated by commas, spaces or new "
            f"lines; input hidden; {enter}): ")


def spawn_setup(tmp: Path, *args: str) -> tuple[pexpect.spawn, list[str]]:
    transcript: list[str] = []

    class Log:
        def write(self, s: str) -> None:
            transcript.append(s)

        def flush(self) -> None:
            pass

    child = pexpect.spawn(str(SCRIPT), ["setup", "--config", str(tmp / "openai-sync.toml"), *args], cwd=str(tmp),
                          env=spawn_env(tmp), encoding="utf-8", timeout=30, dimensions=(50, 200))
    child.logfile_read = Log()  # everything the terminal showed
    return child, transcript


def test_interactive_setup_then_test_then_sync_never_shows_or_writes_a_key(sim, tmp_path):
    """The whole journey as a user makes it, then every byte it produced is searched for every key."""
    w = sim.world
    keys = list(w.project_keys.items())
    (tmp_path / "warehouse").mkdir()
    child, transcript = spawn_setup(tmp_path, "--base-url", sim.base_url)
    child.expect_exact("Destination schema [openai]: ")
    child.sendline("9lives")  # refused, asked again
    child.expect_exact("Use letters, digits and _, not starting with a digit (at most 63).")
    child.expect_exact("Destination schema [openai]: ")
    child.sendline("openai")
    child.expect_exact("Destination: a DuckDB path, a postgresql:// DSN, or a dlt destination name "
                       "[duckdb:///./openai_sync.duckdb]: ")
    child.sendline(f"{tmp_path}/warehouse/analytics.duckdb")
    child.expect_exact(f"{BASE_URL_PROMPT} [{sim.base_url}]: ")  # the flag's value, Enter keeps it
    child.sendline("")
    child.expect_exact("Admin key (sk-admin-..., input hidden; Enter to skip): ")
    child.sendline(w.admin_key[:30] + "…")  # a truncated paste: refused without being shown, asked again
    child.expect_exact("contains a character that API keys never have")
    child.expect_exact("Admin key (sk-admin-..., input hidden; Enter to skip): ")
    child.sendline(w.admin_key)
    for i, (_, key) in enumerate(keys, 1):
        child.expect(re.escape(f"Project key {i} (sk-proj-... or PROJECT_ID=KEY; ") + r"[^)]*\): ")
        child.sendline(key)
        child.expect_exact(f"added {mask(key)}")
    child.expect_exact(project_prompt(len(keys) + 1))
    child.sendline("")
    child.expect_exact("All checks passed.")
    child.expect_exact("Saved connection 'default'")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, "".join(transcript)
    shown = "".join(transcript)
    assert "9lives" in shown  # what is not hidden is echoed: the terminal did echo input
    for i, (pid, _) in enumerate(keys, 1):
        assert f"✔ pass  project key {i}: " in shown and f"({pid})" in shown
    assert f"Admin key {mask(w.admin_key)} works" in shown

    cfg = tmp_path / "openai-sync.toml"
    sec = tmp_path / "openai-sync.secrets.toml"
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert w.admin_key in sec.read_text() and all(k in sec.read_text() for _, k in keys)

    # `test` and `sync` from the saved configuration alone: no key in the environment
    env = spawn_env(tmp_path)
    run = [str(SCRIPT)]
    t = subprocess.run([*run, "test", "--config", str(cfg), "--json"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert t.returncode == 0, t.stdout + t.stderr
    assert {c["status"] for c in json.loads(t.stdout)["checks"]} == {"pass"}
    s = subprocess.run([*run, "sync", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--json"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert s.returncode == 0, s.stdout + s.stderr
    assert json.loads(s.stdout)["status"] == "ok"

    # every key, everywhere but the secrets file: all output, the config file, the destination, dlt's state
    every = secrets_of(sim)
    assert_no_secret(shown, every, "the terminal of setup")
    for name, text in (("test stdout", t.stdout), ("test stderr", t.stderr), ("sync stdout", s.stdout),
                       ("sync stderr", s.stderr)):
        assert_no_secret(text, every, name)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != sec]
    assert cfg in files and (tmp_path / "warehouse" / "analytics.duckdb") in files
    assert any((tmp_path / "state").rglob("*")), "dlt's state is where it was told to be"
    for p in files:
        assert_no_secret(p.read_bytes(), every, str(p))
    assert "sk-" not in cfg.read_text()
    # DuckDB may compress strings: search every text column of every table too
    pattern = "|".join(re.escape(piece) for k in every for piece in (k, k[9:-4]))
    with duckdb.connect(str(tmp_path / "warehouse" / "analytics.duckdb"), read_only=True) as con:
        tables = con.sql("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        assert len(tables) > 40
        rows = 0
        for schema, table in tables:  # each row as text: every column, nested ones included
            n, hits = con.execute(f'SELECT count(*), count(*) FILTER (WHERE regexp_matches(r::VARCHAR, ?)) '
                                  f'FROM "{schema}"."{table}" AS r', [pattern]).fetchone()  # type: ignore[misc]
            rows += n
            assert hits == 0, (schema, table)
        assert rows > 1000


def test_interactive_setup_with_a_failing_check_asks_before_saving(sim, tmp_path):
    _, key = pid_key(sim)
    child, transcript = spawn_setup(tmp_path, "--base-url", sim.base_url)
    child.expect_exact("Destination schema [openai]: ")
    child.sendline("")
    child.expect_exact("[duckdb:///./openai_sync.duckdb]: ")
    child.sendline("")
    child.expect_exact(f"[{sim.base_url}]: ")
    child.sendline("")
    child.expect_exact("Admin key (sk-admin-..., input hidden; Enter to skip): ")
    child.sendline(key)  # a project key where the Admin key belongs
    child.expect_exact(project_prompt(1))
    child.sendline("")
    child.expect_exact(f"note: the Admin key {mask(key)} is a project key (sk-proj-...)")
    child.expect_exact(f"✖ fail  admin key: {mask(key)} is a project key")
    child.expect_exact("Some checks failed. Save this configuration anyway? [y/N]: ")
    child.sendline("n")
    child.expect_exact("Nothing saved.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert_no_secret("".join(transcript), secrets_of(sim), "the terminal of setup")
    assert not (tmp_path / "openai-sync.toml").exists() and not (tmp_path / "openai-sync.secrets.toml").exists()
    assert not (tmp_path / "openai_sync.duckdb").exists()  # the checks create nothing


def test_setup_saves_each_project_key_with_the_project_it_found(sim, tmp_path):
    """Keys given alone are saved as PROJECT_ID=KEY: later runs look nothing up (tests/test_projects.py)."""
    import tomllib

    w = sim.world
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--destination", f"{tmp_path}/wh.duckdb", admin=w.admin_key,
            project=list(w.project_keys.values()))
    assert r.exit_code == 0, r.output
    saved = tomllib.loads((tmp_path / "openai-sync.secrets.toml").read_text())["connections"]["default"]
    assert sorted(saved["project_keys"]) == sorted(f"{p}={k}" for p, k in w.project_keys.items())


# ---- the base URL, several keys at once, the user's files ----------------------------------------
TEAM_CONFIG = """# team settings: reviewed like code
default_connection = "default"  # what cron runs

# the analysts' warehouse
[connections.default]
schema = "openai_team"   # not openai: that one is prod's
destination = "duckdb:///{tmp}/team.duckdb"

# prod: set up by ops, do not touch
[connections.prod]
destination = "postgresql://loader@db:5432/analytics"
schema = "openai"
"""


def assert_kept(original: str, now: str) -> None:
    """Every line of the user's file is still there, in its order, with only new lines between them."""
    rest = iter(now.splitlines())
    missing = [line for line in original.splitlines() if line not in rest]
    assert not missing, now


def test_interactive_setup_asks_the_base_url_takes_keys_at_once_and_keeps_the_users_file(sim, tmp_path):
    w = sim.world
    (pa, ka), (pb, kb), (_, kc) = list(w.project_keys.items())
    (tmp_path / ".git").mkdir()  # a Git work tree
    cfg, sec = tmp_path / "openai-sync.toml", tmp_path / "openai-sync.secrets.toml"
    original = TEAM_CONFIG.format(tmp=tmp_path)
    cfg.write_text(original)
    child, transcript = spawn_setup(tmp_path)
    child.expect_exact("Destination schema [openai_team]: ")  # the file's values are the defaults
    child.sendline("")
    child.expect_exact(f"[duckdb:///{tmp_path}/team.duckdb]: ")
    child.sendline("")
    prompt = ("API base URL: data-residency hosts (e.g. https://eu.api.openai.com/v1), proxies and the simulator "
              "(http://127.0.0.1:PORT/v1) go here [https://api.openai.com/v1]: ")
    assert prompt == f"{BASE_URL_PROMPT} [https://api.openai.com/v1]: "
    child.expect_exact(prompt)
    bare = sim.base_url.removesuffix("/v1")
    child.sendline(bare)  # refused with the corrected URL, asked again
    child.expect_exact(f"'{bare}' does not end with /v1, where the API's paths start; add it: {sim.base_url}")
    child.expect_exact(prompt)
    child.sendline("127.0.0.1:8000/v1")
    child.expect_exact("'127.0.0.1:8000/v1' is not an http(s) URL")
    child.expect_exact(prompt)
    child.sendline(sim.base_url + "/")
    child.expect_exact("Admin key (sk-admin-..., input hidden; Enter to skip): ")
    child.sendline(w.admin_key)
    child.expect_exact(project_prompt(1))
    child.sendline(f"{ka}, {pb}={kb}")  # two at once
    child.expect_exact(f"added 2 project keys: {mask(ka)}, {mask(kb)}")
    child.expect_exact(project_prompt(3))
    child.sendline(f"{kc[:20]} {kc[20:]}")  # one key broken by a space: refused, none of it shown
    child.expect_exact("that input has 2 parts and not each is a key starting with sk-: paste the keys again")
    child.expect_exact(project_prompt(3))
    child.sendline(f"{kc}\t{ka}")  # one new, one given already
    child.expect_exact(f"added {mask(kc)} (1 given already)")
    child.expect_exact(project_prompt(4))
    child.sendline("")
    child.expect_exact("All checks passed.")
    child.expect_exact("Saved connection 'default'")
    child.expect_exact(f"Created {tmp_path}/.gitignore ignoring openai-sync.secrets.toml so that Git never commits "
                       "the keys.")
    child.expect_exact("Next: openai-sync sync")
    child.expect(pexpect.EOF)
    child.close()
    shown = "".join(transcript)
    assert child.exitstatus == 0, shown
    assert_no_secret(shown, secrets_of(sim), "the terminal of setup")
    assert_no_secret(shown, [kc[:20], kc[20:]], "the terminal of setup")

    now = cfg.read_text()
    assert_kept(original, now)
    assert f'base_url = "{sim.base_url}"' in now.split("# prod:")[0]  # in the default connection
    assert now.split("# prod:")[1] == original.split("# prod:")[1]  # the other connection untouched
    assert_no_secret(now, secrets_of(sim), "the config file")
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == "openai-sync.secrets.toml"
    t = cli(sim, tmp_path, "test", "--json", OPENAI_BASE_URL="")
    assert t.exit_code == 0, t.output
    assert [c["message"].split(" works and belongs to project ")[1] for c in json.loads(t.stdout)["checks"]
            if c["name"].startswith("project key ")] == [
        f"{w.project_by_id[p].name} ({p})." for p in (pa, pb, list(w.project_keys)[2])]


def test_several_project_keys_in_one_answer(monkeypatch):
    import io

    from rich.console import Console

    from openai_sync.cli import setup as cli_module
    from openai_sync.config import Secrets

    k = [f"sk-proj-{c * 40}K00{i}" for i, c in enumerate("abcd")]
    answers = ["", f"{k[0]},{k[1]}\n proj_x={k[2]}  {k[3]},", k[1], "notakey sk-proj-x", ""]
    monkeypatch.setattr(cli_module.typer, "prompt", lambda text, **_: answers.pop(0))
    out = io.StringIO()
    got = cli_module._ask_keys(Console(file=out, width=300), Secrets())
    assert [(p.key, p.project_id) for p in got.project_keys] == [(k[0], None), (k[1], None), (k[2], "proj_x"),
                                                                 (k[3], None)]
    assert out.getvalue().splitlines() == [
        "  added 4 project keys: sk-proj-…K000, sk-proj-…K001, sk-proj-…K002, sk-proj-…K003",
        "  added none (1 given already)",
        "that input has 2 parts and not each is a key starting with sk-: paste the keys again, each whole, separated "
        "by commas, spaces or new lines"]
    assert not answers


def test_setup_keeps_the_users_comments_and_ignores_the_secrets_in_git(sim, tmp_path):
    w = sim.world
    cfg = tmp_path / "openai-sync.toml"
    original = TEAM_CONFIG.format(tmp=tmp_path)
    cfg.write_text(original)
    (tmp_path / ".git").write_text("gitdir: ../.git/worktrees/x\n")  # a worktree's .git is a file
    (tmp_path / ".gitignore").write_text("# build output\n*.duckdb")
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--schema", "openai_new", admin=w.admin_key)
    assert r.exit_code == 0, r.output
    assert (f"Added openai-sync.secrets.toml to {tmp_path}/.gitignore so that Git never commits the keys."
            in flat(r.stdout))
    assert (tmp_path / ".gitignore").read_text() == "# build output\n*.duckdb\nopenai-sync.secrets.toml\n"
    now = cfg.read_text()
    assert 'schema = "openai_new"   # not openai: that one is prod\'s' in now  # the comment stays with its value
    assert_kept(original.replace('"openai_team"', '"openai_new"'), now)
    # again: already ignored, nothing said
    r = cli(sim, tmp_path, "setup", "--non-interactive", "-c", "dev", admin=w.admin_key)
    assert r.exit_code == 0, r.output
    assert ".gitignore" not in r.stdout
    assert (tmp_path / ".gitignore").read_text() == "# build output\n*.duckdb\nopenai-sync.secrets.toml\n"
    assert_kept(original.replace('"openai_team"', '"openai_new"'), cfg.read_text())
    assert stat.S_IMODE((tmp_path / "openai-sync.secrets.toml").stat().st_mode) == 0o600


@pytest.mark.parametrize(("text", "expected"), [
    ('default_conection = "prod"\n\n[connections.prod]\nschema = "x"\n',
     "unknown setting default_conection in {cfg} (did you mean default_connection?)"),
    ('default_connection = "prod"\n\n[conections.prod]\nschema = "x"\n',
     "unknown table conections.prod in {cfg} (did you mean connections.prod?)"),
    ('[connections.default]\nschema = "x"\nlookback_hour = 3\n',
     "lookback_hour: unknown setting (did you mean lookback_hours?); valid settings: "),
])
def test_a_misspelt_name_in_the_config_file_is_an_error(sim, tmp_path, text, expected):
    cfg = tmp_path / "openai-sync.toml"
    cfg.write_text(text)
    expected = expected.format(cfg=cfg)
    for command in (["sync"], ["setup", "--non-interactive"]):
        r = cli(sim, tmp_path, *command, admin=sim.world.admin_key)
        assert r.exit_code == 2, r.output
        assert expected in flat(r.stderr)
    r = cli(sim, tmp_path, "test", admin=sim.world.admin_key)  # `test` reports it as its configuration check
    assert r.exit_code == 1 and flat(r.stdout).startswith(f"✖ fail configuration: {expected}")
    assert cfg.read_text() == text
    assert sim.world.admin_key not in r.output


def test_a_config_flag_naming_no_file_is_an_error_but_for_setup(sim, tmp_path):
    missing = tmp_path / "prod.toml"
    expected = (f"{missing} does not exist (--config); create it with `openai-sync setup --config {missing}`, or "
                "fix the path")
    for command in ("sync", "test"):
        for admin in (None, sim.world.admin_key):  # keys in the environment or not
            r = cli(sim, tmp_path, command, "--config", str(missing), admin=admin)
            assert r.exit_code == 2, r.output
            assert expected in flat(r.stderr)
    r = cli(sim, tmp_path, "test", "--json", "--config", str(missing))
    assert r.exit_code == 2 and json.loads(r.stdout)["status"] == "error"
    r = cli(sim, tmp_path, "setup", "--non-interactive", "--config", str(missing), "--destination",
            f"{tmp_path}/o.duckdb", admin=sim.world.admin_key)
    assert r.exit_code == 0, r.output
    assert cli(sim, tmp_path, "test", "--config", str(missing)).exit_code == 0


def test_a_base_url_without_v1_is_an_error(sim, tmp_path):
    bare = sim.base_url.removesuffix("/v1")
    said = f"base_url: '{bare}' does not end with /v1, where the API's paths start; add it: {sim.base_url}"
    r = cli(sim, tmp_path, "sync", "--base-url", bare, admin=sim.world.admin_key)
    assert r.exit_code == 2 and f"{said} (from flag)" in flat(r.stderr)
    r = cli(sim, tmp_path, "setup", "--non-interactive", admin=sim.world.admin_key, OPENAI_BASE_URL=bare)
    assert r.exit_code == 2 and f"{said} (from env OPENAI_BASE_URL)" in flat(r.stderr)
    assert not (tmp_path / "openai-sync.toml").exists()
