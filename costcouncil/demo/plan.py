"""The plan of the demo organisation for one spec: every stream, commitment, app and anomaly.

The row budget is split into LLM invoice meters (about a fifth, capped by the number of apps),
the planted anomalies, and AWS streams (instances, cluster nodes, endpoints, buckets, NAT
gateways). Everything later (cost rows, jobs, request logs, ground truth) derives from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from costcouncil.demo.apps import App, Volumes, meter_streams, plan_apps, spike_for, volumes
from costcouncil.demo.catalog import INSTANCES, Owner
from costcouncil.demo.fleet import Commitment, Fleet, add_daily, add_machine, add_machines
from costcouncil.demo.spec import DemoSpec, Period, periods
from costcouncil.demo.streams import Stream, Streams, to_streams

PROVIDER_ORDER = ("aws", "openai", "anthropic", "azure")
_AWS_SHARES = {"training": 0.52, "node": 0.22, "endpoint": 0.08, "bucket": 0.08, "transfer": 0.10}
RUNAWAY_OWNER = Owner("research", "foundation", "llm-7b", "dev")
IDLE_OWNER = Owner("vision", "detector", "detector-v3", "dev")


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

    @property
    def hours(self) -> int:
        return self.periods[-1].end_hour

    @property
    def days(self) -> int:
        return self.hours // 24


def _anomalies(fleet: Fleet, rows: int, hours: int) -> tuple[list[Stream], Stream, int]:
    """A runaway job on four p5 instances, and a g5 instance forgotten after its first job."""
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
    idle = add_machine(fleet, "idle", 0, window, IDLE_OWNER, INSTANCES["g5.12xlarge"])
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


@lru_cache(maxsize=4)
def build_plan(spec: DemoSpec) -> Plan:
    """The plan for ``spec``; the same spec always gives the same plan."""
    ps = periods(spec)
    hours = ps[-1].end_hour
    rng = np.random.default_rng([spec.seed, 20251101])
    apps = plan_apps(spec.seed, rng, spec.rows * 0.2, hours // 24)
    meters = meter_streams(spec.seed, apps)
    fleet = Fleet(spec.seed, rng)
    runaway, idle, busy_until = _anomalies(fleet, spec.rows, hours)
    used = sum(s.stop - s.start for s in [*meters, *runaway, idle])
    _aws(fleet, max(spec.rows - used - spec.months * 4, spec.rows * 0.05), hours)
    vols = volumes(spec.seed, spec.start.weekday(), apps, spike_for(apps))
    streams = [*fleet.streams, *runaway, idle, *meters]
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
    )
