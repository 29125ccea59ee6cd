"""Azure cost-details exports (Enterprise Agreement and Microsoft Customer Agreement) as sources.

Two converters, one per documented column set:

* ``azure-ea`` -- the EA cost and usage details file (PascalCase: ``CostInBillingCurrency``,
  ``BillingCurrencyCode``, ``SubscriptionId``, ``Date`` as ``M/D/YYYY``).
* ``azure-mca`` -- the Microsoft Customer Agreement file (camelCase: ``costInBillingCurrency``,
  ``billingCurrency``, ``billingProfileId``; a few columns are PascalCase in Microsoft's own list,
  e.g. ``SubscriptionId``, ``ProductName``, ``ResourceId``, ``PayGPrice`` -- both spellings are
  accepted). Partner (MPA/CSP) files share this column set and add ``partnerName``.

Both read *actual cost* exports: ``BilledCost`` is ``CostInBillingCurrency`` and so is
``EffectiveCost`` (an actual-cost file carries no amortised column; an amortised export read
through these converters puts amortised cost in both). Dates are UTC days: a row of ``Date`` D
charges ``[D, D + 1 day)``; Azure's billing period end date is inclusive, FOCUS's is exclusive,
so ``BillingPeriodEnd`` is the end date + 1 day. See ``docs/sources/azure.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from costcouncil.ingest.sources.base import Converter, Expression, col, lit

DECIMAL = "DECIMAL(38,12)"

#: MeterCategory (lower-cased) -> FOCUS ServiceCategory. Checked before ServiceFamily.
METER_CATEGORY_SERVICE: Mapping[str, str] = {
    "azure openai": "AI and Machine Learning",
    "azure openai service": "AI and Machine Learning",
    "cognitive services": "AI and Machine Learning",
    "azure cognitive services": "AI and Machine Learning",
    "azure ai services": "AI and Machine Learning",
    "foundry models": "AI and Machine Learning",
    "machine learning": "AI and Machine Learning",
    "azure machine learning": "AI and Machine Learning",
    "machine learning studio": "AI and Machine Learning",
    "azure cognitive search": "AI and Machine Learning",
    "azure bot service": "AI and Machine Learning",
    "virtual machines": "Compute",
    "virtual machines licenses": "Compute",
    "cloud services": "Compute",
    "azure kubernetes service": "Compute",
    "container instances": "Compute",
    "azure container apps": "Compute",
    "functions": "Compute",
    "azure app service": "Web",
    "app service": "Web",
    "azure batch": "Compute",
    "batch": "Compute",
    "virtual machine scale sets": "Compute",
    "azure virtual desktop": "Compute",
    "storage": "Storage",
    "backup": "Storage",
    "azure netapp files": "Storage",
    "virtual network": "Networking",
    "bandwidth": "Networking",
    "load balancer": "Networking",
    "vpn gateway": "Networking",
    "application gateway": "Networking",
    "azure front door service": "Networking",
    "azure firewall": "Networking",
    "content delivery network": "Networking",
    "azure dns": "Networking",
    "expressroute": "Networking",
    "ip addresses": "Networking",
    "network watcher": "Networking",
    "nat gateway": "Networking",
    "sql database": "Databases",
    "sql managed instance": "Databases",
    "azure cosmos db": "Databases",
    "azure database for postgresql": "Databases",
    "azure database for mysql": "Databases",
    "redis cache": "Databases",
    "azure cache for redis": "Databases",
    "azure synapse analytics": "Analytics",
    "azure databricks": "Analytics",
    "hdinsight": "Analytics",
    "azure data factory v2": "Analytics",
    "azure data factory": "Analytics",
    "data factory": "Analytics",
    "azure data explorer": "Analytics",
    "stream analytics": "Analytics",
    "power bi embedded": "Analytics",
    "microsoft fabric": "Analytics",
    "event hubs": "Integration",
    "service bus": "Integration",
    "event grid": "Integration",
    "logic apps": "Integration",
    "api management": "Integration",
    "iot hub": "Internet of Things",
    "azure iot hub": "Internet of Things",
    "azure monitor": "Management and Governance",
    "log analytics": "Management and Governance",
    "insight and analytics": "Management and Governance",
    "application insights": "Management and Governance",
    "automation": "Management and Governance",
    "azure site recovery": "Management and Governance",
    "advanced threat protection": "Security",
    "microsoft defender for cloud": "Security",
    "key vault": "Security",
    "sentinel": "Security",
    "azure ddos protection": "Security",
    "microsoft entra id": "Identity",
    "azure active directory": "Identity",
    "azure active directory b2c": "Identity",
    "azure devops": "Developer Tools",
    "visual studio subscription": "Developer Tools",
    "container registry": "Developer Tools",
    "media services": "Media",
    "azure communication services": "Media",
    "azure arc": "Multicloud",
    "azure migrate": "Migration",
    "azure database migration service": "Migration",
}

#: ServiceFamily (lower-cased) -> FOCUS ServiceCategory, when MeterCategory is unknown or empty.
SERVICE_FAMILY_SERVICE: Mapping[str, str] = {
    "ai + machine learning": "AI and Machine Learning",
    "ai and machine learning": "AI and Machine Learning",
    "analytics": "Analytics",
    "compute": "Compute",
    "containers": "Compute",
    "windows virtual desktop": "Compute",
    "databases": "Databases",
    "developer tools": "Developer Tools",
    "devops": "Developer Tools",
    "integration": "Integration",
    "internet of things": "Internet of Things",
    "iot": "Internet of Things",
    "management and governance": "Management and Governance",
    "management + governance": "Management and Governance",
    "media": "Media",
    "mixed reality": "Media",
    "migration": "Migration",
    "mobile": "Mobile",
    "networking": "Networking",
    "security": "Security",
    "identity": "Identity",
    "storage": "Storage",
    "web": "Web",
    "azure arc": "Multicloud",
    "azure stack": "Multicloud",
}

#: ChargeType -> FOCUS ChargeCategory. An unlisted value is passed through (and flagged).
CHARGE_CATEGORY: Mapping[str, str] = {
    "usage": "Usage",
    "unusedreservation": "Usage",
    "unusedsavingsplan": "Usage",
    "purchase": "Purchase",
    "refund": "Purchase",
    "tax": "Tax",
    "roundingadjustment": "Adjustment",
    "adjustment": "Adjustment",
    "credit": "Credit",
}

#: Frequency -> FOCUS ChargeFrequency.
CHARGE_FREQUENCY: Mapping[str, str] = {
    "onetime": "One-Time",
    "one-time": "One-Time",
    "recurring": "Recurring",
    "usagebased": "Usage-Based",
    "usage-based": "Usage-Based",
}

#: PricingModel (lower-cased, spaces removed) -> FOCUS PricingCategory.
PRICING_CATEGORY: Mapping[str, str] = {
    "ondemand": "Standard",
    "spot": "Dynamic",
    "reservation": "Committed",
    "savingsplan": "Committed",
}


#: Azure region name (``ResourceLocation`` lower-cased without spaces, the RegionId) -> display
#: name, as ``az account list-locations`` writes it. RegionName is this table's name, else the
#: RegionId itself.
REGION_NAMES: Mapping[str, str] = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westcentralus": "West Central US",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "canadacentral": "Canada Central",
    "canadaeast": "Canada East",
    "brazilsouth": "Brazil South",
    "mexicocentral": "Mexico Central",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "ukwest": "UK West",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "switzerlandnorth": "Switzerland North",
    "norwayeast": "Norway East",
    "swedencentral": "Sweden Central",
    "italynorth": "Italy North",
    "polandcentral": "Poland Central",
    "spaincentral": "Spain Central",
    "eastasia": "East Asia",
    "southeastasia": "Southeast Asia",
    "japaneast": "Japan East",
    "japanwest": "Japan West",
    "koreacentral": "Korea Central",
    "koreasouth": "Korea South",
    "centralindia": "Central India",
    "southindia": "South India",
    "westindia": "West India",
    "australiaeast": "Australia East",
    "australiasoutheast": "Australia Southeast",
    "australiacentral": "Australia Central",
    "uaenorth": "UAE North",
    "qatarcentral": "Qatar Central",
    "israelcentral": "Israel Central",
    "southafricanorth": "South Africa North",
}


def lookup(expression: str, mapping: Mapping[str, str], default: str | None = None) -> str:
    """``CASE`` over ``expression`` (already normalised) mapping keys to values, else default."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    fallback = lit(default) if default is not None else "NULL"
    return f"(CASE {expression} {whens} ELSE {fallback} END)"


def norm(expression: str) -> str:
    """Lower-case, trimmed, without spaces: how mapping keys are compared."""
    return f"replace(lower(trim({expression})), ' ', '')"


def _key(expression: str) -> str:
    return f"lower(trim({expression}))"


def day(expression: str, offset_days: int = 0) -> str:
    """An Azure date (``M/D/YYYY``, ``YYYY-MM-DD`` or an ISO timestamp) as a UTC ISO string.

    The value is read from its first 10 characters; ``offset_days`` is added. A value that is no
    date is passed through unchanged, so ingest reports it with the value it had.
    """
    parsed = f"try_strptime(left(trim({expression}), 10), ['%m/%d/%Y', '%Y-%m-%d'])"
    if offset_days:
        parsed = f"({parsed} + INTERVAL {int(offset_days)} DAY)"
    return f"coalesce(strftime({parsed}, '%Y-%m-%dT%H:%M:%SZ'), {expression})"


def region_id(location: str) -> str:
    """``ResourceLocation`` (``CentralUS``, ``westus2``, ``West US 2``) as Azure's region name."""
    return f"lower(replace({location}, ' ', ''))"


def region_name(location: str) -> str:
    """The region's display name (:data:`REGION_NAMES`), else the RegionId; NULL with it."""
    rid = region_id(location)
    return f"coalesce({lookup(rid, REGION_NAMES)}, {rid})"


def number(expression: str) -> str:
    return f"TRY_CAST({expression} AS {DECIMAL})"


def product(a: str, b: str, fallback: str) -> str:
    """``a × b`` as a decimal string, or ``fallback`` when either is missing."""
    return f"coalesce(CAST({number(a)} * {number(b)} AS VARCHAR), {fallback})"


def azure_tags(expression: str) -> str:
    """Azure's tags, ``"k": "v","k2": "v2"`` (EA, no braces) or a JSON object, as a JSON object."""
    return (
        f"(CASE WHEN {expression} IS NULL OR trim({expression}) = '' THEN NULL "
        f"WHEN starts_with(trim({expression}), '{{') THEN trim({expression}) "
        f"ELSE concat('{{', trim({expression}), '}}') END)"
    )


def _first(*names: str) -> tuple[str, ...]:
    """Alternatives: the first of these source columns the file has."""
    return tuple(col(n) for n in names)


def _coalesce(*names: str) -> str:
    return "coalesce(" + ", ".join(col(n) for n in names) + ")"


def _service_category(meter_category: str, service_family: str) -> str:
    return (
        f"coalesce({lookup(_key(meter_category), METER_CATEGORY_SERVICE)}, "
        f"{lookup(_key(service_family), SERVICE_FAMILY_SERVICE)}, 'Other')"
    )


def _commitment(charge_type: str, pricing_model: str, commitment_id: str) -> dict[str, str]:
    is_sp = f"({norm(pricing_model)} = 'savingsplan' OR {norm(charge_type)} = 'unusedsavingsplan')"
    is_ri = f"({norm(pricing_model)} = 'reservation' OR {norm(charge_type)} = 'unusedreservation')"
    known = f"{commitment_id} IS NOT NULL"
    unused = f"{norm(charge_type)} IN ('unusedreservation', 'unusedsavingsplan')"
    return {
        "CommitmentDiscountCategory": (
            f"CASE WHEN {known} AND {is_sp} THEN 'Spend' WHEN {known} AND {is_ri} THEN 'Usage' END"
        ),
        "CommitmentDiscountType": (
            f"CASE WHEN {known} AND {is_sp} THEN 'Savings Plan' "
            f"WHEN {known} AND {is_ri} THEN 'Reservation' END"
        ),
        "CommitmentDiscountStatus": (
            f"CASE WHEN {known} AND {unused} THEN 'Unused' "
            f"WHEN {known} AND {norm(charge_type)} = 'usage' THEN 'Used' END"
        ),
    }


_COMMITMENT_COLUMNS = (
    "CommitmentDiscountCategory",
    "CommitmentDiscountType",
    "CommitmentDiscountStatus",
)


def _unit_parts(unit: str) -> tuple[str, str]:
    """Azure's UnitOfMeasure (``10K``, ``1 Hour``, ``100 GB``) -> (multiplier, unit) SQL."""
    pattern = lit(r"^\s*([0-9.]+)\s*(?:([KkMm])(?:\s+|$))?\s*(.*)$")
    size = f"TRY_CAST(regexp_extract({unit}, {pattern}, 1) AS {DECIMAL})"
    scale = (
        f"(CASE upper(regexp_extract({unit}, {pattern}, 2)) WHEN 'K' THEN 1000 "
        f"WHEN 'M' THEN 1000000 ELSE 1 END)"
    )
    rest = f"nullif(trim(regexp_extract({unit}, {pattern}, 3)), '')"
    multiplier = f"coalesce({size}, 1) * {scale}"
    name = f"coalesce({rest}, CASE WHEN {size} IS NOT NULL THEN 'Units' END, {unit})"
    return multiplier, name


def _columns(
    c: Mapping[str, tuple[str, ...]],
    agreement: str,
    issuers: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Expression]:
    """The FOCUS mapping, given each logical Azure column's spellings in this agreement.

    ``c`` maps a logical column (``cost``, ``date`` ...) to its spellings, preferred first; each
    becomes one alternative, so a file with either spelling resolves. ``issuers`` are groups of
    columns naming the invoice issuer (a CSP partner or reseller), tried in order.
    """

    def one(key: str) -> tuple[str, ...]:
        return _first(*c.get(key, ()))

    def each(key: str, build: Callable[[str], str]) -> tuple[str, ...]:
        return tuple(build(col(n)) for n in c.get(key, ()))

    cost = col(c["cost"][0])
    charge_type, pricing_model = col(c["chargeType"][0]), col(c["pricingModel"][0])
    quantity = col(c["quantity"][0])
    multiplier, unit = _unit_parts(col(c["unit"][0]))
    by_frequency = lookup(norm(col(c["frequency"][0])), CHARGE_FREQUENCY)
    by_type = f"CASE WHEN {norm(charge_type)} = 'purchase' THEN 'One-Time' ELSE 'Usage-Based' END"
    commitment_ids = (
        *(f"coalesce({col(b)}, {col(r)})" for b in c["benefitId"] for r in c["reservationId"]),
        *one("reservationId"),
        *one("benefitId"),
    )
    mapping: dict[str, Expression] = {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "BillingCurrency": col(c["currency"][0]),
        "BillingAccountId": one("billingAccountId"),
        "BillingAccountName": one("billingAccountName"),
        "BillingAccountType": lit(agreement),
        "BillingPeriodStart": each("billingPeriodStart", day),
        "BillingPeriodEnd": each("billingPeriodEnd", lambda e: day(e, 1)),
        "ChargePeriodStart": each("date", day),
        "ChargePeriodEnd": each("date", lambda e: day(e, 1)),
        "ChargeCategory": f"coalesce({lookup(norm(charge_type), CHARGE_CATEGORY)}, {charge_type})",
        "ChargeClass": f"CASE WHEN {norm(charge_type)} = 'refund' THEN 'Correction' END",
        "ChargeDescription": one("productName"),
        "ChargeFrequency": (f"coalesce({by_frequency}, {by_type})", by_type),
        "PricingCategory": (
            f"CASE WHEN {lookup(norm(charge_type), CHARGE_CATEGORY)} IN ('Usage', 'Purchase') "
            f"THEN coalesce({lookup(norm(pricing_model), PRICING_CATEGORY)}, "
            f"CASE WHEN {pricing_model} IS NOT NULL THEN 'Other' END) END"
        ),
        "PricingQuantity": quantity,
        "PricingUnit": col(c["unit"][0]),
        "ConsumedQuantity": (
            f"CASE WHEN {norm(charge_type)} = 'usage' "
            f"THEN CAST({number(quantity)} * {multiplier} AS VARCHAR) END"
        ),
        "ConsumedUnit": f"CASE WHEN {norm(charge_type)} = 'usage' THEN {unit} END",
        "ListUnitPrice": one("paygPrice"),
        "ListCost": (
            *(f"coalesce({col(n)}, {cost})" for n in c.get("paygCost", ())),
            *(product(col(p), quantity, cost) for p in c["paygPrice"]),
            cost,
        ),
        "ContractedUnitPrice": one("unitPrice"),
        "ContractedCost": (*(product(col(p), quantity, cost) for p in c["unitPrice"]), cost),
        "InvoiceId": one("invoiceId"),
        "InvoiceIssuerName": (
            *(f"coalesce({_coalesce(*names)}, 'Microsoft')" for names in issuers),
            lit("Microsoft"),
        ),
        "ProviderName": lit("Microsoft"),
        "PublisherName": (
            *each("publisherName", lambda e: f"coalesce({e}, 'Microsoft')"),
            lit("Microsoft"),
        ),
        "ServiceName": (
            *(
                f"coalesce({col(m)}, {col(f)}, {col(p)})"
                for m in c["meterCategory"]
                for f in c["serviceFamily"]
                for p in c["productName"]
            ),
            *(
                f"coalesce({col(m)}, {col(p)})"
                for m in c["meterCategory"]
                for p in c["productName"]
            ),
        ),
        "ServiceCategory": (
            *(
                _service_category(col(m), col(f))
                for m in c["meterCategory"]
                for f in c["serviceFamily"]
            ),
            *(_service_category(col(m), "NULL") for m in c["meterCategory"]),
        ),
        "RegionId": each("resourceLocation", region_id),
        "RegionName": each("resourceLocation", region_name),
        "AvailabilityZone": one("availabilityZone"),
        "ResourceId": one("resourceId"),
        "ResourceName": (
            *one("resourceName"),
            *each("resourceId", lambda e: f"nullif(regexp_extract({e}, '[^/]+$'), '')"),
        ),
        "ResourceType": each(
            "resourceId",
            lambda e: f"nullif(regexp_extract({e}, '(?i)/providers/([^/]+/[^/]+)', 1), '')",
        ),
        "SkuId": one("skuId"),
        "SkuMeter": one("meterName"),
        "SkuPriceId": one("meterId"),
        "SubAccountId": one("subscriptionId"),
        "SubAccountName": one("subscriptionName"),
        "SubAccountType": each(
            "subscriptionId", lambda e: f"CASE WHEN {e} IS NOT NULL THEN 'Subscription' END"
        ),
        "CommitmentDiscountId": commitment_ids,
        "CommitmentDiscountName": (
            *(
                f"coalesce({col(b)}, {col(r)})"
                for b in c["benefitName"]
                for r in c["reservationName"]
            ),
            *one("reservationName"),
            *one("benefitName"),
        ),
        "Tags": each("tags", azure_tags),
    }
    for name in _COMMITMENT_COLUMNS:
        mapping[name] = tuple(
            _commitment(charge_type, pricing_model, known)[name] for known in commitment_ids
        )
    return {k: v for k, v in mapping.items() if v != ()}


#: Logical Azure columns and their spellings in the EA file (first listed is preferred).
EA_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "cost": ("CostInBillingCurrency",),
    "currency": ("BillingCurrencyCode",),
    "billingAccountId": ("BillingAccountId",),
    "billingAccountName": ("BillingAccountName",),
    "billingPeriodStart": ("BillingPeriodStartDate",),
    "billingPeriodEnd": ("BillingPeriodEndDate",),
    "date": ("Date",),
    "chargeType": ("ChargeType",),
    "frequency": ("Frequency",),
    "pricingModel": ("PricingModel",),
    "productName": ("ProductName",),
    "quantity": ("Quantity",),
    "unit": ("UnitOfMeasure",),
    "paygPrice": ("PayGPrice",),
    "unitPrice": ("UnitPrice",),
    "publisherName": ("PublisherName",),
    "meterCategory": ("MeterCategory",),
    "serviceFamily": ("ServiceFamily",),
    "meterName": ("MeterName",),
    "meterId": ("MeterId",),
    "resourceLocation": ("ResourceLocation",),
    "availabilityZone": ("AvailabilityZone",),
    "resourceId": ("ResourceId", "InstanceId"),
    "resourceName": ("ResourceName",),
    "skuId": ("ProductId", "PartNumber"),
    "subscriptionId": ("SubscriptionId",),
    "subscriptionName": ("SubscriptionName",),
    "benefitId": ("benefitId",),
    "benefitName": ("benefitName",),
    "reservationId": ("ReservationId",),
    "reservationName": ("ReservationName",),
    "tags": ("Tags",),
}

#: The same for the MCA (and MPA/CSP) file. MCA invoices per billing profile, so the FOCUS
#: billing account is the billing profile.
MCA_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "cost": ("costInBillingCurrency",),
    "currency": ("billingCurrency",),
    "billingAccountId": ("billingProfileId",),
    "billingAccountName": ("billingProfileName",),
    "billingPeriodStart": ("billingPeriodStartDate",),
    "billingPeriodEnd": ("billingPeriodEndDate",),
    "date": ("date",),
    "chargeType": ("chargeType",),
    "frequency": ("frequency",),
    "pricingModel": ("pricingModel",),
    "productName": ("ProductName", "productName", "product"),
    "quantity": ("quantity",),
    "unit": ("unitOfMeasure",),
    "paygCost": ("paygCostInBillingCurrency",),
    "paygPrice": ("PayGPrice", "paygPrice"),
    "unitPrice": ("unitPrice",),
    "publisherName": ("publisherName",),
    "meterCategory": ("meterCategory",),
    "serviceFamily": ("serviceFamily",),
    "meterName": ("meterName",),
    "meterId": ("meterId",),
    "resourceLocation": ("resourceLocation", "location"),
    "availabilityZone": ("availabilityZone", "AvailabilityZone"),
    "resourceId": ("ResourceId", "resourceId", "InstanceName", "instanceName"),
    "skuId": ("ProductId", "productId"),
    "subscriptionId": ("SubscriptionId", "subscriptionId"),
    "subscriptionName": ("subscriptionName", "SubscriptionName"),
    "benefitId": ("benefitId",),
    "benefitName": ("benefitName",),
    "reservationId": ("reservationId",),
    "reservationName": ("reservationName",),
    "invoiceId": ("invoiceId",),
    "tags": ("tags", "Tags"),
}

_MCA_ISSUERS = (("resellerName", "partnerName"), ("partnerName",), ("resellerName",))

AZURE_EA = Converter(
    name="azure-ea",
    title="Azure Enterprise Agreement cost details",
    provider="azure",
    signature=frozenset(
        {
            "CostInBillingCurrency",
            "BillingCurrencyCode",
            "SubscriptionId",
            "MeterCategory",
            "Date",
            "ChargeType",
        }
    ),
    columns=_columns(EA_COLUMNS, "Billing Account"),
    source_cost=col("CostInBillingCurrency"),
    source_currency=col("BillingCurrencyCode"),
    priority=10,
    doc="docs/sources/azure.md",
)

AZURE_MCA = Converter(
    name="azure-mca",
    title="Azure Microsoft Customer Agreement cost details",
    provider="azure",
    signature=frozenset(
        {
            "costInBillingCurrency",
            "billingCurrency",
            "billingProfileId",
            "meterCategory",
            "date",
            "chargeType",
        }
    ),
    columns=_columns(MCA_COLUMNS, "Billing Profile", _MCA_ISSUERS),
    source_cost=col("costInBillingCurrency"),
    source_currency=col("billingCurrency"),
    priority=10,
    doc="docs/sources/azure.md",
)

CONVERTERS = (AZURE_EA, AZURE_MCA)
