"""Budgets as ``serve`` and the CLI use them: the enforcer, each budget's current period, its
status with the forecast projection, its history, and the audit of denials.

The projection ("at this rate it crosses on the 23rd") forecasts the budget's scope from the
lake's daily series (:func:`costcouncil.forecast.forecast_many`) to the end of the period and
sums it onto the spend so far with the forecast's interval (:mod:`costcouncil.forecast.horizons`).
Budgets over several keys (``team=a,environment=prod``) have no series to forecast: no projection.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from costcouncil.budgets import (
    Budget,
    Projection,
    Window,
    amount_for,
    history,
    scope_keys,
    status,
    windows_between,
)
from costcouncil.errors import ConfigError
from costcouncil.forecast import Forecast, forecast_many
from costcouncil.forecast.horizons import band, crossing
from costcouncil.workspace.allocate.series import Scope, scope_series
from costcouncil.workspace.budgets.enforce import Enforcer, LiveQuery, Verdict
from costcouncil.workspace.budgets.spend import lake_spend
from costcouncil.workspace.budgets.store import BudgetStore, encode
from costcouncil.workspace.common.appstate import audit
from costcouncil.workspace.core import Workspace

__all__ = ["BudgetService", "single_scope"]

#: Past periods shown in a budget's history.
HISTORY = 12
CENT = Decimal("0.01")


@dataclass
class BudgetService:
    """One workspace's budgets, for the lifetime of a server or a command."""

    workspace: Workspace
    store: BudgetStore
    enforcer: Enforcer
    _stamp: object = None

    @classmethod
    def open(
        cls,
        workspace: Workspace,
        store: BudgetStore,
        live: LiveQuery | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> BudgetService:
        """The service over ``store``; ``clock`` (seconds) decides the current period."""
        return cls(workspace, store, Enforcer(workspace, store, live, clock).start())

    def refresh(self) -> None:
        """Re-read budgets and spend (after a change, an ``allocate`` or a new period)."""
        self.enforcer.refresh()

    def tick(self, stamp: object) -> None:
        """What ``serve`` runs every few seconds: lapse overdue holds, and re-read spend when the
        lake changed (``stamp``: the lake manifest's, e.g. after ``allocate``)."""
        if stamp != self._stamp:
            self._stamp = stamp
            self.refresh()
        self.enforcer.expire()

    def current(self, budget: Budget) -> dict[str, Any]:
        """The budget and its current period's figures."""
        out = encode(budget)
        figures = self.enforcer.spent(budget.name)
        if figures is None:
            return out | {"current": None}
        window, spent, settled, held = figures
        limit = self.enforcer.limit(budget.name)
        used = spent + settled
        out["current"] = {
            "start": window.start.isoformat(), "end": window.end.isoformat(),
            "amount": _text(limit), "spent": _text(used), "held": _text(held),
            "remaining": _text(None if limit is None else limit - used - held),
            "used_pct": _text(None if not limit else (100 * used / limit).quantize(CENT)),
        }  # fmt: skip
        return out

    def detail(self, budget: Budget) -> dict[str, Any]:
        """:meth:`current`, the status with its projection and thresholds, and the history."""
        out = self.current(budget)
        figures = self.enforcer.spent(budget.name)
        if figures is None:
            return out
        window, spent, settled, _ = figures
        limit = self.enforcer.limit(budget.name)
        projection = self.projection(budget, window, spent + settled, limit)
        out["status"] = status(budget, window, limit, spent + settled, projection).as_dict()
        out["history"] = [_row(r) for r in self.history(budget, window)]
        return out

    def projection(self, budget: Budget, window: Window, spent: Decimal,
                   limit: Decimal | None) -> Projection | None:  # fmt: skip
        """Spend expected by the period's end, and when it reaches the amount."""
        scope = single_scope(budget)
        if scope is None:
            return None
        found = scope_series(self.workspace, [scope], metric=budget.metric).get(scope)
        if found is None or len(found) < 2:
            return None
        last = found.timestamps[-1].astype("datetime64[D]").astype(object)
        ahead = (window.end - last).days - 1
        if ahead < 1:
            return None
        forecast = _within(forecast_many([found], ahead, jobs=1)[0], window)
        if forecast is None:
            return None
        total = band(forecast, np.arange(len(forecast.value)), float(spent))
        cross = crossing(float(spent), forecast, float(limit)) if limit else None
        money = [
            Decimal(str(round(v, 2)))
            for v in (total.value, total.lo80, total.hi80, total.lo95, total.hi95)
        ]
        return Projection(
            money[0], money[1], money[2], money[3], money[4],
            crosses_on=_day(cross.date) if cross else None,
            earliest=_day(cross.earliest) if cross else None,
            latest=_day(cross.latest) if cross else None,
        )  # fmt: skip

    def history(self, budget: Budget, current: Window) -> list[Any]:
        """Budget vs actual for the last :data:`HISTORY` periods before ``current``."""
        start = current.start - timedelta(days=31 * HISTORY)
        past = [w for w in windows_between(budget, start, current.start) if w.end <= current.start]
        past = past[-HISTORY:]
        if not past:
            return []
        lake = lake_spend(self.workspace, scope_keys(budget.scope), budget.metric, past[0].start)
        actuals = {w: lake.total(w) for w in past}
        amounts = {w: amount_for(budget, w, actuals) for w in past}
        return history(budget, actuals, amounts=amounts)

    def audit_deny(
        self, verdict: Verdict, action: str, keys: dict[str, str], cost: Decimal, actor: str
    ) -> None:
        """Every denial goes to the audit log with what was asked and which budgets decided."""
        if verdict.allow:
            return
        deciding = [r.budget for r in verdict.rulings if not r.allow]
        with self.store.session() as s:
            audit(s, actor, f"budget.deny.{action}", ",".join(deciding),
                  {"keys": dict(keys), "cost": str(cost)})  # fmt: skip


def _within(forecast: Forecast, window: Window) -> Forecast | None:
    """The forecast's days inside ``window`` only (the lake may end before the period starts)."""
    days = forecast.timestamps.astype("datetime64[D]")
    keep = (days >= np.datetime64(window.start)) & (days < np.datetime64(window.end))
    if not keep.any():
        return None
    arrays = ("timestamps", "value", "lo80", "hi80", "lo95", "hi95", "spread80", "spread95")
    cut = {a: getattr(forecast, a)[keep] for a in arrays if getattr(forecast, a) is not None}
    return dataclasses.replace(forecast, **cut)


def single_scope(budget: Budget) -> Scope | None:
    """The forecast scope of a budget over ``org`` or one key (None: several keys)."""
    try:
        keys = scope_keys(budget.scope)
    except ConfigError:
        return None
    if not keys:
        return Scope()
    return Scope(*keys[0]) if len(keys) == 1 else None


def _row(r: Any) -> dict[str, Any]:
    return {"start": r.window.start.isoformat(), "end": r.window.end.isoformat(),
            "amount": _text(r.amount), "actual": _text(r.actual),
            "used_pct": None if r.used_pct is None else str(r.used_pct)}  # fmt: skip


def _day(value: np.datetime64 | None) -> date | None:
    return None if value is None else value.astype("datetime64[D]").astype(object)


def _text(value: Decimal | None) -> str | None:
    """Money as shown: to the cent."""
    return None if value is None else str(value.quantize(CENT))


def live_query(query: Any) -> LiveQuery:
    """The live part of a budget's spend from ``LiveIngest.query``: priced LLM usage of the
    scope's keys on days from ``since``."""

    def spent(conditions: dict[str, str], since: date) -> Decimal:
        rows = query([], conditions, since, since + timedelta(days=400))
        return sum((Decimal(r["usage_cost"]) for r in rows), Decimal(0))

    return spent
