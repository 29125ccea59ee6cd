"""A catalog model's price history as a timeline of :class:`Prices`, for each service tier.

The package's prices are a ``ModelPrice`` or a list of ``ConditionalPrice``; each
``StartDateConstraint`` (of a price or of a price variant) starts a new range at 00:00 UTC of its
date. Within a range the package's own ``ModelInfo.get_prices`` says what applies, evaluated at
12:00 UTC: time-of-day prices (DeepSeek's off-peak hours) cannot be told apart by date ranges, so
the price in force at noon UTC stands for the whole day.

Tiers: ``standard`` is the base price. ``batch``, ``priority`` and ``flex`` use the package's price
variant where one is in force; otherwise batch is 50 % of standard (OpenAI, Anthropic, Bedrock,
Azure and Google all bill batch at half price) and priority and flex are the standard price.
``provisioned`` has no package price (provisioned throughput is a fixed fee).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from genai_prices import types as gp

from costcouncil.catalog.prices import Prices
from costcouncil.catalog.resolve import Resolved
from costcouncil.catalog.spans import EARLIEST, LATEST, Span, merge

#: The genai-prices request context that selects each tier's price variant.
TIER_CONTEXTS: dict[str, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "priority": {"service_tier": "priority"},
    "flex": {"service_tier": "flex"},
}

#: A tier's price as a share of standard when the package has no variant for it.
TIER_FACTORS: dict[str, Decimal] = {
    "standard": Decimal(1),
    "batch": Decimal("0.5"),
    "priority": Decimal(1),
    "flex": Decimal(1),
}

NOON = timedelta(hours=12)


def package_spans(found: Resolved, tier: str) -> list[Span[Prices]]:
    """The model's prices in ``tier`` over time; empty for a tier the package cannot price."""
    if tier not in TIER_FACTORS:
        return []
    starts = boundaries(found.model)
    spans = (Span(a, b, tier_prices(found, tier, a + NOON)) for a, b in pairwise([*starts, LATEST]))
    return merge(s for s in spans if not s.value.is_empty())


def boundaries(model: gp.ModelInfo) -> list[datetime]:
    """The instants where the model's price may change: the start of time and every start date."""
    conditions = [] if isinstance(model.prices, gp.ModelPrice) else model.prices
    constraints = [c.constraint for c in conditions]
    constraints += [v.constraint for v in model.price_variants or []]
    dates = {c.start_date for c in constraints if isinstance(c, gp.StartDateConstraint)}
    return [EARLIEST, *sorted(datetime(d.year, d.month, d.day, tzinfo=UTC) for d in dates)]


def tier_prices(found: Resolved, tier: str, at: datetime) -> Prices:
    """The model's prices in ``tier`` at the instant ``at``."""
    context = TIER_CONTEXTS.get(tier)
    if context and not found.via_fallback and _has_variant(found.model, context, at):
        return Prices.from_package(found.model.get_prices(at, context))
    return Prices.from_package(found.model.get_prices(at)).scaled(TIER_FACTORS[tier])


def _has_variant(model: gp.ModelInfo, context: dict[str, str], at: datetime) -> bool:
    return any(
        v.when == context and (v.constraint is None or v.constraint.active(at))
        for v in model.price_variants or []
    )
