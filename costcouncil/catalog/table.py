"""The price table: every usage (provider, model) pair's prices per tier, effective-dated.

For each pair and tier the rows are one timeline, built in three layers:

1. the package's price history (:mod:`costcouncil.catalog.history`), its part before the model's
   first price date (:mod:`costcouncil.catalog.firsts`) marked ``before_first_price``;
2. discounts, cut into it where they hold — the most specific discount wins where several do
   (model over provider, one tier over every tier, then the later entry in the file);
3. explicit prices and GPU-hour prices, laid over it in file order: inside their range they
   replace what is there, splitting a package row around them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial

import genai_prices
import pyarrow as pa

from costcouncil.catalog.firsts import first_price
from costcouncil.catalog.history import package_spans
from costcouncil.catalog.overrides import Discount, Overrides, PriceOverride
from costcouncil.catalog.prices import KINDS, Prices
from costcouncil.catalog.resolve import PROVIDER_IDS, Resolved, resolve_model
from costcouncil.catalog.spans import EARLIEST, Span, bound, merge, overlay, remap
from costcouncil.schema.arrow import DECIMAL, TIMESTAMP
from costcouncil.schema.usage import SERVICE_TIERS

PACKAGE_SOURCE = f"genai-prices {genai_prices.__version__}"
CURRENCY = "USD"

PRICES_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("service_tier", pa.string(), nullable=False),
        pa.field("valid_from", TIMESTAMP),
        pa.field("valid_to", TIMESTAMP),
        *[pa.field(f"{kind}_per_mtok", DECIMAL) for kind in KINDS],
        pa.field("currency", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("catalog_model", pa.string()),
        pa.field("before_first_price", pa.bool_(), nullable=False),
    ]
)


@dataclass(frozen=True)
class Unpriced:
    """A usage pair that got no price row at all, and why."""

    provider: str
    model: str
    reason: str


@dataclass(frozen=True)
class PriceTable:
    """What :func:`build_price_table` returns."""

    table: pa.Table
    """Rows of :data:`PRICES_SCHEMA`, ordered by provider, model, tier and ``valid_from``."""
    unpriced: tuple[Unpriced, ...]
    """The pairs with no row in any tier."""
    unused_overrides: tuple[str, ...]
    """The ``source`` of each override entry that matched none of the pairs (a typo?)."""


@dataclass(frozen=True)
class Priced:
    """The value of one span of a timeline: prices and where they came from."""

    prices: Prices
    source: str
    before_first_price: bool = False
    """True for a package price stretched back before the model's first price date."""


def build_price_table(
    models: Iterable[tuple[str, str]], overrides: Overrides | None = None
) -> PriceTable:
    """Price every distinct (provider, model) pair, spelled as in the usage data."""
    overrides = overrides or Overrides()
    pairs = sorted(set(models))
    rows: list[dict[str, object]] = []
    unpriced: list[Unpriced] = []
    for provider, model in pairs:
        pair_rows = _pair_rows(provider, model, overrides)
        rows += pair_rows
        if not pair_rows:
            unpriced.append(Unpriced(provider, model, _reason(provider, model)))
    table = pa.Table.from_pylist(rows, schema=PRICES_SCHEMA)
    return PriceTable(table, tuple(unpriced), _unused(overrides, pairs))


def _pair_rows(provider: str, model: str, overrides: Overrides) -> list[dict[str, object]]:
    found = resolve_model(provider, model)
    catalog_model = found.catalog_model if found else None
    return [
        _row(provider, model, tier, span, catalog_model)
        for tier in SERVICE_TIERS
        for span in tier_timeline(provider, model, tier, found, overrides)
    ]


def tier_timeline(
    provider: str, model: str, tier: str, found: Resolved | None, overrides: Overrides
) -> list[Span[Priced]]:
    """One pair's prices in one tier: package history, then discounts, then explicit prices."""
    spans = _package(found, tier)
    for discount in _discounts(overrides, provider, model, tier):
        spans = remap(spans, discount.start, discount.end, partial(_discounted, discount.value))
    for entry in overrides.prices:
        if entry.matches(provider, model, tier):
            spans = overlay(
                spans, Span.of(entry.start, entry.end, Priced(entry.prices, entry.source))
            )
    return merge(spans)


def _package(found: Resolved | None, tier: str) -> list[Span[Priced]]:
    """The package's history; what of it lies before the model's first price date is flagged."""
    if found is None:
        return []
    history = package_spans(found, tier)
    spans = [Span(s.start, s.end, Priced(s.value, PACKAGE_SOURCE)) for s in history]
    first = first_price(found)
    return spans if first is None else remap(spans, EARLIEST, first, _before_first)


def _before_first(priced: Priced) -> Priced:
    return replace(priced, before_first_price=True)


def _discounts(overrides: Overrides, provider: str, model: str, tier: str) -> list[Span[Discount]]:
    """Where each discount holds for this pair and tier; a more specific one covers a broader one."""
    matching = [d for d in overrides.discounts if d.matches(provider, model, tier)]
    timeline: list[Span[Discount]] = []
    for d in sorted(matching, key=lambda d: (d.model is not None, d.service_tier is not None)):
        timeline = overlay(timeline, Span.of(d.start, d.end, d))
    return timeline


def _discounted(discount: Discount, priced: Priced) -> Priced:
    scaled = priced.prices.scaled(Decimal(1) - discount.rate)
    return replace(priced, prices=scaled, source=discount.source)


def _row(
    provider: str, model: str, tier: str, span: Span[Priced], catalog_model: str | None
) -> dict[str, object]:
    prices = dict(zip((f"{k}_per_mtok" for k in KINDS), span.value.prices.values(), strict=True))
    return {
        **{"provider": provider, "model": model, "service_tier": tier},
        **{"valid_from": bound(span.start), "valid_to": bound(span.end), **prices},
        **{"currency": CURRENCY, "source": span.value.source, "catalog_model": catalog_model},
        "before_first_price": span.value.before_first_price,
    }


def _reason(provider: str, model: str) -> str:
    found = resolve_model(provider, model)
    if found is not None:
        return f"{found.catalog_model} has no token prices"
    if PROVIDER_IDS.get(provider.strip().lower(), "") is None:
        return f"{provider} is never priced from genai-prices; add a gpu_hour or prices override"
    return "no genai-prices model matches this spelling"


def _unused(overrides: Overrides, pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    entries: list[Discount | PriceOverride] = [*overrides.discounts, *overrides.prices]
    return tuple(
        e.source
        for e in entries
        if not any(e.matches(p, m, t) for p, m in pairs for t in SERVICE_TIERS)
    )
