"""The FOCUS column catalogue, declared as data.

CostCouncil's canonical cost schema is FOCUS 1.2 (the FinOps Foundation's FinOps Open Cost and
Usage Specification): 57 columns, of which 21 are mandatory, 32 conditional and 4 recommended.
Files in FOCUS 1.0 and 1.1 are upgraded to it on ingest; files in 1.3 keep the columns 1.3 added
(``ServiceProviderName``, ``HostProviderName``, ``ContractApplied`` and the ``Allocated*``
columns) as nullable extras.

Verified against the specification's column pages (``FOCUS_Spec/specification/columns/*.md``,
1.3: ``specification/datasets/cost_and_usage/columns/*.md``) and the Foundation's machine-readable
1.2 rule model (``focus_validator/rules/model-1.2.0.1.json``): feature level (``Presence`` rules),
nullability (``Nullability`` rules) and allowed values. ``nullable`` is what holds on *every*
row: a column whose nullability depends on other columns (``PricingQuantity`` is null for
``Tax`` rows) is nullable here, and the conditional rules live in :mod:`costcouncil.conformance`.
A conditional or recommended column with ``nullable=False`` must have a value on every row *when
the column is present* (``ChargeFrequency``, ``ServiceSubcategory``, ``PricingCurrency``,
``PricingCurrencyEffectiveCost``).

Glossary used in docstrings across the package:

* *cost row* -- one row of a FOCUS dataset; its money columns are decimals.
* *feature level* -- ``mandatory`` (always present, nullability per column), ``conditional``
  (present when the provider supports the feature) or ``recommended``.
* *kind* -- the FOCUS data type: ``string``, ``decimal``, ``datetime``, ``json`` (KeyValueFormat)
  or ``currency`` (an ISO 4217 code).
* *value format* -- the spec's formatting attribute beyond the type: ``unit`` (UnitFormat),
  ``currency`` (CurrencyFormat), ``key-value`` (KeyValueFormat), ``allowed`` (Allowed Values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["string", "decimal", "datetime", "json", "currency"]
Level = Literal["mandatory", "conditional", "recommended"]
ValueFormat = Literal["", "unit", "currency", "key-value", "allowed"]

FOCUS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
CANONICAL_VERSION = "1.2"

#: Decimal precision and scale used for every money and quantity column in the lake.
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 12


@dataclass(frozen=True)
class Column:
    """One FOCUS column: its data kind, feature level, nullability and allowed values."""

    name: str
    kind: Kind
    level: Level
    nullable: bool = True
    allowed: tuple[str, ...] = ()
    since: str = "1.0"
    until: str | None = None
    note: str = field(default="", compare=False)
    #: The FOCUS version that deprecated the column (still present, superseded).
    deprecated: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def value_format(self) -> ValueFormat:
        """The spec's value-format attribute for this column ("" when unconstrained)."""
        if self.allowed:
            return "allowed"
        if self.kind == "currency":
            return "currency"
        if self.kind == "json":
            return "key-value"
        return "unit" if self.name in UNIT_COLUMNS else ""


SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)

#: ServiceSubcategory allowed values by parent ServiceCategory (FOCUS 1.1 and 1.2,
#: ``servicesubcategory.md``; 1.2 rule ``ServiceSubcategory-C-004-M``: one parent each).
SERVICE_SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "AI and Machine Learning": (
        "AI Platforms",
        "Bots",
        "Generative AI",
        "Machine Learning",
        "Natural Language Processing",
        "Other (AI and Machine Learning)",
    ),
    "Analytics": (
        "Analytics Platforms",
        "Business Intelligence",
        "Data Processing",
        "Search",
        "Streaming Analytics",
        "Other (Analytics)",
    ),
    "Business Applications": ("Productivity and Collaboration", "Other (Business Applications)"),
    "Compute": (
        "Containers",
        "End User Computing",
        "Quantum Compute",
        "Serverless Compute",
        "Virtual Machines",
        "Other (Compute)",
    ),
    "Databases": (
        "Caching",
        "Data Warehouses",
        "Ledger Databases",
        "NoSQL Databases",
        "Relational Databases",
        "Time Series Databases",
        "Other (Databases)",
    ),
    "Developer Tools": (
        "Developer Platforms",
        "Continuous Integration and Deployment",
        "Development Environments",
        "Source Code Management",
        "Quality Assurance",
        "Other (Developer Tools)",
    ),
    "Identity": ("Identity and Access Management", "Other (Identity)"),
    "Integration": ("API Management", "Messaging", "Workflow Orchestration", "Other (Integration)"),
    "Internet of Things": ("IoT Analytics", "IoT Platforms", "Other (Internet of Things)"),
    "Management and Governance": (
        "Architecture",
        "Compliance",
        "Cost Management",
        "Data Governance",
        "Disaster Recovery",
        "Endpoint Management",
        "Observability",
        "Support",
        "Other (Management and Governance)",
    ),
    "Media": (
        "Content Creation",
        "Gaming",
        "Media Streaming",
        "Mixed Reality",
        "Other (Media)",
    ),
    "Migration": ("Data Migration", "Resource Migration", "Other (Migration)"),
    "Mobile": ("Other (Mobile)",),
    "Multicloud": ("Multicloud Integration", "Other (Multicloud)"),
    "Networking": (
        "Application Networking",
        "Content Delivery",
        "Network Connectivity",
        "Network Infrastructure",
        "Network Routing",
        "Network Security",
        "Other (Networking)",
    ),
    "Security": (
        "Secret Management",
        "Security Posture Management",
        "Threat Detection and Response",
        "Other (Security)",
    ),
    "Storage": (
        "Backup Storage",
        "Block Storage",
        "File Storage",
        "Object Storage",
        "Storage Platforms",
        "Other (Storage)",
    ),
    "Web": ("Application Platforms", "Other (Web)"),
    "Other": ("Other (Other)",),
}

#: Every ServiceSubcategory value, in the specification's order.
SERVICE_SUBCATEGORY_VALUES: tuple[str, ...] = tuple(
    sub for subs in SERVICE_SUBCATEGORIES.values() for sub in subs
)

CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
CHARGE_CLASSES = ("Correction",)
COMMITMENT_DISCOUNT_CATEGORIES = ("Spend", "Usage")
COMMITMENT_DISCOUNT_STATUSES = ("Used", "Unused")
CAPACITY_RESERVATION_STATUSES = ("Used", "Unused")

#: Columns whose values SHOULD conform to the spec's UnitFormat attribute.
UNIT_COLUMNS = frozenset({"PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit"})


def _c(name: str, kind: Kind, level: Level, **kw: object) -> Column:
    return Column(name, kind, level, **kw)  # type: ignore[arg-type]


M: Level = "mandatory"
C: Level = "conditional"
R: Level = "recommended"

#: FOCUS 1.2, alphabetical, as the specification lists it.
FOCUS_1_2: tuple[Column, ...] = (
    _c("AvailabilityZone", "string", R),
    _c("BilledCost", "decimal", M, nullable=False),
    _c("BillingAccountId", "string", M, nullable=False),
    _c("BillingAccountName", "string", M),
    _c("BillingAccountType", "string", C, since="1.2"),
    _c("BillingCurrency", "currency", M, nullable=False),
    _c("BillingPeriodEnd", "datetime", M, nullable=False),
    _c("BillingPeriodStart", "datetime", M, nullable=False),
    _c("CapacityReservationId", "string", C, since="1.1"),
    _c(
        "CapacityReservationStatus", "string", C, allowed=CAPACITY_RESERVATION_STATUSES, since="1.1"
    ),
    _c("ChargeCategory", "string", M, nullable=False, allowed=CHARGE_CATEGORIES),
    _c("ChargeClass", "string", M, allowed=CHARGE_CLASSES),
    _c("ChargeDescription", "string", M),
    _c("ChargeFrequency", "string", R, nullable=False, allowed=CHARGE_FREQUENCIES),
    _c("ChargePeriodEnd", "datetime", M, nullable=False),
    _c("ChargePeriodStart", "datetime", M, nullable=False),
    _c("CommitmentDiscountCategory", "string", C, allowed=COMMITMENT_DISCOUNT_CATEGORIES),
    _c("CommitmentDiscountId", "string", C),
    _c("CommitmentDiscountName", "string", C),
    _c("CommitmentDiscountQuantity", "decimal", C, since="1.1"),
    _c("CommitmentDiscountStatus", "string", C, allowed=COMMITMENT_DISCOUNT_STATUSES),
    _c("CommitmentDiscountType", "string", C),
    _c("CommitmentDiscountUnit", "string", C, since="1.1"),
    _c("ConsumedQuantity", "decimal", C),
    _c("ConsumedUnit", "string", C),
    _c("ContractedCost", "decimal", M, nullable=False),
    _c("ContractedUnitPrice", "decimal", C),
    _c("EffectiveCost", "decimal", M, nullable=False),
    _c("InvoiceId", "string", R, since="1.2"),
    _c("InvoiceIssuerName", "string", M, nullable=False),
    _c("ListCost", "decimal", M, nullable=False),
    _c("ListUnitPrice", "decimal", C),
    _c("PricingCategory", "string", C, allowed=PRICING_CATEGORIES),
    _c("PricingCurrency", "currency", C, nullable=False, since="1.2"),
    _c("PricingCurrencyContractedUnitPrice", "decimal", C, since="1.2"),
    _c("PricingCurrencyEffectiveCost", "decimal", C, nullable=False, since="1.2"),
    _c("PricingCurrencyListUnitPrice", "decimal", C, since="1.2"),
    _c("PricingQuantity", "decimal", M),
    _c("PricingUnit", "string", M),
    _c("ProviderName", "string", M, nullable=False, deprecated="1.3"),
    _c("PublisherName", "string", M, nullable=False, deprecated="1.3"),
    _c("RegionId", "string", C),
    _c("RegionName", "string", C),
    _c("ResourceId", "string", C),
    _c("ResourceName", "string", C),
    _c("ResourceType", "string", C),
    _c("ServiceCategory", "string", M, nullable=False, allowed=SERVICE_CATEGORIES),
    _c("ServiceName", "string", M, nullable=False),
    _c(
        "ServiceSubcategory",
        "string",
        R,
        nullable=False,
        allowed=SERVICE_SUBCATEGORY_VALUES,
        since="1.1",
    ),
    _c("SkuId", "string", C),
    _c("SkuMeter", "string", C, since="1.1"),
    _c("SkuPriceDetails", "json", C, since="1.1"),
    _c("SkuPriceId", "string", C),
    _c("SubAccountId", "string", C),
    _c("SubAccountName", "string", C),
    _c("SubAccountType", "string", C, since="1.2"),
    _c("Tags", "json", C),
)

#: Columns FOCUS 1.3 added that the lake keeps alongside the 1.2 set. Levels and nullability are
#: 1.3's own (``specification/datasets/cost_and_usage/columns/*.md``); the lake stores them
#: nullable because 1.0-1.2 rows have no value for them.
FOCUS_1_3_EXTRAS: tuple[Column, ...] = (
    _c("AllocatedMethodDetails", "json", C, since="1.3"),
    _c("AllocatedMethodId", "string", C, since="1.3"),
    _c("AllocatedResourceId", "string", C, since="1.3"),
    _c("AllocatedResourceName", "string", C, since="1.3"),
    _c("AllocatedTags", "json", C, since="1.3"),
    _c("ContractApplied", "json", C, since="1.3"),
    _c(
        "HostProviderName",
        "string",
        M,
        since="1.3",
        note="1.3 content constraints say nulls allowed; 'Not Applicable' when nothing is hosted",
    ),
    _c(
        "ServiceProviderName",
        "string",
        M,
        nullable=False,
        since="1.3",
        note="replaces the deprecated ProviderName",
    ),
)


BY_NAME: dict[str, Column] = {c.name: c for c in FOCUS_1_2 + FOCUS_1_3_EXTRAS}


def columns_of(version: str) -> tuple[Column, ...]:
    """The FOCUS columns defined in ``version`` (1.3 = the 1.2 set plus its extras)."""
    if version not in FOCUS_VERSIONS:
        raise ValueError(f"unknown FOCUS version {version!r}; known: {', '.join(FOCUS_VERSIONS)}")
    if version == "1.3":
        return FOCUS_1_2 + FOCUS_1_3_EXTRAS
    return tuple(c for c in FOCUS_1_2 if c.since <= version)


def mandatory_names(version: str = CANONICAL_VERSION) -> tuple[str, ...]:
    return tuple(c.name for c in columns_of(version) if c.mandatory)
