"""When a catalog model's first price took effect: the day before which it had no price.

genai-prices records a model's price *changes* but not when the model came out: its first price
holds "since forever". A request dated before the model existed (a 2023 request for ``gpt-4o``,
released in May 2024) is still priced at that first price — the best estimate there is — but the
table marks such rows (``before_first_price``) so that whoever prices requests can say so.

A model's first price date is, in order:

1. its entry in :data:`FIRST_PRICES` — the day the provider's API started selling it;
2. a date in the catalog model's id (``claude-3-5-sonnet-20240620``, ``o3-2025-04-16``): a dated
   snapshot is not sold before the day it is named after.

A model with neither has no known first price date: its first price keeps holding since forever,
unflagged.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from costcouncil.catalog.resolve import Resolved

#: Catalog model → the day its first price took effect (public API availability). Add a model here
#: when requests dated before its release should be flagged; keep to dates the provider published.
FIRST_PRICES: dict[str, date] = {
    "openai/gpt-4-turbo": date(2023, 11, 6),  # as gpt-4-1106-preview
    "openai/gpt-4o": date(2024, 5, 13),
    "openai/gpt-4o-mini": date(2024, 7, 18),
    "openai/o1-mini": date(2024, 9, 12),
    "openai/o1": date(2024, 12, 17),
    "openai/o3-mini": date(2025, 1, 31),
    "openai/gpt-4.1": date(2025, 4, 14),
    "openai/gpt-4.1-mini": date(2025, 4, 14),
    "openai/gpt-4.1-nano": date(2025, 4, 14),
    "openai/o3": date(2025, 4, 16),
    "openai/o4-mini": date(2025, 4, 16),
    "openai/gpt-5": date(2025, 8, 7),
    "openai/gpt-5-mini": date(2025, 8, 7),
    "openai/gpt-5-nano": date(2025, 8, 7),
    "anthropic/claude-3-opus-latest": date(2024, 3, 4),
    "anthropic/claude-3-sonnet": date(2024, 3, 4),
    "anthropic/claude-3-haiku": date(2024, 3, 13),
    "anthropic/claude-3-5-sonnet": date(2024, 6, 20),
    "anthropic/claude-3-5-haiku-latest": date(2024, 10, 22),
    "anthropic/claude-3-7-sonnet-latest": date(2025, 2, 24),
    "anthropic/claude-sonnet-4-0": date(2025, 5, 22),
    "anthropic/claude-opus-4-0": date(2025, 5, 22),
    "anthropic/claude-opus-4-1": date(2025, 8, 5),
    "anthropic/claude-sonnet-4-5": date(2025, 9, 29),
    "anthropic/claude-haiku-4-5": date(2025, 10, 15),
}

#: A date in a model id: ``20240620`` or ``2024-06-20``, not part of a longer number.
DATED_ID = re.compile(r"(?<!\d)(20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")


def first_price(found: Resolved) -> datetime | None:
    """00:00 UTC of the day the model's first price took effect, or ``None`` when unknown."""
    day = FIRST_PRICES.get(found.catalog_model) or dated_id(found.model.id)
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def dated_id(model_id: str) -> date | None:
    """The date a model id is named after (``…-20240620-v1:0`` → 2024-06-20), if it has one."""
    match = DATED_ID.search(model_id)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:  # 2024-02-31
        return None
