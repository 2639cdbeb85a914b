"""openai-sync under Airflow (the `airflow` extra): one DAG per connection of a config file, each with one task
that is one `openai-sync sync --connection NAME` (preflight, watermarks, soft deletes and history as always), at
the connection's own sync frequency or cron. Plain tasks rather than dlt's Airflow helper: the helper runs a dlt
source, and a sync is more than one (several readers and keys, marks after the load).

In a file of Airflow's DAG folder:

    from openai_sync.airflow import dags
    globals().update(dags())            # the connections of OPENAI_SYNC_CONFIG; or dags("/etc/openai-sync.toml")

The task returns the run's `sync --json` object (an XCom); a run that wrote nothing (a bad key, a bad
configuration) fails without retries; a run with failed tables fails (and retries, as Airflow is told), the other
tables loaded.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowException, AirflowFailException
from airflow.sdk import DAG, task

from ..config import DEFAULT_CONFIG, Resolved, connection_names, resolve
from ..formats import parse_frequency

START = datetime(2024, 1, 1, tzinfo=UTC)  # no catch-up: a sync reads from its own watermarks, not the run's date


def dags(config: str | os.PathLike[str] | None = None) -> dict[str, DAG]:
    """One DAG per connection of `config` (default: OPENAI_SYNC_CONFIG, then ./openai-sync.toml), by DAG id."""
    path = Path(config or os.environ.get("OPENAI_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser()
    where, names = connection_names({"config": str(path)})
    return {d.dag_id: d for d in (dag_for(where, resolve({"config": str(where), "connection": n})) for n in names)}


def dag_for(config: Path, r: Resolved) -> DAG:
    schedule: Any = r.settings.sync_cron or timedelta(seconds=parse_frequency(r.settings.sync_frequency))
    with DAG(dag_id=f"openai_sync_{r.name}", schedule=schedule, start_date=START, catchup=False,
             max_active_runs=1, tags=["openai-sync"], default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
             doc_md=f"openai-sync: connection `{r.name}` of `{config}` into `{r.settings.schema_name}`.") as dag:

        @task(task_id="sync")
        def sync_connection(name: str = r.name, path: str = str(config)) -> dict[str, Any]:
            return run(path, name)

        sync_connection()
    return dag


def run(config: str, name: str) -> dict[str, Any]:
    """One sync of connection `name`; its outcome, or the exception that tells Airflow how it went."""
    from ..outcome import attempt, sync_config

    done = attempt(sync_config(resolve({"config": config, "connection": name})))
    if done.code == 2:  # nothing was written: a retry would fail the same way
        raise AirflowFailException(done.result.get("error", "the sync wrote nothing"))
    if done.code:
        failed = [f"{t['table']}: {t.get('error', t['status'])}" for t in done.result.get("tables", [])
                  if t["status"] not in ("ok", "skipped")]
        raise AirflowException("some tables failed (the others were loaded): " + "; ".join(failed)[:2000])
    return done.result
