"""A budget's amount for one period: fixed, from a plan per month, or from recent spend.

Plan and auto amounts are rounded to cents (half to even); a fixed amount is used as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

from costcouncil.budgets.model import Amount, Budget, Window
from costcouncil.budgets.periods import month_window

CENT = Decimal("0.01")


def amount_for(budget: Budget, window: Window, history: Mapping[Window, Decimal]) -> Decimal | None:
    """The amount of ``budget`` for ``window``; None when there is nothing to set it from.

    ``history`` is the actual spend of past periods, used by ``auto`` amounts only.
    """
    amount = budget.amount
    if amount.kind == "plan":
        return plan_amount(amount, window)
    if amount.kind == "auto":
        return auto_amount(amount, window, history)
    return amount.value


def plan_amount(amount: Amount, window: Window) -> Decimal | None:
    """The plan's months inside ``window``, each month pro rata to the days the window covers.

    A month without a plan counts 0; None when no planned month touches the window.
    """
    total, touched = Decimal(0), False
    for month, value in amount.plan.items():
        days = _overlap(_plan_month(month), window)
        if days > 0:
            touched = True
            total += value * days / _plan_month(month).days
    return cents(total) if touched else None


def auto_amount(
    amount: Amount, window: Window, history: Mapping[Window, Decimal]
) -> Decimal | None:
    """The mean spend of the last ``months`` periods of ``history`` ending by the window's start,
    times ``factor``; None when ``history`` has no such period."""
    before = sorted(w for w in history if w.end <= window.start)[-amount.months :]
    if not before:
        return None
    mean = sum((history[w] for w in before), Decimal(0)) / len(before)
    return cents(mean * amount.factor)


def cents(value: Decimal) -> Decimal:
    """``value`` rounded to cents, half to even."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _plan_month(month: str) -> Window:
    year, number = month.split("-")
    return month_window(int(year), int(number))


def _overlap(a: Window, b: Window) -> int:
    return max(0, (min(a.end, b.end) - max(a.start, b.start)).days)
