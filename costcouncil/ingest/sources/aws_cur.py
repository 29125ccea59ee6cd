"""AWS Cost and Usage Reports: legacy CUR (``aws-cur``) and Data Exports CUR 2.0 (``aws-cur2``).

Both converters are built from one declared mapping (:data:`_NAMES` gives each source field its
legacy and CUR 2.0 spelling), so the two exports are mapped the same way. The rules, column by
column, are in ``docs/sources/aws-cur.md``; the ones that need care:

* **BilledCost** is ``lineItem/UnblendedCost`` unchanged, so ``sum(BilledCost)`` equals the
  source's unblended total per currency exactly (the conservation check).
* **EffectiveCost** is the amortised cost, as AWS's own FOCUS export computes it: covered usage
  carries its share of the commitment (``reservation/EffectiveCost``,
  ``savingsPlan/SavingsPlanEffectiveCost``); the rows whose amount is already spread over that
  usage are 0 (``SavingsPlanNegation``, ``SavingsPlanUpfrontFee``, an RI's upfront ``Fee``); the
  recurring commitment fees keep only their *unused* part (``RIFee``: unused amortised upfront +
  unused recurring fee; ``SavingsPlanRecurringFee``: commitment to date - used commitment).
* **Tags**: CUR 2.0 has one ``resource_tags`` map column; legacy CUR has one ``resourceTags/*``
  column per tag key, a set that varies per file, so the Tags expression is a function of the
  header (:func:`legacy_tags`, :func:`cur2_tags`). ``user:`` / ``user_`` prefixes are dropped
  from user tag keys; AWS-generated tags (``aws:createdBy``) keep theirs.

A column a file does not carry (legacy CUR only has ``reservation/*`` and ``savingsPlan/*``
columns when the account has commitments) drops out of each expression through the
alternatives mechanism: every optional part is tried present first, then absent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

from costcouncil.ingest.sources.base import Converter, Expression, col, lit

# --------------------------------------------------------------------------------------------
# Source field names: logical name -> (legacy CUR, CUR 2.0). None: the export has no such column.
# --------------------------------------------------------------------------------------------

_NAMES: dict[str, tuple[str | None, str | None]] = {
    "line_item_id": ("identity/LineItemId", "identity_line_item_id"),
    "time_interval": ("identity/TimeInterval", "identity_time_interval"),
    "invoice_id": ("bill/InvoiceId", "bill_invoice_id"),
    "invoicing_entity": ("bill/InvoicingEntity", "bill_invoicing_entity"),
    "billing_entity": ("bill/BillingEntity", "bill_billing_entity"),
    "bill_type": ("bill/BillType", "bill_bill_type"),
    "payer": ("bill/PayerAccountId", "bill_payer_account_id"),
    "payer_name": (None, "bill_payer_account_name"),
    "period_start": ("bill/BillingPeriodStartDate", "bill_billing_period_start_date"),
    "period_end": ("bill/BillingPeriodEndDate", "bill_billing_period_end_date"),
    "account": ("lineItem/UsageAccountId", "line_item_usage_account_id"),
    "account_name": (None, "line_item_usage_account_name"),
    "type": ("lineItem/LineItemType", "line_item_line_item_type"),
    "usage_start": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "usage_end": ("lineItem/UsageEndDate", "line_item_usage_end_date"),
    "product_code": ("lineItem/ProductCode", "line_item_product_code"),
    "usage_type": ("lineItem/UsageType", "line_item_usage_type"),
    "availability_zone": ("lineItem/AvailabilityZone", "line_item_availability_zone"),
    "resource_id": ("lineItem/ResourceId", "line_item_resource_id"),
    "usage_amount": ("lineItem/UsageAmount", "line_item_usage_amount"),
    "currency": ("lineItem/CurrencyCode", "line_item_currency_code"),
    "unblended_rate": ("lineItem/UnblendedRate", "line_item_unblended_rate"),
    "unblended_cost": ("lineItem/UnblendedCost", "line_item_unblended_cost"),
    "description": ("lineItem/LineItemDescription", "line_item_line_item_description"),
    "legal_entity": ("lineItem/LegalEntity", "line_item_legal_entity"),
    # product/ProductName is a static column in legacy CUR (and in legacy CUR's Parquet form,
    # product_product_name); CUR 2.0 moved it into the product map (key product_name).
    "product_name": ("product/ProductName", "product_product_name"),
    "servicename": ("product/servicename", "product_servicename"),
    "region_code": ("product/regionCode", "product_region_code"),
    "region": ("product/region", "product_region"),
    "location": ("product/location", "product_location"),
    "product_family": ("product/productFamily", "product_product_family"),
    "sku": ("product/sku", "product_sku"),
    "rate_code": ("pricing/RateCode", "pricing_rate_code"),
    "rate_id": ("pricing/RateId", "pricing_rate_id"),
    "public_cost": ("pricing/publicOnDemandCost", "pricing_public_on_demand_cost"),
    "public_rate": ("pricing/publicOnDemandRate", "pricing_public_on_demand_rate"),
    "term": ("pricing/term", "pricing_term"),
    "pricing_unit": ("pricing/unit", "pricing_unit"),
    "ri_arn": ("reservation/ReservationARN", "reservation_reservation_a_r_n"),
    "ri_effective": ("reservation/EffectiveCost", "reservation_effective_cost"),
    "ri_unused_upfront": (
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
    ),
    "ri_unused_recurring": ("reservation/UnusedRecurringFee", "reservation_unused_recurring_fee"),
    "sp_arn": ("savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n"),
    "sp_effective": (
        "savingsPlan/SavingsPlanEffectiveCost",
        "savings_plan_savings_plan_effective_cost",
    ),
    "sp_total": ("savingsPlan/TotalCommitmentToDate", "savings_plan_total_commitment_to_date"),
    "sp_used": ("savingsPlan/UsedCommitment", "savings_plan_used_commitment"),
    "product_map": (None, "product"),
}

#: Keys of CUR 2.0's ``product`` map column that stand in for legacy static product columns.
_PRODUCT_MAP_KEYS = {
    "product_name": "product_name",
    "servicename": "servicename",
    "region": "region",
}

# --------------------------------------------------------------------------------------------
# Line item types (lineItem/LineItemType), grouped by how FOCUS treats them.
# --------------------------------------------------------------------------------------------

USAGE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
#: Negotiated and bundled discounts: reductions of the cost of usage, not credits.
DISCOUNT_TYPES = (
    "BundledDiscount",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
    "SppDiscount",
    "DistributorDiscount",
    "RiVolumeDiscount",
)
SP_TYPES = (
    "SavingsPlanCoveredUsage",
    "SavingsPlanNegation",
    "SavingsPlanRecurringFee",
    "SavingsPlanUpfrontFee",
)
RI_TYPES = ("DiscountedUsage", "RIFee", "Fee")
PURCHASE_TYPES = ("Fee", "RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee")

#: lineItem/LineItemType -> FOCUS ChargeCategory. Anything else is passed through and rejected.
CHARGE_CATEGORY: dict[str, str] = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    **{t: "Usage" for t in DISCOUNT_TYPES},
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Adjustment",
}

#: The line item types whose ChargeCategory is Usage or Purchase (priced rows).
PRICED_TYPES = tuple(k for k, v in CHARGE_CATEGORY.items() if v in ("Usage", "Purchase"))

#: lineItem/LineItemType -> FOCUS ChargeFrequency (Fee depends on the bill type, see below).
CHARGE_FREQUENCY: dict[str, str] = {
    **{t: "Usage-Based" for t in (*USAGE_TYPES, "SavingsPlanNegation", *DISCOUNT_TYPES)},
    "RIFee": "Recurring",
    "SavingsPlanRecurringFee": "Recurring",
    "SavingsPlanUpfrontFee": "One-Time",
    "Tax": "Recurring",
    "Credit": "One-Time",
    "Refund": "One-Time",
}

# --------------------------------------------------------------------------------------------
# lineItem/ProductCode -> FOCUS ServiceCategory (anything not listed is "Other").
# --------------------------------------------------------------------------------------------

_CATEGORY_CODES: dict[str, tuple[str, ...]] = {
    "AI and Machine Learning": (
        "AmazonBedrock",
        "AmazonBedrockService",
        "AmazonSageMaker",
        "comprehend",
        "comprehendMedical",
        "AmazonRekognition",
        "AmazonTextract",
        "transcribe",
        "translate",
        "AmazonKendra",
        "AmazonQ",
        "AmazonQBusiness",
        "AmazonQDeveloper",
        "AmazonLex",
        "AmazonPolly",
        "AmazonPersonalize",
        "AmazonForecast",
        "AmazonFraudDetector",
        "AmazonCodeWhisperer",
        "AmazonDevOpsGuru",
        "AmazonA2I",
        "AmazonLookoutMetrics",
        "AmazonLookoutVision",
        "AmazonLookoutEquipment",
        "AmazonMonitron",
        "AmazonHealthLake",
        "AmazonOmics",
        "AmazonEI",
        "AWSDeepRacer",
        "AWSDeepLens",
        "CodeGuru",
        "AmazonCodeGuru",
        "AmazonComprehend",
        "AmazonTranscribe",
        "AmazonTranslate",
        "MachineLearningSavingsPlans",
    ),
    "Analytics": (
        "AmazonAthena",
        "AWSGlue",
        "AmazonKinesis",
        "AmazonKinesisFirehose",
        "AmazonKinesisAnalytics",
        "AmazonMSK",
        "AmazonQuickSight",
        "ElasticMapReduce",
        "AmazonES",
        "AmazonOpenSearchService",
        "AmazonCloudSearch",
        "AWSLakeFormation",
        "AWSDataExchange",
        "AWSCleanRooms",
        "datapipeline",
        "AmazonFinSpace",
        "AmazonDataZone",
    ),
    "Business Applications": (
        "AmazonConnect",
        "ContactCenterTelecomm",
        "AmazonSES",
        "AmazonPinpoint",
        "AmazonChime",
        "AmazonWorkMail",
        "AmazonWorkDocs",
        "AmazonHoneycode",
        "AWSWickr",
        "AWSSupplyChain",
        "A4B",
        "ContactLensAmazonConnect",
        "CustomerProfiles",
    ),
    "Compute": (
        "AmazonEC2",
        "AWSLambda",
        "AmazonECS",
        "AmazonEKS",
        "AmazonECR",
        "AmazonECRPublic",
        "AmazonLightsail",
        "AWSAppRunner",
        "AWSBatch",
        "AWSOutposts",
        "AmazonAppStream",
        "AmazonWorkSpaces",
        "AWSElasticBeanstalk",
        "VMwareCloudOnAWS",
        "SimSpaceWeaver",
        "AWSFargate",
        "ComputeSavingsPlans",
    ),
    "Databases": (
        "AmazonRDS",
        "AmazonDynamoDB",
        "AmazonElastiCache",
        "AmazonRedshift",
        "AmazonDocDB",
        "AmazonNeptune",
        "AmazonMemoryDB",
        "AmazonTimestream",
        "AmazonMCS",
        "AmazonKeyspaces",
        "AmazonQLDB",
        "AmazonSimpleDB",
        "DatabaseSavingsPlans",
    ),
    "Developer Tools": (
        "CodeBuild",
        "AWSCodeCommit",
        "AWSCodeDeploy",
        "AWSCodePipeline",
        "AWSCodeArtifact",
        "CodeCatalyst",
        "AWSCloud9",
        "AWSXRay",
        "AWSAmplify",
        "AWSAppSync",
        "AWSDeviceFarm",
        "AWSCloudShell",
    ),
    "Identity": (
        "AmazonCognito",
        "AmazonCognitoSync",
        "AWSDirectoryService",
        "AWSSSO",
        "AmazonVerifiedPermissions",
    ),
    "Integration": (
        "AWSQueueService",
        "AmazonSNS",
        "AmazonStates",
        "AmazonMQ",
        "AmazonEventBridge",
        "AmazonMWAA",
        "AppFlow",
        "AWSAppFabric",
        "AmazonSWF",
        "AWSEvents",
    ),
    "Internet of Things": (
        "AWSIoT",
        "AWSGreengrass",
        "AWSIoTAnalytics",
        "AWSIoTEvents",
        "AWSIoTSiteWise",
        "AWSIoTFleetWise",
        "AWSIoTThingsGraph",
        "AWSIoT1Click",
        "IoTDeviceDefender",
        "IoTDeviceManagement",
        "IoTTwinMaker",
    ),
    "Management and Governance": (
        "AmazonCloudWatch",
        "AWSCloudTrail",
        "AWSConfig",
        "AWSCloudFormation",
        "AWSSystemsManager",
        "AWSServiceCatalog",
        "AmazonGrafana",
        "AmazonPrometheus",
        "AWSCostExplorer",
        "AWSBudgets",
        "AWSBillingConductor",
        "AWSResilienceHub",
        "OpsWorks",
        "AWSSupportBusiness",
        "AWSSupportEnterprise",
        "AWSSupportDeveloper",
        "OCBPremiumSupport",
        "AWSDeveloperSupport",
        "AWSControlTower",
        "AWSOrganizations",
    ),
    "Media": (
        "AWSElementalMediaConvert",
        "AWSElementalMediaLive",
        "AWSElementalMediaPackage",
        "AWSElementalMediaStore",
        "AWSElementalMediaTailor",
        "AWSMediaConnect",
        "AmazonETS",
        "AmazonIVS",
        "AmazonKinesisVideo",
        "nimble",
    ),
    "Migration": (
        "AWSDatabaseMigrationSvc",
        "AWSDataSync",
        "AWSTransfer",
        "AWSApplicationMigrationSvc",
        "AWSMigrationHubRefactorSpaces",
        "AWSM2",
        "IngestionServiceSnowball",
        "SnowballExtraDays",
    ),
    "Networking": (
        "AmazonVPC",
        "AmazonCloudFront",
        "AmazonRoute53",
        "AWSELB",
        "AWSDataTransfer",
        "AWSDirectConnect",
        "AWSGlobalAccelerator",
        "AmazonApiGateway",
        "AWSCloudMap",
        "AWSCloudWAN",
        "AWSNetworkFirewall",
        "AWSPrivate5G",
        "AWSTransitGateway",
        "AWSAppMesh",
        "AmazonVPCLattice",
    ),
    "Security": (
        "awskms",
        "AWSSecretsManager",
        "AmazonGuardDuty",
        "AWSSecurityHub",
        "awswaf",
        "AWSShield",
        "AWSCertificateManager",
        "ACMPCA",
        "AmazonInspector",
        "AmazonInspectorV2",
        "AmazonMacie",
        "AmazonDetective",
        "AWSFMS",
        "CloudHSM",
        "AWSCloudHSM",
        "AmazonSecurityLake",
        "auditmanager",
    ),
    "Storage": (
        "AmazonS3",
        "AmazonEFS",
        "AmazonFSx",
        "AmazonGlacier",
        "AmazonS3GlacierDeepArchive",
        "AWSBackup",
        "AWSStorageGateway",
        "AWSStorageGatewayDeepArchive",
        "AmazonEBS",
        "AWSElasticDisasterRecovery",
    ),
}

#: lineItem/ProductCode -> FOCUS ServiceCategory, as data.
SERVICE_CATEGORY: dict[str, str] = {
    code: category for category, codes in _CATEGORY_CODES.items() for code in codes
}

#: Service-name patterns (ILIKE) -> ServiceCategory, for product codes not in the table above.
SERVICE_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("%Bedrock%", "AI and Machine Learning"),
    ("%SageMaker%", "AI and Machine Learning"),
    ("Amazon Q %", "AI and Machine Learning"),
)

INVOICE_ISSUER = "Amazon Web Services, Inc."
PROVIDER = "AWS"
_DECIMAL = "DECIMAL(38,12)"


# --------------------------------------------------------------------------------------------
# Region and resource tables (data): used where a row does not say it itself.
# --------------------------------------------------------------------------------------------

#: Region code -> display name as AWS spells it in ``product/location``. RegionName is the row's
#: own ``product/location`` when it has one, else this table's name, else the code itself.
REGION_NAMES: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "sa-east-1": "South America (Sao Paulo)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
}

#: Resource id prefixes (``i-0abc...``) -> ResourceType, for the ids that are not ARNs. Written as
#: an ARN's ``service/resource-type`` so both kinds of id give the same ResourceType.
RESOURCE_ID_PREFIXES: dict[str, str] = {
    "i": "ec2/instance",
    "vol": "ec2/volume",
    "snap": "ec2/snapshot",
    "ami": "ec2/image",
    "eni": "ec2/network-interface",
    "eipalloc": "ec2/elastic-ip",
    "nat": "ec2/natgateway",
    "vpc": "ec2/vpc",
    "vpce": "ec2/vpc-endpoint",
    "subnet": "ec2/subnet",
    "sg": "ec2/security-group",
    "igw": "ec2/internet-gateway",
    "tgw": "ec2/transit-gateway",
    "tgw-attach": "ec2/transit-gateway-attachment",
    "vgw": "ec2/vpn-gateway",
    "vpn": "ec2/vpn-connection",
    "lt": "ec2/launch-template",
    "fs": "elasticfilesystem/file-system",
}

# --------------------------------------------------------------------------------------------
# Expression building: every builder takes ``n`` (logical name -> quoted source column).
# --------------------------------------------------------------------------------------------

Names = Callable[[str], str]


def _alternatives(
    parts: Sequence[str], build: Callable[[list[str]], str], keep: int = 1
) -> tuple[str, ...]:
    """``build`` over every subset of ``parts`` (keeping the last ``keep`` always), largest first.

    The first alternative whose columns all exist is the one with every present optional part,
    so a column a file lacks simply drops out of the expression.
    """
    optional, fixed = list(parts[: len(parts) - keep]), list(parts[len(parts) - keep :])
    out: list[str] = []
    for size in range(len(optional), -1, -1):
        for chosen in combinations(optional, size):
            if not chosen and not fixed:
                continue
            expression = build([*chosen, *fixed])
            if expression not in out:
                out.append(expression)
    return tuple(out)


def _coalesce(*parts: str) -> tuple[str, ...]:
    """``coalesce`` of the parts a file has (none: the column has no usable alternative)."""
    return _alternatives(
        parts, lambda p: p[0] if len(p) == 1 else f"coalesce({', '.join(p)})", keep=0
    )


def _case(branches: Sequence[tuple[str, str]], default: str) -> tuple[str, ...]:
    """``CASE WHEN cond THEN value ... ELSE default END``; branches on absent columns drop out."""
    whens = [f"WHEN {cond} THEN {value}" for cond, value in branches]

    def build(parts: list[str]) -> str:
        body = parts[:-1]
        return parts[-1] if not body else f"CASE {' '.join(body)} ELSE {parts[-1]} END"

    return _alternatives([*whens, default], build)


def _service_category(code: str, service_name: Sequence[str]) -> tuple[str, ...]:
    """ServiceCategory: the product code's category, else a service-name pattern's, else Other.

    One alternative per ServiceName alternative (the name patterns catch Marketplace models sold
    through Bedrock, whose product codes are per-listing), then the product code alone.
    """
    by_code = " ".join(
        f"WHEN {code} IN {_in(codes)} THEN {lit(category)}"
        for category, codes in _CATEGORY_CODES.items()
    )
    out = []
    for name in service_name:
        by_name = " ".join(
            f"WHEN {name} ILIKE {lit(pattern)} THEN {lit(category)}"
            for pattern, category in SERVICE_NAME_PATTERNS
        )
        out.append(f"CASE {by_code} {by_name} ELSE 'Other' END")
    out.append(f"CASE {by_code} ELSE 'Other' END")
    return tuple(out)


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def _num(expression: str) -> str:
    return f"TRY_CAST({expression} AS {_DECIMAL})"


def _product_map(key: str) -> str:
    return f"json_extract_string(TRY_CAST({col('product')} AS JSON), {lit('$.' + key)})"


def _is(n: Names, *types: str) -> str:
    return f"{n('type')} IN {_in(types)}"


def _lookup(expression: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"(CASE {expression} {whens} END)"


def _resource_type(resource_id: str, fallback: Sequence[str]) -> tuple[str, ...]:
    """ResourceType from the resource id: an ARN's ``service/resource-type`` (``service`` alone
    when the ARN names no type, ``arn:aws:s3:::bucket``), an EC2-style id's prefix
    (:data:`RESOURCE_ID_PREFIXES`), else the first of ``fallback`` the file has (the product
    family, then the product code). NULL exactly when the resource id is.
    """
    arn_resource = f"regexp_extract({resource_id}, '^arn:[^:]*:[^:]*:[^:]*:[^:]*:(.*)$', 1)"
    arn_service = f"split_part({resource_id}, ':', 3)"
    arn_type = f"nullif(regexp_extract({arn_resource}, '^([^:/]+)[:/]', 1), '')"
    by_arn = f"{arn_service} || coalesce('/' || {arn_type}, '')"
    prefix = f"regexp_extract({resource_id}, '^([a-z]+(?:-[a-z]+)?)-[0-9a-f]{{8,17}}$', 1)"
    by_prefix = _lookup(prefix, RESOURCE_ID_PREFIXES)
    return tuple(
        f"CASE WHEN {resource_id} IS NULL THEN NULL "
        f"WHEN starts_with({resource_id}, 'arn:') AND {arn_service} <> '' THEN {by_arn} "
        f"ELSE coalesce({by_prefix}, {rest}) END"
        for rest in fallback
    )


def _columns(n: Names, cur2: bool) -> dict[str, Expression]:
    t = n("type")
    cost = n("unblended_cost")
    public_cost = n("public_cost")

    def product_field(name: str) -> tuple[str, ...]:
        """A product attribute's static column and, in CUR 2.0, its key in the product map."""
        if cur2 and name in _PRODUCT_MAP_KEYS:
            return (n(name), _product_map(_PRODUCT_MAP_KEYS[name]))
        return (n(name),)

    service_name = _coalesce(
        *product_field("product_name"), *product_field("servicename"), n("product_code")
    )
    interval_start = f"split_part({n('time_interval')}, '/', 1)"
    interval_end = f"split_part({n('time_interval')}, '/', 2)"

    columns: dict[str, Expression] = {
        # --- costs ---------------------------------------------------------------------------
        "BilledCost": cost,
        "EffectiveCost": _case(
            [
                (
                    _is(n, "SavingsPlanCoveredUsage"),
                    f"coalesce({_num(n('sp_effective'))}, {_num(cost)})",
                ),
                (
                    _is(n, "SavingsPlanRecurringFee"),
                    f"coalesce({_num(n('sp_total'))}, 0) - coalesce({_num(n('sp_used'))}, 0)",
                ),
                (_is(n, "DiscountedUsage"), f"coalesce({_num(n('ri_effective'))}, {_num(cost)})"),
                (
                    _is(n, "RIFee"),
                    f"coalesce({_num(n('ri_unused_upfront'))}, 0)"
                    f" + coalesce({_num(n('ri_unused_recurring'))}, 0)",
                ),
                (f"{_is(n, 'Fee')} AND {n('ri_arn')} IS NOT NULL", "0"),
                (_is(n, "SavingsPlanNegation", "SavingsPlanUpfrontFee"), "0"),
            ],
            _num(cost),
        ),
        "ListCost": _case(
            [
                (_is(n, *USAGE_TYPES), f"coalesce({_num(public_cost)}, {_num(cost)})"),
                (_is(n, "SavingsPlanNegation", *DISCOUNT_TYPES), "0"),
            ],
            _num(cost),
        ),
        "ContractedCost": _case(
            [
                (_is(n, "DiscountedUsage"), f"coalesce({_num(public_cost)}, {_num(cost)})"),
                (_is(n, "SavingsPlanNegation"), "0"),
            ],
            _num(cost),
        ),
        "ListUnitPrice": f"CASE WHEN {_is(n, *USAGE_TYPES)} THEN {n('public_rate')} END",
        "ContractedUnitPrice": _case(
            [
                (_is(n, "Usage", "SavingsPlanCoveredUsage"), n("unblended_rate")),
                (_is(n, "DiscountedUsage"), n("public_rate")),
            ],
            "NULL",
        ),
        # --- charge --------------------------------------------------------------------------
        "ChargeCategory": "CASE "
        + " ".join(f"WHEN {t} = {lit(k)} THEN {lit(v)}" for k, v in CHARGE_CATEGORY.items())
        + f" ELSE {t} END",
        "ChargeClass": (
            f"CASE WHEN {t} = 'Refund' OR {n('bill_type')} = 'Refund' THEN 'Correction' END",
            f"CASE WHEN {t} = 'Refund' THEN 'Correction' END",
        ),
        "ChargeFrequency": _case(
            [(f"{t} = 'Fee' AND {n('bill_type')} = 'Purchase'", "'One-Time'")],
            "CASE "
            + " ".join(f"WHEN {t} = {lit(k)} THEN {lit(v)}" for k, v in CHARGE_FREQUENCY.items())
            + f" WHEN {t} = 'Fee' THEN 'Recurring' END",
        ),
        "ChargeDescription": n("description"),
        "ChargePeriodStart": (n("usage_start"), interval_start),
        "ChargePeriodEnd": (n("usage_end"), interval_end),
        "BillingPeriodStart": n("period_start"),
        "BillingPeriodEnd": n("period_end"),
        # --- accounts, invoice ---------------------------------------------------------------
        "BillingAccountId": n("payer"),
        "SubAccountId": n("account"),
        "SubAccountType": f"CASE WHEN {n('account')} IS NOT NULL THEN 'AWS Account' END",
        "BillingCurrency": n("currency"),
        "InvoiceId": n("invoice_id"),
        "InvoiceIssuerName": _coalesce(n("invoicing_entity"), lit(INVOICE_ISSUER)),
        "ProviderName": lit(PROVIDER),
        "PublisherName": (
            f"CASE WHEN {n('billing_entity')} = 'AWS Marketplace' "
            f"THEN coalesce({n('legal_entity')}, 'AWS Marketplace') ELSE {lit(PROVIDER)} END",
            lit(PROVIDER),
        ),
        # --- service, SKU, location ----------------------------------------------------------
        "ServiceName": service_name,
        "ServiceCategory": _service_category(n("product_code"), service_name),
        "SkuId": n("sku"),
        "SkuPriceId": _coalesce(n("rate_code"), n("rate_id")),
        "RegionId": tuple(
            f"NULLIF({a}, 'global')"
            for a in _coalesce(*product_field("region_code"), *product_field("region"))
        ),
        "RegionName": tuple(
            f"CASE WHEN NULLIF({r}, 'global') IS NOT NULL THEN "
            f"coalesce({n('location')}, {_lookup(r, REGION_NAMES)}, {r}) END"
            for r in _coalesce(*product_field("region_code"), *product_field("region"))
        ),
        "AvailabilityZone": n("availability_zone"),
        "ResourceId": n("resource_id"),
        "ResourceType": _resource_type(
            n("resource_id"), _coalesce(n("product_family"), n("product_code"))
        ),
        # --- pricing, quantities -------------------------------------------------------------
        "PricingQuantity": (f"CASE WHEN {_is(n, *PRICED_TYPES)} THEN {n('usage_amount')} END"),
        "PricingUnit": (f"CASE WHEN {_is(n, *PRICED_TYPES)} THEN {n('pricing_unit')} END"),
        "ConsumedQuantity": f"CASE WHEN {_is(n, *USAGE_TYPES)} THEN {n('usage_amount')} END",
        "ConsumedUnit": f"CASE WHEN {_is(n, *USAGE_TYPES)} THEN {n('pricing_unit')} END",
        "PricingCategory": _case(
            [
                (
                    _is(n, "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"),
                    "'Committed'",
                ),
                (f"{t} = 'Usage' AND {n('term')} = 'Spot'", "'Dynamic'"),
                (f"{t} = 'Usage' AND {n('usage_type')} LIKE '%SpotUsage%'", "'Dynamic'"),
                (f"{t} = 'Usage' AND {n('term')} = 'Reserved'", "'Committed'"),
            ],
            f"CASE WHEN {_is(n, *PRICED_TYPES)} THEN 'Standard' END",
        ),
        # --- commitment discounts ------------------------------------------------------------
        "CommitmentDiscountId": _case(
            [
                (_is(n, *SP_TYPES), n("sp_arn")),
                (_is(n, *RI_TYPES), n("ri_arn")),
            ],
            "NULL",
        ),
        "CommitmentDiscountType": _case(
            [
                (f"{_is(n, *SP_TYPES)} AND {n('sp_arn')} IS NOT NULL", "'Savings Plan'"),
                (f"{_is(n, *RI_TYPES)} AND {n('ri_arn')} IS NOT NULL", "'Reserved Instance'"),
            ],
            "NULL",
        ),
        "CommitmentDiscountCategory": _case(
            [
                (f"{_is(n, *SP_TYPES)} AND {n('sp_arn')} IS NOT NULL", "'Spend'"),
                (f"{_is(n, *RI_TYPES)} AND {n('ri_arn')} IS NOT NULL", "'Usage'"),
            ],
            "NULL",
        ),
        "CommitmentDiscountStatus": _case(
            [
                (
                    f"{_is(n, 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')} "
                    f"AND {n('sp_arn')} IS NOT NULL",
                    "'Used'",
                ),
                (f"{_is(n, 'DiscountedUsage')} AND {n('ri_arn')} IS NOT NULL", "'Used'"),
            ],
            "NULL",
        ),
    }
    if cur2:
        # The account's name where the export has one, else its id (legacy CUR has no names).
        columns["BillingAccountName"] = f"coalesce({n('payer_name')}, {n('payer')})"
        columns["SubAccountName"] = f"coalesce({n('account_name')}, {n('account')})"
        columns["Tags"] = cur2_tags
    else:
        columns["BillingAccountName"] = n("payer")
        columns["SubAccountName"] = n("account")
        columns["Tags"] = legacy_tags
    return columns


def _map_tags(column: str) -> str:
    """CUR 2.0's resource_tags (a JSON object string in CSV, a MAP in Parquet) as a JSON object.

    ``user_`` is dropped from user tag keys. A value that is not a JSON object is passed through
    unchanged, so ingest rejects it with the value in the message.
    """
    as_map = f"TRY_CAST(TRY_CAST({column} AS JSON) AS MAP(VARCHAR, VARCHAR))"
    entries = (
        f"list_transform(map_entries({as_map}), lambda e: "
        f"{{'key': regexp_replace(e.key, '^user_', ''), 'value': e.value}})"
    )
    rebuilt = _json_object(entries)
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {as_map} IS NULL "
        f"THEN CAST({column} AS VARCHAR) ELSE {rebuilt} END"
    )


def _json_object(entries: str) -> str:
    """A JSON object string from a list of ``{key, value}`` structs; NULL when it is empty.

    Entries with an empty value are left out; of entries with the same key the first is kept
    (renaming ``user_team`` to ``team`` could collide, and a map's keys must be unique).
    """
    valued = f"list_filter({entries}, lambda e: coalesce(e.value, '') <> '')"
    unique = (
        f"list_filter({valued}, lambda e, i: "
        f"list_position(list_transform({valued}, lambda x: x.key), e.key) = i)"
    )
    return f"NULLIF(CAST(to_json(map_from_entries({unique})) AS VARCHAR), '{{}}')"


def tag_key(column: str, prefix: str, user_prefix: str) -> str | None:
    """The FOCUS tag key of a split tag column (``resourceTags/user:team`` -> ``team``)."""
    if not column.startswith(prefix) or len(column) == len(prefix):
        return None
    key = column[len(prefix) :]
    if key.startswith(user_prefix) and len(key) > len(user_prefix):
        key = key[len(user_prefix) :]
    return key


def split_tags(header: frozenset[str], prefix: str, user_prefix: str) -> str | None:
    """A JSON-object Tags expression over the ``prefix*`` columns of ``header`` (None: no tags).

    Keys keep their first column when two columns map to the same key; empty values are left
    out, and a row with no tag values has NULL Tags.
    """
    pairs: dict[str, str] = {}
    for column in sorted(header):
        key = tag_key(column, prefix, user_prefix)
        if key is None or '"' in key or key in pairs:
            continue
        pairs[key] = column
    if not pairs:
        return None
    entries = ", ".join(
        f"{{'key': {lit(key)}, 'value': CAST({col(column)} AS VARCHAR)}}"
        for key, column in pairs.items()
    )
    return _json_object(f"[{entries}]")


def legacy_tags(header: tuple[str, ...]) -> str | None:
    """Tags of a legacy CUR file: one ``resourceTags/*`` column per tag key."""
    return split_tags(frozenset(header), "resourceTags/", "user:")


def cur2_tags(header: tuple[str, ...]) -> str | None:
    """Tags of a CUR 2.0 file: its ``resource_tags`` map, else split ``resource_tags_*`` columns.

    Split columns are what a CUR 2.0 export with the map's keys queried out as columns, and
    legacy CUR in Parquet/Athena form, carry.
    """
    if "resource_tags" in header:
        return _map_tags(col("resource_tags"))
    return split_tags(frozenset(header), "resource_tags_", "user_")


def _namer(index: int) -> Names:
    def n(name: str) -> str:
        spelled = _NAMES[name][index]
        if spelled is None:
            raise KeyError(f"{name} has no column in this export")
        return col(spelled)

    return n


_LEGACY = _namer(0)
_CUR2 = _namer(1)

AWS_CUR = Converter(
    name="aws-cur",
    title="AWS Cost and Usage Report (legacy CUR)",
    provider="aws",
    signature=frozenset(
        {
            "identity/LineItemId",
            "lineItem/LineItemType",
            "lineItem/UnblendedCost",
            "bill/PayerAccountId",
        }
    ),
    columns=_columns(_LEGACY, cur2=False),
    source_cost=_LEGACY("unblended_cost"),
    source_currency=_LEGACY("currency"),
    naive_timezone="UTC",
    doc="docs/sources/aws-cur.md",
)

AWS_CUR2 = Converter(
    name="aws-cur2",
    title="AWS Data Exports CUR 2.0",
    provider="aws",
    signature=frozenset(
        {
            "identity_line_item_id",
            "line_item_line_item_type",
            "line_item_unblended_cost",
            "bill_payer_account_id",
        }
    ),
    columns=_columns(_CUR2, cur2=True),
    source_cost=_CUR2("unblended_cost"),
    source_currency=_CUR2("currency"),
    naive_timezone="UTC",
    doc="docs/sources/aws-cur.md",
)

CONVERTERS: tuple[Converter, ...] = (AWS_CUR, AWS_CUR2)

__all__ = ["AWS_CUR", "AWS_CUR2", "CONVERTERS", "SERVICE_CATEGORY"]
