"""The dashboard's budget forms read into budgets: a new fixed-amount budget, and the edit of
one (amount, hard or soft, owner, thresholds).

Fields arrive as text; a field that is not what it should be is a
:class:`~costcouncil.errors.ConfigError` naming the field and the value, and the store validates
the budget as a whole (:meth:`~costcouncil.budgets.Budget.validate`) before it saves it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from costcouncil.budgets import Amount, Budget, Threshold
from costcouncil.errors import ConfigError

#: Periods the "new budget" form offers (a custom period needs windows: budgets.yaml).
FORM_PERIODS = ("monthly", "quarterly", "annual")
_THRESHOLD = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*(actual|forecast)?\s*\Z")


def thresholds_text(encoded: list[dict[str, Any]]) -> str:
    """A budget's thresholds (as :func:`~costcouncil.workspace.budgets.store.encode` writes
    them) as the form shows them: ``50%, 80%, 100% forecast``."""
    return ", ".join(
        f"{t['percent']}%" + (" forecast" if t["basis"] == "forecast" else "") for t in encoded
    )


def read_thresholds(text: str) -> tuple[Threshold, ...]:
    """``80%, 100% forecast`` as thresholds; every part that does not read so is named."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in parts if not _THRESHOLD.match(p)]
    if bad:
        shown = ", ".join(repr(p) for p in bad)
        raise ConfigError(f"thresholds: {shown} must read like '80%' or '100% forecast'")
    found = [_THRESHOLD.match(p) for p in parts]
    return tuple(Threshold(Decimal(m[1]), m[2] or "actual") for m in found if m)


def read_amount(text: str) -> Decimal:
    """The form's amount (thousands separators allowed) as a Decimal."""
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        raise ConfigError(f"amount: {text!r} is not a number") from None
    if not value.is_finite():
        raise ConfigError(f"amount: {text!r} is not a number")
    return value


def read_hard(text: str) -> bool:
    """``hard`` or ``soft``."""
    if text not in ("hard", "soft"):
        raise ConfigError(f"enforcement: {text!r} must be hard or soft")
    return text == "hard"


def edited(budget: Budget, form: Mapping[str, str]) -> Budget:
    """``budget`` with the edit form's fields; a blank amount keeps the amount as it is (a plan
    or an automatic amount is changed in budgets.yaml), a number makes it fixed."""
    amount = budget.amount
    if form.get("amount", "").strip():
        amount = Amount("fixed", read_amount(form["amount"]))
    return dataclasses.replace(
        budget,
        amount=amount,
        hard=read_hard(form.get("enforcement", "")),
        owner=form.get("owner", "").strip(),
        thresholds=read_thresholds(form.get("thresholds", "")),
    )


def new_budget(form: Mapping[str, str], currency: str) -> Budget:
    """The budget of the "new budget" form: a fixed amount each period."""
    period = form.get("period", "monthly")
    if period not in FORM_PERIODS:
        raise ConfigError(f"period: {period!r} must be one of {', '.join(FORM_PERIODS)}")
    return Budget(
        name=form.get("name", "").strip(),
        scope=form.get("scope", "").strip(),
        amount=Amount("fixed", read_amount(form.get("amount", ""))),
        period=period,
        metric=form.get("metric", "EffectiveCost"),
        thresholds=read_thresholds(form.get("thresholds", "")),
        hard=read_hard(form.get("enforcement", "soft")),
        owner=form.get("owner", "").strip(),
        team=form.get("team", "").strip() or None,
        currency=form.get("currency", "").strip().upper() or currency,
    )
