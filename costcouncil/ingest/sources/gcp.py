"""Google Cloud Billing export to BigQuery (standard usage cost) as a source.

The export is a BigQuery table with RECORD and REPEATED fields, which BigQuery cannot write to CSV
as they are. This converter reads it flattened, one column per leaf field named by its dotted path
(``service.description``, ``invoice.month``, ``usage.amount_in_pricing_units`` ...) and the
repeated fields as JSON text (``TO_JSON_STRING(credits)``, ``TO_JSON_STRING(labels)``), e.g.::

    SELECT billing_account_id, service.id AS `service.id`, ..., TO_JSON_STRING(credits) AS credits

Money: ``cost`` is the charge before credits; credits (sustained-use, committed-use, free tier,
promotions ...) are negative amounts in the ``credits`` array. What Google invoices is
``cost + sum(credits.amount)``, so that is ``BilledCost`` (FOCUS: *inclusive of the impacts of all
reduced rates and discounts*) and ``EffectiveCost``; ``ContractedCost`` is ``cost`` and
``ListCost`` is ``cost_at_list`` (``cost`` where the export has none).

Times: BigQuery TIMESTAMPs are UTC (CSV writes ``2024-01-15 10:00:00 UTC``). Google's invoice
month is a Pacific-time month, so ``BillingPeriodStart`` is midnight America/Los_Angeles on the
first day of ``invoice.month``. See ``docs/sources/gcp.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from costcouncil.ingest.sources.base import Converter, Expression, col, lit

DECIMAL = "DECIMAL(38,12)"

#: Google bills in Pacific time: invoice months start at midnight in this zone.
BILLING_ZONE = "America/Los_Angeles"

#: ``service.description`` (lower-cased) -> FOCUS ServiceCategory; anything else is ``Other``.
SERVICE_CATEGORY: Mapping[str, str] = {
    "vertex ai": "AI and Machine Learning",
    "gemini api": "AI and Machine Learning",
    "generative language api": "AI and Machine Learning",
    "cloud ai platform": "AI and Machine Learning",
    "ai platform": "AI and Machine Learning",
    "cloud tpu": "AI and Machine Learning",
    "cloud vision api": "AI and Machine Learning",
    "cloud natural language api": "AI and Machine Learning",
    "cloud speech api": "AI and Machine Learning",
    "cloud text-to-speech api": "AI and Machine Learning",
    "cloud translation api": "AI and Machine Learning",
    "cloud video intelligence api": "AI and Machine Learning",
    "document ai": "AI and Machine Learning",
    "dialogflow": "AI and Machine Learning",
    "recommendations ai": "AI and Machine Learning",
    "compute engine": "Compute",
    "kubernetes engine": "Compute",
    "cloud run": "Compute",
    "cloud run functions": "Compute",
    "cloud functions": "Compute",
    "app engine": "Web",
    "batch": "Compute",
    "cloud storage": "Storage",
    "filestore": "Storage",
    "backup and dr service": "Storage",
    "bigquery": "Analytics",
    "bigquery storage api": "Analytics",
    "bigquery reservation api": "Analytics",
    "dataflow": "Analytics",
    "dataproc": "Analytics",
    "cloud composer": "Integration",
    "looker": "Analytics",
    "looker studio": "Analytics",
    "cloud sql": "Databases",
    "cloud spanner": "Databases",
    "cloud bigtable": "Databases",
    "cloud firestore": "Databases",
    "firestore": "Databases",
    "cloud memorystore for redis": "Databases",
    "memorystore for redis": "Databases",
    "alloydb": "Databases",
    "networking": "Networking",
    "cloud dns": "Networking",
    "cloud cdn": "Networking",
    "cloud load balancing": "Networking",
    "cloud nat": "Networking",
    "network intelligence center": "Networking",
    "cloud armor": "Security",
    "secret manager": "Security",
    "cloud key management service (kms)": "Security",
    "security command center": "Security",
    "identity platform": "Identity",
    "cloud pub/sub": "Integration",
    "pub/sub": "Integration",
    "apigee": "Integration",
    "cloud tasks": "Integration",
    "cloud scheduler": "Integration",
    "workflows": "Integration",
    "cloud logging": "Management and Governance",
    "cloud monitoring": "Management and Governance",
    "stackdriver monitoring": "Management and Governance",
    "cloud trace": "Management and Governance",
    "support": "Management and Governance",
    "artifact registry": "Developer Tools",
    "container registry": "Developer Tools",
    "cloud build": "Developer Tools",
    "cloud source repositories": "Developer Tools",
    "iot core": "Internet of Things",
    "transcoder api": "Media",
    "database migration service": "Migration",
}

#: ``cost_type`` (lower-cased) -> FOCUS ChargeCategory for the non-regular types.
COST_TYPE_CATEGORY: Mapping[str, str] = {
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding error": "Adjustment",
    "rounding_error": "Adjustment",
}


def lookup(expression: str, mapping: Mapping[str, str]) -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"(CASE {expression} {whens} END)"


def json_type(text: str) -> str:
    """The JSON type of ``text`` (``ARRAY``, ``OBJECT`` ...), NULL when it is not JSON."""
    return f"(CASE WHEN json_valid({text}) THEN json_type({text}) END)"


def credits_total(credits: str) -> str:
    """The sum of ``amount`` over a JSON array of credits (0 for none); NULL if not an array."""
    amounts = f"TRY_CAST(json_extract_string({credits}, '$[*].amount') AS {DECIMAL}[])"
    return (
        f"(CASE WHEN {credits} IS NULL OR trim({credits}) IN ('', '[]') THEN 0::{DECIMAL} "
        f"WHEN {json_type(credits)} = 'ARRAY' "
        f"THEN coalesce(list_sum({amounts}), 0::{DECIMAL}) END)"
    )


def net_cost(cost: str, credits: str) -> str:
    """``cost + sum(credits.amount)`` as a decimal string.

    A cost that is no number is passed through as it was, and a credits value that is no JSON
    array gives ``cost + credits <raw>``, so ingest reports the row with what it held.
    """
    value = f"TRY_CAST({cost} AS {DECIMAL})"
    total = credits_total(credits)
    return (
        f"(CASE WHEN {value} IS NULL THEN {cost} "
        f"WHEN {total} IS NULL THEN concat({cost}, ' + credits ', {credits}) "
        f"ELSE CAST({value} + {total} AS VARCHAR) END)"
    )


def labels_object(labels: str) -> str:
    """A JSON array of ``{key, value}`` (BigQuery ``labels``) as a JSON object; empty -> NULL.

    A JSON object is kept as it is; anything else passes through for ingest to report.
    """
    entries = f"TRY_CAST(TRY_CAST({labels} AS JSON) AS STRUCT(key VARCHAR, value VARCHAR)[])"
    as_object = f"nullif(CAST(to_json(map_from_entries({entries})) AS VARCHAR), '{{}}')"
    return (
        f"(CASE WHEN {labels} IS NULL OR trim({labels}) IN ('', '[]', '{{}}') THEN NULL "
        f"WHEN {json_type(labels)} = 'OBJECT' THEN {labels} "
        f"WHEN {json_type(labels)} = 'ARRAY' "
        f"AND {entries} IS NOT NULL THEN {as_object} "
        f"ELSE {labels} END)"
    )


def timestamp(expression: str) -> str:
    """BigQuery's CSV timestamp (``2024-01-15 10:00:00 UTC``) with the zone as ``Z``."""
    return f"regexp_replace(trim({expression}), '[ ]*UTC$', 'Z')"


def invoice_month_start(month: str, months: int = 0) -> str:
    """Midnight Pacific time on the first day of ``YYYYMM`` (+ ``months``), as TIMESTAMPTZ."""
    day = f"try_strptime(trim({month}) || '01', '%Y%m%d')"
    if months:
        day = f"({day} + INTERVAL {int(months)} MONTH)"
    return f"timezone({lit(BILLING_ZONE)}, {day})"


def usage_month_start(start: str, months: int = 0) -> str:
    """Without ``invoice.month``: the Pacific-time month of the usage start (+ ``months``)."""
    local = f"timezone({lit(BILLING_ZONE)}, TRY_CAST({timestamp(start)} AS TIMESTAMPTZ))"
    month = f"date_trunc('month', {local})"
    if months:
        month = f"({month} + INTERVAL {int(months)} MONTH)"
    return f"timezone({lit(BILLING_ZONE)}, {month})"


#: ``location.region`` -> the region's display name (its location, as Google's region list
#: writes it). RegionName is this table's name, else the region id itself.
REGION_NAMES: Mapping[str, str] = {
    "us-central1": "Iowa",
    "us-east1": "South Carolina",
    "us-east4": "Northern Virginia",
    "us-east5": "Columbus",
    "us-south1": "Dallas",
    "us-west1": "Oregon",
    "us-west2": "Los Angeles",
    "us-west3": "Salt Lake City",
    "us-west4": "Las Vegas",
    "northamerica-northeast1": "Montréal",
    "northamerica-northeast2": "Toronto",
    "southamerica-east1": "São Paulo",
    "southamerica-west1": "Santiago",
    "europe-west1": "Belgium",
    "europe-west2": "London",
    "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands",
    "europe-west6": "Zurich",
    "europe-west8": "Milan",
    "europe-west9": "Paris",
    "europe-north1": "Finland",
    "europe-central2": "Warsaw",
    "europe-southwest1": "Madrid",
    "asia-east1": "Taiwan",
    "asia-east2": "Hong Kong",
    "asia-northeast1": "Tokyo",
    "asia-northeast2": "Osaka",
    "asia-northeast3": "Seoul",
    "asia-south1": "Mumbai",
    "asia-south2": "Delhi",
    "asia-southeast1": "Singapore",
    "asia-southeast2": "Jakarta",
    "australia-southeast1": "Sydney",
    "australia-southeast2": "Melbourne",
    "me-west1": "Tel Aviv",
    "me-central1": "Doha",
    "africa-south1": "Johannesburg",
}

_REGION = col("location.region")
_RESOURCE = col("resource.global_name")
#: ``//compute.googleapis.com/projects/p/zones/z/instances/vm-1`` -> ``compute.googleapis.com``
#: and ``instances``: the API's host and the collection the resource is in.
_NAME_PATTERN = lit(r"^//([^/]+)/(?:.*/)?([^/]+)/[^/]+$")
_RESOURCE_TYPE = (
    f"CASE WHEN {_RESOURCE} IS NOT NULL THEN coalesce(nullif("
    f"regexp_extract({_RESOURCE}, {_NAME_PATTERN}, 1) || '/' || "
    f"regexp_extract({_RESOURCE}, {_NAME_PATTERN}, 2), '/'), "
    f"lower(trim({col('service.description')}))) END"
)

_COST, _CREDITS = col("cost"), col("credits")
_SKU = col("sku.description")
_START = col("usage_start_time")
_IS_COMMITMENT_FEE = f"starts_with(lower(trim({_SKU})), 'commitment')"
_REGULAR_CATEGORY = f"CASE WHEN {_IS_COMMITMENT_FEE} THEN 'Purchase' ELSE 'Usage' END"


def _charge_category(cost_type: str | None) -> str:
    if cost_type is None:
        return _REGULAR_CATEGORY
    key = f"lower(trim({cost_type}))"
    return (
        f"(CASE WHEN {cost_type} IS NULL OR {key} = 'regular' THEN {_REGULAR_CATEGORY} "
        f"ELSE coalesce({lookup(key, COST_TYPE_CATEGORY)}, {cost_type}) END)"
    )


def _when_usage(cost_type: str | None, then: str) -> str:
    usage = f"{_charge_category(cost_type)} = 'Usage'"
    return f"(CASE WHEN {usage} THEN {then} END)"


_COST_TYPE = col("cost_type")
_SERVICE_KEY = f"lower(trim({col('service.description')}))"
_PRICING = (
    f"CASE WHEN coalesce({_CREDITS}, '') LIKE '%COMMITTED_USAGE_DISCOUNT%' THEN 'Committed' "
    f"WHEN lower(coalesce({_SKU}, '')) SIMILAR TO '.*(spot|preemptible).*' THEN 'Dynamic' "
    "ELSE 'Standard' END"
)

COLUMNS: dict[str, Expression] = {
    "BilledCost": net_cost(_COST, _CREDITS),
    "EffectiveCost": net_cost(_COST, _CREDITS),
    "ContractedCost": _COST,
    "ListCost": (f"coalesce({col('cost_at_list')}, {_COST})", _COST),
    "ContractedUnitPrice": (col("price.effective_price"),),
    "BillingCurrency": col("currency"),
    "BillingAccountId": col("billing_account_id"),
    "BillingAccountType": lit("Billing Account"),
    "BillingPeriodStart": (invoice_month_start(col("invoice.month")), usage_month_start(_START)),
    "BillingPeriodEnd": (
        invoice_month_start(col("invoice.month"), 1),
        usage_month_start(_START, 1),
    ),
    "ChargePeriodStart": timestamp(_START),
    "ChargePeriodEnd": timestamp(col("usage_end_time")),
    "ChargeCategory": (_charge_category(_COST_TYPE), _charge_category(None)),
    "ChargeClass": (f"CASE WHEN lower(trim({_COST_TYPE})) = 'adjustment' THEN 'Correction' END",),
    "ChargeDescription": _SKU,
    "ChargeFrequency": (
        f"CASE WHEN {_charge_category(_COST_TYPE)} = 'Purchase' THEN 'Recurring' "
        "ELSE 'Usage-Based' END",
        f"CASE WHEN {_charge_category(None)} = 'Purchase' THEN 'Recurring' ELSE 'Usage-Based' END",
    ),
    "PricingCategory": (_when_usage(_COST_TYPE, _PRICING), _when_usage(None, _PRICING)),
    "PricingQuantity": (col("usage.amount_in_pricing_units"),),
    "PricingUnit": (col("usage.pricing_unit"),),
    "ConsumedQuantity": (
        _when_usage(_COST_TYPE, col("usage.amount")),
        _when_usage(None, col("usage.amount")),
    ),
    "ConsumedUnit": (
        _when_usage(_COST_TYPE, col("usage.unit")),
        _when_usage(None, col("usage.unit")),
    ),
    "InvoiceIssuerName": lit("Google"),
    "ProviderName": lit("Google Cloud"),
    "PublisherName": (f"coalesce({col('seller_name')}, 'Google Cloud')", lit("Google Cloud")),
    "ServiceName": col("service.description"),
    "ServiceCategory": f"coalesce({lookup(_SERVICE_KEY, SERVICE_CATEGORY)}, 'Other')",
    "RegionId": (_REGION,),
    "RegionName": (
        f"CASE WHEN {_REGION} IS NOT NULL THEN "
        f"coalesce({lookup(_REGION, REGION_NAMES)}, {_REGION}) END",
    ),
    "AvailabilityZone": (col("location.zone"),),
    "ResourceId": (col("resource.global_name"),),
    "ResourceName": (col("resource.name"),),
    "ResourceType": (_RESOURCE_TYPE,),
    "SkuId": col("sku.id"),
    "SubAccountId": (col("project.id"),),
    "SubAccountName": (
        f"coalesce({col('project.name')}, {col('project.id')})",
        col("project.id"),
    ),
    "SubAccountType": (f"CASE WHEN {col('project.id')} IS NOT NULL THEN 'Project' END",),
    "Tags": (labels_object(col("labels")),),
}

GCP_BILLING = Converter(
    name="gcp-billing",
    title="Google Cloud Billing export (standard usage cost, flattened)",
    provider="gcp",
    signature=frozenset(
        {
            "billing_account_id",
            "service.description",
            "sku.id",
            "usage_start_time",
            "cost",
            "currency",
        }
    ),
    columns=COLUMNS,
    source_cost=f"TRY_CAST({_COST} AS {DECIMAL}) + {credits_total(_CREDITS)}",
    source_currency=col("currency"),
    naive_timezone="UTC",
    priority=10,
    doc="docs/sources/gcp.md",
)

CONVERTERS = (GCP_BILLING,)
