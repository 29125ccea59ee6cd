"""The ground truth of a demo: what was planted, so engines can be checked against it.

Money is a decimal string; times are ISO-8601 UTC ending in ``Z``; windows are half-open.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.demo.catalog import INSTANCES, LLM_MODELS
from costcouncil.demo.costs import generate_costs
from costcouncil.demo.plan import Plan, build_plan
from costcouncil.demo.spec import DemoSpec
from costcouncil.demo.streams import Stream
from costcouncil.demo.truth_growth import growth_truth
from costcouncil.demo.truth_planted import (
    hours_cost,
    iso_hour,
    llm_excess,
    normal_truth,
    planted_truth,
)
from costcouncil.demo.truth_policy import policy_truth

#: 2: every root cause planted (``cause``, ``scope``, ``evidence``), ``normal_events``.
#: 3: ``growth`` (resources and LLM uses that start during the span); a normal event's
#: ``annotations`` (a list) instead of ``annotation``.
#: 4: ``policy_breaches`` (the violations of the demo's ``policies.yaml``, planted on purpose).
VERSION = 4


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


def _existing(
    plan: Plan, entry: dict[str, Any], scope: tuple[str, str], cause: str
) -> dict[str, Any]:
    """An anomaly planted since version 1, with the keys every anomaly now has."""
    also = {
        "runaway-gpu-job": ["team=research", "model=llm-7b"],
        "forgotten-idle-instance": ["team=__idle__", "model=__idle__"],
    }.get(entry["id"], [f"team={plan.apps[plan.volumes.spike.app].use.owner.team}"])
    provider = {"aws": "AWS", "openai": "OpenAI"}[entry["provider"]]
    scopes = list(dict.fromkeys(["org", f"provider={provider}", f"{scope[0]}={scope[1]}", *also]))
    return entry | {
        "cause": cause,
        "scope": {scope[0]: scope[1]},
        "monitor": f"{scope[0]}={scope[1]}",
        "scopes": scopes,
    }


def _runaway(plan: Plan) -> dict[str, Any]:
    s = plan.runaway
    entry = {
        "id": "runaway-gpu-job",
        "kind": "runaway_gpu_job",
        "provider": "aws",
        "resource_ids": [r.resource_id for r in s],
        "start": iso_hour(plan, s[0].start),
        "end": iso_hour(plan, s[0].stop),
        "expected_excess_cost": str(hours_cost(list(s), s[0].start, s[0].stop)),
        "description": "4 x p5.48xlarge launched by a sweep nobody stopped (research, dev)",
        "evidence": {"jobs_status": "killed", "instance_type": "p5.48xlarge", "count": len(s)},
    }
    return _existing(plan, entry, ("team", "research"), "runaway_gpu_job")


def _idle(plan: Plan) -> dict[str, Any]:
    s = plan.idle
    entry = {
        "id": "forgotten-idle-instance",
        "kind": "idle_instance",
        "provider": "aws",
        "resource_ids": [s.resource_id],
        "start": iso_hour(plan, plan.idle_busy_until),
        "end": iso_hour(plan, s.stop),
        "expected_excess_cost": str(hours_cost([s], plan.idle_busy_until, s.stop)),
        "description": f"{s.instance} left running after its only job finished (vision, dev)",
        "evidence": {"jobs": 0, "instance_type": s.instance},
    }
    return _existing(plan, entry, ("team", "__idle__"), "idle_gpu_up")


def _spike(plan: Plan) -> dict[str, Any]:
    sp = plan.volumes.spike
    app = plan.apps[sp.app]
    prices = LLM_MODELS[app.use.model].prices
    excess = llm_excess(plan, "llm-token-spike", (sp.app,), sp.start, sp.stop)
    lane = next(ln for ln in plan.volumes.changes.lanes if ln.tag == "llm-token-spike")
    entry = {
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
        "evidence": {"column": "user", "value": lane.user, "traffic": f"x{sp.factor:g}"},
    }
    return _existing(plan, entry, ("model", app.use.model), "new_client")


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
    """Planted anomalies and normal events, untagged and mis-tagged resources, and totals per
    provider and period."""
    plan = build_plan(spec)
    anomalies = [_runaway(plan), _idle(plan), _spike(plan)]
    anomalies += [planted_truth(plan, p) for p in plan.planted]
    return {
        "version": VERSION,
        "spec": {
            "rows": spec.rows,
            "seed": spec.seed,
            "start": spec.start.isoformat(),
            "months": spec.months,
        },
        "totals": totals(spec),
        "anomalies": anomalies,
        "normal_events": [normal_truth(plan, n) for n in plan.normal],
        "growth": growth_truth(plan),
        "policy_breaches": policy_truth(plan),
        "untagged": _tagging(plan, "untagged"),
        "mistagged": _tagging(plan, "mistagged"),
        "shared_resources": sorted(
            {s.resource_id for s in plan.streams if s.role in ("node", "spare")}
        ),
        "commitments": [c.id for c in plan.commitments],
        "instances": sorted({s.instance for s in plan.streams if s.instance} & set(INSTANCES)),
    }
