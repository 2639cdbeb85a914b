"""openai-sync under Airflow (the `airflow` extra): one DAG per connection from the DAG factory, run with
Airflow's own `dag.test()` against a real (SQLite) metadata database: three simulated organizations into one
PostgreSQL schema equal three single-organization syncs, with no key twice; a connection whose key is revoked
fails its own DAG run alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from conftest import NOW
from destinations_support import Dest
from organizations_support import alone, assert_union

from openai_sync.config import Secrets, Settings
from openai_sync.config_files import save
from openai_sync.simulator import Simulator, World

TABLES = ["users", "user_roles", "projects", "project_api_keys", "audit_logs", "usage_completions", "costs"]
RUN = """
import json
from openai_sync.airflow import dags
states = {}
for dag_id, dag in sorted(dags().items()):
    states[dag_id] = str(dag.test().state)
print("STATES " + json.dumps(states))
"""


def airflow(home: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "OPENAI_SYNC_CONFIG": str(config),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags")}
    return subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=600, cwd=home)


def test_airflow_dags_sync_three_organizations_into_one_schema(tmp_path: Path) -> None:
    dest = Dest("postgres", tmp_path)
    worlds = [World(seed=s, size="small", now=NOW) for s in (31, 32, 33)]
    config, home = tmp_path / "openai-sync.toml", tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "openai_sync_dags.py").write_text("from openai_sync.airflow import dags\n\n"
                                                       "globals().update(dags())\n")
    bin_dir = Path(sys.executable).parent
    try:
        with ExitStack() as stack:
            sims = [stack.enter_context(Simulator(w)) for w in worlds]
            for i, sim in enumerate(sims):
                save(config, f"org{i + 1}", Settings.model_validate(
                    {"destination": dest.destination, "schema": dest.schema, "state_dir": str(tmp_path / "dlt"),
                     "base_url": sim.base_url, "tables": TABLES, "sync_frequency": "2h"}),
                     Secrets(admin_key=sim.world.admin_key, project_keys=[]))
            save(config, "revoked", Settings.model_validate(
                {"destination": f"duckdb:///{tmp_path / 'revoked.duckdb'}", "state_dir": str(tmp_path / "dlt"),
                 "base_url": sims[0].base_url, "tables": ["users"]}),
                 Secrets(admin_key="sk-admin-" + "r" * 40, project_keys=[]))
            for step in (["airflow", "db", "migrate"], ["airflow", "dags", "reserialize"]):
                done = airflow(home, config, str(bin_dir / step[0]), *step[1:])
                assert done.returncode == 0, done.stderr[-3000:]
            done = airflow(home, config, sys.executable, "-c", RUN)
            assert done.returncode == 0, done.stderr[-3000:]
            states = json.loads(done.stdout.split("STATES ", 1)[1].splitlines()[0])
            assert states == {"openai_sync_org1": "success", "openai_sync_org2": "success",
                              "openai_sync_org3": "success", "openai_sync_revoked": "failed"}, done.stderr[-3000:]
            assert "sk-admin-rrrr" not in done.stdout + done.stderr
            refs = alone(sims, tmp_path, TABLES)
        assert_union(dest, refs, TABLES)
        for table in TABLES:
            assert dest.one(f"SELECT count(DISTINCT organization_id) FROM openai.{table}") == 3, table
    finally:
        dest.exec(f"DROP SCHEMA IF EXISTS {dest.schema}_analytics CASCADE")
        dest.wipe()


def test_the_schedule_is_the_connections_frequency(tmp_path: Path) -> None:
    from datetime import timedelta

    from openai_sync.airflow import dags

    config = tmp_path / "c.toml"
    for name, extra in (("hourly", {"sync_frequency": "1h"}), ("nightly", {"sync_cron": "0 3 * * *"})):
        save(config, name, Settings.model_validate({"destination": f"duckdb:///{tmp_path}/{name}.duckdb", **extra}),
             Secrets(admin_key="sk-admin-" + "a" * 40, project_keys=[]))
    built = dags(config)
    assert set(built) == {"openai_sync_hourly", "openai_sync_nightly"}
    assert built["openai_sync_hourly"].schedule == timedelta(hours=1)
    assert built["openai_sync_nightly"].schedule == "0 3 * * *"
    assert [t.task_id for t in built["openai_sync_hourly"].tasks] == ["sync"]
