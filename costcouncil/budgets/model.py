"""What a budget is: a scope, a cost metric, a period and an amount, with thresholds.

A :class:`Budget` is plain data. :func:`budget_problems` lists everything wrong with one (each
:class:`Issue` carries the key path it is about, as written in ``budgets.yaml``), and
:meth:`Budget.validate` raises them all at once as one :class:`~costcouncil.errors.ConfigError`.
Windows are half-open, ``[start, end)``; money is :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise

from costcouncil.document_values import did_you_mean as did_you_mean
from costcouncil.document_values import dotted as _dotted
from costcouncil.document_values import got as got
from costcouncil.document_values import scope_pairs as scope_pairs
from costcouncil.errors import ConfigError
from costcouncil.schema.currencies import ISO_4217

#: How a budget's periods are cut: calendar months, calendar quarters, calendar years, or windows.
PERIODS = ("monthly", "quarterly", "annual", "custom")
#: How a budget's amount is set: one value, a plan per month, or from the last N periods' spend.
AMOUNT_KINDS = ("fixed", "plan", "auto")
#: The FOCUS cost metrics a budget can count.
METRICS = ("EffectiveCost", "BilledCost", "ListCost", "ContractedCost")
#: What a threshold compares with the amount: the spend so far, or the spend expected at the end.
BASES = ("actual", "forecast")
#: The scope of a budget over everything.
ORG = "org"

_PLAN_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])\Z")
Path = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Window:
    """A half-open interval of days, ``[start, end)``: one period of a budget."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days the window holds."""
        return (self.end - self.start).days

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the window."""
        return self.start <= day < self.end

    def overlaps(self, other: Window) -> bool:
        """Whether the two windows share at least one day."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Amount:
    """A budget's amount: ``fixed`` (``value``), ``plan`` (per ``YYYY-MM``) or ``auto``.

    ``auto`` is the mean actual spend of the last ``months`` complete periods, times ``factor``.
    """

    kind: str
    value: Decimal | None = None
    plan: Mapping[str, Decimal] = field(default_factory=dict)
    months: int = 3
    factor: Decimal = Decimal(1)


@dataclass(frozen=True)
class Threshold:
    """A percentage of the amount that, once reached by the ``basis`` figure, is reported."""

    percent: Decimal
    basis: str


DEFAULT_THRESHOLDS = (
    Threshold(Decimal(50), "actual"),
    Threshold(Decimal(80), "actual"),
    Threshold(Decimal(100), "actual"),
    Threshold(Decimal(100), "forecast"),
)


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a budget: the key path it is about, what is wrong, the bad value."""

    path: Path
    message: str
    value: object = None
    hint: str = ""

    @property
    def text(self) -> str:
        """The message, the bad value and the hint, without the key path."""
        return f"{self.message}{got(self.value)}{self.hint}"

    def __str__(self) -> str:
        return f"{_dotted(self.path)}: {self.text}"


@dataclass(frozen=True)
class Budget:
    """A spending limit on a scope for each period; ``hard`` ones deny, soft ones notify."""

    name: str
    scope: str
    amount: Amount
    period: str = "monthly"
    windows: tuple[Window, ...] = ()
    metric: str = "EffectiveCost"
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS
    hard: bool = False
    owner: str = ""
    team: str | None = None
    currency: str = "USD"

    def validate(self) -> None:
        """Raise a :class:`ConfigError` naming the budget and every field that is wrong."""
        issues = budget_problems(self)
        if issues:
            lines = [f"budget {self.name!r}: {len(issues)} problem(s):"]
            raise ConfigError("\n".join([*lines, *(f"  - {i}" for i in issues)]))


def scope_keys(scope: str) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of a scope (see :func:`costcouncil.document_values.scope_pairs`)."""
    return list(scope_pairs(scope))


def budget_problems(budget: Budget) -> list[Issue]:
    """Everything wrong with ``budget``, each naming its key path; empty when it is valid."""
    issues = [Issue(("name",), "must not be empty", budget.name)] if not budget.name.strip() else []
    issues += _choice(("period",), budget.period, PERIODS)
    issues += _choice(("metric",), budget.metric, METRICS)
    if budget.currency not in ISO_4217:
        issues.append(Issue(("currency",), "is not an ISO 4217 code", budget.currency))
    issues += _scope_problems(budget.scope)
    issues += amount_problems(budget.amount)
    issues += window_problems(budget.period, budget.windows)
    return issues + threshold_problems(budget.thresholds)


def amount_problems(amount: Amount) -> list[Issue]:
    """What is wrong with an amount, by its kind."""
    if amount.kind == "fixed":
        return _fixed_problems(amount)
    if amount.kind == "plan":
        return _plan_problems(amount)
    if amount.kind == "auto":
        return _auto_problems(amount)
    return _choice(("amount",), amount.kind, AMOUNT_KINDS)


def _fixed_problems(amount: Amount) -> list[Issue]:
    if amount.value is None or not amount.value.is_finite() or amount.value <= 0:
        return [Issue(("amount",), "must be a number above 0", _shown(amount.value))]
    return []


def _plan_problems(amount: Amount) -> list[Issue]:
    where: Path = ("amount", "plan")
    issues = [] if amount.plan else [Issue(where, "names no month")]
    for month, value in amount.plan.items():
        if not _PLAN_MONTH.match(month):
            issues.append(Issue((*where, month), "is not a month YYYY-MM", month))
        if not value.is_finite() or value < 0:
            issues.append(Issue((*where, month), "must be a number 0 or above", _shown(value)))
    return issues


def _auto_problems(amount: Amount) -> list[Issue]:
    where: Path = ("amount", "auto")
    issues = []
    if amount.months < 1:
        issues.append(Issue((*where, "months"), "must be 1 or more", amount.months))
    if not amount.factor.is_finite() or amount.factor <= 0:
        issues.append(Issue((*where, "factor"), "must be above 0", _shown(amount.factor)))
    return issues


def window_problems(period: str, windows: tuple[Window, ...]) -> list[Issue]:
    """Custom periods need sorted, non-empty, non-overlapping windows; others take none."""
    if period != "custom":
        return (
            [Issue(("windows",), f"only a custom period has windows, not {period}")]
            if windows
            else []
        )
    if not windows:
        return [Issue(("windows",), "a custom period needs at least one window")]
    issues = [
        Issue(("windows", i), "ends on or before its start", _span(w))
        for i, w in enumerate(windows)
        if w.end <= w.start
    ]
    for i, (before, after) in enumerate(pairwise(windows), start=1):
        if after.start < before.start:
            issues.append(Issue(("windows", i), "starts before the window above it", _span(after)))
        elif before.overlaps(after):
            issues.append(Issue(("windows", i), f"overlaps {_span(before)}", _span(after)))
    return issues


def threshold_problems(thresholds: tuple[Threshold, ...]) -> list[Issue]:
    """Percentages above 0, a known basis, and no threshold twice."""
    issues: list[Issue] = []
    for i, threshold in enumerate(thresholds):
        if not threshold.percent.is_finite() or threshold.percent <= 0:
            issues.append(Issue(("thresholds", i), "percent must be above 0", _shown(threshold)))
        issues += _choice(("thresholds", i), threshold.basis, BASES)
        if threshold in thresholds[:i]:
            issues.append(Issue(("thresholds", i), "is given twice", _shown(threshold)))
    return issues


def _scope_problems(scope: str) -> list[Issue]:
    try:
        scope_keys(scope)
    except ConfigError as e:
        return [Issue(("scope",), str(e), scope)]
    return []


def _choice(path: Path, value: str, choices: tuple[str, ...]) -> list[Issue]:
    if value in choices:
        return []
    return [
        Issue(path, f"must be one of {', '.join(choices)}", value, did_you_mean(value, choices))
    ]


def _span(window: Window) -> str:
    return f"{window.start.isoformat()}..{window.end.isoformat()}"


def _shown(value: object) -> object:
    """A threshold as a person writes it, ``80% actual``; other values as they are."""
    if isinstance(value, Threshold):
        return f"{value.percent}% {value.basis}"
    return value
