"""The LLM price catalog: an effective-dated table of model prices per million tokens.

Prices come from the `genai-prices` package (its price history and its batch, priority and flex
variants) and from the user's ``prices.yaml`` overrides (negotiated discounts, explicit and
provisioned prices, self-hosted models priced per GPU-hour). The engine is pure: pairs and parsed
overrides in, an Arrow table out. ``docs/catalog.md`` documents the table and the override format.

Glossary: a *pair* is a (provider, model) as spelled in the usage data; its *catalog model* is the
genai-prices model it resolves to (``openai/gpt-4o``); a *tier* is a service tier of the ``llm``
usage schema (``standard``, ``batch``, ``priority``, ``flex``, ``provisioned``); a model's *first
price date* is the day its first price took effect (before it, the table still prices requests at
that first price but flags the rows ``before_first_price``).
"""

from __future__ import annotations

from costcouncil.catalog.firsts import FIRST_PRICES, first_price
from costcouncil.catalog.overrides import Discount, Overrides, PriceOverride, parse_overrides
from costcouncil.catalog.prices import KINDS, Prices
from costcouncil.catalog.resolve import PROVIDER_IDS, Resolved, resolve_model
from costcouncil.catalog.table import (
    PACKAGE_SOURCE,
    PRICES_SCHEMA,
    PriceTable,
    Unpriced,
    build_price_table,
)

__all__ = [
    "FIRST_PRICES",
    "KINDS",
    "PACKAGE_SOURCE",
    "PRICES_SCHEMA",
    "PROVIDER_IDS",
    "Discount",
    "Overrides",
    "PriceOverride",
    "PriceTable",
    "Prices",
    "Resolved",
    "Unpriced",
    "build_price_table",
    "first_price",
    "parse_overrides",
    "resolve_model",
]
