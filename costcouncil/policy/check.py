"""Shift-left: before a job starts or an LLM route goes live, do the policies allow it?

A :class:`PlannedJob` (owner keys, environment, instance type, GPUs, hours, price per GPU-hour)
or a :class:`PlannedRoute` (owner keys, environment, model, expected use and price) is checked
against every policy whose scope it falls in (scope keys are matched against its owner keys,
``environment``, and ``instance_type`` or ``model``). The kinds that decide:

- ``required_tags``: every key of ``keys`` must be given, not empty;
- ``allowed_instances`` (jobs): the instance type must match the environment's patterns;
- ``allowed_models`` (routes): the model must match the environment's patterns;
- ``experiment_cap``: the experiment named by ``keys[key]`` must not have ended before
  ``today``, and ``spent[value]`` plus the expected cost (``hours × gpus × hourly_price``, or
  ``expected_tokens / 1M × cost_per_1m_tokens``) must stay within the cap;
- ``unit_cost`` (routes, per ``1m_tokens``): ``cost_per_1m_tokens`` must stay within ``max``.

Each breach is a :class:`Finding`: a policy with ``enforce: true`` denies (``allow`` False),
one without only warns (``allow`` True). The answer allows when no finding denies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fnmatch import fnmatchcase
from types import MappingProxyType

from costcouncil.policy.model import (
    AllowedInstancesParams,
    AllowedModelsParams,
    ExperimentCapParams,
    Policy,
    RequiredTagsParams,
    UnitCostParams,
    allowed,
    scope_pairs,
)

_MILLION = Decimal(1_000_000)
_NOTHING: Mapping[str, Decimal] = MappingProxyType({})


@dataclass(frozen=True)
class PlannedJob:
    """A GPU job about to run: ``hourly_price`` is per GPU-hour (None: unknown)."""

    keys: Mapping[str, str]
    environment: str
    instance_type: str
    gpus: int
    hours: float
    hourly_price: Decimal | None = None

    @property
    def expected_cost(self) -> Decimal | None:
        """``hours × gpus × hourly_price``; None without a price."""
        if self.hourly_price is None:
            return None
        return Decimal(repr(self.hours)) * self.gpus * self.hourly_price


@dataclass(frozen=True)
class PlannedRoute:
    """An LLM route about to go live: a model called from an environment for some owner keys."""

    keys: Mapping[str, str]
    environment: str
    model: str
    expected_requests: int | None = None
    expected_tokens: int | None = None
    cost_per_1m_tokens: Decimal | None = None

    @property
    def expected_cost(self) -> Decimal | None:
        """``expected_tokens / 1M × cost_per_1m_tokens``; None without both."""
        if self.expected_tokens is None or self.cost_per_1m_tokens is None:
            return None
        return Decimal(self.expected_tokens) / _MILLION * self.cost_per_1m_tokens


Planned = PlannedJob | PlannedRoute


@dataclass(frozen=True)
class Finding:
    """One policy's breach by the plan: ``allow`` False when the policy enforces (denies)."""

    policy: str
    allow: bool
    reason: str


@dataclass(frozen=True)
class CheckResult:
    """The answer: allowed unless a finding denies; ``findings`` are every breach, in order."""

    allow: bool
    findings: tuple[Finding, ...] = field(default=())


def check(
    policies: Sequence[Policy],
    planned: Planned,
    *,
    today: date,
    spent: Mapping[str, Decimal] = _NOTHING,
) -> CheckResult:
    """Whether ``planned`` may go ahead under ``policies``; ``spent`` is each experiment's spend."""
    findings = []
    for policy in policies:
        if not _in_scope(policy, planned):
            continue
        reason = _breach(policy, planned, today, spent)
        if reason is not None:
            verdict = "denied" if policy.enforce else "warning (not enforced)"
            findings.append(Finding(policy.name, not policy.enforce, f"{verdict}: {reason}"))
    return CheckResult(all(f.allow for f in findings), tuple(findings))


def _attributes(planned: Planned) -> dict[str, str]:
    what = (
        {"instance_type": planned.instance_type}
        if isinstance(planned, PlannedJob)
        else {"model": planned.model}
    )
    return {**planned.keys, "environment": planned.environment, **what}


def _in_scope(policy: Policy, planned: Planned) -> bool:
    have = _attributes(planned)
    return all(have.get(key) == value for key, value in scope_pairs(policy.scope))


def _breach(
    policy: Policy, planned: Planned, today: date, spent: Mapping[str, Decimal]
) -> str | None:
    params = policy.params
    if isinstance(params, RequiredTagsParams):
        return _missing_keys(params, planned)
    if isinstance(params, AllowedInstancesParams) and isinstance(planned, PlannedJob):
        return _instance(params, planned)
    if isinstance(params, AllowedModelsParams) and isinstance(planned, PlannedRoute):
        return _model(params, planned)
    if isinstance(params, ExperimentCapParams):
        return _experiment(params, planned, today, spent)
    if isinstance(params, UnitCostParams) and isinstance(planned, PlannedRoute):
        return _unit_cost(params, planned)
    return None


def _missing_keys(params: RequiredTagsParams, planned: Planned) -> str | None:
    missing = [k for k in params.keys if not planned.keys.get(k, "").strip()]
    return f"owner keys missing: {', '.join(missing)}" if missing else None


def _instance(params: AllowedInstancesParams, job: PlannedJob) -> str | None:
    patterns = params.environments.get(job.environment)
    if patterns is None or (params.gpu_only and job.gpus <= 0):
        return None
    if allowed(job.instance_type, patterns):
        return None
    return (
        f"{job.instance_type} is not allowed in {job.environment} (allowed: {', '.join(patterns)})"
    )


def _model(params: AllowedModelsParams, route: PlannedRoute) -> str | None:
    patterns = params.environments.get(route.environment)
    if patterns is None or allowed(route.model, patterns):
        return None
    return f"{route.model} is not allowed in {route.environment} (allowed: {', '.join(patterns)})"


def _experiment(
    params: ExperimentCapParams, planned: Planned, today: date, spent: Mapping[str, Decimal]
) -> str | None:
    value = planned.keys.get(params.key)
    found = next((e for e in params.experiments if value and fnmatchcase(value, e.match)), None)
    if value is None or found is None:
        return None
    if found.ends is not None and today > found.ends:
        return f"{params.key}={value} ended on {found.ends.isoformat()}"
    so_far = spent.get(value, Decimal(0))
    total = so_far + (planned.expected_cost or Decimal(0))
    if found.cap is not None and total > found.cap:
        return f"{params.key}={value}: spent {so_far} + expected {planned.expected_cost or 0} passes its cap {found.cap}"
    return None


def _unit_cost(params: UnitCostParams, route: PlannedRoute) -> str | None:
    if params.per != "1m_tokens" or route.cost_per_1m_tokens is None:
        return None
    value = route.model if params.by == "model" else route.keys.get("feature")
    if value is None or route.cost_per_1m_tokens <= params.max:
        return None
    return f"{params.by}={value} costs {route.cost_per_1m_tokens} per 1M tokens, above {params.max}"
