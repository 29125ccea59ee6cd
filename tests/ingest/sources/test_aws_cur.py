"""AWS CUR (legacy) and CUR 2.0 converters: the real anonymised sample and hand-written cases."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from costcouncil.ingest.detect import detect, sniff
from costcouncil.ingest.sources import REGISTRY
from costcouncil.ingest.sources.aws_cur import (
    _CATEGORY_CODES,
    AWS_CUR,
    AWS_CUR2,
    SERVICE_CATEGORY,
)
from costcouncil.schema.focus import SERVICE_CATEGORIES
from tests.ingest.helpers import SHARED, problems, staged

SAMPLE = SHARED / "billing" / "aws_cur_sample_anonymous.csv"
CASES = Path(__file__).resolve().parents[2] / "cases" / "sources" / "aws_cur"
CUR2_CASES = CASES / "cur2_cases.csv"
LEGACY_CASES = CASES / "cur_legacy_cases.csv"


def _issues(table: pa.Table) -> list[str]:
    """Problems (rejecting) and, where ingest has them, warnings (kept rows): all must be empty."""
    found = problems(table)
    if "x_warnings" in table.column_names:
        for value in table.column("x_warnings").to_pylist():
            if value:
                found += [" | ".join(p.split("\x1f")) for p in value.split("\x1e")]
    return found


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


def _source_totals(path: Path, cost: str, currency: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            totals[row[currency]] += Decimal(row[cost] or "0")
    return dict(totals)


def _billed_totals(table: pa.Table) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in _rows(table):
        totals[row["BillingCurrency"]] += row["BilledCost"]
    return dict(totals)


# ------------------------------------------------------------------------------------------------
# The real sample (FinOps Foundation focus_converters test data, anonymised legacy CUR)
# ------------------------------------------------------------------------------------------------

needs_sample = pytest.mark.skipif(
    not SAMPLE.exists(), reason=f"shared sample data absent: {SAMPLE} (see shared/data/README.md)"
)


@pytest.fixture(scope="module")
def sample() -> pa.Table:
    if not SAMPLE.exists():
        pytest.skip(f"shared sample data absent: {SAMPLE}")
    return staged(SAMPLE)


@pytest.mark.shared_data
@needs_sample
def test_sample_is_detected_as_legacy_cur() -> None:
    assert detect(sniff(SAMPLE), REGISTRY).name == "aws-cur"


@pytest.mark.shared_data
@needs_sample
def test_sample_has_no_problems(sample: pa.Table) -> None:
    assert sample.num_rows == 1281
    assert _issues(sample) == []
    assert set(sample.column("x_provider").to_pylist()) == {"aws"}
    assert set(sample.column("x_period").to_pylist()) == {"2023-11"}


@pytest.mark.shared_data
@needs_sample
def test_sample_billed_cost_is_conserved_exactly(sample: pa.Table) -> None:
    source = _source_totals(SAMPLE, "lineItem/UnblendedCost", "lineItem/CurrencyCode")
    assert source == {"USD": Decimal("1.6823086974")}
    assert _billed_totals(sample) == source


@pytest.mark.shared_data
@needs_sample
def test_sample_service_categories(sample: pa.Table) -> None:
    rows = _rows(sample)
    assert {r["ServiceCategory"] for r in rows} <= set(SERVICE_CATEGORIES)
    by_service = {r["ServiceName"]: r["ServiceCategory"] for r in rows}
    assert by_service["Amazon Simple Storage Service"] == "Storage"
    assert by_service["AWS Glue"] == "Analytics"
    assert by_service["Amazon Simple Queue Service"] == "Integration"
    assert by_service["AWS Key Management Service"] == "Security"
    assert by_service["AmazonCloudWatch"] == "Management and Governance"
    assert "Other" not in by_service.values()


@pytest.mark.shared_data
@needs_sample
def test_sample_effective_cost_rules(sample: pa.Table) -> None:
    """The sample has only Usage and Tax lines (no RI/SP): amortised cost is the unblended cost."""
    rows = _rows(sample)
    assert {r["ChargeCategory"] for r in rows} == {"Usage", "Tax"}
    assert all(r["EffectiveCost"] == r["BilledCost"] for r in rows)
    assert all(r["CommitmentDiscountId"] is None for r in rows)
    assert {r["PricingCategory"] for r in rows if r["ChargeCategory"] == "Usage"} == {"Standard"}
    assert {r["PricingCategory"] for r in rows if r["ChargeCategory"] == "Tax"} == {None}


@pytest.mark.shared_data
@needs_sample
def test_sample_tags_and_identity(sample: pa.Table) -> None:
    rows = _rows(sample)
    # The sample carries no resourceTags/* columns, so Tags is NULL; any value must be an object.
    for r in rows:
        assert r["Tags"] is None or isinstance(json.loads(r["Tags"]), dict)
    assert {r["BillingAccountId"] for r in rows} == {"123412340534"}
    assert {r["InvoiceIssuerName"] for r in rows} == {"Amazon Web Services Canada, Inc."}
    assert {r["ProviderName"] for r in rows} == {"AWS"}
    assert all(r["ChargePeriodStart"] < r["ChargePeriodEnd"] for r in rows)


# ------------------------------------------------------------------------------------------------
# Hand-written CUR 2.0 cases: one row per line item type
# ------------------------------------------------------------------------------------------------

SP = "arn:aws:savingsplans::111111111111:savingsplan/sp-0001"
RI = "arn:aws:rds:us-east-1:111111111111:ri:ri-0001"
D = Decimal

CUR2_EXPECTED: dict[str, dict[str, Any]] = {
    "usage-ec2": dict(
        BilledCost=D("0.96"),
        EffectiveCost=D("0.96"),
        ListCost=D("0.96"),
        ContractedCost=D("0.96"),
        ChargeCategory="Usage",
        ChargeClass=None,
        ChargeFrequency="Usage-Based",
        PricingCategory="Standard",
        PricingQuantity=D("10"),
        PricingUnit="Hrs",
        ConsumedQuantity=D("10"),
        ConsumedUnit="Hrs",
        ListUnitPrice=D("0.096"),
        ContractedUnitPrice=D("0.096"),
        ServiceName="Amazon Elastic Compute Cloud",
        ServiceCategory="Compute",
        RegionId="us-east-1",
        RegionName="US East (N. Virginia)",
        AvailabilityZone="us-east-1a",
        ResourceId="i-0aaa",
        CommitmentDiscountId=None,
        SkuId="SKUM5L",
        SkuPriceId="SKUM5L.JRTCKXETXF.6YS6EN2CT7",
        Tags={"team": "ml", "env": "prod"},
    ),
    "sp-covered": dict(
        BilledCost=D("2.304"),
        EffectiveCost=D("1.5"),
        ListCost=D("2.304"),
        ContractedCost=D("2.304"),
        ChargeCategory="Usage",
        PricingCategory="Committed",
        CommitmentDiscountId=SP,
        CommitmentDiscountType="Savings Plan",
        CommitmentDiscountCategory="Spend",
        CommitmentDiscountStatus="Used",
        ConsumedQuantity=D("24"),
        Tags={"team": "web"},
    ),
    "sp-negation": dict(
        BilledCost=D("-2.304"),
        EffectiveCost=D("0"),
        ListCost=D("0"),
        ContractedCost=D("0"),
        ChargeCategory="Usage",
        ChargeFrequency="Usage-Based",
        PricingCategory="Committed",
        CommitmentDiscountId=SP,
        CommitmentDiscountStatus="Used",
        ConsumedQuantity=None,
        Tags=None,
    ),
    "sp-recurring-fee": dict(
        # unused commitment only: TotalCommitmentToDate 1.8 - UsedCommitment 1.5
        BilledCost=D("1.8"),
        EffectiveCost=D("0.3"),
        ChargeCategory="Purchase",
        ChargeFrequency="Recurring",
        CommitmentDiscountId=SP,
        CommitmentDiscountType="Savings Plan",
        CommitmentDiscountStatus=None,
        ServiceName="Savings Plans for AWS Compute usage",
        ServiceCategory="Compute",
    ),
    "ri-covered": dict(
        BilledCost=D("0"),
        EffectiveCost=D("0.9"),
        ListCost=D("1.632"),
        ContractedCost=D("1.632"),
        ChargeCategory="Usage",
        PricingCategory="Committed",
        CommitmentDiscountId=RI,
        CommitmentDiscountType="Reserved Instance",
        CommitmentDiscountCategory="Usage",
        CommitmentDiscountStatus="Used",
        ServiceCategory="Databases",
        Tags={"team": "data"},
    ),
    "ri-fee": dict(
        # unused amortised upfront 1.25 + unused recurring fee 2.4
        BilledCost=D("27.9"),
        EffectiveCost=D("3.65"),
        ChargeCategory="Purchase",
        ChargeFrequency="Recurring",
        CommitmentDiscountId=RI,
        CommitmentDiscountType="Reserved Instance",
        CommitmentDiscountStatus=None,
    ),
    "ri-upfront-fee": dict(
        BilledCost=D("500"),
        EffectiveCost=D("0"),
        ChargeCategory="Purchase",
        ChargeFrequency="One-Time",
        CommitmentDiscountId=RI,
    ),
    "sp-upfront-fee": dict(
        BilledCost=D("100"),
        EffectiveCost=D("0"),
        ChargeCategory="Purchase",
        ChargeFrequency="One-Time",
        CommitmentDiscountType="Savings Plan",
    ),
    "tax": dict(
        BilledCost=D("3.5"),
        EffectiveCost=D("3.5"),
        ChargeCategory="Tax",
        ChargeClass=None,
        PricingCategory=None,
        PricingQuantity=None,
        PricingUnit=None,
        ConsumedQuantity=None,
    ),
    "credit": dict(
        BilledCost=D("-10"),
        EffectiveCost=D("-10"),
        ChargeCategory="Credit",
        ChargeClass=None,
        ChargeFrequency="One-Time",
        ServiceName="Amazon Bedrock",
        ServiceCategory="AI and Machine Learning",
        PricingCategory=None,
    ),
    "refund": dict(
        BilledCost=D("-0.96"),
        EffectiveCost=D("-0.96"),
        ChargeCategory="Adjustment",
        ChargeClass="Correction",
        ChargeFrequency="One-Time",
    ),
    "bedrock": dict(
        BilledCost=D("0.0045"),
        EffectiveCost=D("0.0045"),
        ServiceName="Amazon Bedrock",
        ServiceCategory="AI and Machine Learning",
        PricingUnit="1K tokens",
        ConsumedQuantity=D("1.5"),
        PricingCategory="Standard",
        # user_ dropped; the AWS tag keeps its prefix; the empty user_project is left out
        Tags={"team": "ml", "aws_createdBy": "IAMUser:alice"},
    ),
    "spot": dict(
        BilledCost=D("0.8"),
        ListCost=D("2.012"),
        PricingCategory="Dynamic",
        ContractedUnitPrice=D("0.4"),
        ListUnitPrice=D("1.006"),
    ),
    "edp-discount": dict(
        BilledCost=D("-0.05"),
        EffectiveCost=D("-0.05"),
        ListCost=D("0"),
        ContractedCost=D("-0.05"),
        ChargeCategory="Usage",
        ConsumedQuantity=None,
    ),
    "unknown-service": dict(
        ServiceName="AWS Future Service",
        ServiceCategory="Other",
        RegionId=None,
        RegionName=None,
        # a naive CUR timestamp is UTC, as AWS documents
        ChargePeriodStart="2025-03-01T10:00:00+00:00",
    ),
}


@pytest.fixture(scope="module")
def cur2() -> dict[str, dict[str, Any]]:
    table = staged(CUR2_CASES)
    assert _issues(table) == []
    ids = [row["identity_line_item_id"] for row in csv.DictReader(CUR2_CASES.open())]
    return dict(zip(ids, _rows(table), strict=True))


def test_cur2_is_detected() -> None:
    assert detect(sniff(CUR2_CASES), REGISTRY).name == "aws-cur2"
    assert detect(sniff(LEGACY_CASES), REGISTRY).name == "aws-cur"


def test_signatures_are_distinct() -> None:
    assert not AWS_CUR.matches(AWS_CUR2.signature)
    assert not AWS_CUR2.matches(AWS_CUR.signature)


def _check(row: dict[str, Any], expected: dict[str, Any]) -> None:
    for column, want in expected.items():
        got = row[column]
        if column == "Tags" and got is not None:
            got = json.loads(got)
        if column.startswith("Charge") and column.endswith(("Start", "End")):
            got = got.isoformat()
        assert got == want, f"{row.get('ChargeDescription')!r}: {column} = {got!r}, want {want!r}"


@pytest.mark.parametrize("line_item", sorted(CUR2_EXPECTED))
def test_cur2_rows(cur2: dict[str, dict[str, Any]], line_item: str) -> None:
    _check(cur2[line_item], CUR2_EXPECTED[line_item])


def test_cur2_common_columns(cur2: dict[str, dict[str, Any]]) -> None:
    assert set(cur2) == set(CUR2_EXPECTED)
    for row in cur2.values():
        assert row["BillingAccountId"] == "111111111111"
        assert row["BillingAccountName"] == "Payer"
        assert row["SubAccountId"] == "222222222222"
        assert row["SubAccountName"] == "ml-team"
        assert row["ProviderName"] == "AWS"
        assert row["PublisherName"] == "AWS"
        assert row["InvoiceIssuerName"] == "Amazon Web Services, Inc."
        assert row["InvoiceId"] == "EUINUS25-000001"
        assert row["BillingCurrency"] == "USD"
        assert row["BillingPeriodStart"].isoformat() == "2025-03-01T00:00:00+00:00"


def test_cur2_billed_cost_is_conserved() -> None:
    table = staged(CUR2_CASES)
    source = _source_totals(CUR2_CASES, "line_item_unblended_cost", "line_item_currency_code")
    assert _billed_totals(table) == source == {"USD": D("623.9645")}


# ------------------------------------------------------------------------------------------------
# Hand-written legacy cases: split resourceTags/* columns, RI rows, no savingsPlan/* columns
# ------------------------------------------------------------------------------------------------

RI2 = "arn:aws:ec2:eu-west-1:333333333333:reserved-instances/ri-0002"
LEGACY_EXPECTED: dict[str, dict[str, Any]] = {
    "l-usage": dict(
        Tags={"team": "ml", "aws:createdBy": "AssumedRole:trainer"},
        EffectiveCost=D("3.305"),
        ResourceId="i-0ddd",
        RegionName="EU (Ireland)",
    ),
    "l-ri-covered": dict(
        BilledCost=D("0"),
        EffectiveCost=D("0.062"),
        ListCost=D("0.107"),
        CommitmentDiscountId=RI2,
        CommitmentDiscountStatus="Used",
        PricingCategory="Committed",
        Tags={"team": "web"},
    ),
    "l-ri-fee": dict(
        BilledCost=D("46.128"),
        EffectiveCost=D("6.2"),
        ChargeCategory="Purchase",
        CommitmentDiscountId=RI2,
        Tags=None,
    ),
    "l-untagged": dict(Tags=None, ConsumedUnit="GB-Mo"),
    "l-sagemaker": dict(
        ServiceCategory="AI and Machine Learning", Tags={"aws:createdBy": "IAMUser:bob"}
    ),
}


def test_legacy_rows() -> None:
    table = staged(LEGACY_CASES)
    assert _issues(table) == []
    ids = [row["identity/LineItemId"] for row in csv.DictReader(LEGACY_CASES.open())]
    rows = dict(zip(ids, _rows(table), strict=True))
    assert set(rows) == set(LEGACY_EXPECTED)
    for line_item, expected in LEGACY_EXPECTED.items():
        _check(rows[line_item], expected)
    source = _source_totals(LEGACY_CASES, "lineItem/UnblendedCost", "lineItem/CurrencyCode")
    assert _billed_totals(table) == source


def test_legacy_without_commitment_columns_still_resolves() -> None:
    header = tuple(sniff(LEGACY_CASES).header)
    chosen, missing = AWS_CUR.resolve(header)
    assert "savingsPlan" not in chosen["EffectiveCost"]
    assert "reservation/EffectiveCost" in chosen["EffectiveCost"]
    assert not {"BilledCost", "EffectiveCost", "ChargeCategory", "ServiceCategory"} & set(missing)


# ------------------------------------------------------------------------------------------------
# Bad input is reported, not guessed
# ------------------------------------------------------------------------------------------------


def _variant(tmp_path: Path, line_item: str, **changes: str) -> pa.Table:
    with CUR2_CASES.open(newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["identity_line_item_id"] == line_item]
    path = tmp_path / "variant.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows({**r, **changes} for r in rows)
    return staged(path)


def test_unknown_line_item_type_is_a_problem(tmp_path: Path) -> None:
    table = _variant(tmp_path, "usage-ec2", line_item_line_item_type="BrandNewType")
    assert any(
        p.startswith("ChargeCategory | BrandNewType | is not one of") for p in _issues(table)
    )


def test_tags_that_are_not_json_are_a_problem(tmp_path: Path) -> None:
    table = _variant(tmp_path, "usage-ec2", resource_tags="team=ml")
    assert _issues(table) == ["Tags | team=ml | is not a JSON object"]


# ------------------------------------------------------------------------------------------------
# The service category table
# ------------------------------------------------------------------------------------------------


def test_service_category_table() -> None:
    assert len(SERVICE_CATEGORY) >= 60
    listed = [code for codes in _CATEGORY_CODES.values() for code in codes]
    assert len(listed) == len(set(listed)), "a product code is listed under two categories"
    assert set(SERVICE_CATEGORY.values()) <= set(SERVICE_CATEGORIES)
    for code in (
        "AmazonBedrock",
        "AmazonSageMaker",
        "comprehend",
        "AmazonRekognition",
        "AmazonTextract",
        "transcribe",
        "AmazonKendra",
        "AmazonQ",
    ):
        assert SERVICE_CATEGORY[code] == "AI and Machine Learning", code
    assert SERVICE_CATEGORY["AmazonEC2"] == "Compute"
    assert SERVICE_CATEGORY["AmazonS3"] == "Storage"
    assert SERVICE_CATEGORY["AmazonRDS"] == "Databases"


def test_cur2_parquet_with_typed_columns(tmp_path: Path) -> None:
    """CUR 2.0 Parquet: numbers are DOUBLE, dates TIMESTAMP (UTC), product/resource_tags MAPs."""
    from costcouncil.engine.duckdb import connect

    path = tmp_path / "cur2.parquet"
    typed = (
        "CAST(line_item_unblended_cost AS DOUBLE) AS line_item_unblended_cost, "
        "CAST(line_item_usage_amount AS DOUBLE) AS line_item_usage_amount, "
        "CAST(line_item_usage_start_date AS TIMESTAMP) AS line_item_usage_start_date, "
        "CAST(CAST(resource_tags AS JSON) AS MAP(VARCHAR, VARCHAR)) AS resource_tags, "
        "CAST(CAST(product AS JSON) AS MAP(VARCHAR, VARCHAR)) AS product"
    )
    connect().execute(
        f"COPY (SELECT * REPLACE ({typed}) FROM read_csv('{CUR2_CASES}', all_varchar=true)) "
        f"TO '{path}' (FORMAT parquet)"
    )
    table = staged(path)
    assert _issues(table) == []
    rows = _rows(table)
    assert json.loads(rows[0]["Tags"]) == {"team": "ml", "env": "prod"}
    assert rows[1]["EffectiveCost"] == D("1.5")
    assert rows[11]["ServiceCategory"] == "AI and Machine Learning"
    assert rows[0]["ChargePeriodStart"].isoformat() == "2025-03-01T10:00:00+00:00"
    assert _billed_totals(table) == {"USD": D("623.9645")}


@pytest.mark.shared_data
@needs_sample
def test_sample_derived_names_and_regions(sample: pa.Table) -> None:
    """SubAccountName/Type, BillingAccountName and RegionName are filled from the row itself or
    the declared tables; they are null exactly when their id is."""
    from costcouncil.ingest.sources.aws_cur import REGION_NAMES

    for r in _rows(sample):
        assert r["SubAccountType"] == "AWS Account"
        assert r["SubAccountName"] == r["SubAccountId"]  # legacy CUR has no account names
        assert r["BillingAccountName"] == r["BillingAccountId"]
        assert (r["RegionName"] is None) == (r["RegionId"] is None)
        if r["RegionId"] in REGION_NAMES:
            assert r["RegionName"] == REGION_NAMES[r["RegionId"]]


@pytest.mark.parametrize(
    ("resource_id", "family", "expected"),
    [
        ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", "Compute Instance", "ec2/instance"),
        ("arn:aws:lambda:us-east-1:123456789012:function:f", None, "lambda/function"),
        ("arn:aws:s3:::bucket", "Storage", "s3"),
        ("i-0123456789abcdef0", "Compute Instance", "ec2/instance"),
        ("vol-0123456789abcdef0", None, "ec2/volume"),
        ("tgw-attach-0123456789abcdef0", None, "ec2/transit-gateway-attachment"),
        ("my-bucket", "Storage", "Storage"),
        ("my-bucket", None, "AmazonS3"),
        (None, "Storage", None),
    ],
)
def test_resource_type(
    resource_id: str | None, family: str | None, expected: str | None, tmp_path: Path
) -> None:
    import duckdb

    from costcouncil.ingest.sources.aws_cur import AWS_CUR

    header = ("lineItem/ResourceId", "product/productFamily", "lineItem/ProductCode")
    chosen, _ = AWS_CUR.resolve(header)
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as f:  # read as ingest reads it: a CSV, all VARCHAR
        csv.writer(f).writerows([header, (resource_id or "", family or "", "AmazonS3")])
    row = (
        duckdb.connect()
        .execute(f"SELECT {chosen['ResourceType']} FROM read_csv('{path}', all_varchar = true)")
        .fetchone()
    )
    assert row is not None and row[0] == expected
