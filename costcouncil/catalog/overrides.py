"""User overrides of the package's prices: ``prices.yaml``, version 1.

Three kinds of entry in one ``overrides`` list, told apart by the key each one has:

- ``discount``: a negotiated discount off the package's list prices, for a provider or one model;
- ``prices``: explicit prices per million tokens for one model and tier (provisioned included);
- ``gpu_hour``: a self-hosted model priced from what a GPU-hour costs and how many tokens it serves.

:func:`parse_overrides` is pure (the caller reads the file) and reports every problem at once,
each with its line and key path; see ``docs/catalog.md`` for the format.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from difflib import get_close_matches
from fnmatch import fnmatchcase

from costcouncil.catalog.prices import KINDS, Prices
from costcouncil.catalog.yamldoc import Document, KeyPath, load
from costcouncil.schema.usage import SERVICE_TIERS


@dataclass(frozen=True)
class Discount:
    """``rate`` off the package's prices of matching pairs, in ``[start, end)``."""

    provider: str
    model: str | None
    """A model name or glob (``gpt-4o*``); ``None`` = every model of the provider."""
    service_tier: str | None
    """``None`` = every tier."""
    rate: Decimal
    start: datetime | None
    end: datetime | None
    source: str

    def matches(self, provider: str, model: str, tier: str) -> bool:
        """True when this discount is for that usage pair and tier."""
        return (
            self.provider == provider
            and (self.model is None or fnmatchcase(model, self.model))
            and self.service_tier in (None, tier)
        )


@dataclass(frozen=True)
class PriceOverride:
    """Prices that replace the package's for matching pairs in one tier, in ``[start, end)``."""

    provider: str
    model: str
    """A model name or glob."""
    service_tier: str
    prices: Prices
    start: datetime | None
    end: datetime | None
    source: str

    def matches(self, provider: str, model: str, tier: str) -> bool:
        """True when these prices are for that usage pair and tier."""
        return (
            self.provider == provider
            and fnmatchcase(model, self.model)
            and self.service_tier == tier
        )


@dataclass(frozen=True)
class Overrides:
    """A parsed ``prices.yaml``: its discounts and its explicit prices, in file order."""

    discounts: tuple[Discount, ...] = ()
    prices: tuple[PriceOverride, ...] = ()


ENTRY_KINDS = ("discount", "prices", "gpu_hour")
ENTRY_KEYS = (
    *("provider", "model", "service_tier", "from", "to", "note"),
    *ENTRY_KINDS,
    *("tokens_per_gpu_hour", "output_weight"),
)
GPU_HOUR_KEYS = ("tokens_per_gpu_hour", "output_weight")
TOP_KEYS = ("version", "overrides")

Check = tuple[Callable[[Decimal], bool], str]
FRACTION: Check = (lambda v: 0 <= v <= 1, "must be between 0 and 1")
NON_NEGATIVE: Check = (lambda v: v >= 0, "must be 0 or more")
POSITIVE: Check = (lambda v: v > 0, "must be more than 0")
MILLION = Decimal(1_000_000)


def parse_overrides(text: str, path: str) -> Overrides:
    """Parse and validate ``prices.yaml``; raise ``ConfigError`` listing every problem."""
    doc = load(text, path)
    entries = _top(doc)
    parsed = [_entry(doc, raw, ("overrides", i)) for i, raw in enumerate(entries)]
    doc.raise_problems()
    return Overrides(
        discounts=tuple(p for p in parsed if isinstance(p, Discount)),
        prices=tuple(p for p in parsed if isinstance(p, PriceOverride)),
    )


def _top(doc: Document) -> list[object]:
    if not isinstance(doc.data, dict):
        doc.problem((), "expected a mapping with `version: 1` and `overrides:`")
        return []
    _unknown_keys(doc, doc.data, (), TOP_KEYS)
    _version(doc, doc.data.get("version"))
    entries = doc.data.get("overrides")
    if entries is None:
        return []
    if not isinstance(entries, list):
        doc.problem(("overrides",), "must be a list of entries")
        return []
    return entries


def _version(doc: Document, version: object) -> None:
    if type(version) is not int or version != 1:
        doc.problem(("version",), f"must be 1 (got {version!r})")


def _entry(doc: Document, raw: object, path: KeyPath) -> Discount | PriceOverride | None:
    if not isinstance(raw, dict):
        doc.problem(path, "must be a mapping (provider, model, …)")
        return None
    _unknown_keys(doc, raw, path, ENTRY_KEYS)
    kinds = [k for k in ENTRY_KINDS if k in raw]
    if len(kinds) != 1:
        doc.problem(path, f"give exactly one of {', '.join(ENTRY_KINDS)} (got {len(kinds)})")
        return None
    for key in GPU_HOUR_KEYS if kinds[0] != "gpu_hour" else ():
        if key in raw:
            doc.problem((*path, key), "is only allowed with gpu_hour")
    return _discount(doc, raw, path) if kinds[0] == "discount" else _priced(doc, raw, path)


def _discount(doc: Document, raw: dict[str, object], path: KeyPath) -> Discount | None:
    provider, model = _text(doc, raw, path, "provider"), _text(doc, raw, path, "model", False)
    tier = _tier(doc, raw, path, None)
    rate = _number(doc, raw, path, "discount", FRACTION)
    start, end = _range(doc, raw, path)
    if provider is None or rate is None:
        return None
    return Discount(provider, model, tier, rate, start, end, _source(doc, path))


def _priced(doc: Document, raw: dict[str, object], path: KeyPath) -> PriceOverride | None:
    provider, model = _text(doc, raw, path, "provider"), _text(doc, raw, path, "model")
    tier = _tier(doc, raw, path, "standard")
    prices = _prices(doc, raw, path) if "prices" in raw else _gpu_hour(doc, raw, path)
    start, end = _range(doc, raw, path)
    if provider is None or model is None or tier is None or prices is None:
        return None
    return PriceOverride(provider, model, tier, prices, start, end, _source(doc, path))


def _prices(doc: Document, raw: dict[str, object], path: KeyPath) -> Prices | None:
    table, where = raw["prices"], (*path, "prices")
    if not isinstance(table, dict) or not table:
        doc.problem(
            where, f"must map token kinds ({', '.join(KINDS)}) to prices per million tokens"
        )
        return None
    _unknown_keys(doc, table, where, KINDS)
    values = {k: _number(doc, table, where, k, NON_NEGATIVE) for k in KINDS if k in table}
    if any(v is None for v in values.values()) or not values:
        return None
    return Prices(**values)


def _gpu_hour(doc: Document, raw: dict[str, object], path: KeyPath) -> Prices | None:
    """input = cached = cache-write = gpu_hour / tokens_per_gpu_hour × 10⁶; output × output_weight."""
    cost = _number(doc, raw, path, "gpu_hour", NON_NEGATIVE)
    tokens = _number(doc, raw, path, "tokens_per_gpu_hour", POSITIVE)
    weight = _number(doc, raw, path, "output_weight", POSITIVE, Decimal(1))
    if cost is None or tokens is None or weight is None:
        return None
    per_mtok = Context(prec=50).divide(cost * MILLION, tokens)
    return Prices(per_mtok, per_mtok, per_mtok, per_mtok * weight, None)


def _text(
    doc: Document, raw: dict[str, object], path: KeyPath, key: str, required: bool = True
) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        doc.problem((*path, key), f"must be a non-empty string (got {value!r})")
        return None
    return value.strip()


def _tier(doc: Document, raw: dict[str, object], path: KeyPath, default: str | None) -> str | None:
    value = raw.get("service_tier", default)
    if value is not None and value not in SERVICE_TIERS:
        doc.problem((*path, "service_tier"), _not_one_of(value, SERVICE_TIERS))
        return None
    return value if isinstance(value, str) else None


def _number(
    doc: Document,
    raw: dict[str, object],
    path: KeyPath,
    key: str,
    check: Check,
    default: Decimal | None = None,
) -> Decimal | None:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        doc.problem((*path, key), f"must be a number (got {value!r})")
        return None
    if not check[0](Decimal(value)):
        doc.problem((*path, key), f"{check[1]} (got {value})")
        return None
    return Decimal(value)


def _range(doc: Document, raw: dict[str, object], path: KeyPath) -> tuple[datetime | None, ...]:
    start, end = _moment(doc, raw, path, "from"), _moment(doc, raw, path, "to")
    if start is not None and end is not None and end <= start:
        doc.problem((*path, "to"), f"must be after from ({start.isoformat()})")
    return start, end


def _moment(doc: Document, raw: dict[str, object], path: KeyPath, key: str) -> datetime | None:
    """A date (00:00 UTC) or a time (naive = UTC), written plain or as an ISO 8601 string."""
    value = raw.get(key)
    if isinstance(value, str):
        with suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value is not None:
        doc.problem((*path, key), f"must be a date like 2025-01-31 (got {value!r})")
    return None


def _unknown_keys(
    doc: Document, raw: dict[str, object], path: KeyPath, known: tuple[str, ...]
) -> None:
    for key in raw:
        if key not in known:
            hint = _suggest(key, known) or f"expected one of {', '.join(known)}"
            doc.problem((*path, key), f"unknown key; {hint}")


def _not_one_of(value: object, choices: tuple[str, ...]) -> str:
    hint = _suggest(str(value), choices)
    return f"{value!r} is not one of {', '.join(choices)}" + (f" — {hint}" if hint else "")


def _suggest(value: str, choices: tuple[str, ...]) -> str:
    close = get_close_matches(value, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _source(doc: Document, path: KeyPath) -> str:
    return f"override:{doc.file}:{doc.line(path)}"
