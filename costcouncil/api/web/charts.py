"""Plotly figures of the dashboard, as JSON safe to embed in a page."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from costcouncil.api.web.format import label
from costcouncil.workspace.figures.filters import jsonable

LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 30, "b": 60},
    "height": 320,
    "legend": {"orientation": "h", "y": -0.2},
    "font": {"family": "DejaVu Sans, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


def embed(figure: dict[str, Any]) -> str:
    """JSON for a ``<script type="application/json">``: no ``</script>`` can close it early."""
    text = orjson.dumps(jsonable(figure)).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _name(value: Any) -> str:
    return label(value)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


def stacked(
    rows: Sequence[dict[str, Any]], group: str, title: str, kind: str = "bar"
) -> dict[str, Any]:
    """Cost per period stacked by ``group``."""
    series: dict[str, tuple[list[Any], list[float]]] = {}
    for row in rows:
        xs, ys = series.setdefault(_name(row[group]), ([], []))
        xs.append(row["period"])
        ys.append(_num(row["cost"]))
    traces = [
        {"type": kind, "name": name, "x": xs, "y": ys, "hovertemplate": "%{x}<br>%{y:,.2f}"}
        | ({"stackgroup": "one", "mode": "lines"} if kind == "scatter" else {})
        for name, (xs, ys) in series.items()
    ]
    layout = {**LAYOUT, "barmode": "stack", "title": {"text": title, "x": 0}}
    return {"data": traces, "layout": layout}


def bars(rows: Sequence[dict[str, Any]], key: str, title: str) -> dict[str, Any]:
    """Horizontal bars of cost per ``key``, largest on top."""
    shown = list(rows)[:15][::-1]
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [_name(r[key]) for r in shown],
        "x": [_num(r["cost"]) for r in shown],
        "hovertemplate": "%{y}: %{x:,.2f}<extra></extra>",
    }
    layout = {**LAYOUT, "title": {"text": title, "x": 0}, "margin": {**LAYOUT["margin"], "l": 160}}
    return {"data": [trace], "layout": layout}


def heatmap(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """GPU-hours per node (rows) and team (columns)."""
    nodes = sorted({str(r["resource"]) for r in rows})
    teams = sorted({str(r["team"]) for r in rows})
    z = [[0.0] * len(teams) for _ in nodes]
    for r in rows:
        z[nodes.index(str(r["resource"]))][teams.index(str(r["team"]))] += _num(r["gpu_hours"])
    trace = {"type": "heatmap", "x": teams, "y": [n[-40:] for n in nodes], "z": z,
             "colorscale": "Blues", "reversescale": False, "hovertemplate": "%{y}<br>%{x}: %{z:,.1f} GPU-h<extra></extra>"}  # fmt: skip
    height = max(320, 40 + 28 * len(nodes))
    layout = {**LAYOUT, "height": height, "title": {"text": title, "x": 0},
              "margin": {**LAYOUT["margin"], "l": 300}}  # fmt: skip
    return {"data": [trace], "layout": layout}
