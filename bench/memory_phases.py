"""Peak RSS of one sync, by dlt phase (extract, normalize, load), against the simulator with no latency.

Run:  uv run python bench/memory_phases.py [--size large] [--project-keys] [--tables usage_completions,costs]

bench/perf.py gives a run's peak; this says which phase holds it. A sampler thread reads VmRSS every
0.25 s while dlt.Pipeline.extract/normalize/load are wrapped to name the phase; Arrow's live bytes are
printed beside it (live memory far below RSS points at allocator retention, see openai_sync/memory.py).
For where the memory goes inside a phase: `uv run --with memray memray run --native -o out.bin
bench/memory_phases.py`, then memray's high-water-mark records (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

import dlt
import pyarrow as pa

from openai_sync.config import ProjectKey
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator.world import SIZES


def rss_mib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large", choices=list(SIZES))
    ap.add_argument("--project-keys", action="store_true")
    ap.add_argument("--tables", default="", help="comma-separated tables (default: all the key allows)")
    args = ap.parse_args()

    phase = ["start"]
    peak: dict[str, int] = defaultdict(int)
    arrow: dict[str, int] = defaultdict(int)

    def sample() -> None:
        while True:
            peak[phase[0]] = max(peak[phase[0]], rss_mib())
            arrow[phase[0]] = max(arrow[phase[0]], pa.total_allocated_bytes() >> 20)
            time.sleep(0.25)

    threading.Thread(target=sample, daemon=True).start()
    for name in ("extract", "normalize", "load"):
        original = getattr(dlt.Pipeline, name)

        def wrapped(self: Any, *a: Any, _o: Any = original, _n: str = name, **kw: Any) -> Any:
            phase[0] = _n
            try:
                return _o(self, *a, **kw)
            finally:
                phase[0] = f"after {_n}"

        setattr(dlt.Pipeline, name, wrapped)

    sim = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", "simulator", "--size", args.size, "--seed", "1"],
                           stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(sim.stdout.readline())  # type: ignore[union-attr]
        tmp = tempfile.mkdtemp(prefix="openai-sync-mem-")
        keys = [ProjectKey(k, p) for p, k in info["project_keys"].items()] if args.project_keys else []
        cfg = SyncConfig(admin_key=info["admin_key"], base_url=info["base_url"], destination=f"duckdb:///{tmp}/m.duckdb",
                         pipelines_dir=f"{tmp}/state", project_keys=keys,
                         tables=[t for t in args.tables.split(",") if t] or None)
        t0 = time.perf_counter()
        results, run = sync(cfg)
        wall = time.perf_counter() - t0
    finally:
        sim.terminate()
        sim.wait()
    rows = sum(r.rows for r in results)
    print(f"{args.size}: {rows:,} rows in {wall:.1f} s; failed: {[r.name for r in results if r.status != 'ok']}")
    for n in run.notes:
        print(f"note: {n}")
    for p, mib in peak.items():
        print(f"  {p:16} peak RSS {mib:6,} MiB   Arrow live at most {arrow[p]:5,} MiB")


if __name__ == "__main__":
    main()
