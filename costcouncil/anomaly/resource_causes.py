"""Root causes from cost lines and GPU jobs: prices, idle capacity, runaway and failing jobs,
untagged spend and new resources.

Each (resource, SKU) line's change in cost per day is explained once, in this order:
a changed unit price (same SKU, cost per unit moved by more than 1 %) takes ``Δ price × units``;
lines attribution could not give an owner take ``untagged_spend``; idle-capacity lines take
``idle_gpu_up``; on a GPU resource new in the window, the share of its days with jobs is
busy, split by its jobs' outcome (failed: ``training_failures``; killed or still running:
``runaway_gpu_job``; finished: ``new_resource``), and the rest ``idle_gpu_up``; on a GPU resource seen before, more GPU-hours of
failed or killed jobs take ``training_failures`` (at the resource's cost per GPU-hour); any other
new resource is ``new_resource``. LLM charges are left to the LLM usage causes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from costcouncil.anomaly.causes_base import Found
from costcouncil.anomaly.frames import CostGroup, Frame

#: A unit price change smaller than this share is rounding, not a price change.
PRICE_TOLERANCE = 0.01
FAILED = ("failed", "killed")
_JOB_CAUSE = {
    "failed": "training_failures",
    "killed": "runaway_gpu_job",
    "running": "runaway_gpu_job",
}


@dataclass
class Line:
    """One (resource, SKU) line's cost and units per day in both windows."""

    group: CostGroup
    cost_b: float = 0.0
    cost_w: float = 0.0
    units_b: float = 0.0
    units_w: float = 0.0


@dataclass
class Tally:
    """Cost per day explained per cause, and per resource for the evidence."""

    amounts: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    resources: dict[str, dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )

    def add(self, cause: str, resource: str, amount: float) -> None:
        self.amounts[cause] += amount
        self.resources[cause][resource] += amount


def resource_causes(baseline: Frame, window: Frame) -> list[Found]:
    """The cost-line causes of the change from ``baseline`` to ``window``."""
    lines = _lines(baseline, window)
    tally = Tally()
    remaining = {k: _price(line, k, tally) for k, line in lines.items()}
    by_resource: dict[str, float] = defaultdict(float)
    for (resource, _sku), line in lines.items():
        if line.group.kind == "llm":
            continue
        rest = remaining[(resource, _sku)]
        if line.group.method == "unallocated":
            tally.add("untagged_spend", resource, rest)
        elif line.group.method == "idle":
            tally.add("idle_gpu_up", resource, rest)
        else:
            by_resource[resource] += rest
    existed = {g.resource for g in baseline.costs if g.cost}
    kinds = {g.resource: g.kind for g in window.costs}
    for resource, delta in by_resource.items():
        _resource(
            resource,
            delta,
            resource in existed,
            kinds.get(resource, "other"),
            baseline,
            window,
            tally,
        )
    return [
        _found(cause, amount, tally.resources[cause]) for cause, amount in tally.amounts.items()
    ]


def _lines(baseline: Frame, window: Frame) -> dict[tuple[str, str], Line]:
    lines: dict[tuple[str, str], Line] = {}
    for frame, now in ((baseline, False), (window, True)):
        for g in frame.costs:
            line = lines.setdefault((g.resource, g.sku), Line(g))
            if now:
                line.group = g
                line.cost_w += g.cost / frame.days
                line.units_w += g.quantity / frame.days
            else:
                line.cost_b += g.cost / frame.days
                line.units_b += g.quantity / frame.days
    return lines


def _price(line: Line, key: tuple[str, str], tally: Tally) -> float:
    """Take a unit price change out of the line; what is left of its change."""
    delta = line.cost_w - line.cost_b
    if min(line.units_b, line.units_w, line.cost_b, line.cost_w) <= 1e-9:
        return delta
    before, now = line.cost_b / line.units_b, line.cost_w / line.units_w
    if abs(now / before - 1) <= PRICE_TOLERANCE:
        return delta
    part = (now - before) * line.units_w
    tally.add("price_change", f"{key[0]} {key[1]}".strip(), part)
    return delta - part


def _resource(
    resource: str,
    delta: float,
    existed: bool,
    kind: str,
    baseline: Frame,
    window: Frame,
    tally: Tally,
) -> None:
    if not existed and delta > 0:
        if kind == "gpu":
            active = _active_share(resource, window)
            for cause, share in _job_causes(resource, window).items():
                tally.add(cause, resource, delta * active * share)
            tally.add("idle_gpu_up", resource, delta * (1 - active))
        else:
            tally.add("new_resource", resource, delta)
    elif existed and delta > 0 and kind == "gpu":
        failed = _failed_rate(resource, window) - _failed_rate(resource, baseline)
        hours = sum(j.gpu_hours for j in window.jobs if j.resource == resource) / window.days
        cost = sum(g.cost for g in window.costs if g.resource == resource) / window.days
        if failed > 0 and hours > 0:
            tally.add("training_failures", resource, min(delta, failed * cost / hours))


def _job_causes(resource: str, window: Frame) -> dict[str, float]:
    """How a new GPU resource's busy time splits by what its jobs did: failed jobs are
    ``training_failures``, jobs killed or still running (nobody let them finish) a
    ``runaway_gpu_job``, jobs that finished new work a ``new_resource``."""
    hours: dict[str, float] = defaultdict(float)
    for j in window.jobs:
        if j.resource == resource:
            hours[_JOB_CAUSE.get(j.status, "new_resource")] += j.gpu_hours
    total = sum(hours.values())
    return {c: h / total for c, h in hours.items()} if total > 0 else {"runaway_gpu_job": 1.0}


def _active_share(resource: str, window: Frame) -> float:
    days = max((j.days_active for j in window.jobs if j.resource == resource), default=0.0)
    return min(days / window.days, 1.0)


def _failed_rate(resource: str, frame: Frame) -> float:
    return (
        sum(j.gpu_hours for j in frame.jobs if j.resource == resource and j.status in FAILED)
        / frame.days
    )


def _found(cause: str, amount: float, resources: dict[str, float]) -> Found:
    top = sorted(resources.items(), key=lambda kv: -abs(kv[1]))[:5]
    listed = ", ".join(f"{r} {v:+,.2f}/day" for r, v in top)
    return Found(cause, amount, f"{_WHAT[cause]}: {listed}",
                 {"resources": {r: round(v, 2) for r, v in top}})  # fmt: skip


_WHAT = {
    "price_change": "unit price changed",
    "untagged_spend": "cost without an owner",
    "idle_gpu_up": "GPU capacity paid for without jobs",
    "runaway_gpu_job": "new GPU resources running jobs throughout",
    "training_failures": "GPU-hours of failed or killed jobs",
    "new_resource": "new resources",
}
