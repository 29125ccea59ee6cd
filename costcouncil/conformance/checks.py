"""FOCUS 1.2 conformance checks, declared as data.

Each :class:`Check` is one requirement of the specification (or, as a ``warning``, one of its
SHOULDs) written as a DuckDB SQL boolean over one FOCUS 1.2 row that is TRUE when the row
*violates* it. Rule ids in ``rule`` are those of the Foundation's 1.2 rule model
(``BilledCost-C-003-M``), so a finding can be looked up in the specification.

Three kinds of check:

* ``presence`` -- the column must be in the dataset (mandatory columns);
* ``type`` -- the column, when present, must have the lake's type for its FOCUS kind;
* ``row`` -- ``sql`` over the row; a row check runs only when its own ``column`` is present, and
  other columns it mentions read as NULL when the dataset lacks them.

Money comparisons use a tolerance (:data:`ABS_TOL`, :data:`REL_TOL`), because providers round
costs and unit prices separately; corrections (``ChargeClass = 'Correction'``) are exempt from
the arithmetic, as the specification allows discrepancies there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from costcouncil.schema.currencies import ISO_4217
from costcouncil.schema.focus import FOCUS_1_2, SERVICE_SUBCATEGORIES, UNIT_COLUMNS, Column

Severity = Literal["error", "warning"]
CheckKind = Literal["presence", "type", "row"]

#: Absolute and relative tolerance for ``cost = unit price x quantity`` and cost comparisons.
ABS_TOL = "0.000001"
REL_TOL = "0.0001"


@dataclass(frozen=True)
class Check:
    """One conformance requirement.

    Attributes:
        id: stable id, ``FOCUS-<Column>-<Requirement>``.
        column: the FOCUS column the requirement is about.
        severity: ``error`` for a MUST, ``warning`` for a SHOULD or a heuristic.
        description: the requirement in words, as a report prints it.
        sql: DuckDB boolean over one row, TRUE when the row violates the requirement
            (empty for ``presence`` and ``type`` checks).
        show: SQL of what a report shows for a violating row (default: the column's value).
        kind: ``presence``, ``type`` or ``row``.
        rule: the 1.2 rule-model id(s) implemented, for reference.
    """

    id: str
    column: str
    severity: Severity
    description: str
    sql: str = ""
    show: str = ""
    kind: CheckKind = "row"
    rule: str = ""

    @property
    def show_sql(self) -> str:
        return self.show or f"CAST({q(self.column)} AS VARCHAR)"


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(values: Iterable[str]) -> str:
    """A parenthesised SQL list of string literals."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def show(*columns: str) -> str:
    """SQL showing several columns as ``A=1, B=NULL``."""
    parts = [f"'{c}=' || coalesce(CAST({q(c)} AS VARCHAR), 'NULL')" for c in columns]
    return "concat_ws(', ', " + ", ".join(parts) + ")"


def differs(a: str, b: str) -> str:
    """SQL: the decimals ``a`` and ``b`` differ by more than the tolerance."""
    return (f"abs(CAST({a} AS DOUBLE) - CAST({b} AS DOUBLE)) > {ABS_TOL} + {REL_TOL} * "
            f"greatest(abs(CAST({a} AS DOUBLE)), abs(CAST({b} AS DOUBLE)))")


CATEGORY = q("ChargeCategory")
NOT_CORRECTION = f"{q('ChargeClass')} IS DISTINCT FROM 'Correction'"
USAGE_OR_PURCHASE = f"{CATEGORY} IN ('Usage', 'Purchase') AND {NOT_CORRECTION}"
COMMITMENT_PURCHASE = f"{CATEGORY} = 'Purchase' AND {q('CommitmentDiscountId')} IS NOT NULL"


def _presence(c: Column) -> Check:
    return Check(f"FOCUS-{c.name}-Present", c.name, "error",
                 f"{c.name} is mandatory and must be present in the dataset", kind="presence",
                 rule="CostAndUsage-D-*-M")


def _type(c: Column) -> Check:
    return Check(f"FOCUS-{c.name}-Type", c.name, "error",
                 f"{c.name} must be of FOCUS type {c.kind}", kind="type", rule=f"{c.name}-C-001-M")


def _not_null(c: Column) -> Check:
    when = "" if c.mandatory else " when the column is present"
    return Check(f"FOCUS-{c.name}-NotNull", c.name, "error",
                 f"{c.name} must not be null{when}", f"{q(c.name)} IS NULL", rule="Nullability")


def _not_empty(c: Column) -> Check:
    return Check(f"FOCUS-{c.name}-NotEmpty", c.name, "error",
                 f"{c.name} must use NULL, not an empty or blank string",
                 f"trim({q(c.name)}) = ''", rule="NullHandling-A-002-M")


def _allowed(c: Column) -> Check:
    listed = ", ".join(c.allowed) if len(c.allowed) <= 8 else f"{len(c.allowed)} values"
    return Check(f"FOCUS-{c.name}-AllowedValues", c.name, "error",
                 f"{c.name} must be one of the allowed values ({listed})",
                 f"{q(c.name)} NOT IN {lit(c.allowed)}", rule="Validation: allowed values")


def _column_checks() -> list[Check]:
    checks: list[Check] = []
    for c in FOCUS_1_2:
        checks += [_presence(c)] if c.mandatory else []
        checks.append(_type(c))
        checks += [] if c.nullable else [_not_null(c)]
        checks += [_not_empty(c)] if c.kind in ("string", "currency", "json") else []
        checks += [_allowed(c)] if c.allowed else []
    return checks


def _pairs() -> list[Check]:
    """Columns that are null exactly when (``iff``) or whenever (``only``) another column is."""
    iff = [("PricingUnit", "PricingQuantity"), ("ConsumedUnit", "ConsumedQuantity"),
           ("CommitmentDiscountUnit", "CommitmentDiscountQuantity"), ("RegionName", "RegionId"),
           ("ResourceType", "ResourceId"), ("SubAccountName", "SubAccountId"),
           ("SubAccountType", "SubAccountId"), ("BillingAccountType", "BillingAccountId"),
           ("CommitmentDiscountCategory", "CommitmentDiscountId"),
           ("CommitmentDiscountType", "CommitmentDiscountId")]
    only = [("CommitmentDiscountName", "CommitmentDiscountId"),
            ("CommitmentDiscountStatus", "CommitmentDiscountId"),
            ("CapacityReservationStatus", "CapacityReservationId"),
            ("ResourceName", "ResourceId"), ("SkuMeter", "SkuId"),
            ("SkuPriceDetails", "SkuPriceId")]
    checks = [Check(f"FOCUS-{a}-NullIff{b}", a, "error",
                    f"{a} must be null exactly when {b} is null",
                    f"({q(a)} IS NULL) <> ({q(b)} IS NULL)", show(a, b), rule=f"{a}-C-00*-C")
              for a, b in iff]
    checks += [Check(f"FOCUS-{a}-NullWhen{b}Null", a, "error",
                     f"{a} must be null when {b} is null",
                     f"{q(a)} IS NOT NULL AND {q(b)} IS NULL", show(a, b), rule=f"{a}-C-004-C")
               for a, b in only]
    return checks


#: Columns null for Tax rows and not null for Usage/Purchase rows that are not corrections.
PRICED_COLUMNS = ("PricingQuantity", "PricingCategory", "ListUnitPrice", "ContractedUnitPrice",
                  "SkuId", "SkuPriceId", "PricingCurrencyListUnitPrice",
                  "PricingCurrencyContractedUnitPrice")


def _priced() -> list[Check]:
    checks: list[Check] = []
    for name in PRICED_COLUMNS:
        checks.append(Check(f"FOCUS-{name}-NullForTax", name, "error",
                            f"{name} must be null when ChargeCategory is 'Tax'",
                            f"{CATEGORY} = 'Tax' AND {q(name)} IS NOT NULL",
                            show("ChargeCategory", name), rule=f"{name}-C-00*-C"))
        checks.append(Check(f"FOCUS-{name}-NotNullForUsagePurchase", name, "error",
                            f"{name} must not be null when ChargeCategory is 'Usage' or "
                            "'Purchase' and ChargeClass is not 'Correction'",
                            f"{USAGE_OR_PURCHASE} AND {q(name)} IS NULL",
                            show("ChargeCategory", "ChargeClass", name), rule=f"{name}-C-00*-C"))
    return checks


def _commitments() -> list[Check]:
    cd_id, status = q("CommitmentDiscountId"), q("CommitmentDiscountStatus")
    in_scope = f"{CATEGORY} IN ('Usage', 'Purchase') AND {cd_id} IS NOT NULL"
    quantity = q("CommitmentDiscountQuantity")
    return [
        Check("FOCUS-CommitmentDiscountStatus-NotNullForUsage", "CommitmentDiscountStatus",
              "error", "CommitmentDiscountStatus must not be null when CommitmentDiscountId is "
              "not null and ChargeCategory is 'Usage'",
              f"{cd_id} IS NOT NULL AND {CATEGORY} = 'Usage' AND {status} IS NULL",
              show("CommitmentDiscountId", "ChargeCategory"), rule="CommitmentDiscountStatus-C-004-C"),
        Check("FOCUS-CommitmentDiscountQuantity-NotNull", "CommitmentDiscountQuantity", "error",
              "CommitmentDiscountQuantity must not be null for Usage/Purchase rows with a "
              "CommitmentDiscountId that are not corrections",
              f"{in_scope} AND {NOT_CORRECTION} AND {quantity} IS NULL",
              show("ChargeCategory", "CommitmentDiscountId"),
              rule="CommitmentDiscountQuantity-C-005-C"),
        Check("FOCUS-CommitmentDiscountQuantity-Null", "CommitmentDiscountQuantity", "error",
              "CommitmentDiscountQuantity must be null unless ChargeCategory is 'Usage' or "
              "'Purchase' and CommitmentDiscountId is not null",
              f"NOT coalesce({in_scope}, false) AND {quantity} IS NOT NULL",
              show("ChargeCategory", "CommitmentDiscountId", "CommitmentDiscountQuantity"),
              rule="CommitmentDiscountQuantity-C-007-C"),
        Check("FOCUS-CapacityReservationStatus-NotNullForUsage", "CapacityReservationStatus",
              "error", "CapacityReservationStatus must not be null when CapacityReservationId "
              "is not null and ChargeCategory is 'Usage'",
              f"{q('CapacityReservationId')} IS NOT NULL AND {CATEGORY} = 'Usage' AND "
              f"{q('CapacityReservationStatus')} IS NULL",
              show("CapacityReservationId", "ChargeCategory"),
              rule="CapacityReservationStatus-C-004-C"),
        Check("FOCUS-PricingCategory-CommittedWhenUsed", "PricingCategory", "error",
              "PricingCategory must be 'Committed' for charges that used a commitment discount",
              f"{status} = 'Used' AND {CATEGORY} <> 'Purchase' AND "
              f"{q('PricingCategory')} IS DISTINCT FROM 'Committed'",
              show("CommitmentDiscountStatus", "ChargeCategory", "PricingCategory"),
              rule="PricingCategory-C-009-C"),
    ]


def _consumed() -> list[Check]:
    usage_not_unused = (f"{CATEGORY} = 'Usage' AND "
                        f"{q('CommitmentDiscountStatus')} IS DISTINCT FROM 'Unused'")
    return [
        Check("FOCUS-ConsumedQuantity-NullUnlessUsage", "ConsumedQuantity", "error",
              "ConsumedQuantity must be null when ChargeCategory is not 'Usage' or the row is "
              "the unused portion of a commitment discount",
              f"NOT coalesce({usage_not_unused}, false) AND {q('ConsumedQuantity')} IS NOT NULL",
              show("ChargeCategory", "CommitmentDiscountStatus", "ConsumedQuantity"),
              rule="ConsumedQuantity-C-004-C"),
        Check("FOCUS-ConsumedQuantity-NotNullForUsage", "ConsumedQuantity", "error",
              "ConsumedQuantity must not be null for Usage rows (other than unused commitment "
              "and correction rows)",
              f"{usage_not_unused} AND {NOT_CORRECTION} AND {q('ConsumedQuantity')} IS NULL",
              show("ChargeCategory", "CommitmentDiscountStatus", "ChargeClass"),
              rule="ConsumedQuantity-C-006-C"),
    ]


def _formats() -> list[Check]:
    checks = [
        Check("FOCUS-BillingCurrency-ISO4217", "BillingCurrency", "error",
              "BillingCurrency must be an ISO 4217 national currency code",
              f"{q('BillingCurrency')} NOT IN {lit(sorted(ISO_4217))}",
              rule="BillingCurrency-C-003-M, CurrencyFormat-A-001-C"),
        Check("FOCUS-PricingCurrency-ISO4217", "PricingCurrency", "warning",
              "PricingCurrency is not an ISO 4217 code (allowed only for a virtual currency)",
              f"{q('PricingCurrency')} NOT IN {lit(sorted(ISO_4217))}",
              rule="PricingCurrency-C-003-M, CurrencyFormat-A-002-C"),
    ]
    checks += [Check(f"FOCUS-{name}-UnitFormat", name, "warning",
                     f"{name} should follow the FOCUS UnitFormat (e.g. 'GB-Hours', "
                     "'1000 Tokens', 'Requests/Second')", _bad_unit(q(name)), rule="UnitFormat")
               for name in sorted(UNIT_COLUMNS)]
    for name in ("Tags", "SkuPriceDetails"):
        checks.append(Check(f"FOCUS-{name}-JsonObject", name, "error",
                            f"{name} must be a serialized JSON object",
                            f"{q(name)} IS NOT NULL AND (NOT coalesce(json_valid({q(name)}), "
                            f"false) OR json_type({q(name)}) <> 'OBJECT')",
                            rule="KeyValueFormat-A-001-M"))
        checks.append(Check(f"FOCUS-{name}-FlatValues", name, "error",
                            f"{name} values must not be objects or arrays",
                            f"CASE WHEN coalesce(json_valid({q(name)}), false) THEN list_has_any("
                            f"json_type({q(name)}, '$.*'), ['OBJECT', 'ARRAY']) END",
                            rule="KeyValueFormat-A-004-M"))
    return checks


_UNIT_WORD = r"[A-Za-z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)*"
_UNIT = rf"(?:{_UNIT_WORD})(?:-{_UNIT_WORD})*"
UNIT_PATTERN = rf"^(?:[1-9][0-9]* )?{_UNIT}(?:/(?:[1-9][0-9]* )?{_UNIT})?$"
_TIME = "(?:Year|Month|Day|Hour|Minute|Second|Millisecond|Microsecond)s?"
#: Words glued by a space where the UnitFormat wants '-' or '/': "GB Hours", "OCPU Per Hour".
UNIT_MISJOINED = rf"(?:[A-Za-z] {_TIME}(?:$|[-/ ])|(?:^|[ -/])[Pp]er(?:$| ))"


def _bad_unit(column: str) -> str:
    return (f"NOT regexp_full_match({column}, '{UNIT_PATTERN}') OR "
            f"regexp_matches({column}, '{UNIT_MISJOINED}')")


def _periods() -> list[Check]:
    def order(kind: str) -> Check:
        start, end = q(f"{kind}PeriodStart"), q(f"{kind}PeriodEnd")
        return Check(f"FOCUS-{kind}PeriodEnd-AfterStart", f"{kind}PeriodEnd", "error",
                     f"{kind}PeriodStart must be before {kind}PeriodEnd (half-open period)",
                     f"{start} >= {end}", show(f"{kind}PeriodStart", f"{kind}PeriodEnd"),
                     rule=f"{kind}PeriodEnd-C-004-M")
    within = Check(
        "FOCUS-ChargePeriodStart-WithinBillingPeriod", "ChargePeriodStart", "warning",
        "a charge that is not a correction should fall within its billing period",
        f"{NOT_CORRECTION} AND ({q('ChargePeriodStart')} < {q('BillingPeriodStart')} OR "
        f"{q('ChargePeriodEnd')} > {q('BillingPeriodEnd')})",
        show("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"),
        rule="ChargeClass-C-004-C")
    return [order("Charge"), order("Billing"), within]


def _arithmetic() -> list[Check]:
    checks: list[Check] = []
    for cost, price in (("ListCost", "ListUnitPrice"), ("ContractedCost", "ContractedUnitPrice")):
        product = f"{q(price)} * {q('PricingQuantity')}"
        checks.append(Check(
            f"FOCUS-{cost}-UnitPriceTimesQuantity", cost, "error",
            f"{cost} must equal {price} x PricingQuantity when both are set and the row is not "
            "a correction", f"{NOT_CORRECTION} AND {differs(product, q(cost))}",
            show(cost, price, "PricingQuantity"), rule=f"{cost}-C-009-C"))
        checks.append(Check(
            f"FOCUS-{cost}-EqualsBilledCostForCredit", cost, "warning",
            f"{cost} of a charge unrelated to other charges (a Credit) must match BilledCost",
            f"{CATEGORY} = 'Credit' AND {q(price)} IS NULL AND {differs(q(cost), q('BilledCost'))}",
            show(cost, "BilledCost"), rule=f"{cost}-C-008-C"))
    for price in ("ListUnitPrice", "ContractedUnitPrice", "PricingCurrencyListUnitPrice",
                  "PricingCurrencyContractedUnitPrice"):
        checks.append(Check(f"FOCUS-{price}-NonNegative", price, "error",
                            f"{price} must be a non-negative decimal", f"{q(price)} < 0",
                            rule=f"{price}-C-008-M"))
    return checks


def _cost_rules() -> list[Check]:
    return [
        Check("FOCUS-ContractedCost-NotAboveListCost", "ContractedCost", "warning",
              "ContractedCost above ListCost on a priced Usage/Purchase row (a negotiated price "
              "is not expected to exceed the list price)",
              f"{USAGE_OR_PURCHASE} AND {q('ListCost')} >= 0 AND {q('ContractedCost')} > "
              f"{q('ListCost')} AND {differs(q('ContractedCost'), q('ListCost'))}",
              show("ListCost", "ContractedCost")),
        Check("FOCUS-EffectiveCost-ZeroForCommitmentPurchase", "EffectiveCost", "error",
              "EffectiveCost must be 0 for the purchase of a commitment discount (its cost is "
              "amortised onto the usage it covers)",
              f"{COMMITMENT_PURCHASE} AND {q('EffectiveCost')} <> 0",
              show("ChargeCategory", "CommitmentDiscountId", "EffectiveCost"),
              rule="EffectiveCost-C-005-C"),
        Check("FOCUS-PricingCurrencyEffectiveCost-ZeroForCommitmentPurchase",
              "PricingCurrencyEffectiveCost", "error",
              "PricingCurrencyEffectiveCost must be 0 for a prepaid commitment purchase",
              f"{COMMITMENT_PURCHASE} AND {q('PricingCurrencyEffectiveCost')} <> 0",
              show("ChargeCategory", "CommitmentDiscountId", "PricingCurrencyEffectiveCost"),
              rule="PricingCurrencyEffectiveCost-C-005-M"),
        Check("FOCUS-EffectiveCost-EqualsBilledCostForCredit", "EffectiveCost", "warning",
              "EffectiveCost of a charge unrelated to other charges (a Credit) must match "
              "BilledCost", f"{CATEGORY} = 'Credit' AND "
              f"{differs(q('EffectiveCost'), q('BilledCost'))}",
              show("EffectiveCost", "BilledCost"), rule="EffectiveCost-C-010-C"),
    ]


def _charges() -> list[Check]:
    subcategory_pairs = [f"{cat}|{sub}" for cat, subs in SERVICE_SUBCATEGORIES.items()
                         for sub in subs]
    return [
        Check("FOCUS-ChargeFrequency-NotUsageBasedForPurchase", "ChargeFrequency", "error",
              "ChargeFrequency must not be 'Usage-Based' when ChargeCategory is 'Purchase'",
              f"{CATEGORY} = 'Purchase' AND {q('ChargeFrequency')} = 'Usage-Based'",
              show("ChargeCategory", "ChargeFrequency"), rule="ChargeFrequency-C-004-C"),
        Check("FOCUS-ServiceSubcategory-Parent", "ServiceSubcategory", "error",
              "ServiceSubcategory must belong to its row's ServiceCategory",
              f"{q('ServiceSubcategory')} IN {lit(sorted(set(s.split('|')[1] for s in subcategory_pairs)))}"
              f" AND {q('ServiceCategory')} || '|' || {q('ServiceSubcategory')} NOT IN "
              f"{lit(subcategory_pairs)}", show("ServiceCategory", "ServiceSubcategory"),
              rule="ServiceSubcategory-C-004-M"),
        Check("FOCUS-ChargeDescription-NotNull", "ChargeDescription", "warning",
              "ChargeDescription should not be null", f"{q('ChargeDescription')} IS NULL",
              rule="ChargeDescription-C-003-O"),
    ]


ALL_CHECKS: tuple[Check, ...] = tuple(
    _column_checks() + _pairs() + _priced() + _commitments() + _consumed() + _formats()
    + _periods() + _arithmetic() + _cost_rules() + _charges()
)

BY_ID: dict[str, Check] = {c.id: c for c in ALL_CHECKS}

__all__ = ["ALL_CHECKS", "BY_ID", "Check", "CheckKind", "Severity"]
