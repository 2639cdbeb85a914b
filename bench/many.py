"""Many organizations: `openai-sync sync --all` over N simulated organizations, each its own simulator process
with the API's latency and its own rate limit, against one organization alone.

Run:  uv run python bench/many.py [--orgs 1,3,10] [--size medium] [--latency-ms 100] [--rpm 3000] [--shared]

Each organization is a simulator in its own process (seed 100 + i: different organizations, same size), with a
latency added to every request and a per-key rate limit, as the API has. The config file gets one connection per
organization with its Admin key (the organization tables), each into a DuckDB file of its own (or, with
--shared, all into one PostgreSQL schema on 127.0.0.1:5432, whose loads take turns). `sync --all --parallel N`
runs them. Printed per N: wall time, requests, rows, rows per second, the largest run's peak memory (each run is
a process of its own; at most N of them at once), and the wall time against one organization alone. The lower
bound is one organization's own lower bound (bench/perf.py): organizations have separate rate limits, so N of
them in parallel could take as long as one, were the machine's cores and the destination not shared. The runs'
CPU seconds (sync --all and its runs, not the simulators) say how much of the wall time the cores bound.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from openai_sync.config import Secrets, Settings
from openai_sync.config_files import save


class Sim:
    def __init__(self, seed: int, size: str, latency_ms: float, rpm: float) -> None:
        cmd = [sys.executable, "-m", "openai_sync.cli", "simulator", "--size", size, "--seed", str(seed),
               "--latency-ms", str(latency_ms)]
        if rpm:
            cmd += ["--rate-limit", str(rpm / 60)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit("a simulator did not start")
        self.info = json.loads(line)

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(n: int, args: argparse.Namespace, folder: Path) -> dict:
    config = folder / f"orgs{n}.toml"
    schema = f"many_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        sims = [stack.enter_context(Sim(100 + i, args.size, args.latency_ms, args.rpm)) for i in range(n)]
        for i, sim in enumerate(sims):
            destination = ("postgresql://postgres@127.0.0.1:5432/test" if args.shared else
                           f"duckdb:///{folder / f'n{n}_org{i}.duckdb'}")
            save(config, f"org{i}", Settings.model_validate({
                "destination": destination, "schema": schema if args.shared else "openai",
                "state_dir": str(folder / f"dlt{n}"), "base_url": sim.info["base_url"]}),
                 Secrets(admin_key=sim.info["admin_key"], project_keys=[]))
        began, cpu0 = time.monotonic(), _cpu()
        done = subprocess.run([sys.executable, "-m", "openai_sync.cli", "sync", "--all", "--config", str(config),
                               "--json", "--parallel", str(n), "--max-requests", str(args.max_requests)],
                              capture_output=True, text=True)
        wall, cpu = time.monotonic() - began, _cpu() - cpu0  # the runs' CPU (the simulators are not reaped yet)
    if args.shared:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-c",
                        f"DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {schema}_analytics CASCADE; "
                        f"DROP SCHEMA IF EXISTS {schema}_staging CASCADE"], check=False, capture_output=True)
    out = json.loads(done.stdout) if done.stdout.startswith("{") else {"status": "error", "connections": {}}
    conns = out["connections"].values()
    return {"orgs": n, "status": out["status"], "wall": wall, "requests": sum(c.get("requests", 0) for c in conns),
            "rows": sum(c.get("rows", 0) for c in conns),
            "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "cpu": cpu,
            "error": done.stderr[-400:] if done.returncode else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgs", default="1,3,10")
    ap.add_argument("--size", default="medium")
    ap.add_argument("--latency-ms", type=float, default=100.0)
    ap.add_argument("--rpm", type=float, default=3000.0)
    ap.add_argument("--max-requests", type=int, default=256)
    ap.add_argument("--shared", action="store_true", help="all into one PostgreSQL schema")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="openai-sync-bench-many-"))
    print(f"{args.size} organizations, {args.latency_ms:g} ms latency, {args.rpm:g} rpm per organization, "
          f"{'one PostgreSQL schema' if args.shared else 'a DuckDB file each'}; sync --all --parallel N")
    one = None
    for n in (int(x) for x in args.orgs.split(",")):
        r = run(n, args, folder)
        one = one or r["wall"]
        label = f"{n} org{'s' if n > 1 else ''}"
        print(f"  {label:>8}  {r['status']:<8} {r['wall']:7.1f} s  ({r['wall'] / one:4.2f}x one)  "
              f"{r['requests']:>7,} requests  {r['rows']:>10,} rows  {r['rows'] / r['wall']:>9,.0f} rows/s  "
              f"CPU {r['cpu']:6.1f} s  largest run peak {r['peak_mb']:,.0f} MB {r['error']}")


if __name__ == "__main__":
    main()
