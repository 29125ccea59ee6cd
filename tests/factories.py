"""Small, exact FOCUS 1.2 files for tests: every value chosen by the test, nothing random."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from costcouncil.schema.focus import FOCUS_1_2

HEADER = [c.name for c in FOCUS_1_2]


@dataclass(frozen=True)
class Charge:
    """One FOCUS row's interesting values; the rest are filled with valid defaults."""

    cost: str = "1.25"
    provider: str = "AWS"
    account: str = "111111111111"
    period: str = "2026-10"
    day: int = 1
    currency: str = "USD"
    service: str = "Amazon Elastic Compute Cloud"
    category: str = "Compute"
    tags: dict[str, str] | None = field(default=None)
    resource: str = "i-0abc"
    names: dict[str, str] | None = field(default=None)  # e.g. ResourceName, SubAccountName

    def row(self) -> dict[str, str]:
        start, end = _period_bounds(self.period)
        charge_start = f"{self.period}-{self.day:02d}T00:00:00Z"
        charge_end = f"{self.period}-{self.day:02d}T01:00:00Z"
        return (
            _defaults()
            | {
                "BilledCost": self.cost,
                "EffectiveCost": self.cost,
                "ListCost": self.cost,
                "ContractedCost": self.cost,
                "BillingAccountId": self.account,
                "BillingAccountName": f"acct {self.account}",
                "BillingCurrency": self.currency,
                "BillingPeriodStart": start,
                "BillingPeriodEnd": end,
                "ChargePeriodStart": charge_start,
                "ChargePeriodEnd": charge_end,
                "ProviderName": self.provider,
                "PublisherName": self.provider,
                "InvoiceIssuerName": self.provider,
                "ServiceName": self.service,
                "ServiceCategory": self.category,
                "ResourceId": self.resource,
                "Tags": json.dumps(self.tags) if self.tags is not None else "",
            }
            | (self.names or {})
        )


def _defaults() -> dict[str, str]:
    return {name: "" for name in HEADER} | {
        "ChargeCategory": "Usage",
        "ChargeDescription": "test charge",
        "ChargeFrequency": "Usage-Based",
        "PricingQuantity": "1",
        "PricingUnit": "Hours",
        "BillingAccountType": "Billing Account",
    }


def _period_bounds(period: str) -> tuple[str, str]:
    year, month = (int(p) for p in period.split("-"))
    nyear, nmonth = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{period}-01T00:00:00Z", f"{nyear:04d}-{nmonth:02d}-01T00:00:00Z"


def write_focus(
    path: Path,
    charges: Iterable[Charge],
    *,
    overrides: Sequence[dict[str, str]] = (),
    header: Sequence[str] = HEADER,
    delimiter: str = ",",
) -> Path:
    """Write ``charges`` as a FOCUS 1.2 CSV (gzip if the name ends .gz); ``overrides`` patch rows."""
    rows = [c.row() for c in charges]
    for i, patch in enumerate(overrides):
        rows[i] |= patch
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as f:  # type: ignore[operator]
        writer = csv.DictWriter(
            f, fieldnames=list(header), delimiter=delimiter, extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def total(charges: Iterable[Charge]) -> Decimal:
    return sum((Decimal(c.cost) for c in charges), Decimal(0))


def restated(charges: Iterable[Charge], factor: str) -> list[Charge]:
    """The same charges with every cost multiplied by ``factor`` (a provider's restatement)."""
    return [replace(c, cost=str(Decimal(c.cost) * Decimal(factor))) for c in charges]
