"""Each FOCUS conformance check fires on a row made to break it, and only the real sample's
known defects fail."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from costcouncil.conformance import ALL_CHECKS, BY_ID, Check, Report, run_checks
from costcouncil.schema.arrow import SQL_TYPES
from costcouncil.schema.focus import BY_NAME, FOCUS_1_2
from tests.conformance.sample import load_sample

#: A valid FOCUS 1.2 Usage row with every column set where the spec allows it.
GOOD: dict[str, Any] = {
    "AvailabilityZone": "us-east-1a",
    "BilledCost": "10",
    "BillingAccountId": "acct-1",
    "BillingAccountName": "Acme",
    "BillingAccountType": "Billing Account",
    "BillingCurrency": "USD",
    "BillingPeriodEnd": "2024-10-01",
    "BillingPeriodStart": "2024-09-01",
    "CapacityReservationId": None,
    "CapacityReservationStatus": None,
    "ChargeCategory": "Usage",
    "ChargeClass": None,
    "ChargeDescription": "VM hours",
    "ChargeFrequency": "Usage-Based",
    "ChargePeriodEnd": "2024-09-02",
    "ChargePeriodStart": "2024-09-01",
    "CommitmentDiscountCategory": None,
    "CommitmentDiscountId": None,
    "CommitmentDiscountName": None,
    "CommitmentDiscountQuantity": None,
    "CommitmentDiscountStatus": None,
    "CommitmentDiscountType": None,
    "CommitmentDiscountUnit": None,
    "ConsumedQuantity": "5",
    "ConsumedUnit": "Hours",
    "ContractedCost": "8",
    "ContractedUnitPrice": "1.6",
    "EffectiveCost": "8",
    "InvoiceId": "inv-1",
    "InvoiceIssuerName": "Acme Cloud",
    "ListCost": "10",
    "ListUnitPrice": "2",
    "PricingCategory": "Standard",
    "PricingCurrency": "USD",
    "PricingCurrencyContractedUnitPrice": "1.6",
    "PricingCurrencyEffectiveCost": "8",
    "PricingCurrencyListUnitPrice": "2",
    "PricingQuantity": "5",
    "PricingUnit": "Hours",
    "ProviderName": "Acme Cloud",
    "PublisherName": "Acme Cloud",
    "RegionId": "us-east-1",
    "RegionName": "US East",
    "ResourceId": "vm-1",
    "ResourceName": "web-1",
    "ResourceType": "Virtual Machine",
    "ServiceCategory": "Compute",
    "ServiceName": "VMs",
    "ServiceSubcategory": "Virtual Machines",
    "SkuId": "sku-1",
    "SkuMeter": "Compute",
    "SkuPriceDetails": '{"CoreCount": 2}',
    "SkuPriceId": "sku-1-price",
    "SubAccountId": "sub-1",
    "SubAccountName": "ML",
    "SubAccountType": "Project",
    "Tags": '{"team": "ml"}',
}

COMMITMENT = {
    "CommitmentDiscountId": "cd-1",
    "CommitmentDiscountCategory": "Spend",
    "CommitmentDiscountType": "Savings Plan",
    "CommitmentDiscountStatus": "Used",
    "CommitmentDiscountQuantity": "8",
    "CommitmentDiscountUnit": "USD",
    "PricingCategory": "Committed",
}
TAX = {"ChargeCategory": "Tax"}
CREDIT = {
    "ChargeCategory": "Credit",
    "BilledCost": "-5",
    "ListUnitPrice": None,
    "ContractedUnitPrice": None,
}

#: Hand-written breakages for the checks that are not generated per column.
BREAK: dict[str, dict[str, Any]] = {
    "FOCUS-CommitmentDiscountStatus-NotNullForUsage": COMMITMENT
    | {"CommitmentDiscountStatus": None},
    "FOCUS-CommitmentDiscountQuantity-NotNull": COMMITMENT
    | {"CommitmentDiscountQuantity": None, "CommitmentDiscountUnit": None},
    "FOCUS-CommitmentDiscountQuantity-Null": {
        "CommitmentDiscountQuantity": "1",
        "CommitmentDiscountUnit": "Hours",
    },
    "FOCUS-CapacityReservationStatus-NotNullForUsage": {"CapacityReservationId": "cr-1"},
    "FOCUS-PricingCategory-CommittedWhenUsed": COMMITMENT | {"PricingCategory": "Standard"},
    "FOCUS-ConsumedQuantity-NullUnlessUsage": CREDIT,
    "FOCUS-ConsumedQuantity-NotNullForUsage": {"ConsumedQuantity": None, "ConsumedUnit": None},
    "FOCUS-BillingCurrency-ISO4217": {"BillingCurrency": "XYZ"},
    "FOCUS-PricingCurrency-ISO4217": {"PricingCurrency": "CREDITS"},
    "FOCUS-PricingUnit-UnitFormat": {"PricingUnit": "GB Hours"},
    "FOCUS-ConsumedUnit-UnitFormat": {"ConsumedUnit": "OCPU Per Hour"},
    "FOCUS-CommitmentDiscountUnit-UnitFormat": COMMITMENT | {"CommitmentDiscountUnit": "gb/"},
    "FOCUS-Tags-JsonObject": {"Tags": "[1, 2]"},
    "FOCUS-SkuPriceDetails-JsonObject": {"SkuPriceDetails": "{not json"},
    "FOCUS-Tags-FlatValues": {"Tags": '{"team": {"name": "ml"}}'},
    "FOCUS-SkuPriceDetails-FlatValues": {"SkuPriceDetails": '{"Tiers": [1, 2]}'},
    "FOCUS-ChargePeriodEnd-AfterStart": {"ChargePeriodEnd": "2024-09-01"},
    "FOCUS-BillingPeriodEnd-AfterStart": {"BillingPeriodEnd": "2024-09-01"},
    "FOCUS-ChargePeriodStart-WithinBillingPeriod": {"ChargePeriodStart": "2024-08-31"},
    "FOCUS-ListCost-UnitPriceTimesQuantity": {"ListCost": "10.5"},
    "FOCUS-ContractedCost-UnitPriceTimesQuantity": {"ContractedCost": "7.9"},
    "FOCUS-ListCost-EqualsBilledCostForCredit": CREDIT | {"ConsumedQuantity": None},
    "FOCUS-ContractedCost-EqualsBilledCostForCredit": CREDIT,
    "FOCUS-EffectiveCost-EqualsBilledCostForCredit": CREDIT,
    "FOCUS-ContractedCost-NotAboveListCost": {"ContractedCost": "12", "ContractedUnitPrice": "2.4"},
    "FOCUS-EffectiveCost-ZeroForCommitmentPurchase": COMMITMENT | {"ChargeCategory": "Purchase"},
    "FOCUS-PricingCurrencyEffectiveCost-ZeroForCommitmentPurchase": COMMITMENT
    | {"ChargeCategory": "Purchase"},
    "FOCUS-ChargeFrequency-NotUsageBasedForPurchase": {"ChargeCategory": "Purchase"},
    "FOCUS-ServiceSubcategory-Parent": {"ServiceSubcategory": "Relational Databases"},
    "FOCUS-ChargeDescription-NotNull": {"ChargeDescription": None},
}


def _generated(check: Check) -> dict[str, Any]:
    """The breakage for the checks generated per column or per column pair."""
    name, rule = check.column, check.id.rsplit("-", 1)[1]
    if rule in ("NotNull", "NotNullForUsagePurchase"):
        return {name: None}
    if rule == "NotEmpty":
        return {name: " "}
    if rule == "AllowedValues":
        return {name: "Bogus"}
    if rule == "NonNegative":
        return {name: "-1"}
    if rule == "NullForTax":
        return TAX
    other = rule.removeprefix("NullIff").removeprefix("NullWhen").removesuffix("Null")
    if GOOD[name] is None or GOOD[other] is None:
        return {name: "x", other: None}
    return {name: None} if rule.startswith("NullIff") else {other: None}


def _breakage(check: Check) -> dict[str, Any]:
    return BREAK.get(check.id) or _generated(check)


def _literal(name: str, value: Any) -> str:
    kind = BY_NAME[name].kind
    if value is None:
        return f"CAST(NULL AS {SQL_TYPES[kind]})"
    text = "'" + str(value).replace("'", "''") + "'"
    return (
        f"CAST({text} || ' 00:00:00+00' AS TIMESTAMPTZ)"
        if kind == "datetime"
        else (f"CAST({text} AS {SQL_TYPES[kind]})")
    )


def _relation(rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> str:
    selects = [
        ", ".join(
            f'{_literal(c.name, row[c.name])} AS "{c.name}"'
            for c in FOCUS_1_2
            if c.name not in drop
        )
        for row in rows
    ]
    return " UNION ALL ".join(f"SELECT {s}" for s in selects)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_good_row_passes_everything(con: duckdb.DuckDBPyConnection) -> None:
    report = run_checks(con, _relation([GOOD]))
    assert report.failures() == (), report.to_text()
    assert report.ok and report.rows == 1
    assert {r.status for r in report.results} == {"passed"}


ROW_CHECKS = [c for c in ALL_CHECKS if c.kind == "row"]


@pytest.fixture(scope="module")
def broken() -> Report:
    """One relation: a good row, then for each row check a good row broken for that check
    (row ``i + 2`` breaks ``ROW_CHECKS[i]``), checked in one run."""
    rows = [GOOD] + [GOOD | _breakage(c) for c in ROW_CHECKS]
    return run_checks(duckdb.connect(), _relation(rows), sample=len(rows))


@pytest.mark.parametrize("index", range(len(ROW_CHECKS)), ids=[c.id for c in ROW_CHECKS])
def test_each_row_check_fires(broken: Report, index: int) -> None:
    result = broken.result(ROW_CHECKS[index].id)
    assert result.status == "failed"
    assert index + 2 in [e.row for e in result.examples]
    assert 1 not in [e.row for e in result.examples]


def test_one_broken_row_breaks_one_check_of_its_own(con: duckdb.DuckDBPyConnection) -> None:
    check = BY_ID["FOCUS-ListCost-UnitPriceTimesQuantity"]
    report = run_checks(con, _relation([GOOD, GOOD | _breakage(check), GOOD]))
    assert report.counts() == {check.id: 1}
    assert [e.row for e in report.result(check.id).examples] == [2]


def test_missing_mandatory_column_and_absent_conditional(con: duckdb.DuckDBPyConnection) -> None:
    report = run_checks(con, _relation([GOOD], drop=("BilledCost", "Tags", "SkuPriceDetails")))
    assert report.counts() == {"FOCUS-BilledCost-Present": 1}
    assert report.result("FOCUS-Tags-JsonObject").status == "skipped"
    assert report.result("FOCUS-BilledCost-NotNull").status == "skipped"
    assert not report.ok


def test_wrong_type(con: duckdb.DuckDBPyConnection) -> None:
    relation = _relation([GOOD]).replace(
        "CAST('10' AS DECIMAL(38,12)) AS \"BilledCost\"", "'10' AS \"BilledCost\""
    )
    report = run_checks(con, f"SELECT * FROM ({relation})")
    assert report.counts() == {"FOCUS-BilledCost-Type": 1}
    assert "expected DECIMAL(38,12)" in report.result("FOCUS-BilledCost-Type").reason


def test_report_formats(con: duckdb.DuckDBPyConnection) -> None:
    report = run_checks(con, _relation([GOOD, GOOD | {"BillingCurrency": "usd"}]), sample=1)
    text = report.to_text()
    assert "FAILED" in text and "FOCUS-BillingCurrency-ISO4217: 1 row" in text
    assert "row 2: usd" in text
    as_dict = report.to_dict()
    assert as_dict["ok"] is False and as_dict["errors"] == 1
    [entry] = [c for c in as_dict["checks"] if c["id"] == "FOCUS-BillingCurrency-ISO4217"]
    assert entry["examples"] == [{"row": 2, "value": "usd"}]


def test_row_id_column_and_no_sample(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE t AS SELECT *, 41 + row_number() OVER () AS x_source_row FROM "
        f"({_relation([GOOD, GOOD | {'BilledCost': None}])})"
    )
    report = run_checks(con, "t", row_id="x_source_row")
    assert report.result("FOCUS-BilledCost-NotNull").examples[0].row == 43
    assert run_checks(con, "t", sample=0).result("FOCUS-BilledCost-NotNull").examples == ()


def test_check_ids_unique_and_well_formed() -> None:
    assert len(BY_ID) == len(ALL_CHECKS)
    for check in ALL_CHECKS:
        assert check.id.startswith(f"FOCUS-{check.column}-"), check.id
        assert check.column in BY_NAME
        assert bool(check.sql) is (check.kind == "row")


#: Exact findings on the FOCUS 1.0 sample -- each one a defect of the sample (see
#: docs/focus-validator.md for the row-by-row reasons), none a defect of the checks.
SAMPLE_FINDINGS = {
    # errors
    "FOCUS-ChargeFrequency-AllowedValues": 7,  # OCI rows: "Usage-based" (lower-case b)
    "FOCUS-ConsumedQuantity-NullUnlessUsage": 2,  # Adjustment rows with a ConsumedQuantity
    "FOCUS-ContractedCost-NotNull": 7,  # OCI rows without ContractedCost
    "FOCUS-ContractedCost-UnitPriceTimesQuantity": 17,  # AWS: ContractedCost 0, price >= 1
    "FOCUS-ContractedUnitPrice-NonNegative": 1,  # AWS credit row with price -3
    "FOCUS-ContractedUnitPrice-NotNullForUsagePurchase": 5,  # OCI usage rows
    "FOCUS-ListCost-UnitPriceTimesQuantity": 25,  # Azure: PricingQuantity scaled by 1e-4
    "FOCUS-PricingCategory-NotNullForUsagePurchase": 5,  # OCI usage rows
    "FOCUS-RegionName-NullIffRegionId": 9,  # RegionId without RegionName and vice versa
    "FOCUS-ResourceType-NullIffResourceId": 788,  # AWS rows: ResourceId but no ResourceType
    "FOCUS-SkuPriceId-NotNullForUsagePurchase": 5,  # OCI usage rows
    # warnings
    "FOCUS-ChargePeriodStart-WithinBillingPeriod": 1,
    "FOCUS-ConsumedUnit-UnitFormat": 7,
    "FOCUS-ContractedCost-NotAboveListCost": 7,
    "FOCUS-EffectiveCost-EqualsBilledCostForCredit": 1,
    "FOCUS-PricingUnit-UnitFormat": 7,
}


@pytest.mark.shared_data
def test_focus_1_0_sample(con: duckdb.DuckDBPyConnection) -> None:
    load_sample(con, "sample")
    report = run_checks(con, "sample")
    assert report.rows == 1000
    assert report.counts() == SAMPLE_FINDINGS, report.to_text()
    assert report.result("FOCUS-ContractedCost-NotNull").examples[0].row == 926
    # The 1.1/1.2 columns the 1.0 sample cannot have are skipped, not failed.
    assert report.result("FOCUS-ServiceSubcategory-NotNull").status == "skipped"
