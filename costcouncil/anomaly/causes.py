"""Root causes in AI terms: what changed between a baseline window and the anomaly's window,
each cause with the dollars it explains and its evidence, ranked.

Every estimator works on daily rates (a window's totals over its days) and returns the change in
cost per day it explains, times the anomaly's days. The causes and how each is measured:

=========================  ======================================================================
``model_mix_shift``        requests moved between models: Σ (share now − share before) ×
                           requests now × the model's cost per request before
``requests_up``            more requests at the old mix and cost per request
``new_client``             the part of ``requests_up`` sent by one client (API key, user or
                           feature) that is new or sends at least twice its old rate
``tokens_per_request_up``  input tokens per request up, priced at the model's input price
``output_tokens_up``       output (and reasoning) tokens per request up, at the output price
``cache_hit_down``         the share of input tokens read from the prompt cache down: those tokens
                           now cost the full input price instead of the cached one
``price_change``           the same SKU's cost per unit changed: Δ unit price × units now
``idle_gpu_up``            idle capacity lines up, and GPU resources that cost without jobs
``runaway_gpu_job``        new GPU resources whose jobs run through the window
``training_failures``      GPU-hours of failed or killed jobs up, at the scope's cost per GPU-hour
``untagged_spend``         cost attribution could not give an owner (``unallocated``) up
``new_resource``           cost on resources or SKUs the baseline did not have
``dimension``              what is left, by the service, region, account or SKU that grew most
=========================  ======================================================================

A cost line is explained once: LLM charges by the LLM usage causes (and ``price_change``), the
rest by the resource causes in the order of the table; what no cause takes goes to ``dimension``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from costcouncil.anomaly.causes_base import Found
from costcouncil.anomaly.frames import CostGroup, Frame
from costcouncil.anomaly.llm_causes import llm_causes
from costcouncil.anomaly.resource_causes import resource_causes

CAUSES = (
    "model_mix_shift",
    "requests_up",
    "new_client",
    "tokens_per_request_up",
    "output_tokens_up",
    "cache_hit_down",
    "price_change",
    "idle_gpu_up",
    "runaway_gpu_job",
    "training_failures",
    "untagged_spend",
    "new_resource",
    "dimension",
)


@dataclass(frozen=True)
class Cause:
    """One cause: the dollars of the excess it explains, its share, a sentence and the evidence."""

    cause: str
    contribution: float
    share: float
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "contribution": round(self.contribution, 2),
                "share": round(self.share, 4), "summary": self.summary,
                "evidence": self.evidence}  # fmt: skip


def explain(
    baseline: Frame, window: Frame, *, excess: float | None = None, top: int = 5
) -> list[Cause]:
    """The causes of the change from ``baseline`` to ``window``, biggest first in the direction
    of the change (``excess``: the anomaly's actual − expected; by default the change in cost
    per day × the window's days)."""
    if baseline.days <= 0 or window.days <= 0:
        return []
    change = (window.total() / window.days - baseline.total() / baseline.days) * window.days
    excess = change if excess is None else excess
    found = [*llm_causes(baseline, window), *resource_causes(baseline, window)]
    found += _leftover(baseline, window, found)
    sign = 1.0 if excess >= 0 else -1.0
    ranked = sorted((f for f in found if f.per_day * sign > 0), key=lambda f: -abs(f.per_day))
    scale = window.days
    return [
        Cause(
            f.cause,
            f.per_day * scale,
            (f.per_day * scale / excess) if excess else 0.0,
            f.summary,
            f.evidence,
        )
        for f in ranked[:top]
    ]


def _leftover(baseline: Frame, window: Frame, found: list[Found]) -> list[Found]:
    """What the causes did not explain, by the dimension value that moved most."""
    explained = sum(f.per_day for f in found)
    change = window.total() / window.days - baseline.total() / baseline.days
    rest = change - explained
    if abs(rest) < 0.05 * abs(change) or abs(rest) < 0.01:
        return []
    best: tuple[float, str, str] | None = None
    for name in ("service", "region", "account", "sku"):
        for value, delta in _deltas(baseline, window, name).items():
            if best is None or delta * rest > best[0] * rest:
                best = (delta, name, value)
    if best is None:
        return []
    delta, name, value = best
    amount = delta if abs(delta) < abs(rest) else rest
    return [Found("dimension", amount, f"{name} {value} changed by {delta:+,.2f} a day",
                  {"dimension": name, "value": value, "per_day": round(delta, 2)})]  # fmt: skip


def _deltas(baseline: Frame, window: Frame, name: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for frame, sign in ((baseline, -1.0), (window, 1.0)):
        for g in _non_llm(frame.costs):
            out[str(getattr(g, name))] += sign * g.cost / frame.days
    return dict(out)


def _non_llm(groups: Iterable[CostGroup]) -> Iterable[CostGroup]:
    return (g for g in groups if g.kind != "llm")
