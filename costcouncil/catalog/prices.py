"""One set of per-million-token prices, in ``Decimal``, and how the package's prices map to it.

The five token kinds are the disjoint kinds of the ``llm`` usage schema: ``input`` (not cached),
``cached_input``, ``cache_write``, ``output`` (without reasoning) and ``reasoning``. A kind that is
``None`` is not priced; ``reasoning`` ``None`` means "priced as output" (the consumer applies it).
Every price is rounded half-even to 12 decimal places, the scale of the table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal

from genai_prices import types as gp

KINDS = ("input", "cached_input", "cache_write", "output", "reasoning")

#: The genai-prices price key behind each kind. ``cache_write_1h_mtok`` and the modality-specific
#: keys (audio, image, video) have no column; the 5-minute ``cache_write_mtok`` stands for writes.
PACKAGE_KEYS = {
    "input": "input_mtok",
    "cached_input": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "output": "output_mtok",
    "reasoning": "output_reasoning_mtok",
}

QUANTUM = Decimal("1e-12")


def quantize(value: Decimal) -> Decimal:
    """``value`` rounded half-even to the table's 12 decimal places."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Prices:
    """Price per million tokens of each token kind; ``None`` = not priced."""

    input: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    output: Decimal | None = None
    reasoning: Decimal | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float):
                raise TypeError(f"{f.name}: prices are Decimal, never float (got {value!r})")
            if value is not None:
                object.__setattr__(self, f.name, quantize(Decimal(value)))

    @classmethod
    def from_package(cls, price: gp.ModelPrice) -> Prices:
        """The token prices of a genai-prices ``ModelPrice``; a tiered price gives its base tier."""
        return cls(**{kind: _base(getattr(price, key)) for kind, key in PACKAGE_KEYS.items()})

    def values(self) -> tuple[Decimal | None, ...]:
        """The prices in :data:`KINDS` order."""
        return tuple(getattr(self, kind) for kind in KINDS)

    def is_empty(self) -> bool:
        """True when no token kind is priced."""
        return all(v is None for v in self.values())

    def scaled(self, factor: Decimal) -> Prices:
        """Every priced kind multiplied by ``factor`` (0.5 for batch, 1 − discount, …)."""
        return Prices(*(None if v is None else v * factor for v in self.values()))


def _base(value: Decimal | gp.TieredPrices | None) -> Decimal | None:
    if isinstance(value, gp.TieredPrices):
        return value.base
    return value
