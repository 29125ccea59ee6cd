"""``experiment_cap``, ``unit_cost`` and ``budget_overrun``: spend past a limit.

- ``experiment_cap`` reads every ``costs`` row up to ``as_of`` (not only the window): each value
  of the owner key ``key`` matching an experiment's ``match`` (the first that matches) is one
  experiment. ``over_cap = spent − cap`` and ``after_end`` = the spend on days after ``ends``;
  both are the latest dollars spent, so ``at stake = max(over_cap, after_end)`` and a breach is
  ``at stake > 0``.
- ``unit_cost`` reads ``llm`` in the window per ``feature`` or ``model``: ``units`` are
  (input + output tokens) / 1,000,000 or requests / 1,000; ``cost per unit = cost / units`` above
  ``max`` is a breach with ``cost − max × units`` at stake (no units: not judged).
- ``budget_overrun`` reads ``budgets`` rows whose window has started by ``as_of``: the figure is
  ``spent`` (basis ``actual``) or the larger of ``spent`` and ``projected`` (``forecast``); a
  figure above ``amount`` is a breach with ``figure − amount`` at stake.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.errors import ConfigError
from costcouncil.policy.model import (
    BudgetOverrunParams,
    Experiment,
    ExperimentCapParams,
    Policy,
    UnitCostParams,
)
from costcouncil.policy.tables import (
    ZERO,
    Window,
    distinct,
    ids,
    in_scope,
    money,
    owners,
    sums,
    violation,
)
from costcouncil.policy.violation import Violation

_UNITS = {"1m_tokens": Decimal(1_000_000), "1k_requests": Decimal(1_000)}
_CENT = Decimal("0.0001")


def evaluate_experiment_cap(policy: Policy, costs: pa.Table, as_of: date) -> list[Violation]:
    """Experiments that spent past their cap or after their end."""
    params = policy.params
    assert isinstance(params, ExperimentCapParams)
    if params.key not in costs.column_names:
        raise ConfigError(f"policy {policy.name!r}: key {params.key!r} is not a column of costs")
    rows = in_scope(costs.filter(pc.less_equal(costs["day"], as_of)), policy, "costs")
    rows = rows.filter(pc.is_valid(rows[params.key]))
    daily: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for row in sorted(sums(rows, [params.key, "day"], ["cost"]), key=lambda r: r["day"]):
        daily[row[params.key]].append((row["day"], money(row["cost_sum"])))
    teams = owners(rows, [params.key])
    resources = distinct(rows, [params.key], "resource_id")
    out = []
    for value, spend in sorted(daily.items()):
        experiment = next((e for e in params.experiments if fnmatchcase(value, e.match)), None)
        if experiment is None:
            continue
        found = _breach(experiment, spend)
        if found is not None:
            at_stake, first, evidence = found
            days = {"day_min": first, "day_max": spend[-1][0]}
            subject = f"{params.key}={value}"
            rids = resources.get((value,), [])
            out.append(
                violation(
                    policy,
                    subject,
                    teams[(value,)],
                    at_stake,
                    days,
                    key=params.key,
                    value=value,
                    match=experiment.match,
                    resources=ids(rids),
                    resource_count=len(rids),
                    **evidence,
                )
            )
    return out


def _breach(
    experiment: Experiment, spend: list[tuple[date, Decimal]]
) -> tuple[Decimal, date, dict[str, Any]] | None:
    """At stake, the first day of the breach and the figures; None when within limits."""
    total = sum((cost for _, cost in spend), ZERO)
    cap, ends = experiment.cap, experiment.ends
    over_cap = max(total - cap, ZERO) if cap is not None else ZERO
    after = [(day, cost) for day, cost in spend if ends is not None and day > ends and cost > 0]
    after_end = sum((cost for _, cost in after), ZERO)
    at_stake = max(over_cap, after_end)
    if at_stake <= 0:
        return None
    starts = [after[0][0]] if after else []
    if over_cap > 0:
        starts.append(_crossing(spend, cap or ZERO))
    figures = {
        "spent": total,
        "cap": cap,
        "ends": ends,
        "over_cap": over_cap,
        "after_end": after_end,
    }
    return at_stake, min(starts), figures


def _crossing(spend: list[tuple[date, Decimal]], cap: Decimal) -> date:
    """The first day cumulative spend passed ``cap``."""
    running = ZERO
    for day, cost in spend:
        running += cost
        if running > cap:
            return day
    return spend[-1][0]


def evaluate_unit_cost(policy: Policy, llm: pa.Table, window: Window) -> list[Violation]:
    """Features or models whose cost per unit is above the ceiling."""
    params = policy.params
    assert isinstance(params, UnitCostParams)
    rows = in_scope(window.of(llm), policy, "llm")
    rows = rows.filter(pc.is_valid(rows[params.by]))
    teams = owners(rows, [params.by])
    out = []
    for row in sums(rows, [params.by], ["requests", "input_tokens", "output_tokens", "cost"]):
        units = _units(row, params.per)
        cost = money(row["cost_sum"])
        if units == 0 or cost / units <= params.max:
            continue
        value = row[params.by]
        out.append(
            violation(
                policy,
                f"{params.by}={value}",
                teams[(value,)],
                cost - params.max * units,
                row,
                **{params.by: value},
                per=params.per,
                units=units,
                cost=cost,
                max=params.max,
                cost_per_unit=(cost / units).quantize(_CENT),
                requests=row["requests_sum"] or 0,
                tokens=(row["input_tokens_sum"] or 0) + (row["output_tokens_sum"] or 0),
            )
        )
    return out


def _units(row: dict[str, Any], per: str) -> Decimal:
    if per == "1k_requests":
        return Decimal(row["requests_sum"] or 0) / _UNITS[per]
    tokens = (row["input_tokens_sum"] or 0) + (row["output_tokens_sum"] or 0)
    return Decimal(tokens) / _UNITS[per]


def evaluate_budget_overrun(policy: Policy, budgets: pa.Table, as_of: date) -> list[Violation]:
    """Budgets whose spent (or projected) figure passed their amount."""
    params = policy.params
    assert isinstance(params, BudgetOverrunParams)
    rows = in_scope(
        budgets.filter(pc.less_equal(budgets["window_start"], as_of)), policy, "budgets"
    )
    if params.budgets:
        rows = rows.filter(pc.is_in(rows["name"], pa.array(params.budgets, pa.string())))
    out = []
    for row in rows.to_pylist():
        figure = _figure(row, params.basis)
        amount = money(row["amount"])
        if figure <= amount:
            continue
        start: date = row["window_start"]
        days = {"day_min": start, "day_max": min(as_of, row["window_end"] - timedelta(days=1))}
        out.append(
            violation(
                policy,
                f"budget={row['name']},window={start.isoformat()}",
                row["team"],
                figure - amount,
                days,
                budget=row["name"],
                budget_owner=row["owner"],
                basis=params.basis,
                amount=amount,
                spent=money(row["spent"]),
                projected=row["projected"],
                window_start=start,
                window_end=row["window_end"],
            )
        )
    return out


def _figure(row: dict[str, Any], basis: str) -> Decimal:
    spent = money(row["spent"])
    if basis == "forecast" and row["projected"] is not None:
        return max(spent, money(row["projected"]))
    return spent
