"""Which charts a page draws — and, where a chart would have no data, the sentence saying why.

A chart without data is never drawn (Plotly would show bare axes from −1 to 6). In its place the
page says what is empty and why, from the figures' ``scope``
(:func:`costcouncil.workspace.figures.filters.scope`):

- "Nothing visible to this account: your teams are search, vision." — a member whose filter
  names only other teams (decided from the filter, so it tells nothing about other teams' data);
- "No cost between 2026-11-01 and 2026-12-01 for these filters." — nothing in the range (``to``
  exclusive); "for these filters" when the view is narrowed beyond the range, "for your teams
  (vision)" for a member who is not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from costcouncil.api.web import band_charts, charts


@dataclass(frozen=True)
class Panel:
    """One chart of a page: its figure as JSON to embed, or the sentence shown instead."""

    figure: str | None = None
    empty: str | None = None


def empty_note(data: dict[str, Any], start: Any, end: Any, subject: str = "cost") -> str:
    """Why a figure of ``data`` over ``[start, end)`` is empty, in one sentence."""
    scope = data.get("scope") or {}
    teams = scope.get("teams")
    if scope.get("hidden"):
        if not teams:
            return "Nothing visible to this account: it belongs to no team."
        return f"Nothing visible to this account: your teams are {', '.join(teams)}."
    span = f"No {subject} between {_day(start)} and {_day(end)}"
    if scope.get("filtered"):
        return f"{span} for these filters."
    return f"{span} for your teams ({', '.join(teams)})." if teams else f"{span}."


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _panel(rows: Sequence[Any], draw: Callable[[], dict[str, Any]], empty: str) -> Panel:
    return Panel(figure=charts.embed(draw())) if rows else Panel(empty=empty)


def panels(name: str, data: dict[str, Any]) -> dict[str, Panel]:
    """The page's charts by id (``trend`` is drawn in ``<div data-chart="fig-trend">``)."""
    build = _PAGES.get(name)
    return build(data) if build else {}


def _overview(data: dict[str, Any]) -> dict[str, Panel]:
    end = data["as_of"] + timedelta(days=1)
    month = empty_note(data, data["as_of"].replace(day=1), end)
    trend, teams, models, c = data["trend"], data["by_team"], data["by_model"], data["currency"]
    return {
        "trend": _panel(trend, partial(charts.stacked, trend, "category", "Daily spend by category", currency=c),
                        empty_note(data, data["trend_from"], end)),
        "teams": _panel(teams, partial(charts.bars, teams, "team", "Month to date by team", c), month),
        "models": _panel(models, partial(charts.bars, models, "model", "Month to date by model", c), month),
        **forecasts(data["forecast"]),
    }  # fmt: skip


def forecasts(found: dict[str, Any]) -> dict[str, Panel]:
    """The month-end forecast of each scope (``forecast``, ``forecast-2``, …), or why none."""
    if not found["scopes"]:
        return {"forecast": Panel(empty=found["note"])}
    return {
        "forecast" + (f"-{i + 1}" if i else ""): Panel(figure=charts.embed(band_charts.forecast(
            entry, f"{entry['scope']}: daily cost and forecast to month end")))
        for i, entry in enumerate(found["scopes"])
    }  # fmt: skip


def _explorer(data: dict[str, Any]) -> dict[str, Panel]:
    every = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[data["grain"]]
    title = f"{every} cost by {data['level'].replace('_', ' ')}"
    draw = partial(charts.stacked, data["trend"], data["level"], title,
                   currency=data["currency"], months=data["grain"] == "month")  # fmt: skip
    out = {"trend": _panel(data["trend"], draw, empty_note(data, data["from"], data["to"]))}
    band = data.get("forecast")
    if band:
        title = f"Forecast of {band['scope']}: daily cost, then the forecast with its 80 % and 95 % ranges"
        out["forecast"] = Panel(figure=charts.embed(band_charts.forecast(band, title)))
    return out


def _models(data: dict[str, Any]) -> dict[str, Panel]:
    draw = partial(charts.stacked, data["trend"], "model", "Monthly cost by model",
                   currency=data["currency"], months=True)  # fmt: skip
    return {"trend": _panel(data["trend"], draw, empty_note(data, data["from"], data["to"]))}


def _gpu(data: dict[str, Any]) -> dict[str, Panel]:
    used = [{"period": r["period"], "kind": k, "cost": r[k]} for r in data["daily"] for k in ("used", "idle")]  # fmt: skip
    span, usage = (data["from"], data["to"]), data["usage"]
    return {
        "daily": _panel(used, partial(charts.stacked, used, "kind", "GPU cost per day: used and idle"),
                        empty_note(data, *span, "GPU cost")),
        "heatmap": _panel(usage, partial(charts.heatmap, usage, "GPU-hours by node and team"),
                          empty_note(data, *span, "GPU-hours from jobs")),
    }  # fmt: skip


_PAGES: dict[str, Callable[[dict[str, Any]], dict[str, Panel]]] = {
    "overview": _overview,
    "explorer": _explorer,
    "models": _models,
    "gpu": _gpu,
}


def page_note(name: str, data: dict[str, Any]) -> str:
    """The sentence for the page's empty tables (its main range)."""
    if name == "overview":
        return empty_note(data, data["as_of"].replace(day=1), data["as_of"] + timedelta(days=1))
    if name in ("explorer", "models", "gpu"):
        subject = "GPU cost" if name == "gpu" else "cost"
        return empty_note(data, data["from"], data["to"], subject)
    return ""
