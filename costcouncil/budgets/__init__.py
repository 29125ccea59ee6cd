"""Budgets (docs/budgets.md): the pure engine.

A budget is a scope, a cost metric, a period and an amount, with thresholds on actual and
forecast spend. This package decides periods (:mod:`.periods`), amounts (:mod:`.amounts`), where
a budget stands (:mod:`.status`) and reads and writes ``budgets.yaml`` (:mod:`.document`); it
reads no files and no database — the use cases feed it spend and forecasts.
"""

from costcouncil.budgets.amounts import amount_for
from costcouncil.budgets.document import (
    ANY_TAG,
    BUDGET_KEYS,
    Change,
    diff,
    dump_budgets,
    parse_budgets,
)
from costcouncil.budgets.model import (
    AMOUNT_KINDS,
    BASES,
    DEFAULT_THRESHOLDS,
    METRICS,
    PERIODS,
    Amount,
    Budget,
    Threshold,
    Window,
    scope_keys,
)
from costcouncil.budgets.periods import elapsed, window_at, windows_between
from costcouncil.budgets.status import (
    STATES,
    BudgetStatus,
    Crossed,
    PeriodRow,
    Projection,
    history,
    status,
)

__all__ = [
    "AMOUNT_KINDS",
    "ANY_TAG",
    "BASES",
    "BUDGET_KEYS",
    "DEFAULT_THRESHOLDS",
    "METRICS",
    "PERIODS",
    "STATES",
    "Amount",
    "Budget",
    "BudgetStatus",
    "Change",
    "Crossed",
    "PeriodRow",
    "Projection",
    "Threshold",
    "Window",
    "amount_for",
    "diff",
    "dump_budgets",
    "elapsed",
    "history",
    "parse_budgets",
    "scope_keys",
    "status",
    "window_at",
    "windows_between",
]
