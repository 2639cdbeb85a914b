"""The runs' chart: rows and duration per run, as bars an SVG template draws (no script, no library)."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT = 600, 120


def bars(runs: list[Any]) -> dict[str, Any]:
    """Oldest first: each run's rows and seconds scaled to the chart's height, with a label for its tooltip."""
    done = [r for r in reversed(runs) if r.ended is not None]
    if not done:
        return {"bars": [], "width": WIDTH, "height": HEIGHT, "most_rows": 0, "most_seconds": 0}
    most_rows = max(r.rows for r in done) or 1
    most_seconds = max(r.seconds or 0 for r in done) or 1
    step = min(WIDTH / len(done), 40.0)  # a few runs are narrow bars, not half the chart each
    out = []
    for i, r in enumerate(done):
        rows_h = HEIGHT * r.rows / most_rows
        secs_h = HEIGHT * (r.seconds or 0) / most_seconds
        out.append({"x": round(i * step, 1), "w": round(max(step / 2 - 1, 1), 1), "rows_h": round(rows_h, 1),
                    "secs_h": round(secs_h, 1), "rows_y": round(HEIGHT - rows_h, 1),
                    "secs_y": round(HEIGHT - secs_h, 1), "ok": r.status in ("ok", "partial"),
                    "label": f"{r.status}: {r.rows:,} rows in {r.seconds or 0:.1f} s", "run_id": r.run_id})
    return {"bars": out, "width": WIDTH, "height": HEIGHT, "most_rows": most_rows,
            "most_seconds": round(most_seconds, 1)}
