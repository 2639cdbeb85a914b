"""The service with several connections: two organizations into PostgreSQL run side by side, each with its
history in its own schema's _openai_sync_runs; two connections into one DuckDB file run one after the other
(DuckDB allows one writer), and both succeed."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
from conftest import NOW
from destinations_support import PG_DSN
from service_support import wait_for

from openai_sync.config import ProjectKey, Secrets, Settings
from openai_sync.config_files import save
from openai_sync.service import settings as service_settings
from openai_sync.service.agent import Agent
from openai_sync.simulator import Simulator, World


def add(config: Path, name: str, sim: Simulator, destination: str, schema: str, tmp: Path) -> None:
    save(config, name, Settings.model_validate({"destination": destination, "schema": schema,
                                                "base_url": sim.base_url, "state_dir": str(tmp / "dlt")}),
         Secrets(admin_key=sim.world.admin_key, project_keys=[ProjectKey(k) for k in sim.world.project_keys.values()]))


def run_all(config: Path, names: list[str]) -> dict[str, list]:
    agent = Agent(config, service_settings.load(config))
    agent.start()
    try:
        wait_for(lambda: all((r := agent.state.runs(n)) and r[0].status not in ("running", "skipped") for n in names),
                 180, "a run of every connection ends")
        return {n: agent.state.runs(n) for n in names}
    finally:
        agent.stop()


def test_two_organizations_into_postgres(tmp_path: Path) -> None:
    schemas = {"org1": "svc_" + uuid.uuid4().hex[:10], "org2": "svc_" + uuid.uuid4().hex[:10]}
    config = tmp_path / "openai-sync.toml"
    with Simulator(World(seed=7, size="small", now=NOW)) as a, Simulator(World(seed=8, size="small", now=NOW)) as b:
        add(config, "org1", a, PG_DSN, schemas["org1"], tmp_path)
        add(config, "org2", b, PG_DSN, schemas["org2"], tmp_path)
        runs = run_all(config, ["org1", "org2"])
    con = psycopg2.connect(PG_DSN)
    try:
        with con.cursor() as cur:
            for name, schema in schemas.items():
                run = runs[name][0]
                assert run.status == "ok", run.error
                cur.execute(f"SELECT run_id, connection, status, rows, organization_id FROM {schema}._openai_sync_runs")
                assert cur.fetchall() == [(run.run_id, name, "ok", run.rows, run.result["organization_id"])]
                cur.execute(f"SELECT count(*) FROM {schema}.users")
                assert cur.fetchone()[0] > 0
            first, second = runs["org1"][0], runs["org2"][0]
            assert first.started < second.ended and second.started < first.ended  # side by side
    finally:
        with con.cursor() as cur:
            for schema in schemas.values():
                cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.commit()
        con.close()


def test_two_connections_into_one_duckdb_file_take_turns(tmp_path: Path) -> None:
    config = tmp_path / "openai-sync.toml"
    destination = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    with Simulator(World(seed=7, size="small", now=NOW)) as a, Simulator(World(seed=8, size="small", now=NOW)) as b:
        add(config, "org1", a, destination, "org_one", tmp_path)
        add(config, "org2", b, destination, "org_two", tmp_path)
        runs = run_all(config, ["org1", "org2"])
    one, two = runs["org1"][0], runs["org2"][0]
    assert one.status == "ok" and two.status == "ok", (one.error, two.error)
    assert one.ended <= two.started or two.ended <= one.started  # one writer at a time
