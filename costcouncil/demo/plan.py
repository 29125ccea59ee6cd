"""The plan of the demo organisation for one spec: every stream, commitment, app and anomaly.

The row budget is split into LLM invoice meters (about a fifth, capped by the number of apps),
the planted anomalies, and AWS streams (instances, cluster nodes, endpoints, buckets, NAT
gateways). Everything later (cost rows, jobs, request logs, ground truth) derives from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from costcouncil.demo.apps import (
    App,
    Spike,
    Volumes,
    launch_app,
    meter_streams,
    plan_apps,
    spike_for,
    volumes,
)
from costcouncil.demo.catalog import INSTANCES, Owner
from costcouncil.demo.fleet import Commitment, Fleet, add_daily, add_machine, add_machines
from costcouncil.demo.planted import Calendar, Normal, Planted, llm_plants
from costcouncil.demo.planted_gpu import gpu_plants, month_end
from costcouncil.demo.planted_policy import PolicyPlants, policy_plants
from costcouncil.demo.spec import DemoSpec, Period, periods
from costcouncil.demo.streams import Stream, Streams, to_streams
from costcouncil.demo.twists import Lane, Twists, scale

PROVIDER_ORDER = ("aws", "openai", "anthropic", "azure")
_AWS_SHARES = {"training": 0.52, "node": 0.22, "endpoint": 0.08, "bucket": 0.08, "transfer": 0.10}
RUNAWAY_OWNER = Owner("research", "foundation", "llm-7b", "dev")
IDLE_OWNER = Owner("vision", "detector", "detector-v3", "dev")
IDLE_INSTANCE = "p4d.24xlarge"
#: The planned launch: at this fraction of the span, annotated for this many days.
LAUNCH_AT, LAUNCH_DAYS = 0.58, 14


@dataclass(frozen=True)
class Plan:
    """All streams of the organisation, grouped for the cost generator."""

    spec: DemoSpec
    periods: tuple[Period, ...]
    streams: tuple[Stream, ...]
    groups: dict[str, tuple[Streams, ...]]
    commitments: tuple[Commitment, ...]
    apps: tuple[App, ...]
    volumes: Volumes
    runaway: tuple[Stream, ...]
    idle: Stream
    idle_busy_until: int
    planted: tuple[Planted, ...]
    normal: tuple[Normal, ...]
    #: The planted policy breaches (extra resources and LLM uses, outside the row budget's
    #: split so that the rest of the organisation is the same with or without them).
    policy: PolicyPlants = field(default_factory=PolicyPlants)

    @property
    def hours(self) -> int:
        return self.periods[-1].end_hour

    @property
    def days(self) -> int:
        return self.hours // 24


def _anomalies(fleet: Fleet, rows: int, hours: int) -> tuple[list[Stream], Stream, int]:
    """A runaway job on four p5 instances, and a p4d instance forgotten after its first job."""
    run_len = int(np.clip(rows * 0.004, 12, 72))
    run_start = hours * 3 // 5
    runaway = [
        add_machine(
            fleet,
            "runaway",
            i,
            (run_start, run_start + run_len),
            RUNAWAY_OWNER,
            INSTANCES["p5.48xlarge"],
        )
        for i in range(4)
    ]
    idle_len = int(np.clip(rows * 0.01, 48, min(720, hours // 3)))
    idle_start = hours * 7 // 20
    window = (idle_start, idle_start + idle_len)
    idle = add_machine(fleet, "idle", 0, window, IDLE_OWNER, INSTANCES[IDLE_INSTANCE])
    return runaway, idle, idle_start + max(4, idle_len // 7)


def _aws(fleet: Fleet, budget: float, hours: int) -> None:
    for role in ("training", "node", "endpoint"):
        add_machines(fleet, role, budget * _AWS_SHARES[role], hours)
    for group in ("bucket", "transfer"):
        add_daily(fleet, group, budget * _AWS_SHARES[group], hours // 24)


def _groups(streams: list[Stream]) -> dict[str, tuple[Streams, ...]]:
    out: dict[str, tuple[Streams, ...]] = {}
    for provider in PROVIDER_ORDER:
        mine = [s for s in streams if s.provider == provider]
        units = sorted({s.unit_hours for s in mine})
        out[provider] = tuple(to_streams([s for s in mine if s.unit_hours == u]) for u in units)
    return out


def _spike_lane(apps: list[App], spike: Spike) -> Twists:
    """The token spike: a retry loop of one worker, (factor - 1) x the app's usual traffic."""
    app = apps[spike.app]
    extra = scale(all=spike.factor - 1)
    lane = Lane("llm-token-spike", app.index, app.use.model, spike.start, spike.stop, extra)
    return Twists(lanes=(replace(lane, user=f"{app.use.feature}-worker-retry"),))


def _launch(seed: int, apps: list[App], cal: Calendar) -> Normal | None:
    """The planned launch of a new LLM use (appended to ``apps``), annotated."""
    window = cal.window(LAUNCH_AT, LAUNCH_DAYS)
    if window is None:
        return None
    app = launch_app(seed, len(apps), window[0], cal.days, LAUNCH_DAYS)
    apps.append(app)
    scope = ("team", app.use.owner.team)
    label = f"planned launch: {app.use.feature} on {app.use.model}"
    hours = (window[0] * 24, window[1] * 24)
    rid = (app.resource_id,)
    also = (scope, ("model", app.use.model))  # the team's monitor and the model it launches on
    return Normal("planned-launch", "planned_launch", scope, (hours,), label, label, rid, also)


@lru_cache(maxsize=4)
def build_plan(spec: DemoSpec) -> Plan:
    """The plan for ``spec``; the same spec always gives the same plan."""
    ps = periods(spec)
    hours = ps[-1].end_hour
    rng = np.random.default_rng([spec.seed, 20251101])
    apps = plan_apps(spec.seed, rng, spec.rows * 0.2, hours // 24)
    spike = spike_for(apps)
    cal = Calendar(hours // 24)
    launch = _launch(spec.seed, apps, cal)
    policy = policy_plants(spec.seed, spec.rows, hours, len(apps))
    apps += [app for _, app in policy.apps]
    cal.take(("model", apps[spike.app].use.model), spike.start * 24, spike.stop * 24)
    changes, planted = llm_plants(apps, cal)
    changes = _spike_lane(apps, spike) + changes
    meters = meter_streams(spec.seed, apps, changes.lanes)
    fleet = Fleet(spec.seed, rng)
    runaway, idle, busy_until = _anomalies(fleet, spec.rows, hours)
    cal.take(("team", "research"), runaway[0].start, runaway[0].stop)
    cal.take(("team", "__idle__"), busy_until, idle.stop)
    plants = Fleet(spec.seed, np.random.default_rng([spec.seed, 13]))
    planted += gpu_plants(plants, spec.rows, cal)
    batch, month_end_batch = month_end(plants, spec.rows, ps)
    extra = [s for p in planted for s in p.streams] + batch
    used = sum(s.stop - s.start for s in [*meters, *runaway, idle, *extra])
    _aws(fleet, max(spec.rows - used - spec.months * 4, spec.rows * 0.05), hours)
    vols = volumes(spec.seed, spec.start.weekday(), apps, spike, changes)
    streams = [*fleet.streams, *runaway, idle, *extra, *policy.streams, *meters]
    normal = tuple(n for n in (month_end_batch, launch) if n is not None)
    return Plan(
        spec,
        ps,
        tuple(streams),
        _groups(streams),
        tuple(fleet.commitments.values()),
        tuple(apps),
        vols,
        tuple(runaway),
        idle,
        busy_until,
        tuple(sorted(planted, key=lambda p: p.start)),
        normal,
        policy,
    )
