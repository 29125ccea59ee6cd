"""Per-token prices for live LLM events, in integer pico-units (1e-12 of the currency).

Live figures price each event the moment it arrives with the same catalog attribution uses
(``costcouncil.catalog``, plus the workspace's ``prices.yaml``): the price row of the event's
provider, model and service tier in effect at the event's time (standard when the tier has no
row of its own). Integer pico-units keep sums exact without Decimal arithmetic per event.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costcouncil.catalog import build_price_table
from costcouncil.catalog.prices import KINDS

PICO = 10**12
_PER_TOKEN = Decimal(PICO) / Decimal(10**6)  # $/Mtok -> pico$/token


@dataclass(frozen=True)
class _Row:
    tier: str
    start: int | None
    end: int | None
    per_token: tuple[int, ...]
    currency: str


class LivePrices:
    """Looks up (and caches) per-token prices; thread-safe."""

    def __init__(self, overrides: Any = None) -> None:
        self.overrides = overrides
        self._rows: dict[tuple[str, str], list[_Row]] = {}
        self._lock = threading.Lock()

    def per_token(
        self, provider: str, model: str, tier: str | None, t_us: int
    ) -> tuple[int, ...] | None:
        """Pico-units per token of each kind (input, cached_input, cache_write, output, reasoning)."""
        rows = self._rows.get((provider, model))
        if rows is None:
            rows = self._load(provider, model)
        wanted = tier or "standard"
        for tier in dict.fromkeys((wanted, "standard")):
            for row in rows:
                if row.tier == tier and _covers(row, t_us):
                    return row.per_token
        return None

    def _load(self, provider: str, model: str) -> list[_Row]:
        with self._lock:
            if (provider, model) not in self._rows:
                table = build_price_table([(provider, model)], self.overrides).table
                self._rows[(provider, model)] = [_row(r) for r in table.to_pylist()]
            return self._rows[(provider, model)]


def _covers(row: _Row, t_us: int) -> bool:
    return (row.start is None or row.start <= t_us) and (row.end is None or t_us < row.end)


def _row(r: dict[str, Any]) -> _Row:
    def micros(value: Any) -> int | None:
        return None if value is None else int(value.timestamp() * 1_000_000)

    per_token = tuple(int((r[f"{k}_per_mtok"] or Decimal(0)) * _PER_TOKEN) for k in KINDS)
    return _Row(
        r["service_tier"], micros(r["valid_from"]), micros(r["valid_to"]), per_token, r["currency"]
    )


#: The llm event field of each price kind, in :data:`KINDS` order.
TOKEN_FIELDS = tuple(f"{k}_tokens" for k in KINDS)
