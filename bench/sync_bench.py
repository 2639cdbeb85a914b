"""Sync benchmark: a full sync, then a no-change sync, of a simulated organization into DuckDB.

Run:  uv run python bench/sync_bench.py [--size medium] [--bucket-width 1d] [--concurrency 8]

Prints, for each run: wall time, requests (total and the largest tables), rows loaded, rows per second
and the peak memory (RSS) of the process. The simulator runs in its own process, as the API would.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

from openai_sync.config import ProjectKey
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator.world import SIZES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="medium", choices=list(SIZES))
    ap.add_argument("--bucket-width", default="1d", choices=["1d", "1h", "1m"])
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--project-keys", action="store_true", help="also sync every project with its key")
    args = ap.parse_args()

    sim = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", "simulator", "--size", args.size, "--seed", "1",
                            "--latency-ms", str(args.latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(sim.stdout.readline())  # type: ignore[union-attr]
        tmp = tempfile.mkdtemp(prefix="openai-sync-bench-")
        keys = [ProjectKey(k, pid) for pid, k in info["project_keys"].items()] if args.project_keys else []
        cfg = SyncConfig(admin_key=info["admin_key"], base_url=info["base_url"], destination=f"duckdb:///{tmp}/b.duckdb",
                         pipelines_dir=f"{tmp}/state", concurrency=args.concurrency, bucket_width=args.bucket_width,
                         project_keys=keys)
        print(f"size={args.size} bucket_width={args.bucket_width} concurrency={args.concurrency} "
              f"latency={args.latency_ms:g} ms")
        for label in ("full sync", "no-change sync"):
            t0 = time.perf_counter()
            results, run = sync(cfg)
            wall = time.perf_counter() - t0
            rows = sum(r.rows for r in results)
            reqs = sum(sum(c.requests.values()) for c in run.clients)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            top = sorted(results, key=lambda r: -r.requests)[:4]
            failed = [r.name for r in results if r.status != "ok"]
            print(f"  {label}: {wall:.1f} s, {reqs:,} requests ({', '.join(f'{r.name} {r.requests}' for r in top)}), "
                  f"{rows:,} rows, {rows / wall:,.0f} rows/s, peak RSS {rss:,.0f} MiB"
                  + (f", FAILED: {failed}" if failed else ""))
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    main()
