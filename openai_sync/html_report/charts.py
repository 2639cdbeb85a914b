"""Charts as inline SVG (no script, no library, opens offline): a line of daily values with an optional forecast,
and horizontal bars. Each chart is data for the template: coordinates already scaled, labels already shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

W, H, PAD = 640.0, 200.0, 36.0


@dataclass
class Chart:
    kind: str  # line | bars
    title: str
    points: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.points


def line(title: str, series: list[tuple[str, float]], forecast: tuple[str, float] | None = None,
         threshold: float | None = None) -> Chart:
    """Daily values left to right; `forecast` a dashed segment from the last value to (label, value)."""
    if not series:
        return Chart("line", title)
    values = [v for _, v in series] + ([forecast[1]] if forecast else []) + ([threshold] if threshold else [])
    top = max(values) or 1.0
    n = len(series) + (1 if forecast else 0)
    step = (W - 2 * PAD) / max(n - 1, 1)

    def y(v: float) -> float:
        return round(H - PAD - (H - 2 * PAD) * v / top, 1)

    points = [{"x": round(PAD + i * step, 1), "y": y(v), "label": f"{d}: {v:,.2f}"} for i, (d, v) in enumerate(series)]
    extra: dict[str, Any] = {"top": f"{top:,.2f}", "first": series[0][0], "last": series[-1][0],
                             "path": " ".join(f"{p['x']},{p['y']}" for p in points)}
    if forecast:
        extra["forecast"] = {"x1": points[-1]["x"], "y1": points[-1]["y"], "x2": round(PAD + (n - 1) * step, 1),
                             "y2": y(forecast[1]), "label": f"forecast {forecast[0]}: {forecast[1]:,.2f}"}
    if threshold:
        extra["threshold"] = {"y": y(threshold), "label": f"alert threshold {threshold:,.2f}"}
    return Chart("line", title, points, extra)


def bars(title: str, items: list[tuple[str, float]], unit: str = "") -> Chart:
    """Largest first, one bar per item, its label and value beside it."""
    if not items:
        return Chart("bars", title)
    top = max(v for _, v in items) or 1.0
    points = [{"y": 24 * i, "w": round(max((W - 260) * v / top, 1), 1), "label": str(name)[:48],
               "value": f"{v:,.2f}{unit}"} for i, (name, v) in enumerate(items)]
    return Chart("bars", title, points, {"height": 24 * len(items)})
