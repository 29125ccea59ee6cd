"""Evaluation: every policy over the input tables, as of a day, into violations.

Each kind reads the tables named in its module (:mod:`.coverage`, :mod:`.allowed`,
:mod:`.spend`, :mod:`.idle`). Windowed kinds (``required_tags``, ``allowed_instances``,
``allowed_models``, ``unit_cost``) look at the ``days`` days ending with ``as_of``, both
included; ``idle_gpu`` uses its own ``days``; ``experiment_cap`` and ``budget_overrun`` look at
everything up to ``as_of``. The result is sorted by policy, then subject.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

from costcouncil.policy.allowed import evaluate_allowed_instances, evaluate_allowed_models
from costcouncil.policy.coverage import evaluate_required_tags
from costcouncil.policy.idle import evaluate_idle_gpu
from costcouncil.policy.inputs import Inputs
from costcouncil.policy.model import Policy
from costcouncil.policy.spend import (
    evaluate_budget_overrun,
    evaluate_experiment_cap,
    evaluate_unit_cost,
)
from costcouncil.policy.tables import Window, with_teams
from costcouncil.policy.violation import Violation

#: The evaluation window's length when none is given.
DEFAULT_DAYS = 30

Kind = Callable[[Policy, Inputs, date, Window], list[Violation]]

KIND_EVALUATORS: dict[str, Kind] = {
    "required_tags": lambda p, i, _, w: evaluate_required_tags(p, i.costs, w),
    "allowed_instances": lambda p, i, _, w: evaluate_allowed_instances(p, i.costs, i.jobs, w),
    "allowed_models": lambda p, i, _, w: evaluate_allowed_models(p, i.llm, w),
    "experiment_cap": lambda p, i, d, _: evaluate_experiment_cap(p, i.costs, d),
    "idle_gpu": lambda p, i, d, _: evaluate_idle_gpu(p, i.gpu, d),
    "unit_cost": lambda p, i, _, w: evaluate_unit_cost(p, i.llm, w),
    "budget_overrun": lambda p, i, d, _: evaluate_budget_overrun(p, i.budgets, d),
}


def evaluate(
    policies: Sequence[Policy], inputs: Inputs, *, as_of: date, days: int = DEFAULT_DAYS
) -> list[Violation]:
    """Every violation of ``policies`` in ``inputs`` as of ``as_of`` (window: ``days`` days)."""
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days}")
    filled = _with_teams(inputs)
    window = Window.ending(as_of, days)
    found = [v for p in policies for v in KIND_EVALUATORS[p.kind](p, filled, as_of, window)]
    return sorted(found, key=lambda v: (v.policy, v.subject))


def _with_teams(inputs: Inputs) -> Inputs:
    return replace(
        inputs,
        costs=with_teams(inputs.costs),
        gpu=with_teams(inputs.gpu),
        jobs=with_teams(inputs.jobs),
        llm=with_teams(inputs.llm),
        budgets=with_teams(inputs.budgets),
    )
