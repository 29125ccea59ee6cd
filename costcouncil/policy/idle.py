"""``idle_gpu``: nodes whose GPUs sat idle too much of the last ``days`` days.

Reads ``gpu`` over the ``days`` days ending with ``as_of`` (the policy's own window), per
``resource_id``: ``idle = max(capacity_hours − busy_hours, 0)``,
``idle % = idle / capacity_hours × 100``. Above ``max_idle_percent`` is a breach with the idle
cost at stake: ``cost × idle / capacity_hours`` (to the cent). Nodes without capacity are skipped.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.policy.model import IdleGpuParams, Policy
from costcouncil.policy.tables import Window, distinct, in_scope, money, owners, sums, violation
from costcouncil.policy.violation import Violation

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def evaluate_idle_gpu(policy: Policy, gpu: pa.Table, as_of: date) -> list[Violation]:
    """Nodes idle above the ceiling, with the idle cost at stake."""
    params = policy.params
    assert isinstance(params, IdleGpuParams)
    window = Window.ending(as_of, params.days)
    rows = in_scope(window.of(gpu), policy, "gpu")
    rows = rows.filter(pc.is_valid(rows["resource_id"]))
    teams = owners(rows, ["resource_id"])
    types = distinct(rows, ["resource_id"], "instance_type")
    out = []
    for row in sums(rows, ["resource_id"], ["capacity_hours", "busy_hours", "cost"]):
        capacity, busy = row["capacity_hours_sum"] or 0.0, row["busy_hours_sum"] or 0.0
        if capacity <= 0:
            continue
        share = Decimal(repr(max(capacity - busy, 0.0) / capacity))
        if share * 100 <= params.max_idle_percent:
            continue
        rid, cost = row["resource_id"], money(row["cost_sum"])
        out.append(
            violation(
                policy,
                f"resource={rid}",
                teams[(rid,)],
                (cost * share).quantize(_CENT),
                row,
                resource_id=rid,
                instance_types=types.get((rid,), []),
                days=params.days,
                capacity_hours=capacity,
                busy_hours=busy,
                cost=cost,
                idle_percent=(share * 100).quantize(_TENTH),
                max_idle_percent=params.max_idle_percent,
            )
        )
    return out
