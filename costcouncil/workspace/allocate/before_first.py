"""Requests priced before their model's first known price: the allocate warning and the
reconciliation line.

The price catalog prices a request dated before its model was sold (a 2023 ``gpt-4o`` request) at
the model's earliest price and flags the row it used (``before_first_price``, see
``docs/catalog.md``). Here those requests are counted per (provider, model) — requests
(Σ ``request_count``), their catalog cost, their first and last ``time`` and the model's first price
date — over the periods a run attributes, with the same price pick as attribution: the row of the
request's pair and tier (null = ``standard``) whose range holds its ``time``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from costcouncil.catalog import KINDS
from costcouncil.catalog.prices import quantize
from costcouncil.engine.base import Engine
from costcouncil.workspace.common.inputs import period_bounds


@dataclass(frozen=True)
class EarlyPriced:
    """One (provider, model)'s requests priced before its first known price."""

    provider: str
    model: str
    catalog_model: str | None
    first_price: datetime
    """The model's first price date (00:00 UTC): the requests are all before it."""
    requests: int
    priced: Decimal
    """Their cost at the model's earliest price (Σ tokens × price / 10⁶, exact)."""
    first_request: datetime
    last_request: datetime

    def plus(self, other: EarlyPriced) -> EarlyPriced:
        """Both counts as one (the same pair, other periods)."""
        return replace(
            self,
            requests=self.requests + other.requests,
            priced=self.priced + other.priced,
            first_request=min(self.first_request, other.first_request),
            last_request=max(self.last_request, other.last_request),
        )

    def warning(self) -> str:
        """The line ``allocate`` prints about them."""
        first, last = _day(self.first_request), _day(self.last_request)
        dated = first if first == last else f"{first} to {last}"
        return (
            f"{self.provider}/{self.model}: {self.requests:,} requests dated {dated} are before "
            f"the model's first known price ({_day(self.first_price)}); priced at its earliest price"
        )


def early_priced(engine: Engine, periods: list[str]) -> list[EarlyPriced]:
    """The engine's ``llm`` requests in ``periods`` priced from a ``before_first_price`` row of its
    ``prices``, per (provider, model)."""
    if not periods:
        return []
    return [_record(r) for r in engine.fetch(_sql(periods)).to_pylist()]


def combine(found: Iterable[EarlyPriced]) -> list[EarlyPriced]:
    """One entry per (provider, model), in that order."""
    out: dict[tuple[str, str], EarlyPriced] = {}
    for e in found:
        key = (e.provider, e.model)
        out[key] = out[key].plus(e) if key in out else e
    return [out[k] for k in sorted(out)]


def reconciliation_line(found: list[EarlyPriced]) -> str | None:
    """The reconciliation's separate line, or ``None`` when no request is flagged."""
    if not found:
        return None
    requests = sum(e.requests for e in found)
    priced = sum((e.priced for e in found), Decimal(0))
    models = ", ".join(f"{e.provider}/{e.model} (first price {_day(e.first_price)})" for e in found)
    return (
        f"priced before the model's first known price: {requests:,} requests, "
        f"${priced:,.2f}, models {models}"
    )


def _sql(periods: list[str]) -> str:
    on = (
        "p.provider = l.provider AND p.model = l.model "
        "AND COALESCE(p.service_tier, 'standard') = COALESCE(l.service_tier, 'standard') "
        "AND (p.valid_from IS NULL OR p.valid_from <= l.time) "
        "AND (p.valid_to IS NULL OR l.time < p.valid_to) AND p.before_first_price"
    )
    firsts = (
        "SELECT provider, model, MAX(valid_to) AS first_price FROM prices "
        "WHERE before_first_price GROUP BY provider, model"
    )
    return (
        "SELECT l.provider, l.model, MAX(p.catalog_model) AS catalog_model, "
        "MAX(f.first_price) AS first_price, "
        "CAST(SUM(COALESCE(l.request_count, 1)) AS BIGINT) AS requests, "
        f"SUM({_micro()}) AS micro, MIN(l.time) AS first_request, MAX(l.time) AS last_request "
        f"FROM llm AS l JOIN prices AS p ON {on} "
        f"JOIN ({firsts}) AS f ON f.provider = l.provider AND f.model = l.model "
        f"WHERE {_in_periods(periods)} GROUP BY l.provider, l.model"
    )


def _micro() -> str:
    """Σ tokens × price per million tokens (reasoning priced as output where it has no price)."""
    terms = []
    for kind in KINDS:
        rate = f"p.{kind}_per_mtok"
        if kind == "reasoning":
            rate = f"COALESCE({rate}, p.output_per_mtok)"
        tokens = f"CAST(COALESCE(l.{kind}_tokens, 0) AS DECIMAL(38,0))"
        terms.append(f"{tokens} * COALESCE({rate}, CAST(0 AS DECIMAL(38,12)))")
    return " + ".join(terms)


def _in_periods(periods: list[str]) -> str:
    ranges = [period_bounds(p) for p in periods]
    return "(" + " OR ".join(f"(l.time >= {a} AND l.time < {b})" for a, b in ranges) + ")"


def _record(r: dict[str, Any]) -> EarlyPriced:
    micro = r["micro"] if isinstance(r["micro"], Decimal) else Decimal(str(r["micro"] or 0))
    return EarlyPriced(
        provider=str(r["provider"]),
        model=str(r["model"]),
        catalog_model=r["catalog_model"],
        first_price=r["first_price"],
        requests=int(r["requests"]),
        priced=quantize(micro.scaleb(-6)),
        first_request=r["first_request"],
        last_request=r["last_request"],
    )


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
