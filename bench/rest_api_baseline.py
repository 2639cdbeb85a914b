"""THE BASELINE for performance comparison: openai-sync's organization tables, loaded the obvious way with rest_api.

Run:  uv run python bench/rest_api_baseline.py [--size medium]

This is deliberately *not* openai-sync. It is what a user who knows dlt would write on a first try: one
`rest_api_source` declared in a dict, loaded into DuckDB by a single `pipeline.run(source)`, with dlt's defaults
everywhere (sequential extraction, default normalize/load workers, the destination's default loader file format)
and the API's default page sizes. Only what the endpoints need to work at all is configured:

- paginators: dlt's auto-detection finds nothing usable on these envelopes. The list envelope
  (`first_id`/`last_id`/`has_more`) has no "next" key, so it would be read as a single page (20 rows); the
  `next` and `next_page` keys of groups/roles and usage/costs are detected as cursors, but sent back as
  `?cursor=...`, a parameter the API ignores (the same page again, forever). So each envelope gets the simplest
  explicit paginator: `cursor` with the right `cursor_path`/`cursor_param`, plus `has_more_path` for the list
  envelope, whose `last_id` is set on its last page too (without it the cursor never runs out).
- write disposition: merge on the primary key, as in dlt's own rest_api examples (`id`; per-project tables
  (`_projects_id`, `id`), since a user or a rate limit appears in several projects; usage and cost buckets
  `start_time`, one bucket per day and endpoint).
- audit logs: a full read (newest first), merged on `id`. Incremental loading on `effective_at` would not change
  a first run, which is what this measures.
- usage and costs: `start_time` (required), `group_by=project_id`, everything else the API's default (1d buckets,
  7 buckets a page). `data_selector` is "data" (the buckets): each bucket's `results` land in dlt's default nested
  child table (`usage_completions__results`, ...), whose rows are counted like any other table's.

Compared with openai-sync, it loads the subset of tables listed in RESOURCES below (no usage_decisions, user
roles, group users, project groups/roles/certificates/spend alerts/settings, org spend alerts) and no soft deletes.

`run_baseline()` runs it against any base URL; `main()` starts the simulator in its own process (as
bench/sync_bench.py does, so that it does not share the GIL with the pipeline) and prints wall time, requests
(the simulator's count), rows per table and peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source

from openai_sync.simulator.world import SIZES

# the list envelope {"object": "list", "data": [...], "first_id", "last_id", "has_more"}
LIST_PAGINATOR = {"type": "cursor", "cursor_path": "last_id", "cursor_param": "after", "has_more_path": "has_more"}
# groups and roles: {"data": [...], "has_more", "next"}; `next` is null on the last page
NEXT_PAGINATOR = {"type": "cursor", "cursor_path": "next", "cursor_param": "after"}
# usage and costs: {"object": "page", "data": [buckets], "has_more", "next_page"}; `next_page` is null at the end
PAGE_PAGINATOR = {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"}

ORG_LISTS = ["users", "invites", "projects", "admin_api_keys", "certificates"]
PROJECT_LISTS = ["users", "service_accounts", "api_keys", "rate_limits"]
USAGE = ["completions", "embeddings", "moderations", "images", "audio_speeches", "audio_transcriptions",
         "vector_stores", "code_interpreter_sessions", "file_search_calls", "web_search_calls"]
RESOURCES = (ORG_LISTS + ["groups", "roles", "audit_logs"] + [f"project_{n}" for n in PROJECT_LISTS]
             + [f"usage_{n}" for n in USAGE] + ["costs"])


def baseline_config(base_url: str, admin_key: str, start_time: int) -> dict[str, Any]:
    """The rest_api configuration: the whole baseline is this dict."""
    resources: list[dict[str, Any]] = []
    for name in ORG_LISTS:
        params = {"include_archived": "true"} if name == "projects" else {}
        resources.append({"name": name, "endpoint": {"path": f"organization/{name}", "params": params}})
    for name in ("groups", "roles"):
        resources.append({"name": name, "endpoint": {"path": f"organization/{name}", "paginator": NEXT_PAGINATOR}})
    # Full read of the audit log (see the module docstring).
    resources.append({"name": "audit_logs", "endpoint": {"path": "organization/audit_logs"}})
    for name in PROJECT_LISTS:
        resources.append({
            "name": f"project_{name}",
            "endpoint": {"path": "organization/projects/{resources.projects.id}/" + name},
            "include_from_parent": ["id"],  # -> column _projects_id
            "primary_key": ["_projects_id", "id"],
        })
    buckets = {"data_selector": "data", "paginator": PAGE_PAGINATOR}
    for name in USAGE:
        resources.append({
            "name": f"usage_{name}",
            "endpoint": {"path": f"organization/usage/{name}", **buckets,
                         "params": {"start_time": start_time, "group_by": "project_id"}},
            "primary_key": "start_time",
        })
    resources.append({
        "name": "costs",
        "endpoint": {"path": "organization/costs", **buckets,
                     "params": {"start_time": start_time, "group_by": "project_id"}},
        "primary_key": "start_time",
    })
    return {
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": admin_key},
            "paginator": LIST_PAGINATOR,
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "data"},
        },
        "resources": resources,
    }


def run_baseline(base_url: str, admin_key: str, duckdb_path: str, pipelines_dir: str, start_time: int) -> dict:
    """Build the rest_api source, run it once into DuckDB and return {"seconds", "rows", "tables", "load_info"}.

    `rows` is the sum over the loaded tables (dlt's own tables excluded) of the rows normalized in this run,
    nested child tables (the usage and cost results) included.
    """
    t0 = time.perf_counter()
    source = rest_api_source(baseline_config(base_url, admin_key, start_time), name="openai")
    pipeline = dlt.pipeline(pipeline_name="openai_rest_api_baseline", pipelines_dir=pipelines_dir,
                            destination=dlt.destinations.duckdb(duckdb_path), dataset_name="openai")
    load_info = pipeline.run(source)
    seconds = time.perf_counter() - t0
    counts = pipeline.last_trace.last_normalize_info.row_counts
    tables = {t: n for t, n in sorted(counts.items()) if not t.startswith("_dlt")}
    return {"seconds": seconds, "rows": sum(tables.values()), "tables": tables, "load_info": load_info}


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="medium", choices=list(SIZES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--tables", action="store_true", help="print the rows of every table")
    args = ap.parse_args()

    sim = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", "simulator", "--size", args.size,
                            "--seed", str(args.seed), "--latency-ms", str(args.latency_ms)],
                           stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(sim.stdout.readline())  # type: ignore[union-attr]
        control = info["base_url"].removesuffix("/v1") + "/_sim"
        start_time = _get_json(control + "/clock")["start"]  # the first day of the simulated history
        tmp = tempfile.mkdtemp(prefix="openai-rest-api-baseline-")
        print(f"rest_api baseline: size={args.size} seed={args.seed} latency={args.latency_ms:g} ms "
              f"start_time={start_time}")
        res = run_baseline(info["base_url"], info["admin_key"], f"{tmp}/b.duckdb", f"{tmp}/state", start_time)
        stats = _get_json(control + "/stats")
        reqs = stats["total"]
        top = sorted(stats["by_endpoint"].items(), key=lambda kv: -kv[1])[:4]
        errors = {s: n for s, n in stats["by_status"].items() if not str(s).startswith("2")}
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        wall, rows = res["seconds"], res["rows"]
        print(f"  full load: {wall:.1f} s, {reqs:,} requests ({', '.join(f'{e} {n}' for e, n in top)}), "
              f"{rows:,} rows in {len(res['tables'])} tables, {rows / wall:,.0f} rows/s, peak RSS {rss:,.0f} MiB"
              + (f", HTTP errors: {errors}" if errors else ""))
        if args.tables:
            for t, n in res["tables"].items():
                print(f"    {t:45} {n:>10,}")
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    main()
