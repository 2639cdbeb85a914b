"""`GET /metrics`: the service in Prometheus's text format (version 0.0.4)."""

from __future__ import annotations

from typing import Any

from .agent import Agent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], Any]]) -> None:
        self.lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            if value is None:
                continue
            shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            number = str(value) if isinstance(value, int) else repr(float(value))  # timestamps keep every digit
            self.lines.append(f"{name}{{{shown}}} {number}" if shown else f"{name} {number}")


def render(agent: Agent) -> str:
    out = _Out()
    out.family("openai_sync_scheduler_alive", "gauge", "1 while the scheduler is alive.",
               [({}, int(agent.scheduler.alive()))])
    conns = agent.connections()
    counts, totals = agent.state.run_counts(), agent.state.totals()

    def per(name: str, kind: str, help_: str, value: Any) -> None:
        out.family(name, kind, help_, [({"connection": c["name"]}, value(c)) for c in conns])

    def last(key: str) -> Any:
        return lambda c: (c["last_run"] or {}).get(key)

    per("openai_sync_last_success_timestamp_seconds", "gauge", "When the last run that loaded every table (or some, "
        "status partial) ended, in Unix seconds.", lambda c: c["last_success_at"])
    out.family("openai_sync_runs_total", "counter", "Runs by connection and status.",
               [({"connection": c, "status": s}, n) for (c, s), n in sorted(counts.items()) if s != "running"])
    per("openai_sync_last_run_rows", "gauge", "Rows loaded by the last run.", last("rows"))
    per("openai_sync_last_run_requests", "gauge", "API requests of the last run.", last("requests"))
    per("openai_sync_last_run_rate_limited", "gauge", "Requests the API answered 429 in the last run.",
        last("rate_limited"))
    per("openai_sync_last_run_duration_seconds", "gauge", "How long the last run took.", last("seconds"))
    per("openai_sync_rows_total", "counter", "Rows loaded, all runs.",
        lambda c: totals.get(c["name"], {}).get("rows", 0))
    per("openai_sync_requests_total", "counter", "API requests, all runs.",
        lambda c: totals.get(c["name"], {}).get("requests", 0))
    per("openai_sync_rate_limited_total", "counter", "Requests answered 429, all runs.",
        lambda c: totals.get(c["name"], {}).get("rate_limited", 0))
    per("openai_sync_failing_tables", "gauge", "Tables that failed in the last run.",
        lambda c: len(c["failing_tables"]))
    per("openai_sync_running", "gauge", "1 while a run of the connection is going.", lambda c: int(bool(c["running"])))
    per("openai_sync_paused", "gauge", "1 while the connection is paused.", lambda c: int(c["paused"]))
    per("openai_sync_next_run_timestamp_seconds", "gauge", "When the next run is due.", lambda c: c["next_run_at"])
    return "\n".join(out.lines) + "\n"
