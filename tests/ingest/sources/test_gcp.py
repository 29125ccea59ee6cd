"""Google Cloud Billing export (standard usage cost, flattened CSV) -> FOCUS 1.2."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costcouncil.ingest.detect import detect, sniff
from costcouncil.ingest.sources import REGISTRY
from costcouncil.schema.focus import SERVICE_CATEGORIES
from tests.ingest.helpers import problems, staged
from tests.ingest.helpers import warnings as _warnings

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "cases"
    / "sources"
    / "gcp"
    / "billing_export_standard.csv"
)


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_fixture_detected_and_clean() -> None:
    assert detect(sniff(FIXTURE), REGISTRY).name == "gcp-billing"
    table = staged(FIXTURE)
    assert table.num_rows == 9
    assert problems(table) == []
    assert _warnings(table) == []
    for r in table.to_pylist():
        assert r["ServiceCategory"] in SERVICE_CATEGORIES
        assert r["ChargePeriodEnd"] > r["ChargePeriodStart"]
        assert r["BillingPeriodEnd"] > r["BillingPeriodStart"]
        if r["Tags"] is not None:
            assert isinstance(json.loads(r["Tags"]), dict)
    assert set(table.column("x_provider").to_pylist()) == {"gcp"}


def test_billed_cost_is_cost_plus_credits_per_currency() -> None:
    table = staged(FIXTURE)
    want: dict[str, Decimal] = defaultdict(Decimal)
    gross: dict[str, Decimal] = defaultdict(Decimal)
    with FIXTURE.open(newline="") as f:
        for row in csv.DictReader(f):
            credits = json.loads(row["credits"]) if row["credits"] else []
            want[row["currency"]] += Decimal(row["cost"]) + sum(
                (Decimal(str(c["amount"])) for c in credits), Decimal(0)
            )
            gross[row["currency"]] += Decimal(row["cost"])
    billed: dict[str, Decimal] = defaultdict(Decimal)
    contracted: dict[str, Decimal] = defaultdict(Decimal)
    for r in table.to_pylist():
        billed[r["BillingCurrency"]] += r["BilledCost"]
        contracted[r["BillingCurrency"]] += r["ContractedCost"]
    assert dict(billed) == dict(want) == {"USD": Decimal("5.635816"), "EUR": Decimal("3.375")}
    assert dict(contracted) == dict(gross)


PT_JAN = (_utc(2024, 1, 1, 8), _utc(2024, 2, 1, 8))  # Google's invoice month is Pacific time

#: Per fixture row: the FOCUS values it must produce (columns not listed are not checked).
EXPECTED: list[dict[str, Any]] = [
    {
        "BilledCost": Decimal("1.034567"),
        "EffectiveCost": Decimal("1.034567"),
        "ContractedCost": Decimal("1.234567"),
        "ListCost": Decimal("1.5"),
        "ChargeCategory": "Usage",
        "PricingCategory": "Standard",
        "ChargeFrequency": "Usage-Based",
        "ServiceName": "Compute Engine",
        "ServiceCategory": "Compute",
        "SkuId": "2E27-4F75-95CD",
        "ChargePeriodStart": _utc(2024, 1, 15, 10),
        "ChargePeriodEnd": _utc(2024, 1, 15, 11),
        "Billing": PT_JAN,
        "Tags": {"team": "ml"},
        "SubAccountId": "ml-training-prod",
        "SubAccountName": "ML Training",
        "SubAccountType": "Project",
        "RegionId": "us-central1",
        "AvailabilityZone": "us-central1-a",
        "PricingQuantity": Decimal(1),
        "PricingUnit": "hour",
        "ConsumedQuantity": Decimal(3600),
        "ConsumedUnit": "seconds",
        "BillingAccountId": "01ABCD-234567-89EF01",
        "ProviderName": "Google Cloud",
        "PublisherName": "Google Cloud",
        "InvoiceIssuerName": "Google",
    },
    {
        "ServiceName": "Vertex AI",
        "ServiceCategory": "AI and Machine Learning",
        "BilledCost": Decimal("3.5"),
        "Tags": {"team": "research", "env": "prod"},
        "PricingUnit": "count1000",
        "PricingQuantity": Decimal("2.8"),
    },
    {
        "ServiceCategory": "Storage",
        "BilledCost": Decimal("0.02"),
        "Tags": None,
        "RegionId": None,
        "ChargePeriodStart": _utc(2024, 1, 15),
        "ChargePeriodEnd": _utc(2024, 1, 16),
    },
    {
        "ChargeCategory": "Purchase",
        "ChargeFrequency": "Recurring",
        "PricingCategory": None,
        "BilledCost": Decimal("0.6"),
        "ConsumedQuantity": None,
    },
    {
        "ChargeCategory": "Usage",
        "PricingCategory": "Committed",
        "BilledCost": Decimal(0),
        "EffectiveCost": Decimal(0),
        "ContractedCost": Decimal("0.9"),
        "ListCost": Decimal("1.2"),
    },
    {
        "PricingCategory": "Dynamic",
        "ChargePeriodStart": _utc(2024, 1, 1, 7),
        "Billing": (_utc(2023, 12, 1, 8), _utc(2024, 1, 1, 8)),
        "x_period": "2023-12",
        "Tags": {"team": "ml", "job": "sweep-7"},
    },
    {
        "ChargeCategory": "Tax",
        "PricingCategory": None,
        "ServiceName": "Invoice",
        "ServiceCategory": "Other",
        "SubAccountId": None,
        "SubAccountType": None,
        "PricingQuantity": None,
        "ConsumedQuantity": None,
        "BilledCost": Decimal("0.45"),
    },
    {
        "BillingCurrency": "EUR",
        "BillingAccountId": "01EEEE-000000-111111",
        "BilledCost": Decimal("3.375"),
        "ContractedCost": Decimal("4.75"),
        "ServiceCategory": "Analytics",
        "PublisherName": "Example Reseller GmbH",
        "Tags": {"cost-center": "cc-42"},
        "RegionId": None,
        "Billing": PT_JAN,
    },
    {"ChargeCategory": "Adjustment", "ChargeClass": None, "BilledCost": Decimal("-0.000001")},
]


@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_fixture_row_values(index: int) -> None:
    row = staged(FIXTURE).to_pylist()[index]
    for column, want in EXPECTED[index].items():
        if column == "Billing":
            got: Any = (row["BillingPeriodStart"], row["BillingPeriodEnd"])
        else:
            got = row[column]
        if column == "Tags" and got is not None:
            got = json.loads(got)
        assert got == want, f"row {index + 1} {column}: {got!r} != {want!r}"


def test_bad_credits_and_labels_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "billing_account_id,service.description,sku.id,sku.description,usage_start_time,"
        "usage_end_time,cost,currency,credits,labels,invoice.month\n"
        "A,Compute Engine,S,Core,2024-01-15 10:00:00 UTC,2024-01-15 11:00:00 UTC,1.0,USD,"
        "oops,not-json,202401\n"
        "A,Compute Engine,S,Core,2024-01-15T10:00:00Z,2024-01-15T11:00:00Z,1.0,USD,"
        '"[{""amount"": -0.5}]","{""k"": ""v""}",202401\n'
    )
    table = staged(path)
    assert problems(table) == [
        "BilledCost | 1.0 + credits oops | is not a decimal number",
        "EffectiveCost | 1.0 + credits oops | is not a decimal number",
        "Tags | not-json | is not a JSON object",
    ]
    good = table.to_pylist()[1]
    assert good["BilledCost"] == Decimal("0.5")
    assert json.loads(good["Tags"]) == {"k": "v"}
    assert good["ChargeCategory"] == "Usage"
