"""What a run shows: live progress on a terminal, the summary table, the JSON result, the demo's queries."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table as RichTable

from .runner import RunReport, Status, TableResult

# The demo's example queries over the loaded tables ({name} is the qualified table), for DuckDB and PostgreSQL.
EXAMPLE_QUERIES: list[tuple[str, str]] = [
    ("Spend per project over the last 30 days (USD)", """
        SELECT coalesce(p.name, c.project_id) AS project, round(sum(c.amount), 2) AS usd
        FROM {costs} c LEFT JOIN {projects} p ON p.id = c.project_id
        WHERE c.start_time >= (SELECT max(start_time) FROM {costs}) - INTERVAL '30 days'
        GROUP BY 1 ORDER BY 2 DESC LIMIT 10"""),
    ("Tokens per model (completions)", """
        SELECT model, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(num_model_requests) AS requests
        FROM {usage_completions} GROUP BY model ORDER BY 2 DESC"""),
    ("The last 5 audit events", """
        SELECT effective_at, type,
               coalesce(actor__session__user__email, actor__api_key__user__email) AS actor,
               project__name AS project
        FROM {audit_logs} ORDER BY effective_at DESC, id LIMIT 5"""),
]


class Progress:
    """A one-line live status on stderr: tables done, rows, requests."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> Progress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def __call__(self, s: Status) -> None:
        self.live.update(f"[bold]syncing[/] {s.done}/{s.total} tables · {s.rows:,} rows · {s.requests:,} requests"
                         + (f" · [yellow]{s.throttled:,} rate-limited (429), slowing down[/]" if s.throttled else ""))


def summary_table(results: list[TableResult]) -> RichTable:
    t = RichTable(title="openai-sync: tables", title_justify="left")
    for col, justify in (("table", "left"), ("status", "left"), ("rows", "right"), ("requests", "right"),
                         ("marked deleted", "right"), ("seconds", "right")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        status = "[green]ok[/]" if r.status == "ok" else f"[red]{r.status}[/]"
        t.add_row(r.name, status, f"{r.rows:,}", f"{r.requests:,}", f"{r.deleted:,}", f"{r.seconds:.1f}")
    t.add_section()
    t.add_row("total", "", f"{sum(r.rows for r in results):,}", f"{sum(r.requests for r in results):,}",
              f"{sum(r.deleted for r in results):,}", "")
    return t


def overall_status(results: list[TableResult], run: RunReport | None = None) -> str:
    """ok; partial when some table, project or key failed while others loaded; failed when nothing did."""
    failed = sum(r.status != "ok" for r in results)
    if failed == len(results) and results:
        return "failed"
    return "partial" if failed or (run is not None and run.key_problems) else "ok"


def exit_code(results: list[TableResult], run: RunReport) -> int:
    """0 only when the status is ok: a partial run (a table, a project or a key failed) exits 1."""
    return 0 if overall_status(results, run) == "ok" else 1


def result_json(results: list[TableResult], run: RunReport, seconds: float, destination: str,
                schema: str) -> dict[str, Any]:
    return {
        "status": overall_status(results, run),
        "destination": destination,
        "schema": schema,
        "organization_id": run.organization_id,
        "seconds": round(seconds, 3),
        "rows": sum(r.rows for r in results),
        "requests": sum(sum(c.requests.values()) for c in run.clients),
        "max_parallel_requests": run.client.gate.max_in_flight,
        "rate_limited": sum(c.throttle.throttled for c in run.clients),  # 429s received
        "paced": sum(c.throttle.paced for c in run.clients),  # requests held back to respect a rate limit
        "projects": run.projects,
        "key_problems": run.key_problems,
        "notes": run.notes,
        "tables": [{"table": r.name, "status": r.status, "rows": r.rows, "requests": r.requests,
                    "marked_deleted": r.deleted, "seconds": round(r.seconds, 3),
                    **({"error": r.error} if r.error else {})} for r in results],
    }


def run_queries(pipeline: Any) -> list[tuple[str, list[str], list[tuple]]]:
    out = []
    with pipeline.sql_client() as sql:
        names = {t: sql.make_qualified_table_name(t) for t in ("costs", "projects", "usage_completions", "audit_logs")}
        for title, q in EXAMPLE_QUERIES:
            with sql.execute_query(q.format(**names)) as cur:
                cols = [d[0] for d in cur.description]
                out.append((title, cols, cur.fetchall()))
    return out


def row_counts(pipeline: Any, tables: list[str]) -> dict[str, int]:
    existing = pipeline.default_schema.tables
    counts = {}
    with pipeline.sql_client() as sql:
        for t in tables:
            if t in existing:
                counts[t] = int(sql.execute_sql(f"SELECT count(*) FROM {sql.make_qualified_table_name(t)}")[0][0])
            else:
                counts[t] = 0
    return counts
