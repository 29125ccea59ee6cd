"""Nullability that depends on other columns: pairs of columns, priced rows, commitments."""

from __future__ import annotations

from costcouncil.conformance.base import (
    CATEGORY,
    NOT_CORRECTION,
    USAGE_OR_PURCHASE,
    Check,
    q,
    show,
)


def pairs() -> list[Check]:
    """Columns that are null exactly when (``iff``) or whenever (``only``) another column is."""
    iff = [
        ("PricingUnit", "PricingQuantity"),
        ("ConsumedUnit", "ConsumedQuantity"),
        ("CommitmentDiscountUnit", "CommitmentDiscountQuantity"),
        ("RegionName", "RegionId"),
        ("ResourceType", "ResourceId"),
        ("SubAccountName", "SubAccountId"),
        ("SubAccountType", "SubAccountId"),
        ("BillingAccountType", "BillingAccountId"),
        ("CommitmentDiscountCategory", "CommitmentDiscountId"),
        ("CommitmentDiscountType", "CommitmentDiscountId"),
    ]
    only = [
        ("CommitmentDiscountName", "CommitmentDiscountId"),
        ("CommitmentDiscountStatus", "CommitmentDiscountId"),
        ("CapacityReservationStatus", "CapacityReservationId"),
        ("ResourceName", "ResourceId"),
        ("SkuMeter", "SkuId"),
        ("SkuPriceDetails", "SkuPriceId"),
    ]
    checks = [
        Check(
            f"FOCUS-{a}-NullIff{b}",
            a,
            "error",
            f"{a} must be null exactly when {b} is null",
            f"({q(a)} IS NULL) <> ({q(b)} IS NULL)",
            show(a, b),
            rule=f"{a}-C-00*-C",
        )
        for a, b in iff
    ]
    checks += [
        Check(
            f"FOCUS-{a}-NullWhen{b}Null",
            a,
            "error",
            f"{a} must be null when {b} is null",
            f"{q(a)} IS NOT NULL AND {q(b)} IS NULL",
            show(a, b),
            rule=f"{a}-C-004-C",
        )
        for a, b in only
    ]
    return checks


#: Columns null for Tax rows and not null for Usage/Purchase rows that are not corrections.
PRICED_COLUMNS = (
    "PricingQuantity",
    "PricingCategory",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "SkuId",
    "SkuPriceId",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)


def priced() -> list[Check]:
    checks: list[Check] = []
    for name in PRICED_COLUMNS:
        checks.append(
            Check(
                f"FOCUS-{name}-NullForTax",
                name,
                "error",
                f"{name} must be null when ChargeCategory is 'Tax'",
                f"{CATEGORY} = 'Tax' AND {q(name)} IS NOT NULL",
                show("ChargeCategory", name),
                rule=f"{name}-C-00*-C",
            )
        )
        checks.append(
            Check(
                f"FOCUS-{name}-NotNullForUsagePurchase",
                name,
                "error",
                f"{name} must not be null when ChargeCategory is 'Usage' or "
                "'Purchase' and ChargeClass is not 'Correction'",
                f"{USAGE_OR_PURCHASE} AND {q(name)} IS NULL",
                show("ChargeCategory", "ChargeClass", name),
                rule=f"{name}-C-00*-C",
            )
        )
    return checks


def commitments() -> list[Check]:
    cd_id, status = q("CommitmentDiscountId"), q("CommitmentDiscountStatus")
    in_scope = f"{CATEGORY} IN ('Usage', 'Purchase') AND {cd_id} IS NOT NULL"
    quantity = q("CommitmentDiscountQuantity")
    return [
        Check(
            "FOCUS-CommitmentDiscountStatus-NotNullForUsage",
            "CommitmentDiscountStatus",
            "error",
            "CommitmentDiscountStatus must not be null when CommitmentDiscountId is "
            "not null and ChargeCategory is 'Usage'",
            f"{cd_id} IS NOT NULL AND {CATEGORY} = 'Usage' AND {status} IS NULL",
            show("CommitmentDiscountId", "ChargeCategory"),
            rule="CommitmentDiscountStatus-C-004-C",
        ),
        Check(
            "FOCUS-CommitmentDiscountQuantity-NotNull",
            "CommitmentDiscountQuantity",
            "error",
            "CommitmentDiscountQuantity must not be null for Usage/Purchase rows with a "
            "CommitmentDiscountId that are not corrections",
            f"{in_scope} AND {NOT_CORRECTION} AND {quantity} IS NULL",
            show("ChargeCategory", "CommitmentDiscountId"),
            rule="CommitmentDiscountQuantity-C-005-C",
        ),
        Check(
            "FOCUS-CommitmentDiscountQuantity-Null",
            "CommitmentDiscountQuantity",
            "error",
            "CommitmentDiscountQuantity must be null unless ChargeCategory is 'Usage' or "
            "'Purchase' and CommitmentDiscountId is not null",
            f"NOT coalesce({in_scope}, false) AND {quantity} IS NOT NULL",
            show("ChargeCategory", "CommitmentDiscountId", "CommitmentDiscountQuantity"),
            rule="CommitmentDiscountQuantity-C-007-C",
        ),
        Check(
            "FOCUS-CapacityReservationStatus-NotNullForUsage",
            "CapacityReservationStatus",
            "error",
            "CapacityReservationStatus must not be null when CapacityReservationId "
            "is not null and ChargeCategory is 'Usage'",
            f"{q('CapacityReservationId')} IS NOT NULL AND {CATEGORY} = 'Usage' AND "
            f"{q('CapacityReservationStatus')} IS NULL",
            show("CapacityReservationId", "ChargeCategory"),
            rule="CapacityReservationStatus-C-004-C",
        ),
        Check(
            "FOCUS-PricingCategory-CommittedWhenUsed",
            "PricingCategory",
            "error",
            "PricingCategory must be 'Committed' for charges that used a commitment discount",
            f"{status} = 'Used' AND {CATEGORY} <> 'Purchase' AND "
            f"{q('PricingCategory')} IS DISTINCT FROM 'Committed'",
            show("CommitmentDiscountStatus", "ChargeCategory", "PricingCategory"),
            rule="PricingCategory-C-009-C",
        ),
    ]


def consumed() -> list[Check]:
    usage_not_unused = (
        f"{CATEGORY} = 'Usage' AND {q('CommitmentDiscountStatus')} IS DISTINCT FROM 'Unused'"
    )
    return [
        Check(
            "FOCUS-ConsumedQuantity-NullUnlessUsage",
            "ConsumedQuantity",
            "error",
            "ConsumedQuantity must be null when ChargeCategory is not 'Usage' or the row is "
            "the unused portion of a commitment discount",
            f"NOT coalesce({usage_not_unused}, false) AND {q('ConsumedQuantity')} IS NOT NULL",
            show("ChargeCategory", "CommitmentDiscountStatus", "ConsumedQuantity"),
            rule="ConsumedQuantity-C-004-C",
        ),
        Check(
            "FOCUS-ConsumedQuantity-NotNullForUsage",
            "ConsumedQuantity",
            "error",
            "ConsumedQuantity must not be null for Usage rows (other than unused commitment "
            "and correction rows)",
            f"{usage_not_unused} AND {NOT_CORRECTION} AND {q('ConsumedQuantity')} IS NULL",
            show("ChargeCategory", "CommitmentDiscountStatus", "ChargeClass"),
            rule="ConsumedQuantity-C-006-C",
        ),
    ]
