"""The dbt package (dbt/openai_sync_analytics, the `dbt` extra): generated from the same SQL as openai-sync's own
views and never drifting from it; built and tested by dbt-duckdb and dbt-postgres over a real sync, its views
equal to the ones openai-sync makes."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import NOW
from destinations_support import PG_DSN, Dest
from test_sync import config

from openai_sync import analytics
from openai_sync.analytics import dbt
from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World

# what each view is compared on: its row count and one sum over it
MEASURES = {"spend_daily": "sum(amount)", "usage_daily": "sum(input_tokens)", "spend_forecast": "sum(forecast)",
            "spend_anomalies": "sum(robust_z)", "key_inventory": "count(DISTINCT id)",
            "access_review": "count(DISTINCT principal_id)", "audit_activity": "sum(events)",
            "focus_costs": 'sum("BilledCost")'}


def test_package_is_generated_from_the_models() -> None:
    """The package's models are what `python -m openai_sync.analytics.dbt` writes from the one SQL source."""
    for path, text in dbt.files().items():
        assert path.read_text() == text, f"{path} is stale: run `uv run python -m openai_sync.analytics.dbt`"
    assert {p.stem for p in (dbt.PACKAGE / "models").glob("*.sql")} == set(analytics.MODELS) == set(MEASURES)


def profile(dest: Dest, folder: Path, schema: str) -> Path:
    if dest.kind == "duckdb":
        out = f"type: duckdb\n      path: '{dest.tmp / 'out.duckdb'}'\n      schema: {schema}"
    else:
        out = (f"type: postgres\n      host: 127.0.0.1\n      port: 5432\n      user: postgres\n      password: ''\n"
               f"      dbname: {PG_DSN.rsplit('/', 1)[1]}\n      schema: {schema}")
    (folder / "profiles.yml").write_text(f"openai_sync_analytics:\n  target: t\n  outputs:\n    t:\n      {out}\n"
                                         "      threads: 2\n")
    return folder


def test_dbt_build_equals_the_views(dest: Dest, tmp_path: Path) -> None:
    with Simulator(World(seed=3, size="small", now=NOW)) as sim:
        results, _ = sync(config(sim, dest))
        assert all(r.status == "ok" for r in results)
    built = f"{dest.schema}_dbt"
    folder = profile(dest, tmp_path, built)
    try:
        done = subprocess.run([sys.executable, "-m", "dbt.cli.main", "build", "--project-dir", str(dbt.PACKAGE),
                               "--profiles-dir", str(folder), "--target-path", str(tmp_path / "target"),
                               "--log-path", str(tmp_path / "logs"),
                               "--vars", f"{{openai_sync_schema: {dest.schema}}}"],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-4000:]
        assert "PASS=" in done.stdout and " ERROR=0 " in done.stdout
        ours = f"{dest.schema}{analytics.SUFFIX}"
        for view, measure in MEASURES.items():
            mine, theirs = (dest.q(f"SELECT count(*), {measure} FROM {s}.{view}")[0] for s in (ours, built))
            # the same rows; a sum of floats may differ in its last digit with the order of addition
            assert mine[0] == theirs[0] > 0 and float(mine[1]) == pytest.approx(float(theirs[1]), rel=1e-12), view
        costs = dest.one("SELECT sum(amount) FROM openai.costs")
        assert Decimal(dest.one(f"SELECT sum(amount) FROM {built}.spend_daily")) == Decimal(costs)
    finally:
        if dest.kind == "postgres":
            dest.exec(f"DROP SCHEMA IF EXISTS {dest.schema}_analytics CASCADE; DROP SCHEMA IF EXISTS {built} CASCADE")
