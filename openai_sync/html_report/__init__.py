"""`openai-sync report`: one self-contained HTML file (inline SVG charts and styles, no script, nothing fetched)
from the analytics views: spend trend and forecast against the alert threshold, top projects, models, keys and
users, anomalies, usage against cost, the security review (stale keys, removed owners, admin keys, sensitive
events) and the project objects. Reads DuckDB and PostgreSQL destinations."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..analytics import SUFFIX
from ..load import destinations
from ..load.reading import Reader
from ..load.reading import Unreadable as ReportError
from .charts import Chart, bars, line

__all__ = ["Report", "ReportError", "build", "render", "write"]


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    note: str = ""


@dataclass
class Report:
    schema: str
    destination: str
    generated_at: str
    organization: str | None = None
    forecast: dict[str, Any] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def build(destination: str, schema: str, organization: str | None = None) -> Report:
    """The report of a schema's data: every organization it holds, or `organization`'s alone."""
    with Reader(destination, schema + SUFFIX, schema) as r:
        if not r.has("spend_daily", analytics=True):
            raise ReportError(f"{destinations.shown(destination)} has no analytics views in {schema}{SUFFIX}: "
                              "run `openai-sync sync` first (each sync makes them)")
        held = [o for (o,) in r.rows("SELECT DISTINCT organization_id FROM {a}.spend_daily ORDER BY 1") if o]
        if organization is not None and organization not in held:
            raise ReportError(f"schema {schema} holds no costs of organization {organization}; it holds "
                              f"{', '.join(held) or 'none yet'}")
        r.organization = organization  # from here on, every query reads its rows only
        out = Report(schema, destinations.shown(destination), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                     organization=organization or ", ".join(held) or None)
        _spend(r, out)
        _security(r, out)
        _objects(r, out)
    return out


def _spend(r: Reader, out: Report) -> None:
    daily = r.rows("SELECT CAST(day AS VARCHAR), sum(amount) FROM {a}.spend_daily "
                   "WHERE day > (SELECT max(day) FROM {a}.spend_daily) - 90 GROUP BY day ORDER BY day")
    # several organizations: their month to date, run rates, forecasts and thresholds added up
    f = r.rows("SELECT CAST(max(as_of) AS VARCHAR), CAST(max(month) AS VARCHAR), sum(month_to_date), "
               "sum(daily_run_rate), sum(forecast), sum(alert_threshold), bool_or(will_exceed), max(currency), "
               "min(days_left) FROM {a}.spend_forecast WHERE scope = 'organization' HAVING count(*) > 0")
    if f:
        as_of, month, mtd, rate, forecast, threshold, exceed, currency, left = f[0]
        out.forecast = {"as_of": as_of, "month": month[:7], "month_to_date": float(mtd), "run_rate": float(rate),
                        "forecast": float(forecast), "threshold": None if threshold is None else float(threshold),
                        "will_exceed": bool(exceed), "currency": (currency or "usd").upper(), "days_left": left}
    end = f"{out.forecast['month']} end" if out.forecast else ""
    out.charts.append(line("Spend per day, last 90 days",
                           [(d, float(v)) for d, v in daily]))
    if out.forecast:
        mtd_series = r.rows("SELECT CAST(day AS VARCHAR), sum(sum(amount)) OVER (ORDER BY day) FROM {a}.spend_daily "
                            "WHERE day >= (SELECT max(month) FROM {a}.spend_forecast WHERE scope = 'organization') "
                            "GROUP BY day ORDER BY day")
        out.charts.append(line(f"This month, cumulative, with the forecast to {end} and the alert threshold",
                               [(d, float(v)) for d, v in mtd_series], (end, out.forecast["forecast"]),
                               out.forecast["threshold"]))
    last30 = "WHERE day > (SELECT max(day) FROM {a}.spend_daily) - 30"
    for title, col in (("Top projects, last 30 days", "coalesce(project_name, project_id, '(no project)')"),
                       ("Top models, last 30 days", "coalesce(model, line_item)"),
                       ("Top API keys, last 30 days", "coalesce(api_key_name, api_key_id)"),
                       ("Top users, last 30 days", "user_id")):
        where = last30 + (f" AND {col} IS NOT NULL" if col in ("user_id",) or "api_key" in col else "")
        items = r.rows(f"SELECT {col}, sum(amount) AS usd FROM {{a}}.spend_daily {where} GROUP BY 1 "
                       "ORDER BY usd DESC LIMIT 10")
        out.charts.append(bars(title, [(str(n), float(v)) for n, v in items]))
    per_million = r.rows(
        "SELECT s.model, sum(s.amount) * 1000000 / nullif(max(u.tokens), 0) FROM {a}.spend_daily s JOIN "
        "(SELECT model, sum(input_tokens + output_tokens) AS tokens FROM {a}.usage_daily WHERE source = 'completions' "
        "GROUP BY model) u ON s.model = u.model GROUP BY s.model ORDER BY 2 DESC LIMIT 10") if r.has(
        "usage_daily", analytics=True) else []
    out.charts.append(bars("Usage against cost: spend per million completion tokens, by model",
                           [(m, float(v)) for m, v in per_million if v is not None]))
    out.tables.append(Table("Spend anomalies (robust z-score against the trailing 28 days)",
                            ["day", "dimension", "project or key", "spend", "baseline", "z"],
                            r.rows("SELECT CAST(day AS VARCHAR), dimension, value, CAST(amount AS DECIMAL(18, 2)), "
                                   "CAST(baseline AS DECIMAL(18, 2)), CAST(robust_z AS DECIMAL(10, 1)) FROM "
                                   "{a}.spend_anomalies WHERE anomaly ORDER BY day DESC LIMIT 20")))


def _security(r: Reader, out: Report) -> None:
    if r.has("key_inventory", analytics=True):
        out.tables.append(Table("Keys unused for 90 days, never used, or whose owner left",
                                ["kind", "name", "owner", "project", "last used", "flags"],
                                r.rows("SELECT kind, name, owner, project_id, CAST(last_used_at AS VARCHAR), "
                                       "concat_ws(', ', CASE WHEN never_used THEN 'never used' END, CASE WHEN "
                                       "unused_90_days THEN 'unused 90 days' END, CASE WHEN owner_removed THEN "
                                       "'owner removed' END) FROM {a}.key_inventory WHERE never_used OR unused_90_days "
                                       "OR owner_removed ORDER BY kind, name LIMIT 50")))
        out.tables.append(Table("Admin keys", ["name", "owner", "created", "last used"],
                                r.rows("SELECT name, owner, CAST(created_at AS VARCHAR), CAST(last_used_at AS "
                                       "VARCHAR) FROM {a}.key_inventory WHERE kind = 'admin_key' ORDER BY name")))
    if r.has("audit_activity", analytics=True):
        by = r.rows("SELECT category, sum(events) FROM {a}.audit_activity WHERE day > (SELECT max(day) FROM "
                    "{a}.audit_activity) - 30 GROUP BY category ORDER BY 2 DESC")
        out.charts.append(bars("Sensitive audit events, last 30 days, by category", [(c, float(n)) for c, n in by]))
        out.tables.append(Table("Recent sensitive events", ["day", "category", "type", "actor", "project", "events"],
                                r.rows("SELECT CAST(day AS VARCHAR), category, type, actor, project_name, events "
                                       "FROM {a}.audit_activity ORDER BY day DESC, events DESC LIMIT 25")))


def _objects(r: Reader, out: Report) -> None:
    for table, title in (("batches", "Batches"), ("fine_tuning_jobs", "Fine-tuning jobs"), ("evals", "Evals")):
        if not r.has(table):
            continue
        status = "status" if r.column(table, "status") else "'listed'"
        live = " WHERE _deleted IS NOT TRUE" if r.column(table, "_deleted") else ""
        rows = r.rows(f"SELECT {status}, count(*) FROM {{s}}.{table}{live} GROUP BY 1 ORDER BY 2 DESC")
        out.charts.append(bars(f"{title} by status", [(str(s), float(n)) for s, n in rows]))


def render(report: Report) -> str:
    """The report as one HTML document (its styles inline)."""
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html"]))
    css = (Path(__file__).parent / "templates" / "report.css").read_text()
    return env.get_template("report.html").render(r=report, css=css, esc=html.escape)


def write(report: Report, path: Path) -> int:
    text = render(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return len(text.encode())
