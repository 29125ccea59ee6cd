"""The reference implementation against the golden cases, and its invariants under Hypothesis.

The golden cases were worked out by hand; the properties are the spec's promises: every cost
row's allocations sum to it exactly for each metric, every amount but at most one per row is a
whole number of rounding units, and none is a unit or more away from its exact proportional share
(dust aside).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from costcouncil.schema.arrow import DECIMAL, TIMESTAMP
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from tests.attribution import reference
from tests.attribution.cases import (
    CASES_DIR,
    Case,
    all_cases,
    allocation_key,
    expected_rows,
    load_case,
    recon_key,
)
from tests.attribution.strategies import Scenario, scenarios

CASES = all_cases()
PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- golden cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_reference_reproduces_golden_case(path: Path) -> None:
    case = load_case(path)
    result = reference.allocate(**case.reference_inputs())
    assert_allocations(case, result.allocations)
    if case.expected_reconciliation is not None:
        assert_reconciliation(case.expected_reconciliation, result.reconciliation)


def assert_allocations(case: Case, actual: Sequence[Mapping[str, Any]]) -> None:
    keys = case.keys
    expected = expected_rows(case)
    got = Counter(allocation_key(row, keys) for row in actual)
    want = Counter(allocation_key(row, keys) for row in expected)
    assert got == want, f"{case.name}: missing {want - got}, unexpected {got - want}"
    by_key = {allocation_key(row, keys): row for row in actual}
    for row in expected:
        found = by_key[allocation_key(row, keys)]
        differ = {c: (v, found[c]) for c, v in row.items() if found[c] != v}
        assert not differ, f"{case.name}: {allocation_key(row, keys)}: (expected, got) {differ}"


def assert_reconciliation(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> None:
    assert Counter(map(recon_key, actual)) == Counter(map(recon_key, expected))
    by_key = {recon_key(row): row for row in actual}
    for row in expected:
        found = by_key[recon_key(row)]
        differ = {c: (v, found[c]) for c, v in row.items() if found[c] != v}
        assert not differ, f"{recon_key(row)}: (expected, got) {differ}"


def test_there_are_enough_cases_and_the_readme_lists_each() -> None:
    readme = (CASES_DIR / "README.md").read_text()
    assert len(CASES) >= 15
    listed = set(re.findall(r"^\| `([a-z0-9_]+\.yaml)` \|", readme, re.MULTILINE))
    assert listed == {p.name for p in CASES}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_tables_have_the_lake_types(path: Path) -> None:
    tables = load_case(path).tables()
    costs = tables["costs"].schema
    assert costs.field("x_source_file").type == pa.string()
    assert costs.field("x_source_row").type == pa.int64()
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        assert costs.field(column).type == DECIMAL
    for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart"):
        assert costs.field(column).type == TIMESTAMP
    for column in ("Tags", "SkuPriceDetails", "ResourceId", "ChargeCategory", "SubAccountName"):
        assert costs.field(column).type == pa.string()
    assert tables["jobs"].schema == JOBS_SCHEMA
    assert tables["llm"].schema == LLM_SCHEMA
    assert tables["prices"].schema.field("valid_to").type == TIMESTAMP
    assert tables["prices"].schema.field("input_per_mtok").type == DECIMAL


def test_case_charges_get_their_defaults() -> None:
    case = load_case(CASES_DIR / "gpu_fractional_idle_keep.yaml")
    [node] = case.tables()["costs"].to_pylist()
    assert node["x_source_file"] == "gpu_fractional_idle_keep.yaml"
    assert node["x_source_row"] == 1
    assert node["BillingCurrency"] == "USD"
    assert (node["ChargePeriodEnd"] - node["ChargePeriodStart"]).total_seconds() == 3600
    assert node["BillingPeriodStart"].isoformat() == "2026-10-01T00:00:00+00:00"
    assert node["BillingPeriodEnd"].isoformat() == "2026-11-01T00:00:00+00:00"
    assert node["ListCost"] == Decimal("98.76") and node["ContractedCost"] is None
    assert node["SkuPriceDetails"] == '{"x_AcceleratorCount": 2}'


def test_apportion_follows_the_worked_example() -> None:
    """$1.00 over three equal owners: 0.34 / 0.33 / 0.33, the cent to the smallest owner."""
    shares = [reference.Share((team,), "pool", "shared_pool:even", 1) for team in "cab"]
    cells = reference.apportion(Decimal("1.00"), shares, [1, 1, 1], Fraction(1, 100))
    assert [c.amount for c in cells] == [Decimal("0.33"), Decimal("0.34"), Decimal("0.33")]
    assert [c.extra for c in cells] == [0, 1, 0]


def test_apportion_on_a_negative_row_moves_the_tie_towards_zero_from_the_last() -> None:
    """−$1.00 over three equal owners: −0.34 to the smallest owner, as on a positive row."""
    shares = [reference.Share((team,), "pool", "shared_pool:even", 1) for team in "cab"]
    cells = reference.apportion(Decimal("-1.00"), shares, [1, 1, 1], Fraction(1, 100))
    assert [c.amount for c in cells] == [Decimal("-0.33"), Decimal("-0.34"), Decimal("-0.33")]


def test_apportion_gives_the_dust_to_the_largest_share() -> None:
    """$1.005 split 1:3: the larger share holds the half cent. Its whole cents come from its
    exact share less the dust (75.375 − 0.5 = 74.875 cents → 74), the other's 25.125 → 25; the
    leftover cent goes to the larger remainder (0.875): 0.25 + 0.755."""
    shares = [reference.Share((t,), "pool", "shared_pool:even", w) for t, w in (("a", 1), ("b", 3))]
    cells = reference.apportion(Decimal("1.005"), shares, [1, 3], Fraction(1, 100))
    assert [c.amount for c in cells] == [Decimal("0.25"), Decimal("0.755")]


# --- properties --------------------------------------------------------------------------------


def _by_charge(
    scenario: Scenario, allocations: Sequence[Mapping[str, Any]]
) -> dict[int, list[Mapping[str, Any]]]:
    out: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in allocations:
        out[row["x_source_row"]].append(row)
    assert set(out) == {c["x_source_row"] for c in scenario.charges}
    return out


def _unit(scenario: Scenario, charge: Mapping[str, Any]) -> Fraction:
    return reference.unit_of(charge["BillingCurrency"], scenario.rules.get("rounding"))


@PROPERTIES
@given(scenarios())
def test_reference_keeps_the_spec_promises(scenario: Scenario) -> None:
    """All invariants on each scenario: drawing one costs more than checking it."""
    result = reference.allocate(**scenario.reference_inputs())
    rows = _by_charge(scenario, result.allocations)
    for charge in scenario.charges:
        mine = rows[charge["x_source_row"]]
        check_sums_are_exact(charge, mine)
        check_all_but_one_are_whole_units(charge, mine, _unit(scenario, charge))
        check_shares_are_proportional(charge, mine, _unit(scenario, charge))
    check_owners(scenario, result.allocations)
    check_owner_totals(scenario, result.allocations)
    check_reconciliation(scenario, result)


def check_sums_are_exact(charge: Mapping[str, Any], mine: Sequence[Mapping[str, Any]]) -> None:
    for metric in reference.METRICS:
        if charge[metric] is None:
            assert all(row[metric] is None for row in mine)
        else:
            assert sum(row[metric] for row in mine) == charge[metric], metric


def check_all_but_one_are_whole_units(
    charge: Mapping[str, Any], mine: Sequence[Mapping[str, Any]], unit: Fraction
) -> None:
    for metric in reference.METRICS:
        amounts = [Fraction(row[metric]) for row in mine if row[metric]]
        assert sum((a / unit).denominator != 1 for a in amounts) <= 1, metric


def check_shares_are_proportional(
    charge: Mapping[str, Any], mine: Sequence[Mapping[str, Any]], unit: Fraction
) -> None:
    """No amount is a unit or more from its exact share; signs follow the row's (a share under
    one unit aside: the controlled rounding may have to put it just across zero)."""
    weights = [row["x_usage_weight"] for row in mine]
    total = sum(weights)
    assert total > 0 and all(w >= 0 for w in weights)
    for row, weight in zip(mine, weights, strict=True):
        assert row["x_weight"] == pytest.approx(weight / total)
    for metric in reference.METRICS:
        if charge[metric] is None:
            continue
        amount = Fraction(charge[metric])
        for row, weight in zip(mine, weights, strict=True):
            share = Fraction(row[metric])
            exact = amount * weight / total
            assert abs(share - exact) < unit, metric
            if abs(exact) >= unit:
                assert share == 0 or (share > 0) == (amount > 0), "sign"


def check_owner_totals(scenario: Scenario, allocations: Sequence[Mapping[str, Any]]) -> None:
    """Every owner's total per rule, billing period, currency and metric is within one unit of
    the sum of its exact shares (the controlled rounding)."""
    keys = list(scenario.rules.get("owner_keys") or scenario.owner_keys)
    charges = {c["x_source_row"]: c for c in scenario.charges}
    totals: dict[int, int] = defaultdict(int)
    for row in allocations:
        totals[row["x_source_row"]] += row["x_usage_weight"]
    off: dict[tuple[Any, ...], Fraction] = defaultdict(Fraction)
    for row in allocations:
        charge = charges[row["x_source_row"]]
        unit = _unit(scenario, charge)
        owner = tuple(row[f"x_{k}"] for k in keys)
        for metric in reference.METRICS:
            if charge[metric] is None:
                continue
            exact = Fraction(charge[metric]) * row["x_usage_weight"] / totals[row["x_source_row"]]
            group = (row["x_rule"], charge["BillingPeriodStart"], charge["BillingCurrency"])
            off[(*group, metric, owner)] += (Fraction(row[metric]) - exact) / unit
    assert all(abs(v) < 1 for v in off.values()), max(off.values(), key=abs)


def check_owners(scenario: Scenario, allocations: Sequence[Mapping[str, Any]]) -> None:
    """A sentinel fills every owner key; (cost row, owner, rule, method) is unique."""
    keys = list(scenario.rules.get("owner_keys") or scenario.owner_keys)
    for row in allocations:
        owner = {row[f"x_{k}"] for k in keys}
        assert not owner & set(reference.SENTINELS) or len(owner) == 1
    assert len({allocation_key(r, keys) for r in allocations}) == len(allocations)


def check_reconciliation(scenario: Scenario, result: reference.Result) -> None:
    """Per LLM rule and currency, the reconciliation invoices what the rule allocated."""
    llm_rules = {r["name"] for r in scenario.rules["rules"] if r.get("usage") == "llm"}
    allocated: Counter[tuple[str, str]] = Counter()
    for row in result.allocations:
        if row["x_rule"] in llm_rules:
            charge = scenario.charges[row["x_source_row"] - 1]
            allocated[row["x_rule"], charge["BillingCurrency"]] += row["BilledCost"]
    invoiced: Counter[tuple[str, str]] = Counter()
    for row in result.reconciliation:
        invoiced[row["x_rule"], row["BillingCurrency"]] += row["invoiced"]
        assert row["gap"] is None or row["gap"] == row["invoiced"] - row["priced"]
    assert allocated == invoiced


@settings(max_examples=10, deadline=None)
@given(scenarios())
def test_scenarios_convert_to_engine_tables(scenario: Scenario) -> None:
    tables = scenario.tables()
    assert tables["costs"].num_rows == len(scenario.charges)
    assert tables["jobs"].schema == JOBS_SCHEMA
    assert tables["llm"].schema == LLM_SCHEMA
