"""Oracle Cloud Infrastructure (OCI) cost reports as a source.

OCI writes one cost report CSV per interval (``lineItem/*``, ``product/*``, ``usage/*``,
``cost/*`` and one ``tags/<namespace>.<key>`` column per tag key seen in that file). Times are UTC
(Oracle documents ``lineItem/intervalUsageStart`` and ``...End`` as UTC; the files write them as
``2023-11-13T10:00Z``), so naive times are read as UTC.

OCI reports carry no billing period: ``BillingPeriodStart`` is the first instant of the calendar
month (UTC) of the usage interval's start, ``BillingPeriodEnd`` the next month's. The FOCUS billing
account is the tenancy (``lineItem/tenantId``), sub-accounts are compartments.

Tags: the ``tags/*`` columns differ from file to file, so ``Tags`` is built with DuckDB's
``COLUMNS('regex')`` star expression (resolved against the file's header when the query is bound)
rather than a column list: every non-empty ``tags/<key>`` becomes ``"<key>": value``. See
``docs/sources/oci.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from costcouncil.ingest.sources.base import Converter, Expression, col, lit

DECIMAL = "DECIMAL(38,12)"

#: ``product/service`` (upper-cased) -> FOCUS ServiceCategory; anything else is ``Other``.
SERVICE_CATEGORY: Mapping[str, str] = {
    "COMPUTE": "Compute",
    "CONTAINER_ENGINE": "Compute",
    "CONTAINER_INSTANCES": "Compute",
    "FUNCTIONS": "Compute",
    "BLOCK_STORAGE": "Storage",
    "OBJECTSTORE": "Storage",
    "OBJECT_STORAGE": "Storage",
    "FILE_STORAGE": "Storage",
    "ARCHIVE_STORAGE": "Storage",
    "DATABASE": "Databases",
    "MYSQL": "Databases",
    "NOSQL": "Databases",
    "POSTGRESQL": "Databases",
    "EXADATA": "Databases",
    "NETWORK": "Networking",
    "VIRTUAL_CLOUD_NETWORK": "Networking",
    "FASTCONNECT": "Networking",
    "LOAD_BALANCER": "Networking",
    "DNS": "Networking",
    "TELEMETRY": "Management and Governance",
    "MONITORING": "Management and Governance",
    "LOGGING": "Management and Governance",
    "LOGGING_ANALYTICS": "Management and Governance",
    "NOTIFICATIONS": "Management and Governance",
    "ORACLE_STREAMING_SERVICE": "Integration",
    "STREAMING": "Integration",
    "INTEGRATION": "Integration",
    "API_GATEWAY": "Integration",
    "DATA_SCIENCE": "AI and Machine Learning",
    "GENERATIVE_AI": "AI and Machine Learning",
    "GENERATIVE_AI_AGENTS": "AI and Machine Learning",
    "AI_SERVICES": "AI and Machine Learning",
    "AI_LANGUAGE": "AI and Machine Learning",
    "AI_VISION": "AI and Machine Learning",
    "AI_SPEECH": "AI and Machine Learning",
    "DIGITAL_ASSISTANT": "AI and Machine Learning",
    "ANALYTICS": "Analytics",
    "DATA_FLOW": "Analytics",
    "DATA_INTEGRATION": "Analytics",
    "BIG_DATA": "Analytics",
    "KEY_MANAGEMENT": "Security",
    "VAULT": "Security",
    "CLOUD_GUARD": "Security",
    "WEB_APPLICATION_FIREWALL": "Security",
    "IDENTITY": "Identity",
    "DEVOPS": "Developer Tools",
    "REGISTRY": "Developer Tools",
}

#: ``product/region`` (region identifier) -> region display name, as Oracle's region list
#: writes it. RegionName is this table's name, else the identifier itself.
REGION_NAMES: Mapping[str, str] = {
    "us-ashburn-1": "US East (Ashburn)",
    "us-phoenix-1": "US West (Phoenix)",
    "us-sanjose-1": "US West (San Jose)",
    "us-chicago-1": "US Midwest (Chicago)",
    "ca-toronto-1": "Canada Southeast (Toronto)",
    "ca-montreal-1": "Canada Southeast (Montreal)",
    "mx-queretaro-1": "Mexico Central (Queretaro)",
    "sa-saopaulo-1": "Brazil East (Sao Paulo)",
    "sa-vinhedo-1": "Brazil Southeast (Vinhedo)",
    "sa-santiago-1": "Chile Central (Santiago)",
    "uk-london-1": "UK South (London)",
    "uk-cardiff-1": "UK West (Newport)",
    "eu-frankfurt-1": "Germany Central (Frankfurt)",
    "eu-amsterdam-1": "Netherlands Northwest (Amsterdam)",
    "eu-zurich-1": "Switzerland North (Zurich)",
    "eu-paris-1": "France Central (Paris)",
    "eu-marseille-1": "France South (Marseille)",
    "eu-milan-1": "Italy Northwest (Milan)",
    "eu-madrid-1": "Spain Central (Madrid)",
    "eu-stockholm-1": "Sweden Central (Stockholm)",
    "ap-tokyo-1": "Japan East (Tokyo)",
    "ap-osaka-1": "Japan Central (Osaka)",
    "ap-seoul-1": "South Korea Central (Seoul)",
    "ap-chuncheon-1": "South Korea North (Chuncheon)",
    "ap-mumbai-1": "India West (Mumbai)",
    "ap-hyderabad-1": "India South (Hyderabad)",
    "ap-singapore-1": "Singapore (Singapore)",
    "ap-sydney-1": "Australia East (Sydney)",
    "ap-melbourne-1": "Australia Southeast (Melbourne)",
    "me-jeddah-1": "Saudi Arabia West (Jeddah)",
    "me-dubai-1": "UAE East (Dubai)",
    "me-abudhabi-1": "UAE Central (Abu Dhabi)",
    "il-jerusalem-1": "Israel Central (Jerusalem)",
    "af-johannesburg-1": "South Africa Central (Johannesburg)",
}

#: A column every OCI cost report has; it anchors the tags star expression so that it always
#: matches at least one column (a file with no ``tags/*`` column still binds), and is dropped.
_ANCHOR = "lineItem/referenceNo"


def lookup(expression: str, mapping: Mapping[str, str], default: str) -> str:
    """``CASE`` mapping ``expression``'s values through ``mapping``, else the literal ``default``."""
    return lookup_or(expression, mapping, lit(default))


def lookup_or(expression: str, mapping: Mapping[str, str], default: str) -> str:
    """Like :func:`lookup`, with ``default`` an SQL expression."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"(CASE {expression} {whens} ELSE {default} END)"


def prefixed_columns_object(prefix: str, anchor: str) -> str:
    """A JSON object of every source column named ``<prefix><key>``: ``{"<key>": value}``.

    Empty values are left out; a row with none gives NULL. The column set is the file's own,
    matched when DuckDB binds the query (``COLUMNS``), so the expression names no column in double
    quotes and resolves for any header (``anchor`` must be a column every file of the format has).
    """
    pattern = lit("^(" + _regex_escape(prefix) + ".*|" + _regex_escape(anchor) + ")$")
    packed = f"json_merge_patch('{{}}', to_json(struct_pack(*COLUMNS({pattern}))))"
    entries = f"map_entries(CAST({packed} AS MAP(VARCHAR, VARCHAR)))"
    start = len(prefix) + 1
    kept = f"list_filter({entries}, lambda e: starts_with(e.key, {lit(prefix)}))"
    renamed = (
        f"list_transform({kept}, lambda e: struct_pack(key := substr(e.key, {start}), "
        f"value := e.value))"
    )
    return f"nullif(CAST(to_json(map_from_entries({renamed})) AS VARCHAR), '{{}}')"


def _regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in r"\.^$|?*+()[]{}" else ch for ch in text)


def _instant(expression: str) -> str:
    return f"TRY_CAST({expression} AS TIMESTAMPTZ)"


def _month_start(expression: str, months: int = 0) -> str:
    """The first instant (UTC) of the calendar month of ``expression``, plus ``months``."""
    month = f"date_trunc('month', timezone('UTC', {_instant(expression)}))"
    if months:
        month = f"({month} + INTERVAL {int(months)} MONTH)"
    return f"timezone('UTC', {month})"


_START = col("lineItem/intervalUsageStart")
_COST = col("cost/myCost")
_REGION = col("product/region")
_RESOURCE = col("product/resourceId")
#: The resource type an OCID encodes: ``ocid1.<type>.<realm>...`` -> ``<type>``.
_OCID_TYPE = f"nullif(regexp_extract({_RESOURCE}, '^ocid1[.]([^.]+)[.]', 1), '')"

COLUMNS: dict[str, Expression] = {
    "BilledCost": _COST,
    "EffectiveCost": _COST,
    "ContractedCost": _COST,
    "ListCost": _COST,
    "ContractedUnitPrice": col("cost/unitPrice"),
    # The report has one price, the one billed; ListCost is already myCost, so the list unit
    # price is that price too (ListCost = ListUnitPrice x PricingQuantity stays true).
    "ListUnitPrice": col("cost/unitPrice"),
    "BillingCurrency": col("cost/currencyCode"),
    "BillingAccountId": col("lineItem/tenantId"),
    "BillingAccountName": (
        f"coalesce({col('lineItem/tenantName')}, {col('lineItem/tenantId')})",
        col("lineItem/tenantId"),
    ),
    "BillingAccountType": lit("Tenancy"),
    "BillingPeriodStart": _month_start(_START),
    "BillingPeriodEnd": _month_start(_START, 1),
    "ChargePeriodStart": _START,
    "ChargePeriodEnd": col("lineItem/intervalUsageEnd"),
    "ChargeCategory": lit("Usage"),
    "ChargeClass": (
        f"CASE WHEN lower(trim({col('lineItem/isCorrection')})) = 'true' THEN 'Correction' END",
    ),
    "ChargeDescription": (col("product/Description"), col("product/description")),
    "ChargeFrequency": lit("Usage-Based"),
    "PricingQuantity": col("usage/billedQuantity"),
    "PricingUnit": (col("cost/skuUnitDescription"), col("cost/billingUnitReadable")),
    "ConsumedQuantity": (col("usage/consumedQuantity"), col("usage/billedQuantity")),
    "ConsumedUnit": (
        col("usage/consumedQuantityUnits"),
        col("cost/skuUnitDescription"),
        col("cost/billingUnitReadable"),
    ),
    # Every row is on-demand (pay-as-you-go or Universal Credits) usage; the report has no
    # column that marks a commitment discount or a spot/preemptible price.
    "PricingCategory": lit("Standard"),
    "InvoiceIssuerName": lit("Oracle"),
    "ProviderName": lit("Oracle"),
    "PublisherName": lit("Oracle"),
    "ServiceName": col("product/service"),
    "ServiceCategory": lookup(f"upper(trim({col('product/service')}))", SERVICE_CATEGORY, "Other"),
    "RegionId": _REGION,
    "RegionName": (
        f"CASE WHEN {_REGION} IS NOT NULL THEN {lookup_or(_REGION, REGION_NAMES, _REGION)} END"
    ),
    "AvailabilityZone": (col("product/availabilityDomain"),),
    "ResourceId": col("product/resourceId"),
    "ResourceName": (col("product/resourceName"),),
    "ResourceType": (
        f"CASE WHEN {_RESOURCE} IS NOT NULL THEN "
        f"coalesce({_OCID_TYPE}, lower(trim({col('product/service')}))) END"
    ),
    "SkuId": col("cost/productSku"),
    # OCI prices a part number at one rate (overage aside, which has its own columns), so the
    # SKU part number is also the price's identifier.
    "SkuPriceId": col("cost/productSku"),
    "SubAccountId": (col("product/compartmentId"),),
    "SubAccountName": (
        f"coalesce({col('product/compartmentName')}, {col('product/compartmentId')})",
        col("product/compartmentId"),
    ),
    "SubAccountType": (
        f"CASE WHEN {col('product/compartmentId')} IS NOT NULL THEN 'Compartment' END",
    ),
    "Tags": prefixed_columns_object("tags/", _ANCHOR),
}

OCI = Converter(
    name="oci-cost-report",
    title="Oracle Cloud (OCI) cost report",
    provider="oci",
    signature=frozenset(
        {
            "lineItem/referenceNo",
            "lineItem/tenantId",
            "lineItem/intervalUsageStart",
            "cost/myCost",
            "cost/currencyCode",
            "product/service",
        }
    ),
    columns=COLUMNS,
    source_cost=_COST,
    source_currency=col("cost/currencyCode"),
    naive_timezone="UTC",
    priority=10,
    doc="docs/sources/oci.md",
)

CONVERTERS = (OCI,)
