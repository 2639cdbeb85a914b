"""Several organizations in one schema: each organization's rows beside the others', keyed by organization, with
watermarks, soft deletes and history of its own; what would drop a shared table (a resync) is refused; a schema
that one organization filled before (its pipeline named after the schema alone) is continued, not re-read."""

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
from organizations_support import duplicate_keys
from typer.testing import CliRunner

from openai_sync.api.errors import SyncError
from openai_sync.catalog import TABLES
from openai_sync.cli import app
from openai_sync.load import pipeline as load_pipeline
from openai_sync.load.store import Rows, SqlStore, where
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World

TABLES_TO_SYNC = ["users", "user_roles", "projects", "project_api_keys", "audit_logs", "usage_completions", "costs"]


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    kw.setdefault("tables", TABLES_TO_SYNC)
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), **kw)


def rows_of(dest: Dest, org: str) -> dict[str, list[tuple]]:
    """One organization's rows as the user sees them (current, not deleted), without bookkeeping columns."""
    out = {}
    for t, rows in dest.snapshot().items():
        if t in TABLES_TO_SYNC:
            cols = [r[0] for r in dest.q(f"SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                         f"'openai' AND table_name = '{t}' ORDER BY column_name")]
            at = [c for c in cols if not c.startswith("_")].index("organization_id")
            out[t] = [r for r in rows if r[at] == org]
    return out


def test_two_organizations_share_a_schema(dest, tmp_path):
    """A and B into one schema equal A and B each into a schema of its own; no key twice; a later run of B
    marks B's deleted users only; a resync there is refused before anything is read."""
    a, b = World(seed=7, size="small", now=NOW), World(seed=8, size="small", now=NOW)
    assert a.org_id != b.org_id
    alone = {w.org_id: Dest(dest.kind, tmp_path / w.org_id) for w in (a, b)}
    for w in (a, b):
        alone[w.org_id].tmp.mkdir()
        with Simulator(w) as sim:
            for d in (dest, alone[w.org_id]):
                results, _ = sync(config(sim, d))
                assert {r.status for r in results} == {"ok"}, [(r.name, r.error) for r in results]
    try:
        for w in (a, b):
            assert rows_of(dest, w.org_id) == rows_of(alone[w.org_id], w.org_id)
    finally:
        if dest.kind == "postgres":
            for d in alone.values():
                d.wipe()
    assert set(duplicate_keys(dest, TABLES_TO_SYNC).values()) == {0}
    before_a = rows_of(dest, a.org_id)
    with Simulator(b) as sim:
        sim.advance(24 * 30)  # a month of B: users leave, keys come and go
        results, _ = sync(config(sim, dest))
        assert {r.status for r in results} == {"ok"}
        with pytest.raises(SyncError, match=f"also holds organization {a.org_id}"):
            sync(config(sim, dest, tables=["users"], resync=True))
    assert rows_of(dest, a.org_id) == before_a  # nothing of A marked deleted, added or changed by B's runs
    assert dest.one(f"SELECT count(*) FROM openai.users WHERE _deleted AND organization_id = '{b.org_id}'") > 0
    assert set(duplicate_keys(dest, TABLES_TO_SYNC).values()) == {0}


def test_a_schema_filled_before_continues_where_it_was(tmp_path, monkeypatch):
    """A destination written before organizations had pipelines of their own (one named after the schema):
    the organization whose rows it holds adopts that pipeline's watermarks, so its next run is incremental."""
    dest = Dest("duckdb", tmp_path)
    world = World(seed=7, size="small", now=NOW)
    tables = ["audit_logs", "usage_completions", "costs", "users"]

    def requests(sim: Simulator) -> int:
        return len(sim.app.stats.snapshot(with_log=True)["log"])

    with Simulator(world) as sim:
        with monkeypatch.context() as m:  # as the earlier versions named it
            m.setattr(load_pipeline, "pipeline_name", lambda d, s, o=None, f=load_pipeline.pipeline_name: f(d, s))
            sync(config(sim, dest, tables=tables))
        first = requests(sim)
        results, _ = sync(config(sim, dest, tables=tables))
        assert {r.status for r in results} == {"ok"}
        adopted = requests(sim) - first
    fresh = Dest("duckdb", tmp_path / "fresh")
    fresh.tmp.mkdir()
    with Simulator(world) as sim:
        sync(config(sim, fresh, tables=tables))
        full = requests(sim)
    assert adopted < full / 2, (adopted, full)  # incremental: the lookback windows, not the whole history
    assert set(duplicate_keys(dest, tables).values()) == {0}


def test_the_cli_takes_a_second_organization(tmp_path):
    dest = Dest("duckdb", tmp_path)
    a, b = World(seed=7, size="small", now=NOW), World(seed=8, size="small", now=NOW)
    with Simulator(a) as sim:
        sync(config(sim, dest))
    with Simulator(b) as sim:
        r = CliRunner().invoke(app, ["sync", "--config", empty_config(tmp_path), "--json", "--destination",
                                     dest.destination, "--state-dir", str(tmp_path / "state"), "--tables", "users"],
                               env={"OPENAI_ADMIN_KEY": b.admin_key, "OPENAI_BASE_URL": sim.base_url})
    assert r.exit_code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["status"] == "ok"
    assert {r[0] for r in dest.q("SELECT DISTINCT organization_id FROM openai.users")} == {a.org_id, b.org_id}


def test_the_lake_takes_a_second_organization_too(tmp_path):
    lake = LakeDest(tmp_path)
    a, b = World(seed=7, size="small", now=NOW), World(seed=8, size="small", now=NOW)
    with Simulator(a) as sim:
        sync(config(sim, lake, tables=["users", "audit_logs"]))
    users = lake.one("SELECT count(*) FROM openai.users WHERE NOT _deleted")
    with Simulator(b) as sim:
        sync(config(sim, lake, tables=["users"]))
    assert lake.one(f"SELECT count(*) FROM openai.users WHERE NOT _deleted AND organization_id = '{a.org_id}'") == users
    assert lake.one(f"SELECT count(*) FROM openai.users WHERE organization_id = '{b.org_id}'") > 0


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


def test_a_load_waits_for_another_organizations_load_into_the_schema(tmp_path):
    """PostgreSQL: another organization's run holding the schema (its load) makes this run's load wait, not fail;
    a wait longer than allowed ends in a sentence, nothing of this run loaded."""
    import threading
    import time

    import psycopg2
    from destinations_support import PG_DSN

    from openai_sync.load import locks

    dest = Dest("postgres", tmp_path)
    key = locks.pg_key(f"openai_sync|{dest.schema}".lower())
    con = psycopg2.connect(PG_DSN)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
        with (pytest.raises(locks.Busy, match="waited 0 minutes for another organization's load"),
              locks.exclusive("x", str(tmp_path / "s"), "the schema", PG_DSN, schema=dest.schema, wait=1)):
            pass
        threading.Timer(3, con.close).start()  # the other organization's load ends in 3 s
        with Simulator(World(seed=7, size="small", now=NOW)) as sim:
            began = time.monotonic()
            results, _ = sync(config(sim, dest, tables=["users"]))
            assert {r.status for r in results} == {"ok"} and time.monotonic() - began >= 3
    finally:
        con.close()
        dest.wipe()

