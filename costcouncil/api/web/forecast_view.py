"""Saved forecasts as the dashboard shows them: the overview's month-end panel (the organisation,
or a member's teams) and the explorer's band when its view is one forecast scope.

A scope's entry holds its saved summary (this month so far, the expected month end with its 80 %
and 95 % ranges, last month, the day last month's total is passed), the daily history before the
forecast (every charge, as the forecast sums them) and the forecast's daily points with their
ranges. A member sees forecasts of ``team=<theirs>`` only, as in ``GET /v1/forecasts``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from costcouncil.workspace.allocate.series import ORG, Scope, parse_scope, scope_series
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.figures.filters import Filter
from costcouncil.workspace.forecast.saved import Saved, load

Teams = frozenset[str] | None

#: Days of history the overview draws before the forecast.
HISTORY_DAYS = 60
#: The most history (and forecast) the explorer draws around its range.
LONGEST = 366
NO_FORECAST = (
    "No forecast saved yet: forecasts appear after `costcouncil allocate` "
    "(they need allocated cost)."
)
#: The summary fields the dashboard shows (the 12 months stay in ``GET /v1/forecasts``).
SHOWN = ("method", "month", "month_actual", "month_end", "last_month", "passes_last_month",
         "history_days", "fallback")  # fmt: skip


def sees(teams: Teams, scope: str) -> bool:
    """Whether a caller seeing ``teams`` (None: every team) may see the forecast of ``scope``."""
    return teams is None or any(scope == f"team={t}" for t in teams)


def overview_forecast(workspace: Workspace, teams: Teams) -> dict[str, Any]:
    """The overview's panel: the organisation's forecast (a member: each of their teams'), or
    the sentence saying why there is none (``note``)."""
    saved = load(workspace)
    wanted = [ORG] if teams is None else [f"team={t}" for t in sorted(teams)]
    found = [s for s in wanted if saved is not None and s in saved.scopes]
    if saved is None or not found:
        return {"scopes": [], "note": _why_none(saved, teams)}
    entries = []
    for scope in found:
        start = date.fromisoformat(saved.first_day) - timedelta(days=HISTORY_DAYS)
        until = _month_after(saved.scopes[scope]["month"])
        entries.append(entry(workspace, saved, scope, start, until))
    return {"created_at": saved.created_at, "scopes": entries, "note": None}


def _why_none(saved: Saved | None, teams: Teams) -> str:
    if teams is not None and not teams:
        return "Nothing visible to this account: it belongs to no team."
    if saved is None:
        return NO_FORECAST
    return (
        f"No forecast of your teams ({', '.join(sorted(teams or ()))}) yet: forecasts appear "
        "after `costcouncil allocate` for every team with cost."
    )


def explorer_forecast(workspace: Workspace, flt: Filter) -> dict[str, Any] | None:
    """The forecast band of the explorer's view when that view is one saved scope: no filter
    (``org``) or one filter of one value (``team=vision``), effective cost, no tag."""
    scope = view_scope(flt)
    saved = load(workspace) if scope is not None and sees(flt.teams, scope) else None
    if saved is None or scope not in saved.scopes:
        return None
    first = date.fromisoformat(saved.first_day)
    start = max(flt.start, first - timedelta(days=LONGEST))
    until = min(max(flt.end, _month_after(str(first)[:7])), first + timedelta(days=LONGEST))
    return {**entry(workspace, saved, scope, start, until), "note": f"forecast of {scope}"}


def view_scope(flt: Filter) -> str | None:
    """The forecast scope an explorer view is, if it is one."""
    if flt.tags or flt.metric != "effective":
        return None
    if not flt.where:
        return ORG
    (key, values), *rest = flt.where
    return f"{key}={values[0]}" if not rest and len(values) == 1 else None


def entry(
    workspace: Workspace, saved: Saved, scope: str, start: date, until: date
) -> dict[str, Any]:
    """One scope's summary, its daily history from ``start`` and its forecast before ``until``."""
    summary = saved.scopes[scope]
    first = date.fromisoformat(saved.first_day)
    points = [
        {k: row[k] for k in ("date", "value", "lo80", "hi80", "lo95", "hi95")}
        for row in saved.points(scope).to_pylist()
        if row["date"] < until
    ]
    return {
        "scope": scope,
        "currency": saved.currency,
        **{k: summary.get(k) for k in SHOWN},
        "history": history(workspace, scope, start, first),
        "points": points,
    }


def history(workspace: Workspace, scope: str, start: date, end: date) -> list[dict[str, Any]]:
    """The scope's daily cost (every charge) in ``[start, end)``."""
    parsed: Scope = parse_scope(workspace, scope)
    series = scope_series(workspace, [parsed]).get(parsed)
    if series is None:
        return []
    days = series.timestamps.astype("datetime64[D]")
    keep = (days >= np.datetime64(start)) & (days < np.datetime64(end))
    return [
        {"date": d.astype(object), "cost": round(float(v), 2)}
        for d, v in zip(days[keep], series.values[keep], strict=True)
    ]


def _month_after(month: str) -> date:
    """The first day of the month after ``2026-10``."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year + number // 12, number % 12 + 1, 1)
