"""Reliability soak: many syncs under injected faults, killed with SIGKILL at random points, each one resumed
and compared with the ground truth. Prints the table of docs/reliability.md.

Run:  uv run python bench/soak.py [--trials 20] [--size small] [--seed 1] [--destination duckdb|postgres]

Each trial:
1. the simulated clock moves forward 1 to 12 hours (new usage buckets and audit events, restated buckets,
   departed users, deleted files, finished batches, changed rate limits);
2. the ground truth syncs the same organization without faults and without kills (its own destination);
3. the sync under test runs as a real `openai-sync sync` process with faults injected (429 with Retry-After,
   500, 502, 503, slow responses, connections dropped mid-body) and, in most trials, is killed with
   SIGKILL after a random delay: during extraction, normalization or load;
4. it is run again, with the faults still on, until it exits 0 (each run resumes the last);
5. every table is compared with the ground truth row by row (current rows, system columns aside): rows
   lost, rows extra, duplicate primary keys. The audit log is one of the tables: a watermark that skipped
   events would show as lost rows. Soft deletes are compared too (a row not marked deleted is extra).
At the end every file and output the soak produced, and every text column of the destination, is searched
for every key.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from openai_sync import catalog
from openai_sync.runner import SyncConfig, pipeline_name
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.faults import Rule

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
CLI = str(Path(sys.executable).with_name("openai-sync"))
NOW = 1767571200  # 2026-01-05 00:00 UTC, as in the tests


class Destination:
    """A DuckDB file or a PostgreSQL schema, with the queries the comparison needs."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "duckdb":
            self.spec, self.schema = f"duckdb:///{folder}/out.duckdb", "openai"
        else:
            self.spec, self.schema = PG_DSN, "soak_" + uuid.uuid4().hex[:10]

    def q(self, sql: str, *args: Any) -> list[tuple]:
        sql = sql.replace("openai.", f"{self.schema}.").replace("'openai'", f"'{self.schema}'")
        if self.kind == "duckdb":
            with duckdb.connect(str(self.folder / "out.duckdb"), read_only=True) as con:
                return con.execute(sql, list(args)).fetchall()
        import psycopg2

        con = psycopg2.connect(PG_DSN)
        try:
            with con.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), args)
                return cur.fetchall()
        finally:
            con.close()

    def drop(self) -> None:
        if self.kind == "postgres":
            import psycopg2

            con = psycopg2.connect(PG_DSN)
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE; "
                            f"DROP SCHEMA IF EXISTS {self.schema}_staging CASCADE")
            con.close()

    def columns(self, table: str) -> list[tuple[str, str]]:
        return self.q("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'openai' "
                      "AND table_name = ? ORDER BY column_name", table)

    def tables(self) -> list[str]:
        return sorted(r[0] for r in self.q("SELECT table_name FROM information_schema.tables WHERE "
                                           "table_schema = 'openai'") if r[0] in catalog.TABLES)

    def rows(self, table: str) -> tuple[Counter[tuple], int]:
        """The current rows as a multiset (system columns aside) and the count of duplicate primary keys."""
        cols = [c for c, _ in self.columns(table)]
        data = [c for c in cols if not c.startswith("_")]
        where = "WHERE NOT _deleted" if "_deleted" in cols else ""
        rows = Counter(self.q(f"SELECT {', '.join(f'CAST({c} AS VARCHAR)' for c in data)} FROM openai.{table} {where}"))
        pk = ", ".join(catalog.TABLES[table].primary_key)
        dup = self.q(f"SELECT count(*) FROM (SELECT {pk} FROM openai.{table} GROUP BY {pk} HAVING count(*) > 1) d")
        return rows, int(dup[0][0])


def run_sync(sim: Simulator, dest: Destination, state: Path, log: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_BASE_URL": sim.base_url,
           "OPENAI_PROJECT_KEYS": ",".join(f"{p}={k}" for p, k in sim.world.project_keys.items()),
           "OPENAI_SYNC_CONFIG": str(state.parent / "none.toml")}  # no file: flags and environment are the config
    return subprocess.Popen([CLI, "sync", "--destination", dest.spec,
                             "--schema", dest.schema, "--state-dir", str(state), "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, log: list[str]) -> int:
    out, err = proc.communicate()
    log.extend([out, err])
    return proc.returncode


def phase(sim: Simulator, state: Path, name: str) -> str:
    """Where a running sync is: extract while it talks to the API, load once a package is being loaded
    (normalized jobs exist), normalize once a package was extracted, else start-up."""
    before = sim.stats()["total"]
    time.sleep(0.03)
    if sim.stats()["total"] != before:
        return "extract"
    load = state / name / "load"
    if any((load / "normalized").glob("*/*_jobs/*")):
        return "load"
    if any((load / "new").glob("*")) or any((state / name / "normalize" / "extracted").glob("*/*")):
        return "normalize"
    return "start-up"


def kill_in(proc: subprocess.Popen, sim: Simulator, state: Path, name: str, target: str, rnd: random.Random,
            log: list[str]) -> str | None:
    """SIGKILL the sync at a random point of the `target` step; None when it ended before reaching it."""
    seen = 0
    while proc.poll() is None:
        where = phase(sim, state, name)
        if where == target:
            seen += 1
            # a random point of the step: each observation of it is a chance to strike
            if rnd.random() < (0.15 if target == "extract" else 0.5):
                proc.send_signal(signal.SIGKILL)
                finish(proc, log)
                return where
        elif seen and target != "extract":
            break  # the step went by
    finish(proc, log)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--size", default="small", choices=["small", "medium"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--destination", default="duckdb", choices=["duckdb", "postgres"])
    ap.add_argument("--fault-rate", type=float, default=0.1, help="share of requests that get a fault")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="openai-sync-soak-"))
    world = World(seed=args.seed, size=args.size, now=NOW)
    r = args.fault_rate
    rules = [Rule("429", rate=r * 0.3, retry_after=0.2), Rule("500", rate=r * 0.15), Rule("502", rate=r * 0.15),
             Rule("503", rate=r * 0.15), Rule("drop", rate=r * 0.15), Rule("slow", rate=r * 0.1, ms=300)]
    truth, dest = Destination(args.destination, work / "truth"), Destination(args.destination, work / "dest")
    log: list[str] = []
    tally: Counter[str] = Counter()
    kills: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    started = time.monotonic()
    name = pipeline_name(SyncConfig(admin_key=None, destination=dest.spec, schema=dest.schema))
    try:
        with Simulator(world) as sim:
            for trial in range(args.trials):
                if trial:
                    sim.advance(rnd.uniform(1, 12))
                sim.set_faults([])
                assert finish(run_sync(sim, truth, work / "truth" / "state", log), log) == 0, log[-1]
                sim.set_faults(rules)
                before = sim.stats()["faults"]
                kill = trial > 0  # the first run builds the destination once, whole
                proc = run_sync(sim, dest, work / "dest" / "state", log)
                if kill:
                    target = ("extract", "normalize", "load")[trial % 3]  # each step in turn
                    where = kill_in(proc, sim, work / "dest" / "state", name, target, rnd, log)
                    if where is None:
                        tally["kills missed (the step went by too fast)"] += 1
                    else:
                        kills[where] += 1
                else:
                    code = finish(proc, log)
                    tally["runs that failed and were resumed"] += code != 0
                for _ in range(6):  # resume until a clean run
                    tally["runs"] += 1
                    if finish(run_sync(sim, dest, work / "dest" / "state", log), log) == 0:
                        break
                    tally["runs that failed and were resumed"] += 1
                else:
                    raise SystemExit(f"trial {trial}: no clean run after 6 attempts: {log[-1][-500:]}")
                after = sim.stats()["faults"]
                faults.update({k: after.get(k, 0) - before.get(k, 0) for k in after})
                lost = extra = dups = compared = 0
                for table in truth.tables():
                    want, _ = truth.rows(table)
                    got, dup = dest.rows(table) if table in dest.tables() else (Counter(), 0)
                    compared += sum(want.values())
                    lost += sum((want - got).values())
                    extra += sum((got - want).values())
                    dups += dup
                tally["rows compared"] += compared
                tally["rows lost"] += lost
                tally["rows extra"] += extra
                tally["duplicate keys"] += dups
                status = "ok" if not (lost or extra or dups) else "MISMATCH"
                print(f"trial {trial + 1}/{args.trials}: {status} ({compared:,} rows compared, lost {lost}, "
                      f"extra {extra}, duplicates {dups})", flush=True)
            keys = [world.admin_key, *world.project_keys.values()]
            leaks = sum(k in text for text in log for k in keys)
            for f in work.rglob("*"):
                if f.is_file():
                    data = f.read_bytes()
                    leaks += sum(k.encode() in data for k in keys)
            for table in dest.tables():
                for col, typ in dest.columns(table):
                    if "char" in typ.lower() or "text" in typ.lower():
                        leaks += sum(dest.q(f"SELECT count(*) FROM openai.{table} WHERE {col} = ?", k)[0][0]
                                     for k in keys)
            tally["keys found in outputs, files or columns"] = leaks
    finally:
        truth.drop()
        dest.drop()
    minutes = (time.monotonic() - started) / 60
    print(f"\n{args.trials} trials, size {args.size}, destination {args.destination}, fault rate {r:.0%}, "
          f"seed {args.seed}, {minutes:.1f} min\n")
    print("| measure | value |\n| --- | --- |")
    for kind in sorted(faults):
        print(f"| faults injected: {kind} | {faults[kind]:,} |")
    print(f"| faults injected, all kinds | {sum(faults.values()):,} |")
    print(f"| requests retried (every fault but `slow` makes the request fail once) | "
          f"{sum(v for k, v in faults.items() if k != 'slow'):,} |")
    for where in ("extract", "normalize", "load", "start-up"):
        print(f"| runs killed during {where} (then resumed) | {kills[where]} |")
    for k in ("kills missed (the step went by too fast)", "runs", "runs that failed and were resumed", "rows compared",
              "rows lost", "rows extra", "duplicate keys", "keys found in outputs, files or columns"):
        print(f"| {k} | {tally[k]:,} |")
    bad = tally["rows lost"] + tally["rows extra"] + tally["duplicate keys"] + tally["keys found in outputs, files or "
                                                                                     "columns"]
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
