"""The demo organisation's ``policies.yaml``: the template in this package, filled from the plan.

The limits are chosen so that on the demo exactly the planted breaches
(:mod:`costcouncil.demo.planted_policy`) are violations:

- ``prod-models`` allows in ``prod`` every model the demo's prod uses call, minus the planted one;
- ``experiments`` caps each planted experiment project: the one planted to breach at half of
  what its instances cost, the other at four times (rounded to $100);
- ``idle-gpus`` allows a node 90 % idle over 7 days (shared cluster nodes run 40–70 % idle);
- ``feature-unit-cost`` sets the ceiling per 1M tokens half-way between the dearest usual
  feature and the planted one (their nominal token mix at list prices), to the half dollar.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from importlib import resources
from string import Template

from costcouncil.demo.apps import App
from costcouncil.demo.catalog import INSTANCES, LLM_MODELS, TOKEN_KINDS, TOKEN_RATIOS
from costcouncil.demo.plan import Plan, build_plan
from costcouncil.demo.planted_policy import APP_PLANTS, MACHINE_PLANTS, MachinePlant
from costcouncil.demo.spec import DemoSpec

#: ``idle-gpus``: the ceiling on a node's idle share (percent) and the days it looks at.
MAX_IDLE_PERCENT, IDLE_DAYS = 90, 7
#: Experiment caps as a multiple of the list cost of the experiment's instances.
_CAP_SHARE = {"experiment-over-cap": Decimal("0.5"), "experiment-within-cap": Decimal(4)}
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Limits:
    """The figures filled into the template."""

    prod_models: tuple[str, ...]
    caps: dict[str, Decimal]
    unit_max: Decimal
    max_idle_percent: int = MAX_IDLE_PERCENT
    idle_days: int = IDLE_DAYS


def limits(plan: Plan) -> Limits:
    """The demo's policy limits for ``plan``."""
    planted = {a.index for _, a in plan.policy.apps}
    usual = [a for a in plan.apps if a.index not in planted]
    banned = {p.use.model for p in APP_PLANTS if p.kind == "allowed_models"}
    in_prod = {a.index for a in usual if a.use.owner.environment == "prod"}
    prod = {plan.apps[i].use.model for i in in_prod}
    prod |= {ln.model for ln in plan.volumes.changes.lanes if ln.app in in_prod}
    caps = {p.owner.project: _cap(p) for p in MACHINE_PLANTS if p.id in _CAP_SHARE}
    return Limits(tuple(sorted(prod - banned)), caps, _ceiling(usual))


def _cap(plant: MachinePlant) -> Decimal:
    cost = Decimal(INSTANCES[plant.instance].on_demand) * plant.days * 24 * _CAP_SHARE[plant.id]
    rounding = ROUND_FLOOR if _CAP_SHARE[plant.id] < 1 else ROUND_CEILING
    return (cost / _HUNDRED).to_integral_value(rounding) * _HUNDRED


def nominal_unit_cost(app: App) -> Decimal:
    """$ per 1M input + output tokens of ``app``'s usual token mix at list prices."""
    ratios = dict(zip(TOKEN_KINDS, TOKEN_RATIOS, strict=True))
    ratios |= {"cached": app.use.cached, "output": app.use.output}
    prices = LLM_MODELS[app.use.model].prices
    cost = sum((Decimal(p) * Decimal(repr(ratios[k])) for k, p in prices), Decimal(0))
    kinds = {k for k, _ in prices}
    units = sum(Decimal(repr(ratios[k])) for k in ("input", "output") if k in kinds)
    return cost / units


def _ceiling(usual: list[App]) -> Decimal:
    """Half-way between the dearest usual feature and the planted one, to the half dollar."""
    planted = [p.use for p in APP_PLANTS if p.kind == "unit_cost"]
    high = max(nominal_unit_cost(a) for a in usual)
    top = min(nominal_unit_cost(App(0, u, "", 0, 0, "", "", 0.0)) for u in planted)
    return (high + top).to_integral_value() / 2


def policies_text(plan: Plan) -> str:
    """The demo's ``policies.yaml`` for ``plan``."""
    found = limits(plan)
    experiments = [{"match": project, "cap": int(cap)} for project, cap in found.caps.items()]
    template = Template(resources.files("costcouncil.demo").joinpath("policies.yaml").read_text())
    return template.substitute(
        prod_models=json.dumps(list(found.prod_models)),
        experiments=json.dumps(experiments),
        max_idle_percent=found.max_idle_percent,
        idle_days=found.idle_days,
        unit_max=found.unit_max,
    )


def demo_policies(spec: DemoSpec) -> str:
    """The ``policies.yaml`` that ``costcouncil demo`` writes for ``spec``."""
    return policies_text(build_plan(spec))
