"""Budgets as the dashboard shows them: the list of the caller's budgets with this period's
figures, and one budget with its projection in words and the daily path its charts draw.

The list's ``state`` counts the budget's thresholds on spend so far (the forecast thresholds
need a forecast per budget: the budget's own page shows them). The detail is
:meth:`~costcouncil.workspace.budgets.service.BudgetService.detail` plus ``path``: cumulative
spend per day of the current period from the lake, then the same forecast the projection sums,
day by day, with its 80 % and 95 % ranges — so the chart's line reaches the amount on the day
the sentence names.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from costcouncil.budgets import Budget, Window, scope_keys, status
from costcouncil.forecast import forecast_many
from costcouncil.forecast.horizons import Band, band
from costcouncil.workspace.allocate.series import scope_series
from costcouncil.workspace.budgets.service import BudgetService, single_scope
from costcouncil.workspace.budgets.spend import lake_spend
from costcouncil.workspace.common.appstate import Visible
from costcouncil.workspace.core import Workspace

CENT = Decimal("0.01")


def listing(service: BudgetService, budgets: list[Budget], visible: Visible) -> dict[str, Any]:
    """The list page's figures: each budget with its current period and state."""
    rows = [row(service.current(b), b) for b in budgets]
    return {"budgets": rows, "empty": _why_empty(visible)}


def row(current: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """A budget's current figures with its state on spend so far (None: no period yet)."""
    figures = current.get("current")
    if figures is None:
        return current | {"state": None}
    window = Window(date.fromisoformat(figures["start"]), date.fromisoformat(figures["end"]))
    amount = None if figures["amount"] is None else Decimal(figures["amount"])
    found = status(budget, window, amount, Decimal(figures["spent"]), None)
    return current | {"state": found.state}


def _why_empty(visible: Visible) -> str:
    """Why the list is empty, in one sentence (decided without looking at other teams)."""
    if visible is not None and not visible:
        return "Nothing visible to this account: it belongs to no team."
    if visible is not None:
        return f"No budgets for your teams ({', '.join(sorted(visible))})."
    return (
        "No budgets yet: add one here (finance and admin), with `costcouncil budgets import "
        "budgets.yaml` or `POST /v1/budgets`."
    )


def detail(service: BudgetService, budget: Budget) -> dict[str, Any]:
    """The budget's detail, its projection in words and the current period's daily path."""
    out = service.detail(budget)
    current, found = out.get("current"), out.get("status")
    if current is None or found is None:
        return out | {"sentence": "Not counted yet: the budget has no period now.", "path": None}
    window = Window(date.fromisoformat(current["start"]), date.fromisoformat(current["end"]))
    spent = Decimal(current["spent"])
    path = {
        "actual": actual_path(service.workspace, budget, window),
        "projection": projection_path(service.workspace, budget, window, spent),
    }
    return out | {"sentence": sentence(found, budget.currency), "path": path}


def actual_path(workspace: Workspace, budget: Budget, window: Window) -> list[dict[str, Any]]:
    """Cumulative spend at the end of each day of ``window`` the lake covers."""
    lake = lake_spend(workspace, scope_keys(budget.scope), budget.metric, window.start)
    total, out = Decimal(0), []
    for offset in range((min(lake.covered_until, window.end) - window.start).days):
        day = window.start + timedelta(days=offset)
        total += lake.days.get(day, Decimal(0))
        out.append({"date": day, "cumulative": total.quantize(CENT)})
    return out


def projection_path(
    workspace: Workspace, budget: Budget, window: Window, spent: Decimal
) -> list[dict[str, Any]]:
    """Expected cumulative spend for each forecast day up to the window's end, from ``spent``
    at the lake's last day, with its ranges (empty: no single scope or too little history)."""
    scope = single_scope(budget)
    if scope is None:
        return []
    found = scope_series(workspace, [scope], metric=budget.metric).get(scope)
    if found is None or len(found) < 2:
        return []
    last = found.timestamps[-1].astype("datetime64[D]").astype(object)
    ahead = (window.end - last).days - 1
    if ahead < 1:
        return []
    forecast = forecast_many([found], ahead, jobs=1)[0]
    days = forecast.timestamps.astype("datetime64[D]")
    steps = np.flatnonzero(days >= np.datetime64(window.start))
    base = float(spent)
    start = {"date": last, **dict.fromkeys(("value", "lo80", "hi80", "lo95", "hi95"), base)}
    return [start] + [
        {"date": days[s].astype(object), **_rounded(band(forecast, steps[: i + 1], base))}
        for i, s in enumerate(steps)
    ]


def _rounded(found: Band) -> dict[str, float]:
    return {k: round(getattr(found, k), 2) for k in ("value", "lo80", "hi80", "lo95", "hi95")}


def sentence(found: dict[str, Any], currency: str) -> str:
    """The projection in words: the expected end of the period with its 80 % range, and the day
    spend reaches the amount with its 80 % interval."""
    projection, amount = found.get("projection"), found.get("amount")
    if projection is None:
        return (
            "No projection: a budget over several keys, or a scope with too little history, "
            "has no series to forecast."
        )
    end = (
        f"Expected by the period's end: {_money(projection['total'], currency)} "
        f"(80 %: {_money(projection['lo80'], '')}–{_money(projection['hi80'], currency)})."
    )
    return f"{end} {_crossing(found, projection, amount)}".strip()


def _crossing(found: dict[str, Any], projection: dict[str, Any], amount: str | None) -> str:
    if amount is None:
        return ""
    if Decimal(found["spent"]) >= Decimal(amount) > 0:
        return "Spend has reached the amount."
    crosses = projection.get("crosses_on")
    if crosses is None:
        return "At this rate it stays within the amount this period."
    earliest, latest = projection.get("earliest"), projection.get("latest")
    low = _day(earliest) if earliest else _day(crosses)
    high = _day(latest) if latest else "after the period ends"
    return f"At this rate it crosses the amount on {_day(crosses)} (80 %: {low} to {high})."


def _day(value: str) -> str:
    day = date.fromisoformat(value)
    return f"{day.day} {day:%B}"


def _money(value: str, currency: str) -> str:
    return f"{Decimal(value).quantize(CENT):,} {currency}".strip()
