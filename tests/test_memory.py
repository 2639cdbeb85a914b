"""The memory bounds of a sync: big pages digested two at a time, allocator settings, trimming."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from openai_sync import memory
from openai_sync.api.client import Client
from openai_sync.api.throttle import Gate


def test_big_pages_are_digested_two_at_a_time_whatever_the_concurrency(sim):
    gate = Gate(8, digest=2)
    client = Client(sim.base_url, sim.world.admin_key, admin=True, gate=gate)
    lock = threading.Lock()
    now, most = [0], [0]

    def digest(page: dict) -> int:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.05)  # a page of thousands of results takes a while to become Arrow
        with lock:
            now[0] -= 1
        return len(page["data"])

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: client.get("/organization/users", {"limit": 5}, digest=digest), range(16)))
    assert got == [5] * 16
    assert most[0] == 2
    assert gate.max_in_flight > 2  # requests themselves still ran in parallel


def test_a_digest_error_is_raised_and_frees_its_slots(sim):
    gate = Gate(2, digest=1)
    client = Client(sim.base_url, sim.world.admin_key, admin=True, gate=gate)

    def broken(page: dict) -> None:
        raise ValueError("bad page")

    for _ in range(3):  # a leaked slot would block the third call
        with pytest.raises(ValueError, match="bad page"):
            client.get("/organization/users", {"limit": 1}, digest=broken)
    assert client.get("/organization/users", {"limit": 1})["data"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_and_configure_on_linux():
    assert memory.trim() is True
    memory.configure()
    assert pa.default_memory_pool().backend_name == "system"
    memory.configure()  # once per process: a second call changes nothing
    assert pa.default_memory_pool().backend_name == "system"


def test_a_duckdb_load_that_outgrows_the_cap_is_retried_without_it(tmp_path, monkeypatch):
    """The cap keeps the sync's memory flat; a load that needs more is retried once with DuckDB's default."""
    import duckdb
    from conftest import NOW

    from openai_sync.load import destinations
    from openai_sync.runner import SyncConfig, sync
    from openai_sync.simulator import Simulator, World

    monkeypatch.setattr(destinations, "DUCKDB_MEMORY", "1MB")  # far too little for any merge
    world = World(seed=7, size="small", now=NOW)
    db = tmp_path / "x.duckdb"
    with Simulator(world) as sim:
        results, run = sync(SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=f"duckdb:///{db}",
                                       pipelines_dir=str(tmp_path / "state"), tables=["users", "usage_completions"]))
    assert [r.status for r in results] == ["ok", "ok"]
    assert any("1MB cap" in n and "retried" in n for n in run.notes)
    with duckdb.connect(str(db), read_only=True) as con:
        users = con.execute("SELECT count(*) FROM openai.users").fetchone()[0]
        usage = con.execute("SELECT count(*) FROM openai.usage_completions").fetchone()[0]
    assert users == len(world.users_seq.alive(NOW)) and usage > 0


def test_a_duckdb_destination_caps_its_buffer_pool_at_128mb(tmp_path):
    """The large organization's load with every project key: 678 MiB at 128MB, 783 MiB at 256MB."""
    import dlt

    from openai_sync.load import destinations

    pipeline = dlt.pipeline("cap", destination=destinations.make(f"duckdb:///{tmp_path}/x.duckdb"),
                            dataset_name="s", pipelines_dir=str(tmp_path / "state"))
    with pipeline.sql_client() as sql:
        limit = sql.execute_sql("SELECT current_setting('memory_limit')")[0][0]
    assert limit == "122.0 MiB"  # DuckDB's own spelling of 128MB (10^6 bytes)


def test_every_keys_client_shares_one_tls_context():
    """Each client loading the CA bundle anew cost 0.8 MB and 20 ms: 250 MB before the first request of a run with
    300 project keys (bench/memory_phases.py --project-keys)."""
    from openai_sync.api.client import tls

    clients = [Client("https://api.example.test/v1", f"sk-proj-{i:040d}", admin=False) for i in range(3)]
    contexts = {id(c.sdk._client._transport._pool._ssl_context) for c in clients}  # httpx's connection pool
    assert contexts == {id(tls())}


def test_duckdb_runs_two_load_jobs_at_a_time_and_other_destinations_dlts_default():
    """dlt's 20 load jobs at once outgrew DuckDB's capped buffer pool with every project's tables (3.4 GB after the
    retry without the cap); DuckDB runs each job on every core anyway."""
    import dlt

    from openai_sync.load import destinations

    assert destinations.load_workers(dlt.destinations.duckdb("/tmp/unused.duckdb")) == destinations.DUCKDB_LOAD_WORKERS
    assert destinations.load_workers(dlt.destinations.postgres("postgresql://u@127.0.0.1/x")) == 20


@pytest.mark.skipif(importlib.util.find_spec("airflow") is None, reason="the airflow extra is not installed")
def test_dlt_takes_no_settings_from_airflow_unless_asked():
    # with Airflow importable, dlt would ask Airflow's metastore on every config lookup (5 s to import it, then a
    # logged traceback a lookup, kept in memory: 135 MiB of the large organization's peak with every project key)
    code = ("import openai_sync.runner\n"
            "from dlt.common.configuration.container import Container\n"
            "from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext\n"
            "print([p.name for p in Container()[PluggableRunContext].providers.providers])")
    providers = _fresh_python(code, "PROVIDERS__ENABLE_AIRFLOW_SECRETS")
    assert "Airflow" not in providers and "Environment Variables" in providers
    # the user's choice wins
    assert "Airflow" in _fresh_python(code, "PROVIDERS__ENABLE_AIRFLOW_SECRETS", "true")


def test_dlt_buffers_a_thousand_rows_a_table_unless_told_otherwise():
    # 5,000 dict rows a table, some 50 tables: 45 MiB more at the peak with every project key
    code = ("import openai_sync.load\n"
            "from dlt.common.configuration.resolve import resolve_configuration\n"
            "from dlt.common.data_writers.buffered import BufferedDataWriter\n"
            "spec = BufferedDataWriter.BufferedDataWriterConfiguration()\n"
            "print(resolve_configuration(spec, sections=('extract',)).buffer_max_items)")
    assert _fresh_python(code, "DATA_WRITER__BUFFER_MAX_ITEMS") == "1000"
    assert _fresh_python(code, "DATA_WRITER__BUFFER_MAX_ITEMS", "200") == "200"  # the user's setting wins


def test_dlt_logs_nothing_of_its_own_unless_told_otherwise():
    # dlt would log the traceback of every failure that openai-sync's own messages already say
    code = ("import openai_sync.load\n"
            "from dlt.common.configuration.resolve import resolve_configuration\n"
            "from dlt.common.configuration.specs import RuntimeConfiguration\n"
            "print(resolve_configuration(RuntimeConfiguration()).log_level)")
    assert _fresh_python(code, "RUNTIME__LOG_LEVEL") == "CRITICAL"
    assert _fresh_python(code, "RUNTIME__LOG_LEVEL", "INFO") == "INFO"  # the user's setting wins


def _fresh_python(code: str, variable: str, value: str | None = None) -> str:
    """What `code` prints in a new interpreter (dlt reads its settings once), with `variable` set or unset."""
    env = {k: v for k, v in os.environ.items() if k != variable} | ({variable: value} if value is not None else {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()
