"""What the answers cost: the analytics views, the HTML report, its PDF and the FOCUS export, for a simulated
organization synced into a fresh DuckDB file.

Run:  uv run python bench/answers.py [--size medium|large] [--pdf]

Prints the sync's wall time and rows (for scale), the views' refresh time, then for the report and each FOCUS
format: wall time, size, rows and this process's peak memory growth. The lower bound of each is reading the rows
it shows once: the FOCUS export reads every costs row (printed as rows per second).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from openai_sync import analytics
from openai_sync.api.keys import ProjectKey
from openai_sync.focus_export import export
from openai_sync.html_report import build, write
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="medium")
    ap.add_argument("--pdf", action="store_true", help="also print the report to PDF (needs Chromium)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="openai-sync-bench-answers-"))
    destination = f"duckdb:///{tmp}/bench.duckdb"
    with Simulator(World(seed=42, size=args.size)) as sim:
        began = time.monotonic()
        results, _ = sync(SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=destination,
                                     schema="openai", pipelines_dir=str(tmp / "state"),
                                     project_keys=tuple(ProjectKey(k) for k in sim.world.project_keys.values())))
        took = time.monotonic() - began
    rows = sum(r.rows for r in results)
    with duckdb.connect(str(tmp / "bench.duckdb")) as con:
        costs = con.execute("SELECT count(*) FROM openai.costs").fetchall()[0][0]
    print(f"{args.size}: sync {took:.1f} s, {rows:,} rows ({costs:,} costs rows); peak {peak_mb():,.0f} MB")
    print(f"  analytics views   {len(analytics.MODELS)} views refreshed by the sync (included above)")
    before = peak_mb()
    began = time.monotonic()
    size = write(build(destination, "openai"), tmp / "report.html")
    print(f"  report (HTML)     {time.monotonic() - began:5.2f} s  {size / 1024:8,.0f} KB  "
          f"peak +{peak_mb() - before:,.0f} MB")
    if args.pdf:
        from openai_sync.html_report.pdf import print_pdf

        began = time.monotonic()
        size = print_pdf(tmp / "report.html", tmp / "report.pdf")
        print(f"  report (PDF)      {time.monotonic() - began:5.2f} s  {size / 1024:8,.0f} KB  (in Chromium)")
    for name in ("focus.parquet", "focus.csv"):
        before = peak_mb()
        began = time.monotonic()
        done = export(destination, "openai", tmp / name)
        secs = time.monotonic() - began
        print(f"  FOCUS {name.split('.')[1]:<11} {secs:5.2f} s  {done.size / 1024:8,.0f} KB  {done.rows:,} rows "
              f"({done.rows / secs:,.0f} rows/s)  peak +{peak_mb() - before:,.0f} MB")
    print(f"  files in {tmp}")


if __name__ == "__main__":
    main()
