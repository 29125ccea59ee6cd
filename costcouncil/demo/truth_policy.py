"""Ground truth of the policy breaches: every violation the demo's ``policies.yaml`` should
raise as of the demo's last day, with its owner (``policy_breaches`` in ``ground_truth.json``).

The planted breaches (:mod:`costcouncil.demo.planted_policy`) are all of them by design, but the
truth is computed from the generated data, so a breach the organisation happens to hold anyway
(an untagged GPU instance of the ordinary fleet still billed in the window) is listed too, with
``id`` null. ``at_stake`` is approximate for the machine kinds (list prices; attribution's
per-hour split may move it by a few percent) and exact for the LLM kinds (invoiced cost).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.demo.arrays import F64
from costcouncil.demo.catalog import INSTANCES
from costcouncil.demo.jobs import generate_jobs
from costcouncil.demo.llm_logs import generate_llm_requests
from costcouncil.demo.plan import Plan
from costcouncil.demo.planted_policy import MACHINE_PLANTS
from costcouncil.demo.policies import Limits, limits
from costcouncil.demo.spec import HOUR_US, epoch_us
from costcouncil.demo.streams import Stream

#: The evaluation window of the windowed kinds (``evaluate``'s default ``days``).
WINDOW_DAYS = 30
IDLE, UNALLOCATED = "__idle__", "__unallocated__"
_CENT = Decimal("0.01")

#: Per resource, GPU-hours per team in a window.
Usage = dict[str, dict[str, float]]


def _machines(plan: Plan) -> list[Stream]:
    return [s for s in plan.streams if s.instance in INSTANCES and s.role != "tokens"]


def _hours(plan: Plan, column: pa.ChunkedArray) -> F64:
    us = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
    out: F64 = (us - epoch_us(plan.spec.start)) / HOUR_US
    return out


def gpu_usage(plan: Plan, jobs: pa.Table, start: int, stop: int) -> Usage:
    """GPU-hours per resource and team of the jobs, clipped to hours [start, stop)."""
    begin = _hours(plan, jobs["start"])
    end = _hours(plan, pc.coalesce(jobs["end"], jobs["start"]))
    end = np.where(jobs["end"].is_null().to_numpy(zero_copy_only=False), plan.hours, end)
    width = np.clip(np.minimum(end, stop) - np.maximum(begin, start), 0, None)
    gpu_hours = width * jobs["accelerator_count"].to_numpy(zero_copy_only=False)
    out: Usage = defaultdict(lambda: defaultdict(float))
    for rid, team, used in zip(
        jobs["resource_id"].to_pylist(), jobs["team"].to_pylist(), gpu_hours, strict=True
    ):
        if used > 0:
            out[rid][team] += float(used)
    return out


def _capacity(s: Stream, start: int, stop: int) -> float:
    hours = max(0, min(s.stop, stop) - max(s.start, start))
    return float(INSTANCES[s.instance or ""].accelerator_count * hours)


def _owner(s: Stream, usage: Usage, capacity: float) -> str:
    """The team with the most of the resource's cost in the window (idle counts as ``__idle__``)."""
    if s.columns.get("ServiceName") == "Amazon SageMaker":
        return UNALLOCATED  # endpoints are not split over usage: untagged means nobody
    teams = dict(usage.get(s.resource_id, {}))
    teams[IDLE] = capacity - sum(teams.values())
    return max(sorted(teams), key=lambda t: teams[t])


def _cost(s: Stream, hours: float) -> Decimal:
    return (Decimal(INSTANCES[s.instance or ""].on_demand) * Decimal(repr(hours))).quantize(_CENT)


def _planted_id(s: Stream, plan: Plan) -> str | None:
    return next((p.id for p, x in plan.policy.machines if x.resource_id == s.resource_id), None)


def untagged_breaches(plan: Plan, jobs: pa.Table) -> list[dict[str, Any]]:
    """``gpu-tags``: every GPU machine billed without tags in the window."""
    start, stop = max(0, plan.days - WINDOW_DAYS) * 24, plan.hours
    usage = gpu_usage(plan, jobs, start, stop)
    out = []
    for s in _machines(plan):
        capacity = _capacity(s, start, stop)
        if s.tag_state != "untagged" or capacity == 0:
            continue
        hours = capacity / INSTANCES[s.instance or ""].accelerator_count
        out.append(
            _entry(
                "gpu-tags",
                "required_tags",
                f"resource={s.resource_id}",
                _owner(s, usage, capacity),
                _cost(s, hours),
                _planted_id(s, plan),
                False,
                resource_id=s.resource_id,
                instance_type=s.instance,
                tags=s.columns.get("Tags"),
                expected_owner=s.owner.team if s.owner else None,
            )
        )
    return out


def idle_breaches(plan: Plan, jobs: pa.Table, found: Limits) -> list[dict[str, Any]]:
    """``idle-gpus``: every GPU machine (instance or cluster node) idle above the ceiling."""
    start, stop = max(0, plan.days - found.idle_days) * 24, plan.hours
    usage = gpu_usage(plan, jobs, start, stop)
    out = []
    for s in _machines(plan):
        capacity = _capacity(s, start, stop)
        if s.columns.get("ServiceName") == "Amazon SageMaker" or capacity == 0:
            continue
        idle = max(capacity - sum(usage.get(s.resource_id, {}).values()), 0.0)
        if idle / capacity * 100 <= found.max_idle_percent:
            continue
        hours = idle / INSTANCES[s.instance or ""].accelerator_count
        owner = s.owner.team if s.owner else UNALLOCATED  # the node's owner, from its tags
        out.append(
            _entry(
                "idle-gpus",
                "idle_gpu",
                f"resource={s.resource_id}",
                owner,
                _cost(s, hours),
                _planted_id(s, plan),
                False,
                resource_id=s.resource_id,
                instance_type=s.instance,
                idle_percent=round(idle / capacity * 100, 1),
                max_idle_percent=found.max_idle_percent,
                days=found.idle_days,
            )
        )
    return out


def experiment_breaches(plan: Plan, jobs: pa.Table, found: Limits) -> list[dict[str, Any]]:
    """``experiments``: each planted experiment whose attributed spend passes its cap."""
    usage = gpu_usage(plan, jobs, 0, plan.hours)
    spent: dict[str, Decimal] = defaultdict(Decimal)
    team: dict[str, str] = {}
    for s in _machines(plan):
        project = s.owner.project if s.owner else ""
        if project in found.caps:
            gpus = INSTANCES[s.instance or ""].accelerator_count
            busy = sum(usage.get(s.resource_id, {}).values()) / gpus
            spent[project] += _cost(s, busy)
            team[project] = s.owner.team if s.owner else UNALLOCATED
    out = []
    for project, total in sorted(spent.items()):
        cap = found.caps[project]
        if total > cap:
            plant = next(p.id for p in MACHINE_PLANTS if p.owner.project == project)
            out.append(
                _entry(
                    "experiments",
                    "experiment_cap",
                    f"project={project}",
                    team[project],
                    total - cap,
                    plant,
                    False,
                    key="project",
                    value=project,
                    cap=str(cap),
                    spent=str(total),
                )
            )
    return out


def _llm_window(plan: Plan) -> pa.Table:
    llm = generate_llm_requests(plan.spec)
    first = (max(0, plan.days - WINDOW_DAYS) * 24) * HOUR_US + epoch_us(plan.spec.start)
    return llm.filter(pc.greater_equal(pc.cast(llm["time"], pa.int64()), first))


def _sums(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    columns = ["cost", "input_tokens", "output_tokens", "request_count"]
    out: list[dict[str, Any]] = (
        table.group_by(keys).aggregate([(c, "sum") for c in columns]).to_pylist()
    )
    return out


def _app_id(plan: Plan, feature: str) -> str | None:
    return next((p.id for p, a in plan.policy.apps if a.use.feature == feature), None)


def model_breaches(plan: Plan, llm: pa.Table, found: Limits) -> list[dict[str, Any]]:
    """``prod-models``: each (team, feature, model) calling a model not allowed in prod."""
    prod = llm.filter(pc.equal(llm["environment"], "prod"))
    prod = prod.filter(pc.invert(pc.is_in(prod["model"], pa.array(found.prod_models))))
    out = []
    for r in _sums(prod, ["team", "feature", "model", "environment"]):
        subject = f"team={r['team']},feature={r['feature']},model={r['model']},environment=prod"
        out.append(
            _entry(
                "prod-models",
                "allowed_models",
                subject,
                r["team"],
                r["cost_sum"],
                _app_id(plan, r["feature"]),
                True,
                model=r["model"],
                environment="prod",
                allowed=list(found.prod_models),
                requests=r["request_count_sum"],
            )
        )
    return out


def unit_cost_breaches(plan: Plan, llm: pa.Table, found: Limits) -> list[dict[str, Any]]:
    """``feature-unit-cost``: each feature whose cost per 1M tokens is above the ceiling."""
    out = []
    for r in _sums(llm, ["feature", "team"]):
        units = Decimal(r["input_tokens_sum"] + r["output_tokens_sum"]) / 1_000_000
        if units == 0 or r["cost_sum"] / units <= found.unit_max:
            continue
        per = (r["cost_sum"] / units).quantize(_CENT)
        out.append(
            _entry(
                "feature-unit-cost",
                "unit_cost",
                f"feature={r['feature']}",
                r["team"],
                r["cost_sum"] - found.unit_max * units,
                _app_id(plan, r["feature"]),
                True,
                feature=r["feature"],
                cost_per_1m_tokens=str(per),
                max=str(found.unit_max),
            )
        )
    return out


def _entry(
    policy: str,
    kind: str,
    subject: str,
    owner: str,
    at_stake: Decimal,
    plant: str | None,
    exact: bool,
    **evidence: Any,
) -> dict[str, Any]:
    return {
        "id": plant,
        "policy": policy,
        "kind": kind,
        "subject": subject,
        "owner": owner,
        "evidence": evidence,
        "at_stake": str(at_stake.quantize(_CENT)),
        "at_stake_exact": exact,
    }


def policy_truth(plan: Plan) -> list[dict[str, Any]]:
    """Every violation of the demo's policies as of its last day, sorted by policy and subject."""
    found = limits(plan)
    jobs, llm = generate_jobs(plan.spec), _llm_window(plan)
    out = untagged_breaches(plan, jobs) + idle_breaches(plan, jobs, found)
    out += experiment_breaches(plan, jobs, found)
    out += model_breaches(plan, llm, found) + unit_cost_breaches(plan, llm, found)
    return sorted(out, key=lambda b: (b["policy"], b["subject"]))
