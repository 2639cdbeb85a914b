"""What running as a service costs: `openai-sync serve` on a simulated organization, timed from outside.

Run:  uv run python bench/service.py [--size medium] [--latency-ms 0]

Starts the simulator in this process and `openai-sync serve` in its own, with one connection into a fresh DuckDB
file. Prints: the service's resident memory at start and after the runs; the first run (started by the service
at once) and a no-change run (POST /api/connections/NAME/sync): end-to-end seconds as the service records them
(child process start, the sync, the history row and the row counts), the sync's own seconds, requests, rows and
rows per second; the time SIGTERM takes with nothing running. The child's own peak memory is the sync's
(bench/perf.py measures it).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from openai_sync.config import ProjectKey, Secrets, Settings
from openai_sync.config_files import save
from openai_sync.simulator import Simulator, World


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


def get(url: str) -> dict:
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def wait(what, seconds: float):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got = what()
        except OSError:
            got = None
        if got:
            return got
        time.sleep(0.25)
    raise SystemExit("timed out")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="medium")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="openai-sync-bench-service-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with Simulator(World(seed=42, size=args.size), latency_ms=args.latency_ms) as sim:
        config = tmp / "openai-sync.toml"
        save(config, "bench", Settings.model_validate({"destination": f"duckdb:///{tmp / 'bench.duckdb'}",
                                                      "base_url": sim.base_url, "state_dir": str(tmp / "dlt"),
                                                      "sync_frequency": "24h"}),
             Secrets(admin_key=sim.world.admin_key,
                     project_keys=[ProjectKey(k) for k in sim.world.project_keys.values()]))
        proc = subprocess.Popen([str(Path(sys.executable).with_name("openai-sync")), "serve", "--config",
                                 str(config), "--port", str(port)], stderr=subprocess.DEVNULL)
        wait(lambda: get(url + "/healthz")["scheduler_alive"], 60)
        start_mb = rss_mb(proc.pid)
        first = wait(lambda: get(url + "/api/connections/bench")["last_run"], 900)
        urllib.request.urlopen(urllib.request.Request(url + "/api/connections/bench/sync", data=b"", method="POST"))
        again = wait(lambda: (r := get(url + "/api/runs?connection=bench&limit=1")["runs"][0])["run_id"]
                     != first["run_id"] and r["status"] != "running" and r, 900)
        after_mb = rss_mb(proc.pid)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
        stop = time.monotonic() - began
    print(f"service ({args.size}, latency {args.latency_ms:.0f} ms): resident memory {start_mb} MB at start, "
          f"{after_mb} MB after two runs; SIGTERM with nothing running: exit {code} in {stop:.2f} s")
    for name, run in (("first run", first), ("no-change run", again)):
        sync = run["result"]["seconds"]
        print(f"{name}: {run['status']}, {run['seconds']:.1f} s end to end (the sync {sync:.1f} s, the rest "
              f"{run['seconds'] - sync:.1f} s: child start, history row, row counts), {run['requests']:,} requests, "
              f"{run['rows']:,} rows, {run['rows'] / sync:,.0f} rows/s")


if __name__ == "__main__":
    main()
