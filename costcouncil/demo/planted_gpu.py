"""The planted AWS anomalies and normal events: extra machines that appear for a while.

- *training restart loop* (``training_failures``): instances kept up by a training run that
  crashes and is restarted over and over (the jobs show the failed attempts);
- *untagged endpoints* (``untagged_spend``): SageMaker endpoints launched without tags;
- *new region* (``new_resource``): training instances in a region the organisation never used;
- *empty node pool* (``idle_gpu_up``): cluster nodes scaled up for pods that never came;
- *month-end batch* (normal): a batch on GPU instances on the last day of every month.

Machine counts follow the size of the organisation (``rows``); an anomaly whose rows would take
too much of the row budget is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from costcouncil.demo.catalog import AWS_ACCOUNTS, INSTANCES, PLATFORM, Owner
from costcouncil.demo.fleet import Fleet, add_machine, aws_columns, sku
from costcouncil.demo.planted import Calendar, Normal, Planted
from costcouncil.demo.spec import Period
from costcouncil.demo.streams import Stream, hex_id

#: The rows of the organisation that AWS plants may take, at most.
ROW_SHARE = 0.15
#: Organisations of this many rows get the nominal machine counts.
NOMINAL_ROWS = 200_000


@dataclass(frozen=True)
class GpuPlan:
    """A planted AWS anomaly: ``count`` machines of ``instance`` for ``days`` days."""

    id: str
    cause: str
    role: str
    at: float
    days: int
    count: int
    instance: str
    owner: Owner
    scope: tuple[str, str]
    description: str


GPU_PLANS = (
    GpuPlan(
        "training-restart-loop",
        "training_failures",
        "restart",
        0.14,
        5,
        3,
        "p4d.24xlarge",
        Owner("ads-ranking", "ctr", "ranker", "prod"),
        ("team", "ads-ranking"),
        "a ranker training run crashing out of memory every few hours and restarted by its "
        "orchestrator, keeping its instances up",
    ),
    GpuPlan(
        "untagged-endpoints",
        "untagged_spend",
        "untagged",
        0.3,
        4,
        2,
        "ml.p4d.24xlarge",
        Owner("search", "semantic-search", "reranker", "dev"),
        ("team", "__unallocated__"),
        "SageMaker endpoints for a load test, launched without tags",
    ),
    GpuPlan(
        "new-region-training",
        "new_resource",
        "region",
        0.47,
        8,
        2,
        "p4d.24xlarge",
        Owner("vision", "detector", "detector-v3", "prod"),
        ("team", "vision"),
        "training moved to eu-west-1, a region the organisation had never used",
    ),
    GpuPlan(
        "empty-node-pool",
        "idle_gpu_up",
        "spare",
        0.72,
        9,
        3,
        "g5.48xlarge",
        PLATFORM,
        ("team", "__idle__"),
        "cluster node pool scaled up for a batch that never came: nodes with no pods",
    ),
)
MONTH_END = GpuPlan(
    "month-end-batch",
    "",
    "batch",
    0.0,
    1,
    2,
    "p4d.24xlarge",
    Owner("ads-ranking", "ctr", "ranker", "prod"),
    ("team", "ads-ranking"),
    "month-end batch: the ranker's monthly backfill scoring on the last day of every month",
)


def _count(plan: GpuPlan, rows: int) -> int:
    return max(1, round(plan.count * rows / NOMINAL_ROWS))


def _machine(fleet: Fleet, plan: GpuPlan, n: int, window: tuple[int, int]) -> Stream:
    """One machine of ``plan``, with the region, tags and identifiers the anomaly needs."""
    inst = INSTANCES[plan.instance]
    s = add_machine(fleet, plan.role, n, window, plan.owner, inst)
    region = "eu-west-1" if plan.role == "region" else "us-east-1"
    env = "platform" if plan.role == "spare" else plan.owner.environment
    account = AWS_ACCOUNTS[env][0]
    ident = hex_id(fleet.seed, plan.id, n)
    rid = {
        "spare": f"arn:aws:eks:{region}:{account}:node/gpu-pool-burst-{n:02d}",
        "untagged": f"arn:aws:sagemaker:{region}:{account}:endpoint/loadtest-{ident[:8]}",
    }.get(plan.role, "i-0" + ident[:16])
    columns = s.columns | aws_columns(env, region, region + "a") | sku(inst.name, region)
    columns |= {"ResourceId": rid, "ResourceName": rid.rsplit("/", 1)[-1]}
    if plan.role == "spare":
        columns |= {"ResourceType": "Node"}
    if plan.role == "untagged":
        columns["Tags"] = None
    state = "untagged" if plan.role == "untagged" else "clean"
    return replace(s, columns=columns, tag_state=state)


def gpu_plants(fleet: Fleet, rows: int, cal: Calendar) -> list[Planted]:
    """The AWS anomalies that fit the calendar and the row budget."""
    out: list[Planted] = []
    budget = ROW_SHARE * rows
    for plan in GPU_PLANS:
        window, count = cal.window(plan.at, plan.days), _count(plan, rows)
        if window is None or count * plan.days * 24 > budget:
            continue
        start, stop = window[0] * 24, window[1] * 24
        if not cal.free(plan.scope, start, stop):
            continue
        cal.take(plan.scope, start, stop)
        budget -= count * plan.days * 24
        streams = tuple(_machine(fleet, plan, i, (start, stop)) for i in range(count))
        out.append(_planted(plan, streams, count))
    return out


def _planted(plan: GpuPlan, streams: tuple[Stream, ...], count: int) -> Planted:
    s = streams[0]
    evidence: dict[str, dict[str, object]] = {
        "training_failures": {"jobs_status": "failed", "restarts_per_day": 8},
        "untagged_spend": {"tags": None, "service": "Amazon SageMaker"},
        "new_resource": {"region": "eu-west-1", "sku_id": s.columns["SkuId"]},
        "idle_gpu_up": {"jobs": 0, "resource_type": "Node"},
    }
    return Planted(
        plan.id,
        plan.cause,
        plan.cause,
        plan.scope,
        "aws",
        s.start,
        s.stop,
        tuple(x.resource_id for x in streams),
        f"{count} x {plan.instance} ({plan.owner.team}): {plan.description}",
        evidence[plan.cause] | {"instance_type": plan.instance, "count": count},
        streams=streams,
    )


def month_end(
    fleet: Fleet, rows: int, periods: tuple[Period, ...]
) -> tuple[list[Stream], Normal | None]:
    """The month-end batch: machines on the last day of every billing period."""
    count = _count(MONTH_END, rows)
    if count * 24 * len(periods) > ROW_SHARE * rows / 2:
        return [], None
    streams = [
        _machine(fleet, MONTH_END, i * count + j, (p.end_hour - 24, p.end_hour))
        for i, p in enumerate(periods)
        for j in range(count)
    ]
    windows = tuple((p.end_hour - 24, p.end_hour) for p in periods)
    normal = Normal(
        MONTH_END.id,
        "month_end_batch",
        MONTH_END.scope,
        windows,
        "month-end batch",
        f"{count} x {MONTH_END.instance} ({MONTH_END.owner.team}): {MONTH_END.description}",
        tuple(s.resource_id for s in streams),
    )
    return streams, normal
