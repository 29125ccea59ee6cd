"""The FOCUS column catalogue against the facts of the specification (1.0-1.3)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from costcouncil.schema import focus
from costcouncil.schema.currencies import ISO_4217
from costcouncil.schema.focus import (
    BY_NAME,
    FOCUS_1_2,
    FOCUS_1_3_EXTRAS,
    FOCUS_VERSIONS,
    SERVICE_CATEGORIES,
    SERVICE_SUBCATEGORIES,
    SERVICE_SUBCATEGORY_VALUES,
    columns_of,
    mandatory_names,
)


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def test_focus_1_2_counts() -> None:
    levels = [c.level for c in FOCUS_1_2]
    assert len(FOCUS_1_2) == 57
    assert (
        levels.count("mandatory"),
        levels.count("conditional"),
        levels.count("recommended"),
    ) == (21, 32, 4)


def test_names_unique_and_alphabetical() -> None:
    names = [c.name for c in FOCUS_1_2]
    assert names == sorted(names)
    assert len(set(names + [c.name for c in FOCUS_1_3_EXTRAS])) == 65
    assert set(BY_NAME) == set(names) | {c.name for c in FOCUS_1_3_EXTRAS}


@pytest.mark.parametrize(("version", "count"), [("1.0", 43), ("1.1", 50), ("1.2", 57), ("1.3", 65)])
def test_columns_per_version(version: str, count: int) -> None:
    assert len(columns_of(version)) == count


def test_versions_monotonic() -> None:
    assert [_version(v) for v in FOCUS_VERSIONS] == sorted(_version(v) for v in FOCUS_VERSIONS)
    for c in FOCUS_1_2 + FOCUS_1_3_EXTRAS:
        assert c.since in FOCUS_VERSIONS, c.name
        for later in (c.until, c.deprecated):
            assert later is None or _version(later) > _version(c.since), c.name
    for earlier, later in itertools.pairwise(FOCUS_VERSIONS):
        assert {c.name for c in columns_of(earlier)} < {c.name for c in columns_of(later)}


def test_extras_are_1_3() -> None:
    assert all(c.since == "1.3" for c in FOCUS_1_3_EXTRAS)
    assert {c.name for c in FOCUS_1_3_EXTRAS} >= {"ServiceProviderName", "HostProviderName"}
    assert BY_NAME["ProviderName"].deprecated == BY_NAME["PublisherName"].deprecated == "1.3"


def test_every_allowed_values_list_is_non_empty_and_unique() -> None:
    constrained = [c for c in FOCUS_1_2 if c.value_format == "allowed"]
    assert {c.name for c in constrained} == {
        "CapacityReservationStatus",
        "ChargeCategory",
        "ChargeClass",
        "ChargeFrequency",
        "CommitmentDiscountCategory",
        "CommitmentDiscountStatus",
        "PricingCategory",
        "ServiceCategory",
        "ServiceSubcategory",
    }
    for c in constrained:
        assert c.allowed and len(set(c.allowed)) == len(c.allowed), c.name


def test_service_subcategories_have_one_parent_each() -> None:
    assert sorted(SERVICE_SUBCATEGORIES) == sorted(SERVICE_CATEGORIES)
    assert all(subs for subs in SERVICE_SUBCATEGORIES.values())
    assert len(SERVICE_SUBCATEGORY_VALUES) == len(set(SERVICE_SUBCATEGORY_VALUES)) == 82
    for category, subs in SERVICE_SUBCATEGORIES.items():
        assert f"Other ({category})" in subs


def test_mandatory_names_and_nullability() -> None:
    assert "BilledCost" in mandatory_names() and "Tags" not in mandatory_names()
    assert len(mandatory_names("1.2")) == 21
    # Mandatory but nullable: null for some rows by rule (Tax rows, non-corrections...).
    nullable_mandatory = {c.name for c in FOCUS_1_2 if c.mandatory and c.nullable}
    assert nullable_mandatory == {
        "BillingAccountName",
        "ChargeClass",
        "ChargeDescription",
        "PricingQuantity",
        "PricingUnit",
    }
    assert {c.name for c in FOCUS_1_2 if not c.mandatory and not c.nullable} == {
        "ChargeFrequency",
        "PricingCurrency",
        "PricingCurrencyEffectiveCost",
        "ServiceSubcategory",
    }


def test_kinds_and_value_formats() -> None:
    assert {c.name for c in FOCUS_1_2 if c.kind == "json"} == {"SkuPriceDetails", "Tags"}
    assert {c.name for c in FOCUS_1_2 if c.kind == "currency"} == {
        "BillingCurrency",
        "PricingCurrency",
    }
    assert {c.name for c in FOCUS_1_2 if c.value_format == "unit"} == focus.UNIT_COLUMNS


def test_unknown_version() -> None:
    with pytest.raises(ValueError, match=r"unknown FOCUS version '2\.0'"):
        columns_of("2.0")


def test_iso_4217() -> None:
    assert {"USD", "EUR", "JPY", "XCG", "ZWG"} <= ISO_4217
    assert "HRK" not in ISO_4217 and "usd" not in ISO_4217
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ISO_4217)


def test_schema_doc_matches_catalogue() -> None:
    """docs/focus-schema.md has one table row per column, agreeing with the catalogue."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "focus-schema.md").read_text()
    for c in FOCUS_1_2 + FOCUS_1_3_EXTRAS:
        nullable = "yes" if c.nullable else "no"
        assert f"| `{c.name}` | {c.kind} | {c.level} | {nullable} | {c.since} |" in doc, c.name
