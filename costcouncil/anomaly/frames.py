"""What root-cause analysis compares: a scope's usage and cost in the anomaly's window and in a
baseline window before it, aggregated per group.

The workspace fills these from the allocations, the cost rows and the usage (LLM requests, GPU
jobs); the engine only compares them. Every quantity is a total over its window; ``days`` turns
totals into daily rates, so a 3-day anomaly compares with a 28-day baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LlmGroup:
    """LLM requests of one (provider, model, client) in a window; ``client`` is the API key (or
    user) that sent them, ``customer``, ``user`` and ``feature`` the other ways to name who sent
    them ("" when unknown). Prices are per token (0 when unknown)."""

    provider: str
    model: str
    client: str
    requests: float
    input_tokens: float
    output_tokens: float
    cached_tokens: float = 0.0
    cost: float = 0.0
    price_input: float = 0.0
    price_output: float = 0.0
    price_cached: float = 0.0
    customer: str = ""
    user: str = ""
    feature: str = ""


@dataclass(frozen=True)
class CostGroup:
    """Allocated cost of one resource and SKU in a window, with what the rows say about it.

    ``kind`` is ``llm`` (model API charges, explained by the LLM usage), ``gpu`` (accelerated
    instances and nodes) or ``other``; ``method`` is how attribution gave it to the scope
    (``tag``, ``usage_split``, ``idle``, ``unallocated`` …).
    """

    resource: str
    sku: str
    service: str
    region: str
    account: str
    kind: str
    method: str
    cost: float
    quantity: float = 0.0


@dataclass(frozen=True)
class JobGroup:
    """GPU-hours of one resource's jobs of one status (``succeeded``, ``failed``, ``killed``,
    ``running``) in a window, how many jobs, and on how many days of the window any ran."""

    resource: str
    status: str
    gpu_hours: float
    jobs: int = 1
    days_active: float = 0.0


@dataclass(frozen=True)
class Frame:
    """One window of one scope."""

    days: float
    llm: tuple[LlmGroup, ...] = field(default_factory=tuple)
    costs: tuple[CostGroup, ...] = field(default_factory=tuple)
    jobs: tuple[JobGroup, ...] = field(default_factory=tuple)

    def total(self) -> float:
        return sum(c.cost for c in self.costs)
