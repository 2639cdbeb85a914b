"""The history of runs, kept in the destination itself (`_openai_sync_runs`, one row per run, merged by run id),
so that it survives the machine the service runs on. Written by dlt, like the data: any destination dlt loads
into holds it, in a pipeline of its own beside the connection's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

RUNS_TABLE = "_openai_sync_runs"
JSON_COLUMNS = ("tables", "notes", "warnings", "key_problems")


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def row(run: dict[str, Any]) -> dict[str, Any]:
    """A run (state.Run.public()) as the destination's row: per-table results, notes and warnings as JSON."""
    result = run.get("result") or {}
    return {"run_id": run["run_id"], "connection": run["connection"], "trigger": run["trigger"],
            "started_at": _when(run["started_at"]), "ended_at": _when(run["ended_at"]), "seconds": run["seconds"],
            "status": run["status"], "exit_code": run["exit_code"], "rows": run["rows"], "requests": run["requests"],
            "rate_limited": run["rate_limited"], "error": run["error"],
            "organization_id": result.get("organization_id"),
            **{c: result.get(c) or [] for c in JSON_COLUMNS}}


def write(destination: str, schema: str, pipelines_dir: str | None, runs: list[dict[str, Any]]) -> None:
    """Merge `runs` into the destination's `_openai_sync_runs` (a run written twice stays one row)."""
    import dlt

    from ..load import destinations
    from ..load.pipeline import pipeline_name, schema_turn

    # one pipeline per connection: several connections' (organizations') children may write into one schema
    connection = runs[0]["connection"] if runs else None
    pipeline = dlt.pipeline(pipeline_name(destination, schema, connection) + "__runs",
                            destination=destinations.make(destination), dataset_name=schema,
                            pipelines_dir=pipelines_dir)
    columns: Any = {c: {"data_type": "json"} for c in JSON_COLUMNS}
    columns.update({c: {"data_type": "timestamp", "timezone": True} for c in ("started_at", "ended_at")})
    resource = dlt.resource([row(r) for r in runs], name=RUNS_TABLE, write_disposition="merge", primary_key="run_id",
                            columns=columns)
    with schema_turn(destination, schema, pipelines_dir, wait=600):  # loads into one schema take turns
        pipeline.run(resource)
