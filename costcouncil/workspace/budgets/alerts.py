"""Budget thresholds as alerts: each threshold a budget's current period has crossed — on actual
spend, or on the spend expected by the period's end — becomes one alert, handed to the
notification subscriptions (a budget's own, or those that hear every source) and the inbox.

An alert's id is ``budget:<name>:<period start>:<basis>:<percent>``, so each threshold is told
once per period (and again only when it grows, as dispatch's dedupe decides); its impact is how
far the figure is past the threshold. Members hear only of their teams' budgets (the alert
carries the budget's team).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from costcouncil.budgets import Budget, BudgetStatus, Crossed, status
from costcouncil.notify.message import Alert
from costcouncil.workspace.budgets.service import BudgetService
from costcouncil.workspace.notify.dispatch import BASE_URL, BUDGET_SOURCE, dispatch

__all__ = ["budget_alerts", "notify_budgets"]

AlertIn = tuple[Alert, str, str | None]


def budget_alerts(
    service: BudgetService, *, link: str = "", forecast: bool = True
) -> list[AlertIn]:
    """The alerts of every budget's crossed thresholds (``forecast``: project the period's end,
    which forecast thresholds need)."""
    out: list[AlertIn] = []
    for budget in service.store.budgets():
        figures = service.enforcer.spent(budget.name)
        limit = service.enforcer.limit(budget.name)
        if figures is None or not limit:
            continue
        window, spent, settled, _ = figures
        used = spent + settled
        wants = forecast and any(t.basis == "forecast" for t in budget.thresholds)
        projection = service.projection(budget, window, used, limit) if wants else None
        found = status(budget, window, limit, used, projection)
        out += [
            (_alert(budget, found, c, link), f"{BUDGET_SOURCE}{budget.name}", budget.team)
            for c in found.crossed
        ]
    return out


def notify_budgets(
    service: BudgetService, *, at: datetime, link: str = "", forecast: bool = True
) -> int:
    """Dispatch :func:`budget_alerts`; how many delivery-log rows were written."""
    alerts = budget_alerts(service, link=link, forecast=forecast)
    return len(dispatch(service.store.db, alerts, now=at)) if alerts else 0


def _alert(budget: Budget, found: BudgetStatus, crossed: Crossed, link: str) -> Alert:
    t, amount = crossed.threshold, found.amount or Decimal(0)
    actual = t.basis == "actual"
    figure = found.spent if actual or found.projection is None else found.projection.total
    what = "spent" if actual else "expected by the period's end"
    title = f"Budget {budget.name}: {_pct(t.percent)} of {_money(amount, budget.currency)} {what}"
    lines = [
        f"spent {_money(found.spent, budget.currency)} of {_money(amount, budget.currency)} "
        f"({found.window.start.isoformat()} to {found.window.end.isoformat()}, end exclusive)"
    ]
    p = found.projection
    if p is not None:
        lines.append(f"expected by the end: {_money(p.total, budget.currency)} "
                     f"(80 %: {_money(p.lo80, budget.currency)} – {_money(p.hi80, budget.currency)})")  # fmt: skip
        if p.crosses_on is not None:
            lines.append(f"at this rate it reaches the amount on {p.crosses_on.isoformat()}")
    if budget.owner:
        lines.append(f"owner: {budget.owner}" + (f" (team {budget.team})" if budget.team else ""))
    over = figure - crossed.at
    return Alert(
        id=f"{BUDGET_SOURCE}{budget.name}:{found.window.start.isoformat()}:{t.basis}:{t.percent}",
        kind="budget",
        title=title,
        scope=budget.scope,
        status="new",
        impact=over.quantize(Decimal("0.01")),
        currency=budget.currency,
        start=datetime.combine(found.window.start, time(), UTC),
        end=None,
        link=f"{(link or BASE_URL).rstrip('/')}/budgets/{budget.name}",
        impact_pct=float(100 * over / crossed.at) if crossed.at else None,
        lines=tuple(lines),
        severity="critical" if t.percent >= 100 else "warning",
    )


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def _money(value: Decimal, currency: str) -> str:
    return f"{value.quantize(Decimal('0.01')):,} {currency}"
