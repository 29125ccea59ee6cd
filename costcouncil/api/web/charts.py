"""Plotly figures of the dashboard, as JSON safe to embed in a page."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from costcouncil.api.web.format import label, named, short_id
from costcouncil.workspace.figures.filters import jsonable

LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 30, "b": 60},
    "height": 320,
    "legend": {"orientation": "h", "y": -0.2},
    "font": {"family": "DejaVu Sans, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


#: One colour per spend category and per GPU cost kind, the same on every page and for everyone.
COLOURS = {
    "compute": "#2156c9", "llm_api": "#7a3ff2", "storage": "#0f9d8a", "network": "#e0891b",
    "support": "#8a94a6", "other": "#c2c9d6", "used": "#2156c9", "idle": "#e0891b",
}  # fmt: skip
#: Owners (teams, models, …) get a colour from their name, so a team keeps its colour
#: whichever page, filter or member draws it.
PALETTE = ("#2156c9", "#0f9d8a", "#e0891b", "#7a3ff2", "#d0454c", "#3c9d3c", "#b8860b",
           "#1b8bd0", "#a34fa3", "#5f6b7a")  # fmt: skip


def colour(name: Any) -> str:
    """The colour of a category, a GPU cost kind or a named owner (stable across pages)."""
    text = str(name)
    if text in COLOURS:
        return COLOURS[text]
    return PALETTE[int(hashlib.sha1(text.encode()).hexdigest(), 16) % len(PALETTE)]


def embed(figure: dict[str, Any]) -> str:
    """JSON for a ``<script type="application/json">``: no ``</script>`` can close it early."""
    text = orjson.dumps(jsonable(figure)).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _name(value: Any) -> str:
    return label(value)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


def stacked(
    rows: Sequence[dict[str, Any]],
    group: str,
    title: str,
    kind: str = "bar",
    currency: str = "",
    months: bool = False,
) -> dict[str, Any]:
    """Cost per period stacked by ``group``; with ``months`` the periods are month labels
    (``2026-10``) on a category axis, so a single month is one bar, not a point in time."""
    series: dict[str, tuple[list[Any], list[float]]] = {}
    keys: dict[str, Any] = {}
    for row in rows:
        keys.setdefault(_name(row[group]), row[group])
        xs, ys = series.setdefault(_name(row[group]), ([], []))
        period = row["period"]
        xs.append(period.strftime("%Y-%m") if months and hasattr(period, "strftime") else period)
        ys.append(_num(row["cost"]))
    traces = [
        {
            "type": kind,
            "name": name,
            "x": xs,
            "y": ys,
            "hovertemplate": "%{x}<br>%{y:,.2f}",
            "marker": {"color": colour(keys[name])},
        }
        | ({"stackgroup": "one", "mode": "lines"} if kind == "scatter" else {})
        for name, (xs, ys) in series.items()
    ]
    layout = {**LAYOUT, "barmode": "stack", "title": {"text": title, "x": 0},
              "yaxis": _money_axis(currency)}  # fmt: skip
    if months:
        layout["xaxis"] = {"type": "category"}
    return {"data": traces, "layout": layout}


def _money_axis(currency: str) -> dict[str, Any]:
    return {"title": {"text": currency}, "tickformat": ",.0f", "rangemode": "tozero"}


def with_other(rows: Sequence[dict[str, Any]], key: str, top: int) -> list[dict[str, Any]]:
    """The ``top`` largest rows and one "Other" row holding the rest, so the bars add up."""
    ranked = sorted(rows, key=lambda r: -_num(r["cost"]))
    if len(ranked) <= top:
        return list(ranked)
    rest = sum((Decimal(str(r["cost"])) for r in ranked[top:]), Decimal(0))
    return [*ranked[:top], {key: f"Other ({len(ranked) - top})", "cost": rest}]


def bars(
    rows: Sequence[dict[str, Any]], key: str, title: str, currency: str = "", top: int = 12
) -> dict[str, Any]:
    """Horizontal bars of cost per ``key``, largest on top, the rest as one "Other" bar, each
    with its value."""
    shown = with_other(rows, key, top)[::-1]
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [_name(r[key]) for r in shown],
        "x": [_num(r["cost"]) for r in shown],
        "text": [f"{_num(r['cost']):,.0f}" for r in shown],
        "textposition": "auto",
        "hovertemplate": "%{y}: %{x:,.2f}<extra></extra>",
    }
    layout = {**LAYOUT, "title": {"text": title, "x": 0}, "margin": {**LAYOUT["margin"], "l": 160},
              "xaxis": _money_axis(currency)}  # fmt: skip
    return {"data": [trace], "layout": layout}


def heatmap(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """GPU-hours per node (rows) and team (columns)."""
    names = {str(r["resource"]): named(r.get("resource_name"), r["resource"]) for r in rows}
    twice = {n for n in names.values() if list(names.values()).count(n) > 1}
    names = {k: f"{v} ({short_id(k)})" if v in twice else v for k, v in names.items()}
    nodes = sorted(names)
    teams = sorted({str(r["team"]) for r in rows})
    z = [[0.0] * len(teams) for _ in nodes]
    for r in rows:
        z[nodes.index(str(r["resource"]))][teams.index(str(r["team"]))] += _num(r["gpu_hours"])
    trace = {"type": "heatmap", "x": teams, "y": [names[n] for n in nodes], "z": z,
             "colorscale": "Blues", "reversescale": False, "hovertemplate": "%{y}<br>%{x}: %{z:,.1f} GPU-h<extra></extra>"}  # fmt: skip
    height = max(320, 40 + 28 * len(nodes))
    layout = {**LAYOUT, "height": height, "title": {"text": title, "x": 0},
              "margin": {**LAYOUT["margin"], "l": 300}}  # fmt: skip
    return {"data": [trace], "layout": layout}
