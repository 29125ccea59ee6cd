"""Azure EA and MCA cost-details exports -> FOCUS 1.2 (converters ``azure-ea``, ``azure-mca``)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from costcouncil.ingest.detect import detect, sniff
from costcouncil.ingest.sources import REGISTRY
from costcouncil.schema.focus import SERVICE_CATEGORIES
from tests.ingest.helpers import SHARED, problems, staged
from tests.ingest.helpers import need as _need
from tests.ingest.helpers import warnings as _warnings

EA_SAMPLE = SHARED / "billing" / "azure_ea_sample_anonymous.csv"
CASES = Path(__file__).resolve().parents[2] / "cases" / "sources"
MCA_FIXTURE = CASES / "azure" / "mca_cost_details.csv"
SCALE = Decimal("1e-12")


def _source_sums(path: Path, cost: str, currency: str) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            sums[row[currency]] += Decimal(row[cost]).quantize(SCALE, ROUND_HALF_UP)
    return dict(sums)


def _lake_sums(table: pa.Table) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for cur, cost in zip(
        table.column("BillingCurrency").to_pylist(),
        table.column("BilledCost").to_pylist(),
        strict=True,
    ):
        sums[cur] += cost
    return dict(sums)


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _common_checks(table: pa.Table) -> None:
    rows = table.to_pylist()
    for r in rows:
        assert r["ServiceCategory"] in SERVICE_CATEGORIES
        assert r["ChargePeriodEnd"] > r["ChargePeriodStart"]
        assert r["ChargePeriodEnd"] - r["ChargePeriodStart"] == timedelta(days=1)
        assert r["BillingPeriodEnd"] > r["BillingPeriodStart"]
        if r["Tags"] is not None:
            assert isinstance(json.loads(r["Tags"]), dict)
        assert r["ProviderName"] == "Microsoft"


@pytest.mark.shared_data
def test_ea_sample_detected_and_clean() -> None:
    _need(EA_SAMPLE)
    assert detect(sniff(EA_SAMPLE), REGISTRY).name == "azure-ea"
    table = staged(EA_SAMPLE)
    assert table.num_rows == 27
    assert problems(table) == []
    assert _warnings(table) == []
    _common_checks(table)


@pytest.mark.shared_data
def test_ea_sample_conserves_billed_cost_per_currency() -> None:
    _need(EA_SAMPLE)
    table = staged(EA_SAMPLE)
    expected = _source_sums(EA_SAMPLE, "CostInBillingCurrency", "BillingCurrencyCode")
    assert _lake_sums(table) == expected
    assert sum(table.column("EffectiveCost").to_pylist()) == expected["CAD"]


@pytest.mark.shared_data
def test_ea_sample_values() -> None:
    _need(EA_SAMPLE)
    rows = staged(EA_SAMPLE).to_pylist()
    first = rows[0]
    assert first["ChargePeriodStart"] == _utc(2023, 9, 2)
    assert first["BillingPeriodStart"] == _utc(2023, 9, 1)
    assert first["BillingPeriodEnd"] == _utc(2023, 10, 1)  # 9/30/2023 inclusive -> exclusive
    assert first["BillingAccountId"] == "12345678"
    assert first["BillingCurrency"] == "CAD"
    assert first["SubAccountId"] == "e18e1552-c6dd-45d1-973c-999999999999"
    assert first["ServiceName"] == "Virtual Network"
    assert first["ServiceCategory"] == "Networking"
    assert first["ChargeCategory"] == "Usage"
    assert first["ChargeFrequency"] == "Usage-Based"
    assert first["PricingCategory"] == "Standard"
    assert first["RegionId"] == "centralus"
    assert json.loads(first["Tags"]) == {"tagA": "valueA", "tagB": "valueB", "tagC": "valueC"}
    assert first["ListUnitPrice"] == Decimal("0.4")
    assert first["ListCost"] == Decimal("0.4") * Decimal("0.027265128")
    assert first["InvoiceIssuerName"] == "Microsoft"
    spot = [r for r in rows if r["SkuMeter"] and "Spot" in r["SkuMeter"]]
    assert spot and {r["PricingCategory"] for r in spot} == {"Dynamic"}
    assert {r["ServiceCategory"] for r in rows} <= {
        "Networking",
        "Compute",
        "Storage",
        "Analytics",
        "Integration",
    }


def test_mca_fixture_detected_and_clean() -> None:
    assert detect(sniff(MCA_FIXTURE), REGISTRY).name == "azure-mca"
    table = staged(MCA_FIXTURE)
    assert table.num_rows == 8
    assert problems(table) == []
    assert _warnings(table) == []
    _common_checks(table)
    assert _lake_sums(table) == _source_sums(
        MCA_FIXTURE, "costInBillingCurrency", "billingCurrency"
    )


RI = "/providers/Microsoft.Capacity/reservationOrders/ro-1/reservations/res-1"

#: Per fixture row: the FOCUS values it must produce (columns not listed are not checked).
MCA_EXPECTED: list[dict[str, Any]] = [
    {
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "PricingCategory": "Standard",
        "ServiceName": "Cognitive Services",
        "ServiceCategory": "AI and Machine Learning",
        "BilledCost": Decimal("0.125"),
        "EffectiveCost": Decimal("0.125"),
        "ListCost": Decimal("0.125"),
        "ContractedCost": Decimal("0.125"),
        "PricingQuantity": Decimal(25),
        "PricingUnit": "1K",
        "ConsumedQuantity": Decimal(25000),
        "ConsumedUnit": "Units",
        "Tags": {"team": "ml", "app": "chat"},
        "ResourceName": "aoai-prod",
        "ResourceType": "Microsoft.CognitiveServices/accounts",
        "RegionId": "eastus",
        "BillingAccountId": "ABCD-EFGH-IJK-LMN",
        "BillingAccountName": "Contoso US",
        "BillingAccountType": "Billing Profile",
        "InvoiceId": "G012345678",
        "InvoiceIssuerName": "Microsoft",
        "PublisherName": "Microsoft",
        "SubAccountType": "Subscription",
        "SkuId": "DZH318Z0BQ4M",
        "ChargePeriodStart": _utc(2024, 1, 15),
        "ChargePeriodEnd": _utc(2024, 1, 16),
        "BillingPeriodStart": _utc(2024, 1, 1),
        "BillingPeriodEnd": _utc(2024, 2, 1),
        "CommitmentDiscountId": None,
    },
    {
        "ChargeCategory": "Purchase",
        "ChargeClass": None,
        "ChargeFrequency": "One-Time",
        "PricingCategory": "Committed",
        "ServiceName": "Compute",
        "ServiceCategory": "Compute",
        "BilledCost": Decimal(1000),
        "ListCost": Decimal(1000),
        "ConsumedQuantity": None,
        "CommitmentDiscountId": RI,
        "CommitmentDiscountName": "nd96-east-1y",
        "CommitmentDiscountType": "Reservation",
        "CommitmentDiscountCategory": "Usage",
        "CommitmentDiscountStatus": None,
    },
    {
        "ChargeCategory": "Usage",
        "PricingCategory": "Committed",
        "BilledCost": Decimal(0),
        "ListCost": Decimal("653.76"),
        "ListUnitPrice": Decimal("27.24"),
        "ServiceCategory": "Compute",
        "ResourceName": "gpu-vm-01",
        "ResourceType": "Microsoft.Compute/virtualMachines",
        "RegionId": "eastus",
        "ConsumedQuantity": Decimal(24),
        "ConsumedUnit": "Hour",
        "Tags": {"team": "ml", "env": "prod"},
        "CommitmentDiscountId": RI,
        "CommitmentDiscountStatus": "Used",
        "CommitmentDiscountCategory": "Usage",
    },
    {
        "ChargeCategory": "Usage",
        "CommitmentDiscountStatus": "Unused",
        "BilledCost": Decimal(0),
        "PricingCategory": "Committed",
        "ConsumedQuantity": None,
        "CommitmentDiscountId": RI,
    },
    {
        "ChargeCategory": "Usage",
        "PricingCategory": "Dynamic",
        "ServiceName": "Machine Learning",
        "ServiceCategory": "AI and Machine Learning",
        "BilledCost": Decimal("2.938"),
        "ListCost": Decimal("7.346"),
        "ContractedCost": Decimal("2.938"),
        "ContractedUnitPrice": Decimal("1.469"),
        "Tags": {"project": "llm-eval"},
        "ResourceType": "Microsoft.MachineLearningServices/workspaces",
        "RegionId": "westus3",
    },
    {
        "ChargeCategory": "Purchase",
        "ChargeClass": "Correction",
        "BilledCost": Decimal(-200),
        "ContractedCost": Decimal(-200),
        "CommitmentDiscountType": "Reservation",
    },
    {
        "ChargeCategory": "Adjustment",
        "PricingCategory": None,
        "BilledCost": Decimal("-0.01"),
        "ServiceName": "Rounding Adjustment",
        "ServiceCategory": "Other",
        "SubAccountId": None,
        "SubAccountType": None,
        "ChargeFrequency": "One-Time",
        "Tags": None,
    },
    {
        "BillingCurrency": "EUR",
        "BillingAccountId": "WXYZ-1234-AB5-CD6",
        "InvoiceIssuerName": "Fabrikam Cloud GmbH",
        "ServiceCategory": "Storage",
        "ChargePeriodStart": _utc(2024, 1, 20),
        "ChargePeriodEnd": _utc(2024, 1, 21),
        "BillingPeriodEnd": _utc(2024, 2, 1),
        "BilledCost": Decimal("1.84"),
        "PricingUnit": "1 GB/Month",
        "ConsumedUnit": "GB/Month",
        "ConsumedQuantity": Decimal(100),
    },
]


@pytest.mark.parametrize("index", range(len(MCA_EXPECTED)))
def test_mca_fixture_row_values(index: int) -> None:
    row = staged(MCA_FIXTURE).to_pylist()[index]
    for column, want in MCA_EXPECTED[index].items():
        got = row[column]
        if column == "Tags" and got is not None:
            got = json.loads(got)
        assert got == want, f"row {index + 1} {column}: {got!r} != {want!r}"


def test_ea_bad_rows_are_reported(tmp_path: Path) -> None:
    """A date that is no date and a cost that is no number are reported with their values."""
    header = (
        "Date,BillingPeriodStartDate,BillingPeriodEndDate,CostInBillingCurrency,"
        "BillingCurrencyCode,SubscriptionId,MeterCategory,ChargeType,PricingModel,"
        "Quantity,UnitOfMeasure,BillingAccountId,ProductName,Frequency,PayGPrice,UnitPrice,"
        "PublisherName,ServiceFamily,Tags"
    )
    rest = "USD,s1,Storage,Usage,OnDemand,1,1 GB,123,p,UsageBased,,,,,"
    good = "9/2/2023,9/1/2023,9/30/2023,1.5," + rest
    bad = "9/31/2023,9/1/2023,9/30/2023,abc," + rest
    path = tmp_path / "ea.csv"
    path.write_text("\n".join((header, good, bad)) + "\n")
    table = staged(path)
    assert table.column("BilledCost").to_pylist()[0] == Decimal("1.5")
    found = problems(table)
    assert "BilledCost | abc | is not a decimal number" in found
    assert any(p.startswith("ChargePeriodStart | 9/31/2023 |") for p in found)
    assert all("9/2/2023" not in p for p in found)


@pytest.mark.shared_data
def test_ea_sample_region_names_and_subscription_type() -> None:
    _need(EA_SAMPLE)
    names = {(r["RegionId"], r["RegionName"]) for r in staged(EA_SAMPLE).to_pylist()}
    assert names == {
        ("centralus", "Central US"),
        ("westus", "West US"),
        ("eastus2", "East US 2"),
        ("westus2", "West US 2"),
    }
    for r in staged(EA_SAMPLE).to_pylist():
        assert r["SubAccountType"] == "Subscription"
        assert r["ResourceType"] is not None
