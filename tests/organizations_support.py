"""Several organizations in one destination, as the tests check them: each organization synced alone (the
reference), and the shared destination equal to their union with no row key twice."""

from __future__ import annotations

from pathlib import Path

from destinations_support import Dest

from openai_sync import catalog
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator


def duplicate_keys(dest: Dest, tables: list[str]) -> dict[str, int]:
    """Per table, how many row keys (organization and the object's key) appear more than once."""
    out = {}
    for t in tables:
        key = ", ".join(catalog.TABLES[t].row_key)
        out[t] = dest.one(f"SELECT count(*) FROM (SELECT {key} FROM openai.{t} GROUP BY {key} HAVING count(*) > 1) d")
    return out


def alone(sims: list[Simulator], folder: Path, tables: list[str]) -> list[Dest]:
    """Each simulated organization synced alone, in a DuckDB file of its own."""
    out = []
    for sim in sims:
        ref = Dest("duckdb", folder / sim.world.org_id)
        ref.tmp.mkdir()
        sync(SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=ref.destination,
                        schema="openai", pipelines_dir=str(ref.tmp / "state"), tables=tables))
        out.append(ref)
    return out


def assert_union(dest: Dest, refs: list[Dest], tables: list[str]) -> None:
    """`dest` holds as many rows as the references together, table by table, and no row key twice."""
    assert set(duplicate_keys(dest, tables).values()) == {0}, duplicate_keys(dest, tables)
    for t in tables:
        assert dest.one(f"SELECT count(*) FROM openai.{t}") == sum(r.one(f"SELECT count(*) FROM openai.{t}")
                                                                  for r in refs), t
