"""Plotly figures with a band: a forecast continuing the daily history (shaded 80 % and 95 %
ranges), and an anomaly's series against the detector's expected value and band, the anomaly's
window highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from costcouncil.api.web.charts import LAYOUT

ACTUAL = "#2156c9"
FORECAST = "#7a3ff2"
EXPECTED = "#5f6b7a"
FLAGGED = "#d0454c"
SHADES = {"95": "rgba(122,63,242,0.12)", "80": "rgba(122,63,242,0.25)"}
BAND = "rgba(95,107,122,0.18)"
WINDOW = "rgba(208,69,76,0.12)"


def _line(
    name: str, xs: list[Any], ys: list[Any], colour: str, dash: str = "solid"
) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": ys,
            "line": {"color": colour, "dash": dash, "width": 2},
            "hovertemplate": "%{x}<br>%{y:,.2f}<extra>" + name + "</extra>"}  # fmt: skip


def _band(
    name: str, xs: list[Any], low: list[Any], high: list[Any], fill: str
) -> list[dict[str, Any]]:
    """Two traces: the upper edge (invisible), then the lower edge filled up to it."""
    edge = {"type": "scatter", "mode": "lines", "x": xs, "line": {"width": 0}, "hoverinfo": "skip"}
    return [
        {**edge, "y": high, "showlegend": False, "name": f"{name} (upper)"},
        {**edge, "y": low, "fill": "tonexty", "fillcolor": fill, "name": name},
    ]  # fmt: skip


def _layout(title: str, currency: str) -> dict[str, Any]:
    # Plotly lists filled traces last-first unless told; the legend reads as the traces are drawn.
    return {**LAYOUT, "title": {"text": title, "x": 0}, "legend": {**LAYOUT["legend"], "traceorder": "normal"},
            "yaxis": {"title": {"text": currency}, "tickformat": ",.0f", "rangemode": "tozero"}}  # fmt: skip


def forecast(entry: dict[str, Any], title: str) -> dict[str, Any]:
    """Daily history, then the forecast line with its 95 % and 80 % ranges shaded."""
    history, points = entry["history"], entry["points"]
    xs = [p["date"] for p in points]
    col = {k: [p[k] for p in points] for k in ("value", "lo80", "hi80", "lo95", "hi95")}
    traces = [
        _line("actual", [h["date"] for h in history], [h["cost"] for h in history], ACTUAL),
        *_band("95 % range", xs, col["lo95"], col["hi95"], SHADES["95"]),
        *_band("80 % range", xs, col["lo80"], col["hi80"], SHADES["80"]),
        _line("forecast", xs, col["value"], FORECAST, "dash"),
    ]
    return {"data": traces, "layout": _layout(title, entry["currency"])}


def anomaly(points: Sequence[dict[str, Any]], window: tuple[Any, Any], title: str,
            currency: str) -> dict[str, Any]:  # fmt: skip
    """The series, the expected value and its band, flagged points marked, ``window`` shaded."""
    xs = [p["time"] for p in points]
    flagged = [p for p in points if p["flagged"]]
    marks = {"type": "scatter", "mode": "markers", "name": "flagged",
             "x": [p["time"] for p in flagged], "y": [p["actual"] for p in flagged],
             "marker": {"color": FLAGGED, "size": 8}}  # fmt: skip
    traces = [
        *_band(
            "expected range", xs, [p["lower"] for p in points], [p["upper"] for p in points], BAND
        ),
        _line("expected", xs, [p["expected"] for p in points], EXPECTED, "dash"),
        _line("actual", xs, [p["actual"] for p in points], ACTUAL),
        marks,
    ]
    shade = {"type": "rect", "xref": "x", "yref": "paper", "x0": window[0], "x1": window[1],
             "y0": 0, "y1": 1, "fillcolor": WINDOW, "line": {"width": 0}, "layer": "below"}  # fmt: skip
    return {"data": traces, "layout": {**_layout(title, currency), "shapes": [shade]}}
