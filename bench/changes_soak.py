"""Change-feed soak: many hours of the simulated organization's changes, each followed by a change-driven sync that
is compared, table by table, with a full reconciliation of the same moment. Prints the table of docs/changes.md.

Run:  uv run python bench/changes_soak.py [--size medium] [--hours 24] [--seed 1] [--destination duckdb|postgres]

Each hour:
1. the simulated clock moves forward by a random 20 to 100 minutes, or to the very second of the organization's
   next change (so that a change and a sync begin in the same second), every fourth step;
2. the change-driven sync runs (`reconcile_every` as configured: by default only its first run lists everything);
3. a second destination is synced with `--reconcile` (every organization listing, whole) at the same clock;
4. every organization table the audit log records is compared row by row (current rows; `_synced_at`, `_deleted`
   and the volatile columns aside): rows only in one of them are differences.
At the end: hours, differences (the goal: zero), and the change-driven syncs' requests beside the full listings'.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

from openai_sync import changes
from openai_sync.catalog import ORG_TABLES
from openai_sync.read.feed import fed
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World

NOW = 1767571200  # 2026-01-05 00:00 UTC, as in the tests
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
COMPARED = [t for t in ORG_TABLES if fed(t) and t.name in changes.TOUCHED]
SKIP = {"_synced_at", "_deleted_at", "_dlt_id", "_dlt_load_id", "_deleted"}


class Dest:
    def __init__(self, kind: str, folder: Path, name: str) -> None:
        self.kind = kind
        if kind == "duckdb":
            self.spec, self.schema, self.path = f"duckdb:///{folder}/{name}.duckdb", "openai", f"{folder}/{name}.duckdb"
        else:
            self.spec, self.schema, self.path = PG_DSN, f"soak_{name}_{uuid.uuid4().hex[:8]}", ""

    def q(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "duckdb":
            with duckdb.connect(self.path, read_only=True) as con:
                return con.execute(sql).fetchall()
        con = psycopg2.connect(PG_DSN)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            con.close()

    def current(self, table: str) -> set[tuple[Any, ...]]:
        cols = [r[0] for r in self.q(f"SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                     f"'{self.schema}' AND table_name = '{table}' ORDER BY column_name")]
        kept = [c for c in cols if c not in SKIP and c not in changes.VOLATILE.get(table, ())]
        live = "WHERE _deleted IS NOT TRUE" if "_deleted" in cols else ""
        cast = "::text" if self.kind == "postgres" else "::VARCHAR"
        return set(self.q(f"SELECT {', '.join(c + cast for c in kept)} FROM {self.schema}.{table} {live}"))

    def drop(self) -> None:
        if self.kind == "postgres":
            con = psycopg2.connect(PG_DSN)
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            con.close()


def differences(a: Dest, b: Dest) -> dict[str, tuple[int, int, list[str]]]:
    out = {}
    for t in COMPARED:
        x, y = a.current(t.name), b.current(t.name)
        if x != y:
            out[t.name] = (len(x - y), len(y - x), [str(r)[:160] for r in sorted(x ^ y, key=str)[:2]])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="medium")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--destination", choices=("duckdb", "postgres"), default="duckdb")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="openai-sync-changes-soak-"))
    world = World(seed=args.seed, size=args.size, now=NOW)
    fed_dest, truth = Dest(args.destination, folder, "fed"), Dest(args.destination, folder, "truth")
    rows: list[tuple[int, int, int, int, int, int]] = []
    failures = 0
    try:
        with Simulator(world) as sim:
            def cfg(d: Dest) -> SyncConfig:
                return SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=d.spec,
                                  schema=d.schema, pipelines_dir=str(folder / f"state-{d.schema}-{d.kind}"))

            sync(cfg(fed_dest))
            for step in range(args.hours):
                if step % 4 == 3:  # land on the next change's very second
                    nxt = min((t for t in world.audit.times if t > world.now), default=world.now + 3600)
                    sim.advance((nxt - world.now) / 3600)
                else:
                    sim.advance(rnd.uniform(20, 100) / 60)
                before = sim.stats()["total"]
                t0 = time.perf_counter()
                results, _ = sync(cfg(fed_dest))
                made, wall = sim.stats()["total"] - before, time.perf_counter() - t0
                failures += sum(r.status != "ok" for r in results)
                org = sum(r.requests for r in results if r.read)
                before = sim.stats()["total"]
                sync(replace(cfg(truth), reconcile=True))
                full = sim.stats()["total"] - before
                diff = differences(fed_dest, truth)
                rows.append((step + 1, world.now - NOW, made, org, full, sum(a + b for a, b, _ in diff.values())))
                print(f"hour {step + 1:3d} (+{(world.now - NOW) / 3600:6.2f} h): change-driven {made:5d} requests "
                      f"({org} for organization listings) in {wall:5.1f} s; full listings {full:5d}; "
                      f"differences {diff or 0}", flush=True)
    finally:
        fed_dest.drop()
        truth.drop()
    total = sum(r[5] for r in rows)
    print("\n| hours | differences | failed tables | change-driven requests (mean / max) | full listings' (mean) |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {len(rows)} | {total} | {failures} | {sum(r[2] for r in rows) / len(rows):,.0f} / "
          f"{max(r[2] for r in rows):,} | {sum(r[4] for r in rows) / len(rows):,.0f} |")
    sys.exit(1 if total or failures else 0)


if __name__ == "__main__":
    main()
