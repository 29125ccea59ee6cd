"""The planted policy breaches: one of each kind the demo's ``policies.yaml`` judges.

All run in the last days of the span, so every evaluation window as of the demo's last day
holds them:

- *untagged GPU spend* (``required_tags``): a dedicated GPU instance billed without tags (its
  jobs still name the owner, so attribution recovers the team);
- *a disallowed model in production* (``allowed_models``): a prod LLM use on a model no other
  prod use calls;
- *an experiment past its cap* (``experiment_cap``): training instances of an ``exp-`` project
  spending past its cap, beside a second experiment well inside its own (which must not breach);
- *an idle node* (``idle_gpu``): a GPU instance launched for a week and never used;
- *a unit-cost ceiling* (``unit_cost``): an LLM feature writing long answers on an expensive
  model, so its cost per 1M tokens is about twice any other feature's.

They are extra resources and LLM uses: the rest of the organisation is the same with or without
them. Each is planted only where it fits, in the order below, within :data:`ROW_SHARE` of the
row budget (a tiny demo gets the cheap LLM plants only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from costcouncil.demo.apps import App, plant_app, token_kinds
from costcouncil.demo.catalog import INSTANCES, LlmApp, Owner
from costcouncil.demo.fleet import Fleet, add_machine
from costcouncil.demo.streams import Stream, hex_id, messy_tags, owner_tags

#: The rows of the organisation that policy plants may take, at most.
ROW_SHARE = 0.12
#: The planted LLM uses run this many days at the end of the span.
LLM_DAYS = 10


@dataclass(frozen=True)
class MachinePlant:
    """A planted GPU instance: ``instance`` for the last ``days`` days, running jobs of
    ``role`` (a role without jobs leaves it idle), tags ``state`` (``clean`` or ``untagged``).
    ``kind`` is the policy kind it breaches; empty for a neighbour that must not breach."""

    id: str
    kind: str
    role: str
    days: int
    instance: str
    owner: Owner
    state: str
    description: str


@dataclass(frozen=True)
class AppPlant:
    """A planted LLM use over the last :data:`LLM_DAYS` days, breaching ``kind``."""

    id: str
    kind: str
    use: LlmApp
    description: str


MACHINE_PLANTS = (
    MachinePlant(
        "untagged-gpu-instance",
        "required_tags",
        "inference",
        4,
        "g5.12xlarge",
        Owner("search", "semantic-search", "reranker", "dev"),
        "untagged",
        "a reranker inference box launched by hand, without tags",
    ),
    MachinePlant(
        "experiment-over-cap",
        "experiment_cap",
        "training",
        4,
        "p4d.24xlarge",
        Owner("research", "exp-moe-router", "moe-router", "dev"),
        "clean",
        "a mixture-of-experts router experiment that kept training past its budget",
    ),
    MachinePlant(
        "experiment-within-cap",
        "",
        "training",
        4,
        "g5.xlarge",
        Owner("research", "exp-distill-small", "distill-small", "dev"),
        "clean",
        "a distillation experiment well inside its cap",
    ),
    MachinePlant(
        "idle-gpu-node",
        "idle_gpu",
        "forgotten",
        7,
        "g6.12xlarge",
        Owner("vision", "ocr", "ocr-lite", "staging"),
        "clean",
        "a staging GPU instance launched for a load test that never ran",
    ),
)
APP_PLANTS = (
    AppPlant(
        "disallowed-prod-model",
        "allowed_models",
        LlmApp(
            "meta.llama3-1-70b-instruct",
            Owner("assistant", "support-bot", "chat-assistant", "prod"),
            "faq-drafts",
            10e6,
        ),
        "support drafts FAQ answers in production with a model not approved for prod",
    ),
    AppPlant(
        "unit-cost-over-ceiling",
        "unit_cost",
        LlmApp(
            "claude-sonnet-4",
            Owner("research", "foundation", "llm-7b", "staging"),
            "report-writer",
            3e6,
            output=2.0,
        ),
        "long generated reports: two output tokens per input token on claude-sonnet-4",
    ),
)


@dataclass(frozen=True)
class PolicyPlants:
    """The policy plants that fit: machines with their streams, LLM uses with their apps."""

    machines: tuple[tuple[MachinePlant, Stream], ...] = ()
    apps: tuple[tuple[AppPlant, App], ...] = ()

    @property
    def streams(self) -> tuple[Stream, ...]:
        return tuple(s for _, s in self.machines)


def policy_plants(seed: int, rows: int, hours: int, first_app: int) -> PolicyPlants:
    """The plants that fit ``rows`` over a span of ``hours``; new apps are numbered from
    ``first_app``."""
    days = hours // 24
    budget = ROW_SHARE * rows
    apps: list[tuple[AppPlant, App]] = []
    for plant in APP_PLANTS:
        size = token_kinds(plant.use) * min(LLM_DAYS, days)
        if size <= budget and days >= 2:
            budget -= size
            start = days - min(LLM_DAYS, days)
            apps.append((plant, plant_app(seed, first_app + len(apps), plant.use, start, days)))
    fleet = Fleet(seed, np.random.default_rng([seed, 14]))
    machines: list[tuple[MachinePlant, Stream]] = []
    for n, plan in enumerate(MACHINE_PLANTS):
        size = plan.days * 24
        if size <= budget and plan.days * 3 <= days:
            budget -= size
            machines.append((plan, _machine(fleet, plan, n, (hours - size, hours))))
    return PolicyPlants(tuple(machines), tuple(apps))


def _machine(fleet: Fleet, plan: MachinePlant, n: int, window: tuple[int, int]) -> Stream:
    """One planted instance, with its own identifier and the tags the plant needs."""
    s = add_machine(fleet, plan.role, n, window, plan.owner, INSTANCES[plan.instance])
    rid = "i-0" + hex_id(fleet.seed, "policy", plan.id)[:16]
    tags = None if plan.state == "untagged" else messy_tags(owner_tags(plan.owner), "clean", 0)
    columns = s.columns | {"ResourceId": rid, "ResourceName": plan.id, "Tags": tags}
    return replace(s, columns=columns, tag_state=plan.state)
