"""What a policy is: a named rule of one kind, with typed parameters, a scope and a severity.

A :class:`Policy` is plain data; its ``params`` are one of the ``*Params`` dataclasses below, the
one :data:`PARAMS` names for its kind. :func:`policy_problems` lists everything wrong with a policy
(each :class:`Issue` carries the key path it is about, as written in ``policies.yaml``) and
:meth:`Policy.validate` raises them all at once as one :class:`~costcouncil.errors.ConfigError`.
docs/policies.md is the reference of every kind and parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fnmatch import fnmatchcase

from costcouncil.document_values import did_you_mean as did_you_mean
from costcouncil.document_values import dotted as _dotted
from costcouncil.document_values import got as got
from costcouncil.document_values import scope_pairs as scope_pairs
from costcouncil.errors import ConfigError

KINDS = (
    "required_tags",
    "allowed_instances",
    "allowed_models",
    "experiment_cap",
    "idle_gpu",
    "unit_cost",
    "budget_overrun",
)
SEVERITIES = ("info", "warning", "critical")
#: The scope of a policy over everything.
ORG = "org"
#: The owner of spend nobody was attributed (the attribution engine's sentinel).
UNALLOCATED = "__unallocated__"
#: How ``required_tags`` reports: per team (coverage) and per resource (each untagged one).
REPORTS = ("team", "resource")
UNIT_PERS = ("1m_tokens", "1k_requests")
UNIT_BYS = ("feature", "model")
BUDGET_BASES = ("actual", "forecast")
AI_CATEGORY = "AI and Machine Learning"

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class RequiredTagsParams:
    """AI spend must carry every key of ``keys`` on its bill, for ``min_coverage`` % of it.

    AI spend is a cost row whose service category is in ``service_categories``, or (with
    ``include_gpu``) a row with an accelerator.
    """

    keys: tuple[str, ...] = ("team", "project")
    min_coverage: Decimal = Decimal(100)
    service_categories: tuple[str, ...] = (AI_CATEGORY,)
    include_gpu: bool = True
    report: tuple[str, ...] = REPORTS


@dataclass(frozen=True)
class AllowedInstancesParams:
    """Per environment, the instance types (glob patterns) GPU work may run on."""

    environments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    gpu_only: bool = True


@dataclass(frozen=True)
class AllowedModelsParams:
    """Per environment, the LLM models (glob patterns) that may be called."""

    environments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """Experiments whose key value matches ``match``: a spend ``cap``, an ``ends`` day, or both."""

    match: str
    cap: Decimal | None = None
    ends: date | None = None


@dataclass(frozen=True)
class ExperimentCapParams:
    """Experiments named by the owner key ``key``; each value is one experiment."""

    key: str = "project"
    experiments: tuple[Experiment, ...] = ()


@dataclass(frozen=True)
class IdleGpuParams:
    """A node idle more than ``max_idle_percent`` of its GPU-hours over the last ``days`` days."""

    max_idle_percent: Decimal = Decimal(50)
    days: int = 7


@dataclass(frozen=True)
class UnitCostParams:
    """Cost per unit (``per``) of a feature or model (``by``) must stay at or below ``max``."""

    max: Decimal = Decimal(0)
    per: str = "1m_tokens"
    by: str = "model"


@dataclass(frozen=True)
class BudgetOverrunParams:
    """Budgets (by name, or every one when empty) whose ``basis`` figure passes their amount."""

    budgets: tuple[str, ...] = ()
    basis: str = "actual"


Params = (
    RequiredTagsParams
    | AllowedInstancesParams
    | AllowedModelsParams
    | ExperimentCapParams
    | IdleGpuParams
    | UnitCostParams
    | BudgetOverrunParams
)
#: The parameter dataclass of each kind.
PARAMS: dict[str, type[Params]] = {
    "required_tags": RequiredTagsParams,
    "allowed_instances": AllowedInstancesParams,
    "allowed_models": AllowedModelsParams,
    "experiment_cap": ExperimentCapParams,
    "idle_gpu": IdleGpuParams,
    "unit_cost": UnitCostParams,
    "budget_overrun": BudgetOverrunParams,
}
#: Parameters a policy of that kind must give.
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "allowed_instances": ("environments",),
    "allowed_models": ("environments",),
    "experiment_cap": ("experiments",),
    "unit_cost": ("max",),
}


@dataclass(frozen=True)
class Policy:
    """A rule on spend: evaluated into violations, and (shift-left) checked before work starts.

    ``enforce`` decides what a breach does at check time: deny (True) or only warn (False).
    """

    name: str
    kind: str
    params: Params
    scope: str = ORG
    severity: str = "warning"
    owner: str = ""
    description: str = ""
    enforce: bool = False

    def validate(self, instance_types: Collection[str] | None = None) -> None:
        """Raise a :class:`ConfigError` naming the policy and every field that is wrong."""
        issues = policy_problems(self, instance_types)
        if issues:
            lines = [f"policy {self.name!r}: {len(issues)} problem(s):"]
            raise ConfigError("\n".join([*lines, *(f"  - {i}" for i in issues)]))


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a policy: the key path it is about, what is wrong, the bad value."""

    path: Path
    message: str
    value: object = None
    hint: str = ""

    def __str__(self) -> str:
        return f"{_dotted(self.path)}: {self.message}{got(self.value)}{self.hint}"


def policy_problems(policy: Policy, instance_types: Collection[str] | None = None) -> list[Issue]:
    """Everything wrong with ``policy``; ``instance_types`` (the known ones) checks patterns."""
    issues = [Issue(("name",), "must not be empty", policy.name)] if not policy.name.strip() else []
    issues += choice_problems(("kind",), policy.kind, KINDS)
    issues += choice_problems(("severity",), policy.severity, SEVERITIES)
    try:
        scope_pairs(policy.scope)
    except ConfigError as e:
        issues.append(Issue(("scope",), str(e), policy.scope))
    expected = PARAMS.get(policy.kind)
    if expected is not None and not isinstance(policy.params, expected):
        issues.append(Issue(("params",), f"are not {expected.__name__}"))
    return issues + [
        Issue(("params", *i.path), i.message, i.value, i.hint)
        for i in params_problems(policy.params, instance_types)
    ]


def params_problems(params: Params, instance_types: Collection[str] | None) -> list[Issue]:
    """What is wrong with one kind's parameters, paths relative to ``params``."""
    if isinstance(params, RequiredTagsParams):
        return _required_tags(params)
    if isinstance(params, AllowedInstancesParams):
        return _environments(params.environments, instance_types)
    if isinstance(params, AllowedModelsParams):
        return _environments(params.environments, None)
    if isinstance(params, ExperimentCapParams):
        return _experiments(params)
    if isinstance(params, IdleGpuParams):
        return _idle(params)
    if isinstance(params, UnitCostParams):
        return _unit_cost(params)
    return choice_problems(("basis",), params.basis, BUDGET_BASES)


def _required_tags(params: RequiredTagsParams) -> list[Issue]:
    issues = [] if params.keys else [Issue(("keys",), "must name at least one key")]
    if not 0 <= params.min_coverage <= 100:
        issues.append(Issue(("min_coverage",), "must be 0 to 100", params.min_coverage))
    if not (params.service_categories or params.include_gpu):
        issues.append(Issue(("service_categories",), "no AI spend: none and no include_gpu"))
    issues += [i for r in params.report for i in choice_problems(("report",), r, REPORTS)]
    return issues


def _environments(
    environments: Mapping[str, tuple[str, ...]], instance_types: Collection[str] | None
) -> list[Issue]:
    issues = [] if environments else [Issue(("environments",), "names no environment")]
    for env, patterns in environments.items():
        if not patterns:
            issues.append(Issue(("environments", env), "allows nothing: give at least a pattern"))
        for i, pattern in enumerate(patterns):
            if instance_types is not None and not matches_any(instance_types, pattern):
                hint = did_you_mean(pattern, instance_types)
                issues.append(
                    Issue(("environments", env, i), "matches no known instance type", pattern, hint)
                )
    return issues


def _experiments(params: ExperimentCapParams) -> list[Issue]:
    issues = [] if params.key.strip() else [Issue(("key",), "must name an owner key", params.key)]
    if not params.experiments:
        issues.append(Issue(("experiments",), "lists no experiment"))
    for i, exp in enumerate(params.experiments):
        if not exp.match.strip():
            issues.append(Issue(("experiments", i, "match"), "must not be empty", exp.match))
        if exp.cap is None and exp.ends is None:
            issues.append(Issue(("experiments", i), "needs a cap, an ends day, or both"))
        if exp.cap is not None and exp.cap < 0:
            issues.append(Issue(("experiments", i, "cap"), "must be 0 or above", exp.cap))
    return issues


def _idle(params: IdleGpuParams) -> list[Issue]:
    issues = []
    if not 0 <= params.max_idle_percent < 100:
        issues.append(Issue(("max_idle_percent",), "must be 0 to 99.99", params.max_idle_percent))
    if params.days < 1:
        issues.append(Issue(("days",), "must be 1 or more", params.days))
    return issues


def _unit_cost(params: UnitCostParams) -> list[Issue]:
    issues = [] if params.max >= 0 else [Issue(("max",), "must be 0 or above", params.max)]
    issues += choice_problems(("per",), params.per, UNIT_PERS)
    return issues + choice_problems(("by",), params.by, UNIT_BYS)


def matches_any(values: Iterable[str], pattern: str) -> bool:
    """Whether any of ``values`` matches the glob ``pattern`` (case-sensitive)."""
    return any(fnmatchcase(v, pattern) for v in values)


def allowed(value: str, patterns: Iterable[str]) -> bool:
    """Whether ``value`` matches one of the glob ``patterns``."""
    return any(fnmatchcase(value, p) for p in patterns)


def choice_problems(path: Path, value: str, choices: tuple[str, ...]) -> list[Issue]:
    """An issue when ``value`` is not one of ``choices``, with a "did you mean"."""
    if value in choices:
        return []
    message = f"must be one of {', '.join(choices)}"
    return [Issue(path, message, value, did_you_mean(value, choices))]
