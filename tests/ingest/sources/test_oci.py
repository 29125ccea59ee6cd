"""Oracle Cloud (OCI) cost reports -> FOCUS 1.2 (converter ``oci-cost-report``)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from costcouncil.ingest.detect import detect, sniff
from costcouncil.ingest.sources import REGISTRY
from costcouncil.schema.focus import SERVICE_CATEGORIES
from tests.ingest.helpers import SHARED, problems, staged
from tests.ingest.helpers import need as _need
from tests.ingest.helpers import warnings as _warnings

SAMPLE = SHARED / "billing" / "oci_cost_report_sample.csv"
SCALE = Decimal("1e-12")
HEADER = (
    "lineItem/referenceNo,lineItem/tenantId,lineItem/intervalUsageStart,"
    "lineItem/intervalUsageEnd,product/service,product/resourceId,usage/billedQuantity,"
    "cost/myCost,cost/currencyCode,cost/productSku,lineItem/isCorrection"
)


def _source(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.mark.shared_data
def test_sample_detected_and_clean() -> None:
    _need(SAMPLE)
    assert detect(sniff(SAMPLE), REGISTRY).name == "oci-cost-report"
    table = staged(SAMPLE)
    assert table.num_rows == 506
    assert problems(table) == []
    assert _warnings(table) == []
    for r in table.to_pylist():
        assert r["ServiceCategory"] in SERVICE_CATEGORIES
        assert r["ChargePeriodEnd"] > r["ChargePeriodStart"]
        assert r["BillingPeriodStart"] == datetime(2023, 11, 1, tzinfo=UTC)
        assert r["BillingPeriodEnd"] == datetime(2023, 12, 1, tzinfo=UTC)
        assert r["ProviderName"] == "Oracle"
        assert r["BillingAccountId"].startswith("ocid1.tenancy.")
        if r["Tags"] is not None:
            assert isinstance(json.loads(r["Tags"]), dict)
    assert set(table.column("x_provider").to_pylist()) == {"oci"}


@pytest.mark.shared_data
def test_sample_conserves_billed_cost_per_currency() -> None:
    _need(SAMPLE)
    table = staged(SAMPLE)
    rows = _source(SAMPLE)
    exact: dict[str, Decimal] = defaultdict(Decimal)
    at_scale: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        exact[row["cost/currencyCode"]] += Decimal(row["cost/myCost"])
        at_scale[row["cost/currencyCode"]] += Decimal(row["cost/myCost"]).quantize(
            SCALE, ROUND_HALF_UP
        )
    lake: dict[str, Decimal] = defaultdict(Decimal)
    for cur, cost in zip(
        table.column("BillingCurrency").to_pylist(),
        table.column("BilledCost").to_pylist(),
        strict=True,
    ):
        lake[cur] += cost
    # The lake keeps 12 decimals: the sum is exactly the sum of the source values at that scale,
    # and within half a unit of the 12th decimal per row of the unrounded source sum.
    assert dict(lake) == dict(at_scale)
    for cur in exact:
        assert abs(lake[cur] - exact[cur]) <= len(rows) * Decimal("5e-13")


@pytest.mark.shared_data
def test_sample_tags_from_tag_columns() -> None:
    _need(SAMPLE)
    rows = staged(SAMPLE).to_pylist()
    source = _source(SAMPLE)
    for got, src in zip(rows, source, strict=True):
        want = {
            k.removeprefix("tags/"): v for k, v in src.items() if k.startswith("tags/") and v != ""
        }
        assert (json.loads(got["Tags"]) if got["Tags"] else {}) == want
    first = rows[0]
    assert json.loads(first["Tags"])["Oracle-Tags.CreatedBy"] == "default/phil.newman@oracle.com"
    backslash = [r for r in rows if r["Tags"] and "release" in r["Tags"]]
    assert backslash and json.loads(backslash[0]["Tags"]) == {
        "DevRel\\redbull-analytics-hol-4cb4.release": "1.0"
    } | {k: v for k, v in json.loads(backslash[0]["Tags"]).items() if "release" not in k}


@pytest.mark.shared_data
def test_sample_first_row_values() -> None:
    _need(SAMPLE)
    r = staged(SAMPLE).to_pylist()[0]
    assert r["ChargePeriodStart"] == datetime(2023, 11, 13, 10, tzinfo=UTC)
    assert r["ChargePeriodEnd"] == datetime(2023, 11, 13, 11, tzinfo=UTC)
    assert r["BilledCost"] == Decimal("0.012264277500")
    assert r["ServiceName"] == "DATABASE"
    assert r["ServiceCategory"] == "Databases"
    assert r["ResourceType"] == "autonomousdatabase"
    assert r["SubAccountName"] == "platformpm2022"
    assert r["SubAccountType"] == "Compartment"
    assert r["RegionId"] == "us-sanjose-1"
    assert r["AvailabilityZone"] == "sj-1"
    assert r["PricingQuantity"] == Decimal("0.083333333333")
    assert r["PricingUnit"] == "Hours"
    assert r["ContractedUnitPrice"] == Decimal("0.14717133")
    assert r["SkuId"] == "B92911"


def test_file_without_tag_columns_and_a_correction(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text(
        HEADER + "\n"
        "r1,ocid1.tenancy.oc1..t,2024-02-29T23:00Z,2024-03-01T00:00Z,GENERATIVE_AI,"
        "ocid1.generativeaiendpoint.oc1.x,1,0.5,EUR,B1,false\n"
        "r2,ocid1.tenancy.oc1..t,2024-03-01T00:00:00Z,2024-03-01T01:00:00Z,COMPUTE,"
        "ocid1.instance.oc1.x,1,-0.25,EUR,B2,true\n"
    )
    table = staged(path)
    assert problems(table) == []
    rows = table.to_pylist()
    assert [r["Tags"] for r in rows] == [None, None]
    assert rows[0]["ServiceCategory"] == "AI and Machine Learning"
    assert rows[0]["BillingPeriodStart"] == datetime(2024, 2, 1, tzinfo=UTC)
    assert rows[0]["BillingPeriodEnd"] == datetime(2024, 3, 1, tzinfo=UTC)
    assert rows[1]["BillingPeriodStart"] == datetime(2024, 3, 1, tzinfo=UTC)
    assert [r["ChargeClass"] for r in rows] == [None, "Correction"]
    assert sum(table.column("BilledCost").to_pylist()) == Decimal("0.25")


def test_bad_interval_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text(
        HEADER + "\n"
        "r1,ocid1.tenancy.oc1..t,yesterday,2024-03-01T00:00Z,COMPUTE,x,1,0.5,USD,B1,"
        "false\n"
    )
    found = problems(staged(path))
    assert "ChargePeriodStart | yesterday | is not an ISO 8601 timestamp" in found
    assert "BillingPeriodStart |  | is required but empty" in found


@pytest.mark.shared_data
def test_sample_derived_columns() -> None:
    """Columns the report lets us derive: none is left null on the sample's Usage rows."""
    _need(SAMPLE)
    for r in staged(SAMPLE).to_pylist():
        assert r["RegionName"] == "US West (San Jose)"
        assert r["PricingCategory"] == "Standard"
        assert r["ConsumedQuantity"] == r["PricingQuantity"]
        assert r["ConsumedUnit"] == r["PricingUnit"]
        assert r["ListUnitPrice"] == r["ContractedUnitPrice"]
        assert r["SkuPriceId"] == r["SkuId"]
        assert r["SubAccountType"] == "Compartment"
        assert r["BillingAccountName"] == r["BillingAccountId"]  # the sample has no tenant name
        if r["ResourceId"].startswith("ocid1."):
            assert r["ResourceType"] == r["ResourceId"].split(".")[1]
        else:  # pseudo ids such as oci_compute: the service is the only type the row gives
            assert r["ResourceType"] == r["ServiceName"].lower()
