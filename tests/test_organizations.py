"""One organization per destination schema: a second organization is refused before anything is read or
written, on every destination; and whatever a run marks deleted or retires is its own organization's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest
from conftest import NOW, empty_config
from destinations_support import Dest, LakeDest
from typer.testing import CliRunner

from openai_sync.api.errors import SyncError
from openai_sync.catalog import TABLES
from openai_sync.cli import app
from openai_sync.load.store import Rows, SqlStore, where
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World

TABLES_TO_SYNC = ["users", "user_roles", "projects", "project_api_keys", "audit_logs", "usage_completions", "costs"]


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    kw.setdefault("tables", TABLES_TO_SYNC)
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), **kw)


def state_of(dest: Dest) -> dict[str, Any]:
    return {t: dest.q(f"SELECT organization_id, count(*), count(*) FILTER (WHERE {live}) FROM openai.{t} GROUP BY 1")
            for t, live in (("users", "_deleted"), ("user_roles", "_deleted"), ("audit_logs", "true"),
                            ("costs", "true"))}


def test_a_second_organization_in_the_same_schema_is_refused_and_the_first_is_untouched(dest):
    a, b = World(seed=7, size="small", now=NOW), World(seed=8, size="small", now=NOW)
    assert a.org_id != b.org_id
    with Simulator(a) as sim:
        results, _ = sync(config(sim, dest))
        assert {r.status for r in results} == {"ok"}
    before = state_of(dest)
    with Simulator(b) as sim:
        with pytest.raises(SyncError) as e:
            sync(config(sim, dest))
        msg = str(e.value)
        assert a.org_id in msg and b.org_id in msg and "--schema" in msg and "nothing was read or written" in msg
        made = {x["path"] for x in sim.app.stats.snapshot(with_log=True)["log"]}
    assert made <= {"/v1/organization/projects", "/v1/organization/usage/completions",
                    "/v1/organization/audit_logs"}, made  # the key checks alone: no data was read
    assert state_of(dest) == before  # not one row of the first organization marked deleted, nothing added
    assert {r[0] for r in dest.q("SELECT DISTINCT organization_id FROM openai.audit_logs")} == {a.org_id}


def test_the_cli_refuses_a_second_organization_with_exit_code_2(tmp_path):
    dest = Dest("duckdb", tmp_path)
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        sync(config(sim, dest))
    b = World(seed=8, size="small", now=NOW)
    with Simulator(b) as sim:
        r = CliRunner().invoke(app, ["sync", "--config", empty_config(tmp_path), "--json", "--destination",
                                     dest.destination, "--state-dir", str(tmp_path / "state"), "--tables", "users"],
                               env={"OPENAI_ADMIN_KEY": b.admin_key, "OPENAI_BASE_URL": sim.base_url})
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert out["status"] == "error" and b.org_id in out["error"] and "schema of its own" in out["error"]


def test_the_lake_refuses_a_second_organization_too(tmp_path):
    lake = LakeDest(tmp_path)
    a, b = World(seed=7, size="small", now=NOW), World(seed=8, size="small", now=NOW)
    with Simulator(a) as sim:
        sync(config(sim, lake, tables=["users", "audit_logs"]))
    users = lake.one("SELECT count(*) FROM openai.users WHERE NOT _deleted")
    with Simulator(b) as sim, pytest.raises(SyncError, match=b.org_id):
        sync(config(sim, lake, tables=["users"]))
    assert lake.one("SELECT count(*) FROM openai.users WHERE NOT _deleted") == users


class DuckSql:
    """dlt's SQL client interface, over a plain DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def make_qualified_table_name(self, name: str) -> str:
        return f"s.{name}"

    def execute_sql(self, sql: str, *args: Any) -> list[tuple]:
        return self.con.execute(sql.replace("%s", "?"), list(args)).fetchall()

    @contextlib.contextmanager
    def execute_query(self, sql: str) -> Iterator[Any]:
        yield self.con.execute(sql)


@pytest.mark.parametrize("org", ["org-a", None])
def test_marking_never_touches_another_organizations_rows(org):
    """Soft deletes and history retirement are scoped by organization_id, whatever the scope says."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s; CREATE TABLE s.users (id TEXT, organization_id TEXT, _deleted BOOLEAN, "
                "_synced_at TIMESTAMPTZ)")
    old = datetime(2026, 1, 1, tzinfo=UTC)
    con.execute("INSERT INTO s.users VALUES ('u1', 'org-a', false, ?), ('u2', 'org-b', false, ?), "
                "('u3', NULL, false, ?)", [old, old, old])
    # a table loaded before _deleted_at existed: the column is left out until the table's next load adds it
    n = SqlStore(DuckSql(con)).mark(TABLES["users"], Rows("deleted", org, ((),), synced_before=datetime.now(UTC)),
                                    {"_deleted": True, "_deleted_at": datetime.now(UTC)})
    assert n == 1
    marked = {r[0] for r in con.execute("SELECT id FROM s.users WHERE _deleted").fetchall()}
    assert marked == ({"u1"} if org else {"u3"})
    assert "organization_id IS NOT DISTINCT FROM %s" in where(Rows("history", org))[0]
