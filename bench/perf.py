"""Performance benchmark: openai-sync against a simulated API with the real API's latency and rate limits.

Run:  uv run python bench/perf.py [--size medium] [--bucket-width 1d] [--latency-ms 100] [--rpm 3000]
      uv run python bench/perf.py --scenarios all          # small, medium, large x 1d; medium x 1h, 1m
      uv run python bench/perf.py --scenarios small:1d,medium:1h --no-baseline

For each scenario (size x bucket width) the simulator is started in its own process, with a latency added to every
request and a per-key rate limit (`--rpm`, requests per minute; 0: no limit). openai-sync then makes a full sync and
a no-change sync (the clock does not move) of the organization into DuckDB, then a sync after an hour of changes,
each in a fresh child process of its own, so that its peak memory (ru_maxrss) is that sync's alone. With
`--baseline` (the default for small and medium) the naive dlt `rest_api` pipeline of bench/rest_api_baseline.py
loads the same organization (a fresh simulator process: same seed, size, clock, latency and rate limit) into its own
DuckDB, also in a child process, once per size.

Printed per run: wall time (of `sync()` alone, in the child: imports and start-up excluded); the lower bound on
the time and wall / bound; requests made (openai-sync's own count, summed over run.clients: key checks
included) and the minimum (no-change sync: the target), with the five largest tables as made/minimum; 429s
(seen by openai-sync's clients, and by the simulator among the HTTP requests it answered, retries included);
the client's pace waits; rows loaded and rows per second; peak RSS of the child. At the end, a Markdown table
of every run (its 429s: the larger of the two counts; "baseline / this": the baseline's wall time divided by
the full sync's).

The minimum N (full sync) is computed from the ground truth, the rows the full sync loaded into DuckDB, not
from the requests openai-sync made: the pages needed at the largest page size each endpoint accepts.
- a plain listing: ceil(rows / page_limit), at least 1 (an empty listing still takes a request);
- a fan-out (per user, project, group; per project object for project keys): for every parent (counted in the
  parent table, so that a parent without children counts too) max(1, ceil(children / page_limit));
  project_settings: one request per settings endpoint (4) per project; models (not paginated): 1;
- audit_logs: ceil(events / 100);
- usage_*: the buckets between the first project's creation (the earliest usage there can be; openai-sync
  starts there too) and the simulator's clock, ceil(buckets / USAGE_PAGE[width]). The simulator pages usage by
  buckets only (routes.usage: `limit` buckets a page however many group_by results they hold), so no further
  split is needed;
- costs: days / COSTS_PAGE (180) per range, two ranges when the history crosses COSTS_API_KEY_GROUPING_FROM
  (the API refuses group_by=api_key_id before it, so openai-sync splits there; read/costs.py. A further split
  where an organization's costs accept user_id with project_id is not counted: the bound stays a lower bound).
Not counted: the key checks (openai-sync's 3 preflight requests) and the listings that match project keys
to their projects; those are openai-sync's own overhead. Approximations: the row counts are those after the
load (a full sync of a frozen clock sees every object once); an audit log or a usage range split into
parallel ranges may need a few more (partial) pages than the minimum, which stays a lower bound.

The lower bound on time, printed beside the wall time: with latency L per request, a rate limit of R
requests/second per key (the Admin key makes every organization request; each project key its project's)
and N_k the minimum requests of key k, no client finishes before max(chain x L, (max_k N_k - B) / R + L),
where B = max(1, R) is the burst the simulator's token bucket starts with and chain is the longest chain of
requests that must be made one after the other: each page of a cursor-paginated listing needs the cursor of
the one before, and a child listing needs its parent's id. chain = 1 (the key check before anything is
written) + the longest chain of any table:
- a plain cursor listing (users, projects, files, ...): its pages;
- a fan-out: max(chain(parent) + 1, depth + the most pages of any one parent's children), depth being the
  number of ancestors (the last parent is only known after the parent's last page; the parent with the most
  children is at best on the first page);
- audit_logs, usage_* and costs: 1, since a client may split them into time ranges read in parallel
  (effective_at, start_time/end_time).
For the no-change sync the figure is the target: one request per usage table, costs and the audit log (the change
feed's page, which the audit table reuses); none for an organization listing the change feed reads only when the
audit log says it changed (read/feed.py); for project keys, one per project table plus one per parent object that
can change (an open batch, eval run or fine-tuning job is re-read, and an open eval run's output items listed).
Its bound is max(chain' x L, (target - B) / R + L) with chain' = 1 + the deepest fan-out + 1.
Then the simulated clock moves one hour (new usage, audit events, and the organization's changes: users added
and removed, roles assigned, keys deleted, rate limits changed) and a third sync runs: the issue's goal is at most
twice the no-change sync's requests (printed beside the same target).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai_sync.catalog import (
    COSTS_API_KEY_GROUPING_FROM,
    COSTS_PAGE,
    ORG_TABLES,
    PROJECT_TABLES,
    TABLES,
    USAGE_PAGE,
    WIDTH_SECONDS,
    Table,
    crosses_keys,
    scope_columns,
)
from openai_sync.read.feed import fed
from openai_sync.simulator.world import SIZES

DAY = 86400
ALL = [("small", "1d"), ("medium", "1d"), ("large", "1d"), ("medium", "1h"), ("medium", "1m")]
ADMIN = "admin"  # the key of every organization request


# ---- the simulator -------------------------------------------------------------------------------------
class Sim:
    """The simulator in its own process, as the API would be."""

    def __init__(self, size: str, seed: int, latency_ms: float, rpm: float, now: int) -> None:
        cmd = [sys.executable, "-m", "openai_sync.cli", "simulator", "--size", size, "--seed", str(seed),
               "--latency-ms", str(latency_ms), "--now", str(now)]
        if rpm:
            cmd += ["--rate-limit", str(rpm / 60)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.proc.wait(timeout=10)
            raise SystemExit(f"the simulator did not start (exit status {self.proc.returncode})")
        self.info = json.loads(line)
        self.control = self.info["base_url"].removesuffix("/v1") + "/_sim"

    def get(self, what: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.control}/{what}", timeout=30) as r:
            return json.loads(r.read())

    def post(self, what: str) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.control}/{what}", data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def http_delta(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int]:
    """(HTTP requests, 429s) the simulator answered between two /_sim/stats snapshots."""
    s429 = int(after["by_status"].get("429", 0)) - int(before["by_status"].get("429", 0))
    return after["total"] - before["total"], s429


# ---- child processes: one sync (or the baseline) each, so that ru_maxrss is that run's own ------------
def child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")  # as openai-sync's sync() does: no dlt warnings
    if spec["kind"] == "baseline":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        baseline = importlib.import_module("rest_api_baseline")
        res = baseline.run_baseline(spec["base_url"], spec["admin_key"], spec["duckdb_path"],
                                    spec["pipelines_dir"], spec["start_time"])
        out: dict[str, Any] = {"wall": res["seconds"], "rows": res["rows"], "tables": len(res["tables"])}
    else:
        from openai_sync.config import ProjectKey
        from openai_sync.runner import SyncConfig, sync

        cfg = SyncConfig(admin_key=spec["admin_key"], base_url=spec["base_url"], destination=spec["destination"],
                         pipelines_dir=spec["pipelines_dir"], concurrency=spec["concurrency"],
                         bucket_width=spec["bucket_width"],
                         project_keys=[ProjectKey(k, pid) for pid, k in spec["project_keys"].items()])
        phases = timed_phases()
        t0 = time.perf_counter()
        results, run = sync(cfg)
        wall = time.perf_counter() - t0
        labels: Counter[str] = Counter()
        for c in run.clients:
            labels.update(c.requests)
        out = {"wall": wall, "rows": sum(r.rows for r in results), "requests": sum(labels.values()),
               "by_label": dict(labels), "failed": [r.name for r in results if r.status != "ok"],
               "throttled": sum(c.throttle.throttled for c in run.clients),
               "paced": sum(c.throttle.paced for c in run.clients),
               "whole": {r.name: r.read for r in results if r.read.startswith("whole")}, "phases": dict(phases)}
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    Path(spec["out"]).write_text(json.dumps(out))


def timed_phases() -> Counter[str]:
    """Seconds spent in dlt's extract (which includes reading the API), normalize and load, summed over a run's
    calls: where a run's time beyond the requests goes."""
    import dlt

    spent: Counter[str] = Counter()
    for name in ("extract", "normalize", "load"):
        original = getattr(dlt.Pipeline, name)

        def wrapped(self: Any, *a: Any, _o: Any = original, _n: str = name, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return _o(self, *a, **kw)
            finally:
                spent[_n] += time.perf_counter() - t

        setattr(dlt.Pipeline, name, wrapped)
    return spent


def run_child(spec: dict[str, Any], folder: Path, name: str) -> dict[str, Any]:
    spec = {**spec, "out": str(folder / f"{name}.out.json")}
    path = folder / f"{name}.spec.json"
    path.write_text(json.dumps(spec))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(path)], check=True)
    return json.loads(Path(spec["out"]).read_text())


# ---- the minimum, from the ground truth -------------------------------------------------------------
def pages(n: int, limit: int) -> int:
    return 1 if not limit else max(1, math.ceil(n / limit))


@dataclass
class Minimum:
    """The requests the organization's data needs, per table and per key, and the longest sequential chain."""

    full: Counter[str] = field(default_factory=Counter)  # table -> minimum requests of a full sync
    full_keys: Counter[str] = field(default_factory=Counter)  # key (admin or project id) -> requests
    chain: int = 1  # the key check
    target: Counter[str] = field(default_factory=Counter)  # table -> no-change target
    target_keys: Counter[str] = field(default_factory=Counter)
    chain_nc: int = 1


class Truth:
    """Row counts of the destination (schema openai), rows marked deleted left out."""

    def __init__(self, db_path: str) -> None:
        import duckdb

        self.con = duckdb.connect(db_path, read_only=True)
        self.columns: dict[str, set[str]] = {}
        for t, c in self.con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'openai'").fetchall():
            self.columns.setdefault(t, set()).add(c)

    def count(self, table: str, by: tuple[str, ...] = (), where: str = "") -> Counter[tuple]:
        """Rows per value of `by` ({(): n} without `by`)."""
        if table not in self.columns:
            return Counter()
        conds = [c for c in ("NOT coalesce(_deleted, false)" if "_deleted" in self.columns[table] else "", where) if c]
        sql = (f"SELECT {', '.join([*by, 'count(*)'])} FROM openai.{table}"
               + (f" WHERE {' AND '.join(conds)}" if conds else "") + (" GROUP BY ALL" if by else ""))
        return Counter({tuple(r[:-1]): int(r[-1]) for r in self.con.execute(sql).fetchall()})

    def open_where(self, t: Table) -> str:
        """Objects not yet in a terminal state (re-read by a no-change sync)."""
        if not t.terminal or "status" not in self.columns.get(t.name, set()):
            return "false"
        return f"coalesce(status, '') NOT IN ({', '.join(repr(s) for s in t.terminal)})"

    def close(self) -> None:
        self.con.close()


def depth(t: Table) -> int:
    return 0 if not t.parent else 1 + depth(TABLES[t.parent])


def minimum(db_path: str, width: str, clock: dict[str, int], project_ids: list[str]) -> Minimum:
    truth = Truth(db_path)
    try:
        m = Minimum()
        org_chain: dict[str, int] = {}
        # usage can be no older than the first project (openai-sync starts there too)
        first = None
        if "projects" in truth.columns:
            first = truth.con.execute("SELECT min(epoch(created_at)) FROM openai.projects").fetchone()[0]
        start = int(first) if first is not None else clock["start"]
        now = clock["now"]
        for t in ORG_TABLES:
            if t.mode == "audit":
                need, chain = pages(truth.count(t.name)[()], t.page_limit), 1
                nc = 1
            elif t.mode == "usage":
                w = WIDTH_SECONDS[width]
                buckets = len(range(start // w * w, now, w))
                need, chain, nc = pages(buckets, USAGE_PAGE[width]), 1, 1
            elif t.mode == "costs":
                day0 = start // DAY * DAY
                if day0 < COSTS_API_KEY_GROUPING_FROM:
                    need = (pages(len(range(day0, min(now, COSTS_API_KEY_GROUPING_FROM), DAY)), COSTS_PAGE)
                            + pages(len(range(COSTS_API_KEY_GROUPING_FROM, now, DAY)), COSTS_PAGE))
                else:
                    need = pages(len(range(day0, now, DAY)), COSTS_PAGE)
                chain, nc = 1, 1
            elif crosses_keys(t):  # the Admin key, once per distinct object that project keys list (ft models)
                if not project_ids:
                    continue
                models = truth.count(t.parent, ("id",), f"id LIKE '{t.parent_prefix}%'")
                children = truth.count(t.name, scope_columns(t))
                per = [pages(children[m], t.page_limit) for m in models]
                need, nc = sum(per), len(per)
                chain = 2 + max(per, default=0)  # after the project keys' listing of the parent
            elif t.parent:
                parent = TABLES[t.parent]  # one listing per parent object (below a fan-out: per its scope too)
                parents = list(truth.count(t.parent, (*scope_columns(parent), parent.primary_key[-1])))
                if t.mode == "settings":
                    per = [1] * len(parents)  # the settings endpoints are not paginated, and independent
                    need = len(t.settings_paths) * len(parents)
                else:
                    children = truth.count(t.name, scope_columns(t))
                    per = [pages(children[p], t.page_limit) for p in parents]
                    need = sum(per)
                chain = max(org_chain[t.parent] + 1, depth(t) + max(per)) if per else org_chain[t.parent]
                nc = need if t.mode == "settings" else len(parents)
            else:
                need = chain = pages(truth.count(t.name)[()], t.page_limit)
                nc = 1
            if fed(t):  # the change feed: listed only when the audit log (one page, counted above) says it changed
                nc = 0
            org_chain[t.name] = chain
            m.full[t.name] += need
            m.target[t.name] += nc
            m.full_keys[ADMIN] += need
            m.target_keys[ADMIN] += nc
        longest = max(org_chain.values())
        deepest = max(depth(t) for t in ORG_TABLES)
        if project_ids:
            longest = max(longest, project_minimum(truth, m, project_ids))
            deepest = max(deepest, *(depth(t) for t in PROJECT_TABLES))
        m.chain = 1 + longest
        m.chain_nc = 1 + deepest + 1
        return m
    finally:
        truth.close()


def project_minimum(truth: Truth, m: Minimum, project_ids: list[str]) -> int:
    """Project tables, per project key; adds to `m` and returns the longest chain of any project."""
    keyed = set(project_ids)
    chain: dict[tuple[str, str], int] = {}  # (table, project) -> chain
    for t in PROJECT_TABLES:  # parents come before their children in the catalog
        if t.parent:
            parent = TABLES[t.parent]
            scopes = [k for k in truth.count(parent.name, ("project_id", "id")) if k[0] in keyed]
            children = truth.count(t.name, ("project_id", t.parent_column))  # type: ignore[arg-type]
            # a no-change sync lists the children of every parent of a full table, and of the open ones only
            # of a recent table (a finished run's output items never change)
            changeable = set(scopes) if parent.mode != "recent" else set(
                truth.count(parent.name, ("project_id", "id"), truth.open_where(parent)))
        else:
            scopes = [(pid, None) for pid in project_ids]
            children = truth.count(t.name, ("project_id",))
            changeable = set(scopes)
        reopened = truth.count(t.name, ("project_id",), truth.open_where(t)) if t.retrieve else Counter()
        per_project: dict[str, list[int]] = {pid: [] for pid in project_ids}
        listed: Counter[str] = Counter()  # per project: the listings a no-change sync makes
        for scope in scopes:
            n = children[scope if t.parent else scope[:1]]
            per_project[scope[0]].append(pages(n, t.page_limit))
            listed[scope[0]] += scope in changeable
        for pid, per in per_project.items():
            need = sum(per)
            nc = listed[pid] + reopened[(pid,)]
            m.full[t.name] += need
            m.full_keys[pid] += need
            m.target[t.name] += nc
            m.target_keys[pid] += nc
            if t.parent:
                up = chain[(t.parent, pid)]
                chain[(t.name, pid)] = max(up + 1, depth(t) + max(per)) if per else up
            else:
                chain[(t.name, pid)] = max(per)
    return max(chain.values(), default=0)


def lower_bound(chain: int, per_key: Counter[str], latency_s: float, rps: float) -> tuple[float, float, float]:
    """(bound, chain x L, rate term) in seconds."""
    t_chain = chain * latency_s
    n = max(per_key.values(), default=0)
    t_rate = max(0.0, n - max(1.0, rps)) / rps + latency_s if rps else 0.0
    return max(t_chain, t_rate), t_chain, t_rate


# ---- runs ---------------------------------------------------------------------------------------------
@dataclass
class Row:
    size: str
    width: str
    run: str
    wall: float
    requests: int
    minimum: int | None
    bound: float | None
    s429: int
    rows: int
    rss: float
    vs_baseline: float | None = None


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def ratio(wall: float, bound: float | None) -> str:
    return f"{wall / bound:.1f}x" if bound else "-"


def report(size: str, width: str, label: str, res: dict[str, Any], http: tuple[int, int], mins: Counter[str],
           n_min: int, what: str, bound: tuple[float, float, float], chain: int, args: argparse.Namespace) -> Row:
    wall, rows = res["wall"], res["rows"]
    top = sorted(res["by_label"].items(), key=lambda kv: -kv[1])[:5]
    tables = ", ".join(f"{k} {v:,}/{mins[k]:,}" if k in mins else f"{k} {v:,}" for k, v in top)
    limit = f"{args.rpm:g} rpm" if args.rpm else "no rate limit"
    b, t_chain, t_rate = bound
    failed = f", FAILED: {res['failed']}" if res["failed"] else ""
    print(f"  {size} {width} {label}: {fmt_s(wall)} s, lower bound {fmt_s(b)} s [max(chain {chain} x "
          f"{args.latency_ms:g} ms = {fmt_s(t_chain)} s, rate {fmt_s(t_rate) + ' s' if args.rpm else '-'} "
          f"({limit}))] = {ratio(wall, b)} the bound; {res['requests']:,} requests, {what} {n_min:,} "
          f"(made/{what}: {tables}); {res['throttled']:,} 429s (simulator: {http[1]:,} of {http[0]:,} HTTP "
          f"requests), {res['paced']:,} pace waits; {rows:,} rows, {rows / wall:,.0f} rows/s; "
          f"peak RSS {res['rss_mib']:,.0f} MiB{failed}", flush=True)
    if res.get("phases"):
        print("    dlt phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in res["phases"].items()), flush=True)
    whole = res.get("whole") or {}
    if whole and label != "full sync":  # why the change feed read these organization tables whole
        print(f"    read whole: {', '.join(f'{k} ({v})' for k, v in sorted(whole.items()))}", flush=True)
    return Row(size, width, label, wall, res["requests"], n_min, b, max(res["throttled"], http[1]), rows,
               res["rss_mib"])


def scenario(args: argparse.Namespace, size: str, width: str, now: int, baselines: dict[str, Row | None]
             ) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix=f"openai-sync-perf-{size}-{width}-"))
    rps = args.rpm / 60
    rows: list[Row] = []
    try:
        with Sim(size, args.seed, args.latency_ms, args.rpm, now) as sim:
            info = sim.info
            clock = sim.get("clock")
            keys = info["project_keys"] if args.project_keys else {}
            spec = {"kind": "sync", "admin_key": info["admin_key"], "base_url": info["base_url"],
                    "destination": f"duckdb:///{folder}/sync.duckdb", "pipelines_dir": str(folder / "state"),
                    "concurrency": args.concurrency, "bucket_width": width, "project_keys": keys}
            print(f"{size} x {width}: latency {args.latency_ms:g} ms, "
                  f"{f'{args.rpm:g} requests/min ({rps:g}/s) per key' if args.rpm else 'no rate limit'}, "
                  f"seed {args.seed}, concurrency {args.concurrency}, "
                  f"{'admin key + ' + str(len(keys)) + ' project keys' if keys else 'admin key only'}", flush=True)
            s0 = sim.get("stats")
            full = run_child(spec, folder, "full")
            s1 = sim.get("stats")
            project_ids = []
            if keys:
                import duckdb

                with duckdb.connect(f"{folder}/sync.duckdb", read_only=True) as con:
                    live = {r[0] for r in con.execute("SELECT id FROM openai.projects WHERE archived_at IS NULL")
                            .fetchall()}
                project_ids = [pid for pid in keys if pid in live]  # archived projects' keys no longer work
            m = minimum(f"{folder}/sync.duckdb", width, clock, project_ids)
            b = lower_bound(m.chain, m.full_keys, args.latency_ms / 1000, rps)
            rows.append(report(size, width, "full sync", full, http_delta(s0, s1), m.full, sum(m.full.values()),
                               "minimum", b, m.chain, args))
            nochange = run_child(spec, folder, "nochange")
            s2 = sim.get("stats")
            b = lower_bound(m.chain_nc, m.target_keys, args.latency_ms / 1000, rps)
            rows.append(report(size, width, "no-change sync", nochange, http_delta(s1, s2), m.target,
                               sum(m.target.values()), "target", b, m.chain_nc, args))
            after: list[Row] = []
            for h in range(args.hours):  # each an hour of the organization's changes, which the audit log records
                sim.post("advance?hours=1")
                hour = run_child(spec, folder, f"hour{h + 1}")
                s3 = sim.get("stats")
                after.append(report(size, width, "sync after an hour of changes" if args.hours == 1 else
                                    f"sync after hour {h + 1}", hour, http_delta(s2, s3), m.target,
                                    sum(m.target.values()), "target", b, m.chain_nc, args))
                s2 = s3
            rows += after
            if args.hours > 1:
                worst_r = max(after, key=lambda r: r.requests)
                worst_w = max(after, key=lambda r: r.wall)
                print(f"  {size} {width} {args.hours} hours after: requests at most {worst_r.requests} "
                      f"({worst_r.run}), wall at most {worst_w.wall:.1f} s ({worst_w.run}); the no-change sync "
                      f"{rows[1].requests} requests, {rows[1].wall:.1f} s", flush=True)
        want = args.baseline if args.baseline is not None else size in ("small", "medium")
        if want and size not in baselines:
            baselines[size] = run_baseline(args, size, now, clock["start"], folder)
            if baselines[size] is not None:
                rows.append(baselines[size])  # type: ignore[arg-type]
        base = baselines.get(size)
        if base is not None:
            rows[0].vs_baseline = base.wall / rows[0].wall
            print(f"  {size} {width} rest_api baseline / openai-sync full sync: {base.wall:.1f} s / "
                  f"{rows[0].wall:.1f} s = {rows[0].vs_baseline:.1f}x" + (" (the baseline reads 1d buckets)"
                                                                          if width != "1d" else ""), flush=True)
    finally:
        if args.keep:
            print(f"  (kept {folder})")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def run_baseline(args: argparse.Namespace, size: str, now: int, start: int, folder: Path) -> Row | None:
    """bench/rest_api_baseline.py against a fresh simulator of the same organization, in a child process."""
    with Sim(size, args.seed, args.latency_ms, args.rpm, now) as sim:
        spec = {"kind": "baseline", "base_url": sim.info["base_url"], "admin_key": sim.info["admin_key"],
                "duckdb_path": str(folder / "baseline.duckdb"), "pipelines_dir": str(folder / "baseline-state"),
                "start_time": start}
        s0 = sim.get("stats")
        try:
            res = run_child(spec, folder, "baseline")
        except subprocess.CalledProcessError as e:
            print(f"  {size} rest_api baseline FAILED (exit status {e.returncode})", flush=True)
            return None
        reqs, s429 = http_delta(s0, sim.get("stats"))
    wall, rows = res["wall"], res["rows"]
    print(f"  {size} rest_api baseline (full load, 1d buckets, {res['tables']} tables): {fmt_s(wall)} s; "
          f"{reqs:,} requests (simulator), {s429:,} 429s; {rows:,} rows, {rows / wall:,.0f} rows/s; "
          f"peak RSS {res['rss_mib']:,.0f} MiB", flush=True)
    return Row(size, "1d", "rest_api baseline", wall, reqs, None, None, s429, rows, res["rss_mib"])


def markdown(rows: list[Row]) -> str:
    head = ["size", "width", "run", "wall s", "requests", "minimum", "lower bound s", "ratio", "429s", "rows",
            "rows/s", "peak RSS MiB", "baseline / this"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in rows:
        cells = [r.size, r.width, r.run, fmt_s(r.wall), f"{r.requests:,}",
                 f"{r.minimum:,}" if r.minimum is not None else "-",
                 fmt_s(r.bound) if r.bound is not None else "-", ratio(r.wall, r.bound), f"{r.s429:,}",
                 f"{r.rows:,}", f"{r.rows / r.wall:,.0f}", f"{r.rss:,.0f}",
                 f"{r.vs_baseline:.1f}x" if r.vs_baseline is not None else ""]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="medium", choices=list(SIZES))
    ap.add_argument("--bucket-width", default="1d", choices=["1d", "1h", "1m"])
    ap.add_argument("--scenarios", default=None,
                    help="'all' (small, medium, large x 1d; medium x 1h, 1m) or SIZE:WIDTH,... (default: --size "
                         "and --bucket-width)")
    ap.add_argument("--latency-ms", type=float, default=100.0, help="added to every request (default 100)")
    ap.add_argument("--rpm", type=float, default=3000.0,
                    help="requests per minute allowed per key (default 3000, i.e. 50/s); 0: no limit")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--project-keys", action="store_true", help="also sync every project with its key")
    ap.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=None,
                    help="run the rest_api baseline too (default: for small and medium)")
    ap.add_argument("--keep", action="store_true", help="keep the DuckDB files and pipeline folders")
    ap.add_argument("--hours", type=int, default=1,
                    help="syncs after an hour of changes, one after another (default 1): hours differ in their "
                         "changes, and the worst is what the change feed must keep cheap")
    ap.add_argument("--now", type=int, default=None,
                    help="the simulators' clock, Unix seconds (floored to the hour; default: now). The same clock "
                         "gives the same organization: use it to compare two versions of openai-sync")
    args = ap.parse_args()
    if args.hours < 1:
        ap.error(f"--hours {args.hours}: at least 1 (the syncs after an hour of changes to measure)")

    if args.scenarios == "all":
        todo = ALL
    elif args.scenarios:
        todo = []
        for item in args.scenarios.split(","):
            size, _, width = item.strip().partition(":")
            if size not in SIZES or (width or "1d") not in WIDTH_SECONDS:
                ap.error(f"bad scenario {item!r}: SIZE:WIDTH with SIZE {'|'.join(SIZES)}, WIDTH 1d|1h|1m")
            todo.append((size, width or "1d"))
    else:
        todo = [(args.size, args.bucket_width)]
    now = (args.now or int(time.time())) // 3600 * 3600  # one clock for every simulator of this benchmark
    rows: list[Row] = []
    baselines: dict[str, Row | None] = {}
    for size, width in todo:
        rows += scenario(args, size, width, now, baselines)
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
