"""What a run shows: live progress on a terminal, the summary table, the JSON result, the demo's queries."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table as RichTable

if TYPE_CHECKING:  # the runner imports dlt: `openai-sync --help` must not wait for it
    from .runner import RunReport, Status, TableResult

# The demo's example queries over the loaded tables ({name} is the qualified table), for DuckDB and PostgreSQL.
# The README shows exactly these (example_sql; tests/test_first_hour.py checks it). Names repeat (two projects,
# or two keys, may have the same name): each groups by id and shows the name beside it.
EXAMPLE_QUERIES: list[tuple[str, str]] = [
    ("Spend per project over the last 30 days (USD)", """
        SELECT c.project_id, max(p.name) AS project, round(sum(c.amount), 2) AS usd
        FROM {costs} c LEFT JOIN {projects} p ON p.id = c.project_id
        WHERE c.start_time >= (SELECT max(start_time) FROM {costs}) - INTERVAL '30 days'
        GROUP BY c.project_id ORDER BY usd DESC LIMIT 10"""),
    ("Tokens per model and API key (completions)", """
        SELECT u.model, u.api_key_id, max(k.name) AS key_name, sum(u.input_tokens) AS input_tokens,
               sum(u.output_tokens) AS output_tokens, sum(u.num_model_requests) AS requests
        FROM {usage_completions} u LEFT JOIN {project_api_keys} k ON k.id = u.api_key_id
        GROUP BY u.model, u.api_key_id ORDER BY input_tokens DESC LIMIT 10"""),
    ("The last 5 audit events", """
        SELECT effective_at, type,
               coalesce(actor__session__user__email, actor__api_key__user__email) AS actor,
               project__name AS project
        FROM {audit_logs} ORDER BY effective_at DESC, id LIMIT 5"""),
]
QUERY_TABLES = ("costs", "projects", "usage_completions", "project_api_keys", "audit_logs")


def example_sql(schema: str = "openai") -> str:
    """The example queries as plain SQL over `schema`, each after a comment with its title."""
    names = {t: f"{schema}.{t}" for t in QUERY_TABLES}
    return "\n".join(f"-- {title}\n{textwrap.dedent(q).strip().format(**names)};"
                     for title, q in EXAMPLE_QUERIES)


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


# Not the time a table alone would take: its own requests wait for the others' (the concurrency is shared).
ELAPSED_NOTE = ("elapsed: from a table's first request to its last row; tables are read side by side, "
                "so these overlap (they do not add up to the run's time)")


def summary_table(results: list[TableResult]) -> RichTable:
    t = RichTable(title="openai-sync: tables", title_justify="left", caption=ELAPSED_NOTE, caption_justify="left")
    for col, justify in (("table", "left"), ("status", "left"), ("rows", "right"), ("requests", "right"),
                         ("marked deleted", "right"), ("elapsed (s)", "right")):
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
        "warnings": run.warnings,
        "notes": run.notes,
        "tables": [{"table": r.name, "status": r.status, "rows": r.rows, "requests": r.requests,
                    "marked_deleted": r.deleted, "seconds": round(r.seconds, 3),
                    **({"read": r.read} if r.read else {}), **({"error": r.error} if r.error else {})}
                   for r in results],
    }


def run_queries(pipeline: Any) -> list[tuple[str, list[str], list[tuple]]]:
    out = []
    with pipeline.sql_client() as sql:
        names = {t: sql.make_qualified_table_name(t) for t in QUERY_TABLES}
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


def fleet_table(ran: list[Any]) -> RichTable:
    """`sync --all`: one line per connection."""
    t = RichTable(title="Connections", title_justify="left")
    for col, justify in (("connection", "left"), ("organization", "left"), ("status", "left"), ("rows", "right"),
                         ("requests", "right"), ("seconds", "right"), ("failed tables", "left")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in ran:
        res = r.result
        failed = [x["table"] for x in res.get("tables", []) if x.get("status") not in ("ok", "skipped")]
        t.add_row(r.name, str(res.get("organization_id") or ""), str(res.get("status")), f"{res.get('rows', 0):,}",
                  f"{res.get('requests', 0):,}", f"{r.seconds:.1f}", ", ".join(failed))
    return t

