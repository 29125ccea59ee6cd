"""Where a budget stands in one period, which thresholds are crossed, and its history.

The figures (docs/budgets.md, "Status and thresholds"):

* ``spent``: actual spend of the period so far; ``remaining``: amount − spent (negative once over);
* ``used_pct``: spent as a percentage of the amount, to one decimal place;
* ``projection``: the spend expected at the period's end, with its 80 % and 95 % intervals and the
  day cumulative spend is expected to reach the amount (supplied by the use case's forecast);
* ``crossed``: every threshold whose figure (spent for ``actual``, the projection's total for
  ``forecast``) has reached ``amount × percent / 100``; spending nothing crosses nothing;
* ``state``: ``over`` once spent reaches the amount, else ``warning`` when any threshold is crossed,
  else ``ok``; ``no_amount`` when the period has no amount (an empty plan month, no history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from costcouncil.budgets.model import Budget, Threshold, Window
from costcouncil.budgets.periods import windows_between

STATES = ("ok", "warning", "over", "no_amount")
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Projection:
    """Expected spend at the window's end, its intervals, and when it reaches the amount.

    ``crosses_on`` is the day cumulative spend is expected to reach the amount; ``earliest`` the
    day the upper 80 % bound reaches it, ``latest`` the day the lower 80 % bound does (None: not
    within the window).
    """

    total: Decimal
    lo80: Decimal
    hi80: Decimal
    lo95: Decimal
    hi95: Decimal
    crosses_on: date | None = None
    earliest: date | None = None
    latest: date | None = None


@dataclass(frozen=True)
class Crossed:
    """A threshold reached, and the money it stands for (``amount × percent / 100``)."""

    threshold: Threshold
    at: Decimal


@dataclass(frozen=True)
class BudgetStatus:
    """One budget in one period: amount, spend, what is left, thresholds crossed, state."""

    budget: str
    window: Window
    amount: Decimal | None
    spent: Decimal
    remaining: Decimal | None
    used_pct: Decimal | None
    projection: Projection | None
    crossed: tuple[Crossed, ...]
    state: str

    def as_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data: Decimals as strings, dates as ISO text."""
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["crossed"] = [
            {"percent": str(c.threshold.percent), "basis": c.threshold.basis, "at": str(c.at)}
            for c in self.crossed
        ]
        return out


@dataclass(frozen=True)
class PeriodRow:
    """One past or current period of a budget: its amount and the actual spend."""

    window: Window
    amount: Decimal | None
    actual: Decimal
    used_pct: Decimal | None


def status(
    budget: Budget,
    window: Window,
    amount: Decimal | None,
    spent: Decimal,
    projection: Projection | None,
) -> BudgetStatus:
    """Where ``budget`` stands in ``window`` given its amount, the spend so far and a projection."""
    if amount is None:
        return BudgetStatus(
            budget.name, window, None, spent, None, None, projection, (), "no_amount"
        )
    crossed = crossed_thresholds(budget, amount, spent, projection)
    state = _state(amount, spent, crossed)
    used = used_pct(amount, spent)
    return BudgetStatus(
        budget.name, window, amount, spent, amount - spent, used, projection, crossed, state
    )


def crossed_thresholds(
    budget: Budget, amount: Decimal, spent: Decimal, projection: Projection | None
) -> tuple[Crossed, ...]:
    """The thresholds of ``budget`` whose figure has reached its share of ``amount``."""
    out = []
    for threshold in budget.thresholds:
        figure = spent if threshold.basis == "actual" else _total(projection)
        at = amount * threshold.percent / 100
        if figure is not None and figure > 0 and figure >= at:
            out.append(Crossed(threshold, at))
    return tuple(out)


def used_pct(amount: Decimal | None, actual: Decimal) -> Decimal | None:
    """``actual`` as a percentage of ``amount``, to a tenth; None without a positive amount."""
    if amount is None or amount <= 0:
        return None
    return (actual * 100 / amount).quantize(_TENTH, rounding=ROUND_HALF_EVEN)


def history(
    budget: Budget,
    actuals: Mapping[Window, Decimal],
    *,
    amounts: Mapping[Window, Decimal | None],
) -> list[PeriodRow]:
    """Budget against actual for every period from the first to the last one given, oldest first.

    A period of the budget between them that neither mapping has is a row with no amount and
    0 spent, so that a gap shows.
    """
    given = set(actuals) | set(amounts)
    if not given:
        return []
    spanned = windows_between(budget, min(w.start for w in given), max(w.end for w in given))
    rows = []
    for window in sorted(given | set(spanned)):
        amount, actual = amounts.get(window), actuals.get(window, Decimal(0))
        rows.append(PeriodRow(window, amount, actual, used_pct(amount, actual)))
    return rows


def _state(amount: Decimal, spent: Decimal, crossed: tuple[Crossed, ...]) -> str:
    if spent > 0 and spent >= amount:
        return "over"
    return "warning" if crossed else "ok"


def _total(projection: Projection | None) -> Decimal | None:
    return None if projection is None else projection.total


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Window | Projection):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value
