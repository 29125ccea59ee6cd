"""Value rules: currency and unit formats, JSON, periods, cost arithmetic, charge rules."""

from __future__ import annotations

from costcouncil.conformance.base import (
    CATEGORY,
    COMMITMENT_PURCHASE,
    NOT_CORRECTION,
    USAGE_OR_PURCHASE,
    Check,
    differs,
    lit,
    q,
    show,
)
from costcouncil.schema.currencies import ISO_4217
from costcouncil.schema.focus import SERVICE_SUBCATEGORIES, UNIT_COLUMNS


def formats() -> list[Check]:
    checks = [
        Check(
            "FOCUS-BillingCurrency-ISO4217",
            "BillingCurrency",
            "error",
            "BillingCurrency must be an ISO 4217 national currency code",
            f"{q('BillingCurrency')} NOT IN {lit(sorted(ISO_4217))}",
            rule="BillingCurrency-C-003-M, CurrencyFormat-A-001-C",
        ),
        Check(
            "FOCUS-PricingCurrency-ISO4217",
            "PricingCurrency",
            "warning",
            "PricingCurrency is not an ISO 4217 code (allowed only for a virtual currency)",
            f"{q('PricingCurrency')} NOT IN {lit(sorted(ISO_4217))}",
            rule="PricingCurrency-C-003-M, CurrencyFormat-A-002-C",
        ),
    ]
    checks += [
        Check(
            f"FOCUS-{name}-UnitFormat",
            name,
            "warning",
            f"{name} should follow the FOCUS UnitFormat (e.g. 'GB-Hours', "
            "'1000 Tokens', 'Requests/Second')",
            _bad_unit(q(name)),
            rule="UnitFormat",
        )
        for name in sorted(UNIT_COLUMNS)
    ]
    for name in ("Tags", "SkuPriceDetails"):
        checks.append(
            Check(
                f"FOCUS-{name}-JsonObject",
                name,
                "error",
                f"{name} must be a serialized JSON object",
                f"CASE WHEN json_valid({q(name)}) THEN json_type({q(name)}) <> "
                f"'OBJECT' ELSE {q(name)} IS NOT NULL END",
                rule="KeyValueFormat-A-001-M",
            )
        )
        checks.append(
            Check(
                f"FOCUS-{name}-FlatValues",
                name,
                "error",
                f"{name} values must not be objects or arrays",
                f"CASE WHEN coalesce(json_valid({q(name)}), false) THEN list_has_any("
                f"json_type({q(name)}, '$.*'), ['OBJECT', 'ARRAY']) END",
                rule="KeyValueFormat-A-004-M",
            )
        )
    return checks


_UNIT_WORD = r"[A-Za-z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)*"
_UNIT = rf"(?:{_UNIT_WORD})(?:-{_UNIT_WORD})*"
UNIT_PATTERN = rf"^(?:[1-9][0-9]* )?{_UNIT}(?:/(?:[1-9][0-9]* )?{_UNIT})?$"
_TIME = "(?:Year|Month|Day|Hour|Minute|Second|Millisecond|Microsecond)s?"
#: Words glued by a space where the UnitFormat wants '-' or '/': "GB Hours", "OCPU Per Hour".
UNIT_MISJOINED = rf"(?:[A-Za-z] {_TIME}(?:$|[-/ ])|(?:^|[ -/])[Pp]er(?:$| ))"


def _bad_unit(column: str) -> str:
    return (
        f"NOT regexp_full_match({column}, '{UNIT_PATTERN}') OR "
        f"regexp_matches({column}, '{UNIT_MISJOINED}')"
    )


def periods() -> list[Check]:
    def order(kind: str) -> Check:
        start, end = q(f"{kind}PeriodStart"), q(f"{kind}PeriodEnd")
        return Check(
            f"FOCUS-{kind}PeriodEnd-AfterStart",
            f"{kind}PeriodEnd",
            "error",
            f"{kind}PeriodStart must be before {kind}PeriodEnd (half-open period)",
            f"{start} >= {end}",
            show(f"{kind}PeriodStart", f"{kind}PeriodEnd"),
            rule=f"{kind}PeriodEnd-C-004-M",
        )

    within = Check(
        "FOCUS-ChargePeriodStart-WithinBillingPeriod",
        "ChargePeriodStart",
        "warning",
        "a charge that is not a correction should fall within its billing period",
        f"{NOT_CORRECTION} AND ({q('ChargePeriodStart')} < {q('BillingPeriodStart')} OR "
        f"{q('ChargePeriodEnd')} > {q('BillingPeriodEnd')})",
        show("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"),
        rule="ChargeClass-C-004-C",
    )
    return [order("Charge"), order("Billing"), within]


def arithmetic() -> list[Check]:
    checks: list[Check] = []
    for cost, price in (("ListCost", "ListUnitPrice"), ("ContractedCost", "ContractedUnitPrice")):
        product = f"{q(price)} * {q('PricingQuantity')}"
        checks.append(
            Check(
                f"FOCUS-{cost}-UnitPriceTimesQuantity",
                cost,
                "error",
                f"{cost} must equal {price} x PricingQuantity when both are set and the row is not "
                "a correction",
                f"{NOT_CORRECTION} AND {differs(product, q(cost))}",
                show(cost, price, "PricingQuantity"),
                rule=f"{cost}-C-009-C",
            )
        )
        checks.append(
            Check(
                f"FOCUS-{cost}-EqualsBilledCostForCredit",
                cost,
                "warning",
                f"{cost} of a charge unrelated to other charges (a Credit) must match BilledCost",
                f"{CATEGORY} = 'Credit' AND {q(price)} IS NULL AND {differs(q(cost), q('BilledCost'))}",
                show(cost, "BilledCost"),
                rule=f"{cost}-C-008-C",
            )
        )
    for price in (
        "ListUnitPrice",
        "ContractedUnitPrice",
        "PricingCurrencyListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
    ):
        checks.append(
            Check(
                f"FOCUS-{price}-NonNegative",
                price,
                "error",
                f"{price} must be a non-negative decimal",
                f"{q(price)} < 0",
                rule=f"{price}-C-008-M",
            )
        )
    return checks


def cost_rules() -> list[Check]:
    return [
        Check(
            "FOCUS-ContractedCost-NotAboveListCost",
            "ContractedCost",
            "warning",
            "ContractedCost above ListCost on a priced Usage/Purchase row (a negotiated price "
            "is not expected to exceed the list price)",
            f"{USAGE_OR_PURCHASE} AND {q('ListCost')} >= 0 AND {q('ContractedCost')} > "
            f"{q('ListCost')} AND {differs(q('ContractedCost'), q('ListCost'))}",
            show("ListCost", "ContractedCost"),
        ),
        Check(
            "FOCUS-EffectiveCost-ZeroForCommitmentPurchase",
            "EffectiveCost",
            "error",
            "EffectiveCost must be 0 for the purchase of a commitment discount (its cost is "
            "amortised onto the usage it covers)",
            f"{COMMITMENT_PURCHASE} AND {q('EffectiveCost')} <> 0",
            show("ChargeCategory", "CommitmentDiscountId", "EffectiveCost"),
            rule="EffectiveCost-C-005-C",
        ),
        Check(
            "FOCUS-PricingCurrencyEffectiveCost-ZeroForCommitmentPurchase",
            "PricingCurrencyEffectiveCost",
            "error",
            "PricingCurrencyEffectiveCost must be 0 for a prepaid commitment purchase",
            f"{COMMITMENT_PURCHASE} AND {q('PricingCurrencyEffectiveCost')} <> 0",
            show("ChargeCategory", "CommitmentDiscountId", "PricingCurrencyEffectiveCost"),
            rule="PricingCurrencyEffectiveCost-C-005-M",
        ),
        Check(
            "FOCUS-EffectiveCost-EqualsBilledCostForCredit",
            "EffectiveCost",
            "warning",
            "EffectiveCost of a charge unrelated to other charges (a Credit) must match BilledCost",
            f"{CATEGORY} = 'Credit' AND {differs(q('EffectiveCost'), q('BilledCost'))}",
            show("EffectiveCost", "BilledCost"),
            rule="EffectiveCost-C-010-C",
        ),
    ]


def charges() -> list[Check]:
    subcategory_pairs = [
        f"{cat}|{sub}" for cat, subs in SERVICE_SUBCATEGORIES.items() for sub in subs
    ]
    return [
        Check(
            "FOCUS-ChargeFrequency-NotUsageBasedForPurchase",
            "ChargeFrequency",
            "error",
            "ChargeFrequency must not be 'Usage-Based' when ChargeCategory is 'Purchase'",
            f"{CATEGORY} = 'Purchase' AND {q('ChargeFrequency')} = 'Usage-Based'",
            show("ChargeCategory", "ChargeFrequency"),
            rule="ChargeFrequency-C-004-C",
        ),
        Check(
            "FOCUS-ServiceSubcategory-Parent",
            "ServiceSubcategory",
            "error",
            "ServiceSubcategory must belong to its row's ServiceCategory",
            f"{q('ServiceSubcategory')} IN {lit(sorted(set(s.split('|')[1] for s in subcategory_pairs)))}"
            f" AND {q('ServiceCategory')} || '|' || {q('ServiceSubcategory')} NOT IN "
            f"{lit(subcategory_pairs)}",
            show("ServiceCategory", "ServiceSubcategory"),
            rule="ServiceSubcategory-C-004-M",
        ),
        Check(
            "FOCUS-ChargeDescription-NotNull",
            "ChargeDescription",
            "warning",
            "ChargeDescription should not be null",
            f"{q('ChargeDescription')} IS NULL",
            rule="ChargeDescription-C-003-O",
        ),
    ]
