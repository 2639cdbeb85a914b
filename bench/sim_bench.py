"""Simulator benchmark: how long a large organization takes to be ready, and requests per second served.

Run:  uv run python bench/sim_bench.py [--size large] [--seconds 10] [--connections 32]

The simulator runs as its own process (`openai-sync simulator`), as in a real benchmark; the load
comes from a second process with keep-alive HTTP/1.1 connections written on raw asyncio streams, so
that the client is as cheap as possible and the figure is the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit

from openai_sync.simulator.world import SIZES


def start_simulator(size: str) -> tuple[subprocess.Popen, dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", "simulator", "--size", size, "--seed", "1"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return proc, info, time.perf_counter() - t0


def get(url: str, key: str) -> tuple[int, bytes, float]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body = r.read()
        return r.status, body, time.perf_counter() - t0


async def _load(host: str, port: int, paths: list[tuple[str, str]], seconds: float, conns: int) -> tuple[int, int]:
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(host, port)
        j = i
        while time.perf_counter() < stop:
            path, key = paths[j % len(paths)]
            j += 1
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if b" 200 " in status_line:
                done += 1
            else:
                errors += 1
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(conns)))
    return done, errors


def _load_proc(args: tuple, out: mp.Queue) -> None:
    out.put(asyncio.run(_load(*args)))


def load(base: str, paths: list[tuple[str, str]], seconds: float, conns: int, procs: int = 1) -> tuple[float, int]:
    u = urlsplit(base)
    q: mp.Queue = mp.Queue()
    ps = [mp.Process(target=_load_proc, args=((u.hostname, u.port, paths, seconds, max(1, conns // procs)), q))
          for _ in range(procs)]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.perf_counter() - t0
    ok = sum(r[0] for r in results)
    return ok / wall, sum(r[1] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large", choices=list(SIZES))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()

    proc, info, ready = start_simulator(args.size)
    try:
        base, admin = info["base_url"], info["admin_key"]
        pid, pkey = next(iter(info["project_keys"].items()))
        root = urlsplit(base).path  # /v1
        print(f"simulator size={args.size}: ready (JSON line printed) in {ready:.2f} s, "
              f"{len(info['project_keys'])} project keys")
        clock = json.loads(urllib.request.urlopen(base.replace("/v1", "/_sim/clock")).read())
        year_ago = clock["now"] - 365 * 86400
        firsts = {
            "first users page": f"{base}/organization/users?limit=100",
            "first audit page": f"{base}/organization/audit_logs?limit=100",
            "first 1d usage page (all group_by)": f"{base}/organization/usage/completions?start_time={year_ago}"
            "&bucket_width=1d&limit=31&group_by[]=project_id&group_by[]=user_id&group_by[]=api_key_id"
            "&group_by[]=model&group_by[]=batch&group_by[]=service_tier",
            "first costs page (180 days)": f"{base}/organization/costs?start_time={year_ago}&limit=180"
            "&group_by[]=project_id&group_by[]=line_item",
        }
        for name, url in firsts.items():
            status, body, dt = get(url, admin)
            print(f"  {name}: {dt * 1000:.0f} ms, {len(body) / 1024:.0f} KiB, status {status}")
        status, body, dt = get(f"{base}/files?limit=10000", pkey)
        print(f"  first files page (10,000 of project {pid}): {dt * 1000:.0f} ms, {len(body) / 1024:.0f} KiB")

        mixes = {
            "users page (limit 20)": [(f"{root}/organization/users?limit=20", admin)],
            "project users page": [(f"{root}/organization/projects/{p}/users?limit=100", admin)
                                   for p in list(info["project_keys"])[:50]],
            "audit logs page (limit 100)": [(f"{root}/organization/audit_logs?limit=100", admin)],
            "files page (limit 100)": [(f"{root}/files?limit=100", pkey)],
            "usage 1h page (168 buckets, by project+model)": [
                (f"{root}/organization/usage/completions?start_time={year_ago + d * 86400}&bucket_width=1h"
                 "&limit=168&group_by[]=project_id&group_by[]=model", admin) for d in range(0, 350, 7)],
        }
        procs = max(1, (os.cpu_count() or 2) // 2)
        for name, paths in mixes.items():
            rps, errors = load(base, paths, args.seconds, args.connections, procs)
            print(f"  {name}: {rps:,.0f} requests/s ({args.connections} connections, {errors} errors)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
