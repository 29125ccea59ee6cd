"""The ``budgets`` input table: each budget's period holding ``as_of``, as the budgets pages show it.

The figures are the budget service's (:class:`~costcouncil.workspace.budgets.service.BudgetService`)
with its clock at noon UTC of ``as_of``: ``spent`` is the lake's spend of the budget's scope in the
period plus settled reservations, ``amount`` the period's amount, ``projected`` the forecast's
expected total by the period's end (NULL when the scope has no series to forecast). A budget with
no amount in that period (outside its windows) has no row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pyarrow as pa

from costcouncil.policy import BUDGETS_SCHEMA
from costcouncil.workspace.budgets.service import BudgetService
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace


def budgets_table(workspace: Workspace, as_of: date) -> pa.Table:
    """The ``budgets`` table (module docstring), exactly typed; empty without budgets."""
    store = BudgetStore.open(workspace)
    try:
        if not store.budgets():
            return BUDGETS_SCHEMA.empty_table()
        noon = datetime.combine(as_of, time(12), UTC).timestamp()
        service = BudgetService.open(workspace, store, clock=lambda: noon)
        rows = [row for b in store.budgets() if (row := _row(service, b)) is not None]
    finally:
        store.close()
    return pa.Table.from_pylist(rows, schema=BUDGETS_SCHEMA)


def _row(service: BudgetService, budget: Any) -> dict[str, Any] | None:
    figures = service.enforcer.spent(budget.name)
    amount = service.enforcer.limit(budget.name)
    if figures is None or amount is None:
        return None
    window, spent, settled, _ = figures
    used = spent + settled
    projection = service.projection(budget, window, used, amount)
    return {
        "name": budget.name,
        "team": budget.team,
        "owner": budget.owner,
        "amount": amount,
        "spent": used,
        "projected": None if projection is None else projection.total,
        "window_start": window.start,
        "window_end": window.end,
    }
