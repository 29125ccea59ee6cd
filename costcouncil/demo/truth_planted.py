"""Ground truth of the planted anomalies and normal events: windows, scopes and exact excess.

The excess of an AWS anomaly is the whole cost of its machines in the window; the excess of an
LLM anomaly is what its apps' invoices cost minus what they would have cost on the same days
without it (same tokens function, the anomaly's change skipped), to the 1e-10 dollar.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from costcouncil.demo.apps import MODEL_NAMES
from costcouncil.demo.arrays import money_units
from costcouncil.demo.catalog import LLM_MODELS, TOKEN_KINDS
from costcouncil.demo.plan import Plan
from costcouncil.demo.planted import Normal, Planted, provider_name
from costcouncil.demo.spec import HOUR_US, epoch_us
from costcouncil.demo.streams import Stream
from costcouncil.demo.tokens import meter_tokens, unit_prices

UNIT = Decimal(10) ** -10


def iso_hour(plan: Plan, hour: int) -> str:
    """Hour ``hour`` of the span as ISO-8601 UTC ending in ``Z``."""
    us = epoch_us(plan.spec.start) + hour * HOUR_US
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_cost(streams: list[Stream], start: int, stop: int) -> Decimal:
    """List cost of hourly ``streams`` over hours [start, stop)."""
    return sum((Decimal(stop - start) * s.price * UNIT for s in streams), Decimal(0))


def _meter_cost(plan: Plan, app: int, model: str, days: Any, skip: str) -> int:
    """Invoice cost (1e-10 USD) of ``app``'s meters of ``model`` on ``days``."""
    v, code, total = plan.volumes, MODEL_NAMES.index(model), 0
    for kind, price_text in LLM_MODELS[model].prices:
        k = TOKEN_KINDS.index(kind)
        price = unit_prices(v, app, code, k, days, money_units(price_text), skip)
        total += int((meter_tokens(v, app, code, k, days, skip) * (price // 1_000_000)).sum())
    return total


def llm_excess(plan: Plan, tag: str, apps: tuple[int, ...], start: int, stop: int) -> Decimal:
    """What the change tagged ``tag`` added to the invoices of ``apps`` on days [start, stop)."""
    days = np.arange(start, stop, dtype=np.int64)
    lanes = plan.volumes.changes.lanes
    units = 0
    for app in apps:
        models = {plan.apps[app].use.model} | {ln.model for ln in lanes if ln.app == app}
        for model in sorted(models):
            units += _meter_cost(plan, app, model, days, "") - _meter_cost(
                plan, app, model, days, tag
            )
    return units * UNIT


def _scopes(plan: Plan, p: Planted) -> list[str]:
    """Every default monitor scope whose series carries the anomaly's cost."""
    out = ["org", f"provider={provider_name(p.provider)}", f"{p.scope[0]}={p.scope[1]}"]
    if p.scope[1] in ("__idle__", "__unallocated__"):
        out.append(f"model={p.scope[1]}")  # idle or untagged cost has no model either
    for s in p.streams[:1]:
        if s.owner and p.scope[1] not in ("__idle__", "__unallocated__"):
            out += [f"team={s.owner.team}", f"model={s.owner.model}"]
    for a in p.apps[:1]:
        app = plan.apps[a]
        out += [f"team={app.use.owner.team}", f"model={app.use.model}"]
        out += [f"model={ln.model}" for ln in plan.volumes.changes.lanes if ln.tag == p.id][:1]
    return list(dict.fromkeys(out))


def planted_truth(plan: Plan, p: Planted) -> dict[str, Any]:
    """The ground-truth entry of one planted anomaly."""
    if p.streams:
        excess = hours_cost(list(p.streams), p.start, p.stop)
    else:
        excess = llm_excess(plan, p.id, p.apps, p.start // 24, p.stop // 24)
    return {
        "id": p.id,
        "kind": p.kind,
        "cause": p.cause,
        "scope": {p.scope[0]: p.scope[1]},
        "monitor": f"{p.scope[0]}={p.scope[1]}",
        "scopes": _scopes(plan, p),
        "provider": p.provider,
        "resource_ids": list(p.resource_ids),
        "start": iso_hour(plan, p.start),
        "end": iso_hour(plan, p.stop),
        "expected_excess_cost": str(excess),
        "description": p.description,
        "evidence": p.evidence,
    }


def normal_truth(plan: Plan, n: Normal) -> dict[str, Any]:
    """The ground-truth entry of one normal event, with the annotation a user would enter."""
    scope = f"{n.scope[0]}={n.scope[1]}"
    windows = [{"start": iso_hour(plan, a), "end": iso_hour(plan, b)} for a, b in n.windows]
    out: dict[str, Any] = {
        "id": n.id,
        "kind": n.kind,
        "scope": {n.scope[0]: n.scope[1]},
        "monitor": scope,
        "windows": windows,
        "label": n.label,
        "description": n.description,
        "resource_ids": list(n.resource_ids),
    }
    if n.annotate:
        out["annotations"] = [
            {"scope": f"{k}={v}", **windows[0], "label": n.label} for k, v in n.annotate
        ]
    return out
