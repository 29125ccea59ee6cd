"""Plotly figures of a budget: budget against actual per period (the history and the current
period so far), and the current period's cumulative spend with the amount line and the
projection's 80 % and 95 % ranges."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from costcouncil.api.web.band_charts import (
    ACTUAL,
    EXPECTED,
    FLAGGED,
    FORECAST,
    SHADES,
    _band,
    _layout,
    _line,
)

#: The bar of the current period, not finished yet.
SO_FAR = "rgba(33,86,201,0.45)"


def period_label(start: str, end: str) -> str:
    """``2026-09`` for a calendar month, ``2026-07-01 – 2026-10-01`` for any other window."""
    first, after = date.fromisoformat(start), date.fromisoformat(end)
    month_after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    if first.day == 1 and after == month_after:
        return first.strftime("%Y-%m")
    return f"{start} – {end}"


def history(rows: list[dict[str, Any]], current: dict[str, Any] | None,
            currency: str) -> dict[str, Any]:  # fmt: skip
    """Actual spend per period as bars (over the amount in red, the current period paler),
    the amount per period as a line."""
    periods = [*rows, *([current | {"actual": current["spent"]}] if current else [])]
    xs = [period_label(p["start"], p["end"]) for p in periods]
    colours = [_colour(p, p is periods[-1] and current is not None) for p in periods]
    bars = {"type": "bar", "name": "actual", "x": xs, "y": [float(p["actual"]) for p in periods],
            "marker": {"color": colours},
            "hovertemplate": "%{x}<br>%{y:,.2f}<extra>actual</extra>"}  # fmt: skip
    amounts = [None if p["amount"] is None else float(p["amount"]) for p in periods]
    line = _line("budget", xs, amounts, EXPECTED, "dash") | {"mode": "lines+markers"}
    title = "Budget against actual per period (the last one so far)"
    layout = _layout(title, currency) | {"xaxis": {"type": "category"}}
    return {"data": [bars, line], "layout": layout}


def _colour(period: dict[str, Any], ongoing: bool) -> str:
    amount = period["amount"]
    if amount is not None and Decimal(period["actual"]) > Decimal(amount):
        return FLAGGED
    return SO_FAR if ongoing else ACTUAL


def period(path: dict[str, Any], current: dict[str, Any], currency: str) -> dict[str, Any]:
    """Cumulative spend this period, the amount as a flat line, and the projection to the
    period's end with its 95 % and 80 % ranges shaded."""
    actual, ahead = path["actual"], path["projection"]
    traces = [_line("spent", [p["date"] for p in actual],
                    [float(p["cumulative"]) for p in actual], ACTUAL)]  # fmt: skip
    if ahead:
        xs = [p["date"] for p in ahead]
        col = {k: [p[k] for p in ahead] for k in ("value", "lo80", "hi80", "lo95", "hi95")}
        traces += [
            *_band("95 % range", xs, col["lo95"], col["hi95"], SHADES["95"]),
            *_band("80 % range", xs, col["lo80"], col["hi80"], SHADES["80"]),
            _line("projection", xs, col["value"], FORECAST, "dash"),
        ]
    if current.get("amount") is not None:
        last = date.fromordinal(date.fromisoformat(current["end"]).toordinal() - 1)
        flat = [float(current["amount"])] * 2
        traces.append(_line("amount", [current["start"], last.isoformat()], flat, FLAGGED, "dot"))
    title = f"Cumulative spend {current['start']} to {current['end']} (exclusive)"
    return {"data": traces, "layout": _layout(title, currency)}
