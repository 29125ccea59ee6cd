"""Hypothesis strategies for whole attribution scenarios: charges + jobs + llm + prices + rules.

``scenarios()`` draws a :class:`Scenario`, small enough for the reference to run in
milliseconds, varied enough to reach every rule kind, idle policy, weight, pool basis and
rounding path. ``Scenario.reference_inputs()`` feeds ``reference.allocate``;
``Scenario.tables()`` gives the same data as the Arrow tables an engine reads, for differential
tests (engine == reference).

Values stay away from the few places where the spec leaves a reading open that a fast engine
could legitimately take differently and that the reference documents (R1–R14): times are whole
seconds, fractional counts never sit on a rounding half, prices have at most 3 decimals (so
token_cost weights need no rounding), price validities never overlap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tests.attribution.cases import Inputs

T0 = datetime(2026, 10, 1, tzinfo=UTC)
SOURCE_FILE = "hypothesis"
TEAM_TAGS = ["Vision ", "vision", "SEARCH", "ml_platform", "cv", "  ", "Ads  Team"]
TEAM_SPELLINGS = ["team", "Team", "TEAM", "owner", "squad"]
TEAMS = ["alpha", "beta", "gamma", None]
PROJECTS = ["p1", "p2", None]
RUNS = ["r1", "r2", None]
ENVIRONMENTS = ["prod", "dev", None]
RESOURCES = ["node-a", "node-b", "i-1"]
LLM_PROJECTS = ["proj_x", "proj_y"]
#: fractional counts, none on a rounding half: 1/7 → 142.857…, 0.46 → 460
COUNTS = [None, 0, 0.125, 0.25, 0.46, 0.5, 1, 2, 8, float(Fraction(1, 7))]
CPU_COUNTS = [None, 0.5, 1, 2, 4, 96]
MEMORY = [None, 0.75, 8, 16, 1.5]
MODELS = ["gpt-a", "gpt-b", "gpt-a", "gpt-b", "gpt-a", "gpt-b", "gpt-x"]  # gpt-x has no price
TIERS = [None, "standard", None, None, None, "batch"]  # gpt-b has no batch price
TOKEN_KINDS = ["input", "output", "cached", "cache_write", "reasoning", "bogus"]
OWNER_KEY_SETS = [
    ["team", "project", "model"],
    ["team", "project", "model", "run", "environment"],
    ["team", "model"],
    ["project", "team"],
]
ALIASES = {"team": ["owner", "Owner"], "project": ["project_name"]}


@dataclass(frozen=True)
class Scenario(Inputs):
    charges: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    llm: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    rules: dict[str, Any]
    aliases: dict[str, list[str]]
    owner_keys: list[str]


# --- amounts and times -------------------------------------------------------------------------
# Strategies are built once, at import: building them inside every draw costs more than the test.


@cache
def pick(*values: Any) -> st.SearchStrategy[Any]:
    """``sampled_from(values)``, built once per tuple of values."""
    return st.sampled_from(values)


def _scaled(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


#: positive, negative, zero, whole cents, 12 decimals, pico-dollar dust, whole units
AMOUNTS = st.one_of(
    st.just(Decimal("0")),
    _scaled(-(10**7), 10**7, 2),
    _scaled(-(10**15), 10**15, 12),
    _scaled(-5, 5, 12),
    _scaled(1, 10**4, 0),
)
MAYBE_AMOUNT = st.one_of(st.none(), AMOUNTS)
FIFTHS = st.integers(0, 4)
TENTHS = st.integers(0, 9)
#: usage times: mostly within the first hours (where most charges are), sometimes anywhere
INSTANTS = st.one_of(st.integers(-3600, 4 * 3600), st.integers(-6 * 3600, 48 * 3600)).map(
    lambda s: T0 + timedelta(seconds=s)
)
CHARGE_HOURS = st.one_of(st.integers(0, 3), st.integers(-2, 47))
TOKENS = st.one_of(st.none(), st.integers(0, 2_000_000))
#: cache-write tokens are rare, and unpriced for some price rows
CACHE_WRITES = st.one_of(st.none(), st.just(0), st.none(), st.integers(1, 10**5))
REQUEST_COUNTS = st.one_of(st.none(), st.integers(1, 5))
#: $0.001 to $30 per Mtok: at most 3 decimals, so token_cost weights are exact integers
PRICES = _scaled(1, 30_000, 3)
MAYBE_PRICE = st.one_of(_scaled(1, 10_000, 3), st.none())


def amounts() -> st.SearchStrategy[Decimal]:
    return AMOUNTS


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


# --- rows --------------------------------------------------------------------------------------


@st.composite
def tags(draw: st.DrawFn) -> str | None:
    """Mostly a team under some spelling, sometimes two spellings, a project, a cost centre."""
    out: dict[str, str] = {}
    if draw(FIFTHS):
        out[draw(pick(*TEAM_SPELLINGS))] = draw(pick(*TEAM_TAGS))
    if draw(st.booleans()):
        out[draw(pick(*TEAM_SPELLINGS))] = draw(pick(*TEAM_TAGS))
    if draw(st.booleans()):
        project = draw(pick("project", "Project", "project_name"))
        out[project] = draw(pick("Detector V3", "p1", "search_ranking"))
    if draw(st.booleans()):
        out["cost-center"] = draw(pick("CC 42", "cc-7"))
    return _json(out or None)


TAGS = tags()
KINDS = ("node", "instance", "llm", "support", "endpoint", "other")


@st.composite
def charges(draw: st.DrawFn) -> dict[str, Any]:
    """One cost row; ``scenarios`` numbers it (``x_source_row``)."""
    kind = draw(pick(*KINDS))
    start = T0 + timedelta(hours=draw(CHARGE_HOURS))
    billing = start.replace(day=1, hour=0)
    billed = draw(AMOUNTS)
    row: dict[str, Any] = {
        "x_source_format": "hypothesis",
        "x_source_file": SOURCE_FILE,
        "BillingCurrency": draw(pick("USD", "USD", "USD", "EUR", "JPY")),
        "BillingPeriodStart": billing,
        "BillingPeriodEnd": (billing + timedelta(days=32)).replace(day=1),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + timedelta(hours=draw(pick(1, 1, 2, 24))),
        "BilledCost": billed,
        "EffectiveCost": billed if draw(st.booleans()) else draw(AMOUNTS),
        "ListCost": billed if draw(st.booleans()) else draw(AMOUNTS),
        "ContractedCost": draw(MAYBE_AMOUNT),
        "ProviderName": "OpenAI" if kind == "llm" else "AWS",
        "ChargeCategory": draw(pick("Usage", "Usage", "Credit")),
        "SubAccountName": draw(pick("ml-research", "ml-prod", None)),
        "Tags": draw(TAGS),
    }
    return row | _kind_columns(draw, kind)


def _kind_columns(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    if kind in ("node", "instance"):
        count = draw(pick(1, 2, 8, "4", 0.5, None))
        return {
            "ResourceType": "Node" if kind == "node" else "Instance",
            "ServiceCategory": "Compute",
            "ServiceName": "Amazon EC2",
            "ResourceId": draw(pick(*RESOURCES)),
            "SkuPriceDetails": None if count is None else _json({"x_AcceleratorCount": count}),
        }
    if kind == "llm":
        token_kind = draw(pick(*TOKEN_KINDS, None))
        return {
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": "OpenAI API",
            "ResourceId": draw(pick(*LLM_PROJECTS)),
            "SkuPriceDetails": None if token_kind is None else _json({"x_TokenKind": token_kind}),
        }
    if kind == "support":
        return {"ServiceCategory": "Other", "ServiceName": "Support"}
    if kind == "endpoint":
        endpoint = draw(pick("a", "b", "ab"))
        return {
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": "Amazon SageMaker",
            "ResourceId": f"arn:aws:sagemaker:us-east-1:1:endpoint/embeddings-{endpoint}",
        }
    return {"ServiceCategory": "Storage", "ServiceName": "Amazon S3", "ResourceId": "bucket-1"}


def _owners(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "team": draw(pick(*TEAMS)),
        "project": draw(pick(*PROJECTS)),
        "run": draw(pick(*RUNS)),
        "environment": draw(pick(*ENVIRONMENTS)),
        "model_version": None,
        "user": None,
    }


@st.composite
def jobs(draw: st.DrawFn) -> dict[str, Any]:
    """One job; ``scenarios`` names it (``job_id``)."""
    start = draw(INSTANTS)
    running = draw(st.integers(0, 4)) == 0
    end = None if running else start + timedelta(seconds=draw(st.integers(1, 30 * 3600)))
    return {
        "source": "hypothesis",
        "resource_id": draw(pick(*RESOURCES, None)),
        "start": start,
        "end": end,
        "accelerator_type": None,
        "accelerator_count": draw(pick(*COUNTS)),
        "cpu_cores": draw(pick(*CPU_COUNTS)),
        "memory_gib": draw(pick(*MEMORY)),
        "status": "running" if running else "succeeded",
        "kind": "training",
        "model": draw(pick("detector", None)),
        **_owners(draw),
        "attributes": None,
    }


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """One LLM request; ``scenarios`` names it (``request_id``)."""
    return {
        "source": "hypothesis",
        "provider": "OpenAI",
        "model": draw(pick(*MODELS)),
        "time": draw(INSTANTS),
        "input_tokens": draw(TOKENS),
        "output_tokens": draw(TOKENS),
        "cached_input_tokens": draw(TOKENS),
        "cache_write_tokens": draw(CACHE_WRITES),
        "reasoning_tokens": draw(TOKENS),
        "request_count": draw(REQUEST_COUNTS),
        "service_tier": draw(pick(*TIERS)),
        "cost": None,
        **_owners(draw),
        "feature": draw(pick("chat", None)),
        "customer": None,
        "api_key_id": None,
        "attributes": _json({"project_id": draw(pick(*LLM_PROJECTS))}),
    }


@st.composite
def prices(draw: st.DrawFn) -> list[dict[str, Any]]:
    """gpt-a restated at a random hour (standard) plus a batch tier; gpt-b; gpt-x unpriced."""
    change = T0 + timedelta(hours=draw(st.integers(-6, 48)))

    def row(model: str, tier: str | None, start: datetime, end: datetime | None) -> dict:
        return {
            "provider": "OpenAI",
            "model": model,
            "service_tier": tier,
            "valid_from": start,
            "valid_to": end,
            "input_per_mtok": draw(PRICES),
            "cached_input_per_mtok": draw(PRICES),
            "cache_write_per_mtok": draw(MAYBE_PRICE),
            "output_per_mtok": draw(PRICES),
            "reasoning_per_mtok": draw(MAYBE_PRICE),
            "currency": "USD",
            "source": "hypothesis",
            "catalog_model": model,
        }

    early = T0 - timedelta(days=30)
    return [
        row("gpt-a", "standard", early, change),
        row("gpt-a", None, change, None),
        row("gpt-a", "batch", early, None),
        row("gpt-b", None, early, None),
    ]


# --- rules -------------------------------------------------------------------------------------


@st.composite
def rule_templates(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One rule of each kind (and variant), with random options."""
    tag = {"name": "tags", "kind": "tag"}
    if draw(st.booleans()):
        tag |= {"aliases": {"team": ["squad"]}, "values": {"team": {"cv": "vision"}}}
    if draw(st.booleans()):
        tag["normalise"] = draw(pick("slug", "none"))
    if draw(st.booleans()):
        tag["keys"] = ["team"]
    return [
        tag,
        {
            "name": "endpoints",
            "kind": "resource",
            "match": {"ResourceId": "arn:aws:sagemaker:*:endpoint/embeddings-?"},
            "set": {"team": "search", "project": "$Tags.cost-center"},
        },
        {
            "name": "accounts",
            "kind": "resource",
            "match": {"SubAccountName": {"regex": "^ml-"}},
            "set": {"team": "$SubAccountName"},
        },
        _drop_none(
            {
                "name": "gpu-nodes",
                "kind": "usage_split",
                "usage": "jobs",
                "match": {"ResourceType": ["Node"], "ServiceCategory": "Compute"},
                "capacity": draw(pick(None, 2, 0.5, "SkuPriceDetails.x_AcceleratorCount")),
                "weight": draw(pick(None, "gpu_seconds", "seconds", "requests")),
            }
        ),
        _drop_none(
            {
                "name": "cpu-nodes",
                "kind": "usage_split",
                "usage": "jobs",
                "match": {"ResourceType": "Instance"},
                "weight": draw(pick("cpu_seconds", "memory_gib_seconds")),
                "capacity": draw(pick(None, 8, 64)),
            }
        ),
        _drop_none(
            {
                "name": "idle",
                "kind": "idle",
                "policy": draw(pick("keep", "owner", "spread")),
                "of": _copy(draw(IDLE_OF)),
            }
        ),
        _drop_none(
            {
                "name": "llm",
                "kind": "usage_split",
                "usage": "llm",
                "match": {"ServiceCategory": "AI and Machine Learning", "ProviderName": "OpenAI"},
                "on": _copy(draw(LLM_ON)),
                "token_kind": draw(pick(None, "SkuPriceDetails.x_TokenKind")),
                "weight": draw(pick(None, "token_cost", "tokens", "requests")),
            }
        ),
        _pool(draw),
        {"name": "catch-all", "kind": "shared_pool", "by": "even"},
    ]


def _pool(draw: st.DrawFn) -> dict[str, Any]:
    by = draw(pick("direct_cost", "even", "weights", "gpu_seconds", "tokens", "requests"))
    weights = {"alpha": 2, "beta": 0.5, "vision": 1} if by == "weights" else None
    return _drop_none(
        {
            "name": "support",
            "kind": "shared_pool",
            "match": {"ServiceName": ["Support"]},
            "by": by,
            "keys": _copy(draw(POOL_KEYS)),
            "weights": weights,
        }
    )


def _drop_none(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if v is not None}


def _valid_for(rule: dict[str, Any], owner_keys: tuple[str, ...]) -> dict[str, Any]:
    """What a valid document needs: ``set`` and ``keys`` name only owner keys in force, and
    ``capacity`` goes with a time weight only."""
    out = dict(rule)
    if out.get("weight") == "requests":
        out.pop("capacity", None)
    if "set" in out:
        out["set"] = {k: v for k, v in out["set"].items() if k in owner_keys}
    if "keys" in out:
        out["keys"] = [k for k in out["keys"] if k in owner_keys] or None
    return _drop_none(out)


def _existing_splits(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An idle rule's ``of`` names only usage_split rules the document has (else it is invalid)."""
    splits = {r["name"] for r in rules if r["kind"] == "usage_split"}
    out = []
    for rule in rules:
        if rule["kind"] == "idle" and "of" in rule:
            rule = {**rule, "of": [n for n in rule["of"] if n in splits]}
        out.append(rule)
    return out


@st.composite
def rules_documents(draw: st.DrawFn, owner_keys: tuple[str, ...]) -> dict[str, Any]:
    templates = draw(RULE_TEMPLATES)
    order = draw(RULE_ORDERS)
    # each rule is there 4 times in 5; the catch-all pool (it claims every row left) 1 in 10
    odds = {i: TENTHS if t["name"] == "catch-all" else FIFTHS for i, t in enumerate(templates)}
    kept = [i for i in order if (draw(odds[i]) == 0) == (odds[i] is TENTHS)]
    rules = [_valid_for(templates[i], owner_keys) for i in kept]
    doc: dict[str, Any] = {"version": 1, "rules": _existing_splits(rules)}
    require = _required(draw(pick(None, 1, 2)), owner_keys, rules)
    if require is not None:
        doc["require"] = require
    rounding = draw(pick(None, "currency", "0.0001", 0.01, "0.05"))
    if rounding is not None:
        doc["rounding"] = rounding
    return doc


def _required(
    count: int | None, owner_keys: tuple[str, ...], rules: list[dict[str, Any]]
) -> list[str] | None:
    """The first ``count`` owner keys as ``require`` (None: the default, the first key), less any
    that no tag or resource rule gives while there are such rules (that document is refused)."""
    owner_rules = [r for r in rules if r["kind"] in ("tag", "resource")]
    given = {k for r in owner_rules for k in r.get("keys") or r.get("set") or owner_keys}
    wanted = list(owner_keys[: count or 1])
    if not owner_rules or set(wanted) <= given:
        return wanted if count else None
    return [k for k in wanted if k in given] or [k for k in owner_keys if k in given][:1]


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


IDLE_OF = st.sampled_from([None, ["gpu-nodes"], ["cpu-nodes", "llm"]])
LLM_ON = st.sampled_from([None, {"ResourceId": "attributes.project_id"}])
POOL_KEYS = st.sampled_from([None, ["team"], ["team", "project"]])
RULE_TEMPLATES = rule_templates()
RULE_ORDERS = st.permutations(range(9))
RULES = {tuple(keys): rules_documents(tuple(keys)) for keys in OWNER_KEY_SETS}


@st.composite
def scenarios(draw: st.DrawFn, max_rows: int = 8) -> Scenario:
    owner_keys = draw(pick(*map(tuple, OWNER_KEY_SETS)))
    rows = draw(st.lists(CHARGES, max_size=max_rows))
    used = draw(st.lists(JOBS, max_size=max_rows))
    calls = draw(st.lists(REQUESTS, max_size=max_rows))
    return Scenario(
        charges=[row | {"x_source_row": i} for i, row in enumerate(rows, start=1)],
        jobs=[job | {"job_id": f"job-{i}"} for i, job in enumerate(used, start=1)],
        llm=[call | {"request_id": f"req-{i}"} for i, call in enumerate(calls, start=1)],
        prices=draw(PRICE_LISTS),
        rules=draw(RULES[owner_keys]),
        aliases=ALIASES,
        owner_keys=list(owner_keys),
    )


CHARGES = charges()
JOBS = jobs()
REQUESTS = requests()
PRICE_LISTS = prices()
