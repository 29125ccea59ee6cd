"""The ground truth of a demo: what was planted, so engines can be checked against it.

Money is a decimal string; times are ISO-8601 UTC ending in ``Z``; windows are half-open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.demo.apps import tokens
from costcouncil.demo.arrays import money_units
from costcouncil.demo.catalog import INSTANCES, LLM_MODELS, TOKEN_KINDS
from costcouncil.demo.costs import generate_costs
from costcouncil.demo.plan import Plan, build_plan
from costcouncil.demo.spec import HOUR_US, DemoSpec, epoch_us
from costcouncil.demo.streams import Stream

VERSION = 1
_UNIT = Decimal(10) ** -10


def iso_hour(plan: Plan, hour: int) -> str:
    us = epoch_us(plan.spec.start) + hour * HOUR_US
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sum(batch: pa.RecordBatch, column: str) -> Decimal:
    total = pc.sum(batch.column(column)).as_py()
    return Decimal(0) if total is None else Decimal(total)


def totals(spec: DemoSpec) -> list[dict[str, Any]]:
    """Rows and cost sums per provider and billing period, from the generated rows."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for provider, period, batch in generate_costs(spec):
        t = out.setdefault(
            (provider, period),
            {
                "provider": provider,
                "billing_period": period,
                "rows": 0,
                "billed_cost": Decimal(0),
                "effective_cost": Decimal(0),
            },
        )
        t["rows"] += batch.num_rows
        t["billed_cost"] += _sum(batch, "BilledCost")
        t["effective_cost"] += _sum(batch, "EffectiveCost")
    return [
        {**t, "billed_cost": str(t["billed_cost"]), "effective_cost": str(t["effective_cost"])}
        for t in out.values()
    ]


def _hours_cost(streams: list[Stream], start: int, stop: int) -> Decimal:
    return sum((Decimal(stop - start) * s.price * _UNIT for s in streams), Decimal(0))


def _runaway(plan: Plan) -> dict[str, Any]:
    s = plan.runaway
    return {
        "id": "runaway-gpu-job",
        "kind": "runaway_gpu_job",
        "provider": "aws",
        "resource_ids": [r.resource_id for r in s],
        "start": iso_hour(plan, s[0].start),
        "end": iso_hour(plan, s[0].stop),
        "expected_excess_cost": str(_hours_cost(list(s), s[0].start, s[0].stop)),
        "description": "4 x p5.48xlarge launched by a sweep nobody stopped (research, dev)",
    }


def _idle(plan: Plan) -> dict[str, Any]:
    s = plan.idle
    return {
        "id": "forgotten-idle-instance",
        "kind": "idle_instance",
        "provider": "aws",
        "resource_ids": [s.resource_id],
        "start": iso_hour(plan, plan.idle_busy_until),
        "end": iso_hour(plan, s.stop),
        "expected_excess_cost": str(_hours_cost([s], plan.idle_busy_until, s.stop)),
        "description": "g5.12xlarge left running after its only job finished (vision, dev)",
    }


def _spike(plan: Plan) -> dict[str, Any]:
    sp = plan.volumes.spike
    app = plan.apps[sp.app]
    prices = LLM_MODELS[app.use.model].prices
    days = np.arange(sp.start, sp.stop)
    excess = Decimal(0)
    for kind, price in prices:
        k = TOKEN_KINDS.index(kind)
        extra = tokens(plan.volumes, sp.app, k, days) - tokens(plan.volumes, sp.app, k, days, False)
        excess += Decimal(int(extra.sum()) * money_units(price) // 1_000_000) * _UNIT
    return {
        "id": "llm-token-spike",
        "kind": "llm_token_spike",
        "provider": app.provider,
        "resource_ids": [app.resource_id],
        "sku_ids": [f"{app.use.model}:{kind}" for kind, _ in prices],
        "start": iso_hour(plan, sp.start * 24),
        "end": iso_hour(plan, sp.stop * 24),
        "expected_excess_cost": str(excess),
        "factor": sp.factor,
        "description": f"{app.use.feature} retry loop: {sp.factor:g}x the usual tokens",
    }


def _expected(s: Stream) -> dict[str, str | None]:
    o = s.owner
    assert o is not None
    return {"team": o.team, "project": o.project, "model": o.model, "environment": o.environment}


def _tagging(plan: Plan, state: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for s in plan.streams:
        if s.tag_state == state and s.resource_id not in seen:
            seen[s.resource_id] = {
                "provider": s.provider,
                "resource_id": s.resource_id,
                "tags": s.columns.get("Tags"),
                "expected": _expected(s),
            }
    return list(seen.values())


def ground_truth(spec: DemoSpec) -> dict[str, Any]:
    """Planted anomalies, untagged and mis-tagged resources, and totals per provider and period."""
    plan = build_plan(spec)
    return {
        "version": VERSION,
        "spec": {
            "rows": spec.rows,
            "seed": spec.seed,
            "start": spec.start.isoformat(),
            "months": spec.months,
        },
        "totals": totals(spec),
        "anomalies": [_runaway(plan), _idle(plan), _spike(plan)],
        "untagged": _tagging(plan, "untagged"),
        "mistagged": _tagging(plan, "mistagged"),
        "shared_resources": sorted({s.resource_id for s in plan.streams if s.role == "node"}),
        "commitments": [c.id for c in plan.commitments],
        "instances": sorted({s.instance for s in plan.streams if s.instance} & set(INSTANCES)),
    }
