"""A slow, obviously correct reference implementation of ``docs/attribution.md`` (the test oracle).

Plain Python data in, plain Python data out; exact arithmetic (``int``, ``Fraction``, ``Decimal``)
and plain loops. It shares no code with ``costcouncil.attribution``: the fast engines are tested
against it, so it interprets ``rules.yaml`` by itself, straight from the spec.

Readings of the spec where it leaves a choice (the engines must make the same ones):

R1  References: ``Col.key`` splits at the first dot; ``key`` is looked up (case-sensitively) in
    the JSON object held by ``Col``. A JSON string gives itself, a number its JSON text (``8``,
    ``0.5``), ``true``/``false``; a missing key or JSON null gives null.
R2  Conditions: null never matches (not even ``*``). Only ``*`` and ``?`` are glob characters
    (``[`` is literal); a glob must match the whole value; ``*`` matches any characters, ``/``
    included. Each item of a list condition is itself an equality-or-glob. ``{regex: …}`` is an
    unanchored search (like DuckDB ``regexp_matches`` / Spark ``RLIKE``).
R3  Empty owner values: a value that is null or blank after trimming counts as "not given", for
    tag and resource rules alike.
R4  Tag spellings: ``key``, ``Key`` (first letter upper-cased, rest kept), ``KEY``, the
    workspace aliases, the rule's aliases. ``slug``: trim whitespace, lower-case, each run of
    whitespace and ``_`` becomes one ``-``. ``values`` maps the *normalised* value; the canonical
    value is used as written. ``resource`` ``set`` values (literal or ``$ref``) are not normalised.
    Usage owner columns are used exactly as stored.
R5  ``x_rule`` of a directly owned row: the earliest owner rule (file order) whose value was kept
    for at least one owner key. Owner rules and split rules are independent of each other's
    position in the file. ``idle`` rules never claim a row; a split rule without ``match``
    claims every row that reaches it.
R6  Every share of a row claimed by a usage split, idle shares included, has ``x_rule`` = the
    usage split's name (never the ``idle`` rule's). Policy ``owner`` on a row without a direct
    owner gives a plain ``__idle__`` share with method ``idle``. With several ``idle`` rules
    naming a split, the first in file order decides.
R7  The idle share exists only when its weight is > 0, or when no usage row matched (then it is
    the row's only share: weight = capacity weight, or 0 without capacity, which the all-zero rule
    turns into 1). Usage rows that match with weight 0 still make (zero-weight) shares. Capacity is
    used only by the jobs weights (gpu/cpu/memory_gib/seconds); a capacity that does not resolve
    to a number means "no capacity". Overcommitted rows (used > capacity) have no idle share.
R8  Jobs: a job belongs when its overlap with the charge period is > 0 µs;
    ``overlap_ms = floor(overlap_µs / 1000)``. ``round(x × 1000)`` of a float reads the float as
    its shortest decimal text (``repr``) and rounds half away from zero (SQL ``ROUND``); so does
    every other ``round`` in the spec (capacity, token_cost, ``direct_cost``, ``weights``).
    Null accelerator_count / cpu_cores / memory_gib count as 0.
R9  LLM: null token counts are 0. A request is unpriced for a row when no price row matches
    (provider, model, tier — null tier = ``standard`` on both sides —, valid_from <= time <
    valid_to) or when a kind the row is split by has tokens > 0 and a null price (reasoning falls
    back to the output price). With several matching price rows the latest ``valid_from`` wins.
    ``token_kind`` values are exactly ``input``, ``cached``, ``cache_write``, ``output``,
    ``reasoning``; ``output`` means ``output_tokens`` only (reasoning is its own kind); a null or
    other value means all kinds. ``tokens`` (and the unpriced fallback) counts the tokens of the
    kinds the row is split by. The unpriced fallback applies only to ``weight: token_cost``.
R10 Weights: ``x_usage_weight`` is the weight after the all-zero substitution (so ``x_weight``
    = ``x_usage_weight`` / Σ). ``x_usage_count`` = usage rows in the share; 0 for direct, idle,
    unallocated and shared-pool shares. Zero-weight shares are kept (they get 0, or dust).
R11 Tie order in apportioning: the larger weight first, then owner tuples key by key, null before
    any string, strings by code point (= UTF-8 bytes); then rule, then method. The share ranked
    first holds the dust (its whole-unit part is its exact share less the dust, floored); on a
    remainder tie the leftover unit goes to the share ranked first on a positive row, last on a
    negative one (a unit there moves an amount towards zero).
R12 Rounding unit: ``rounding: currency`` uses the ISO 4217 minor unit (table below; a code not
    in the exceptions has 2, the N.A. X-codes included); a decimal ``rounding`` applies to every
    currency. Zero amounts have sign 0: every share gets 0.
R13 Shared pools: owners come from the non-sentinel allocations of rows not claimed by a shared
    pool (direct, usage and ``idle:owner`` shares), in the same BillingPeriodStart and
    BillingCurrency; restricted to ``keys`` (other keys null); a restricted tuple whose ``keys``
    are all null is no owner. Owners named in ``weights`` but without allocations are ignored;
    owners not named get weight 0. ``gpu_seconds`` counts the jobs' overlap with
    [BillingPeriodStart, BillingPeriodEnd); ``tokens`` and ``requests`` count llm rows with
    ``time`` in it (``requests`` = llm ``request_count``, jobs not counted); usage rows are matched
    to an owner by their owner columns restricted to ``keys``. Pools do not feed other pools.
R14 Reconciliation: ``model`` = the share's ``x_model`` for usage shares when ``model`` is an
    owner key, else null; idle shares (``idle`` and ``idle:owner``) are model null. ``priced`` is
    Σ over (cost row, request) pairs of the pair's exact cost (kinds of the row) rounded half-even
    to 12 decimals; a group without requests has ``priced`` 0. ``requests`` = Σ request_count
    (null = 1) over the *distinct* request ids of the group (a request billed by an input row and
    an output row counts once).
R16 Controlled rounding: after every split row is apportioned (and again after every pool row),
    units move between the shares of a row so that each owner tuple's total per rule, billing
    period and currency and metric is within floor … ceil of its exact share; the repair is the
    engine's own (``costcouncil.attribution.controlled``), fed the same cells. What it must
    achieve is checked independently (tests/attribution/test_owner_totals.py).
R15 ``on:`` is a YAML 1.1 boolean: ``yaml.safe_load`` returns the key ``True``. The reference
    accepts either key; the case loader reads YAML 1.2 booleans (only true/false).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import pyarrow as pa

from costcouncil.attribution.controlled import CELL_COLUMNS, controlled

IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
SENTINELS = (IDLE, UNALLOCATED)
METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
OWNER_RULES = ("tag", "resource")
SPLIT_RULES = ("usage_split", "shared_pool")
JOB_WEIGHTS = ("gpu_seconds", "cpu_seconds", "memory_gib_seconds", "seconds", "requests")
LLM_WEIGHTS = ("token_cost", "tokens", "requests")
MS = timedelta(milliseconds=1)

#: ISO 4217 minor units that are not 2 (every other code, the N.A. X-codes included, has 2).
_EXCEPTIONS = (
    (0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"),
    (3, "BHD IQD JOD KWD LYD OMR TND"),
    (4, "CLF UYW"),
)
MINOR_UNITS = {code: digits for digits, codes in _EXCEPTIONS for code in codes.split()}

#: token kind -> (token count column, price column)
TOKEN_KINDS = {
    "input": ("input_tokens", "input_per_mtok"),
    "cached": ("cached_input_tokens", "cached_input_per_mtok"),
    "cache_write": ("cache_write_tokens", "cache_write_per_mtok"),
    "output": ("output_tokens", "output_per_mtok"),
    "reasoning": ("reasoning_tokens", "reasoning_per_mtok"),
}

Row = Mapping[str, Any]
Owner = tuple[str | None, ...]


@dataclass(frozen=True)
class Result:
    allocations: list[dict[str, Any]]
    reconciliation: list[dict[str, Any]]


@dataclass(frozen=True)
class Share:
    owner: Owner
    rule: str
    method: str
    weight: int
    usage_count: int = 0
    #: llm shares only: the matched requests (for the reconciliation)
    requests: tuple[Row, ...] = ()


@dataclass(frozen=True)
class Context:
    keys: tuple[str, ...]
    require: tuple[str, ...]
    rules: tuple[Mapping[str, Any], ...]
    aliases: Mapping[str, Sequence[str]]
    rounding: Any
    jobs: Sequence[Row]
    llm: Sequence[Row]
    prices: Sequence[Row]


def allocate(
    charges: Sequence[Row],
    jobs: Sequence[Row],
    llm: Sequence[Row],
    prices: Sequence[Row],
    rules: Mapping[str, Any],
    aliases: Mapping[str, Sequence[str]],
    owner_keys: Sequence[str],
) -> Result:
    """Every charge split into allocation rows, plus the LLM invoice reconciliation."""
    keys = tuple(rules.get("owner_keys") or owner_keys)
    ctx = Context(
        keys=keys,
        require=tuple(rules.get("require") or keys[:1]),
        rules=tuple(rules.get("rules") or ()),
        aliases=aliases,
        rounding=rules.get("rounding", "currency"),
        jobs=jobs,
        llm=llm,
        prices=prices,
    )
    check_rules(ctx)
    done: list[tuple[Row, Share, dict[str, Any]]] = []
    pools: list[tuple[Row, Mapping[str, Any]]] = []
    cells: list[dict[str, Any]] = []
    for row in charges:
        rule = claiming_rule(row, ctx)
        if rule is not None and rule["kind"] == "shared_pool":
            pools.append((row, rule))
        else:
            shares = usage_split_shares(row, rule, ctx) if rule else direct_shares(row, ctx)
            done += apportioned(row, shares, ctx, cells if rule else None)
    controlled_rounding(cells)
    pooled: list[tuple[Row, Share, dict[str, Any]]] = []
    pool_cells: list[dict[str, Any]] = []
    for row, rule in pools:
        pooled += apportioned(row, pool_shares(row, rule, done, ctx), ctx, pool_cells)
    controlled_rounding(pool_cells)
    by_row = {id(row): i for i, row in enumerate(charges)}
    everything = sorted(done + pooled, key=lambda t: by_row[id(t[0])])
    return Result([a for _, _, a in everything], reconciliation(done, ctx))


def check_rules(ctx: Context) -> None:
    for rule in ctx.rules:
        kind = rule.get("kind")
        if kind not in (*OWNER_RULES, *SPLIT_RULES, "idle"):
            raise ValueError(f"rule {rule.get('name')!r}: unknown kind {kind!r}")
        if kind == "usage_split":
            usage = rule.get("usage")
            allowed = JOB_WEIGHTS if usage == "jobs" else LLM_WEIGHTS if usage == "llm" else ()
            if not allowed or weight_of(rule) not in allowed:
                raise ValueError(f"rule {rule.get('name')!r}: bad usage/weight")


# --- values, references and conditions ---------------------------------------------------------


def as_text(value: Any) -> str | None:
    """A value as the string a condition or an owner key compares (R1)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value)


def json_object(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        return {}
    try:
        parsed = json.loads(value, parse_float=Decimal)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def ref_value(row: Row, ref: str) -> str | None:
    """``Column`` or ``Column.key`` (a key of the JSON object in ``Column``) of a row."""
    column, dot, key = ref.partition(".")
    if not dot:
        return as_text(row.get(ref))
    return as_text(json_object(row.get(column)).get(key))


def glob_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def holds(condition: Any, value: str | None) -> bool:
    if value is None:
        return False
    if isinstance(condition, Mapping):
        return re.search(condition["regex"], value) is not None
    if isinstance(condition, list):
        return any(holds(c, value) for c in condition)
    text = as_text(condition) or ""
    if "*" in text or "?" in text:
        return re.fullmatch(glob_regex(text), value, re.DOTALL) is not None
    return value == text


def matches(rule: Mapping[str, Any], row: Row) -> bool:
    match = rule.get("match") or {}
    return all(holds(condition, ref_value(row, ref)) for ref, condition in match.items())


def given(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def number(value: Any) -> Fraction | None:
    """A number from YAML, JSON or text, exactly (a float as its shortest decimal text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Fraction(Decimal(str(value)))
    except (InvalidOperation, ValueError, OverflowError):
        return None


def round_half_up(x: Fraction) -> int:
    """Round to an integer, halves away from zero (SQL ``ROUND``)."""
    n = int(abs(x) + Fraction(1, 2))
    return n if x >= 0 else -n


def milli(value: Any) -> int:
    return round_half_up((number(value) or Fraction(0)) * 1000)


# --- owner rules ---------------------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def spellings(key: str, rule: Mapping[str, Any], ctx: Context) -> list[str]:
    rule_aliases = rule.get("aliases") or {}
    return [
        key,
        key[:1].upper() + key[1:],
        key.upper(),
        *ctx.aliases.get(key, []),
        *rule_aliases.get(key, []),
    ]


def tag_values(rule: Mapping[str, Any], row: Row, ctx: Context) -> dict[str, str]:
    tags = json_object(row.get("Tags"))
    out: dict[str, str] = {}
    for key in rule.get("keys") or ctx.keys:
        found = [as_text(tags.get(spelling)) for spelling in spellings(key, rule, ctx)]
        raw = next((v for v in found if v is not None and given(v)), None)
        if key not in ctx.keys or raw is None:
            continue
        value = slug(raw) if rule.get("normalise", "slug") == "slug" else raw
        mapping = (rule.get("values") or {}).get(key) or {}
        value = as_text(mapping.get(value, value)) or ""
        if given(value):
            out[key] = value
    return out


def resource_values(rule: Mapping[str, Any], row: Row, ctx: Context) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, spec in (rule.get("set") or {}).items():
        text = as_text(spec) or ""
        value = ref_value(row, text[1:]) if text.startswith("$") else text
        if key in ctx.keys and value is not None and given(value):
            out[key] = value
    return out


def direct_owner(row: Row, ctx: Context) -> tuple[Owner, str, str] | None:
    """(owner tuple, x_rule, x_method) of a directly owned row; None when a required key is missing."""
    found: dict[str, tuple[str, int]] = {}
    for index, rule in enumerate(ctx.rules):
        if rule["kind"] not in OWNER_RULES or not matches(rule, row):
            continue
        values = tag_values if rule["kind"] == "tag" else resource_values
        for key, value in values(rule, row, ctx).items():
            found.setdefault(key, (value, index))
    if not found or not all(key in found for key in ctx.require):
        return None
    first = ctx.rules[min(index for _, index in found.values())]
    owner = tuple(found[k][0] if k in found else None for k in ctx.keys)
    return owner, first["name"], first["kind"]


def direct_shares(row: Row, ctx: Context) -> list[Share]:
    direct = direct_owner(row, ctx)
    if direct is None:
        return [Share(sentinel(UNALLOCATED, ctx), "unallocated", "unallocated", 1)]
    owner, rule, method = direct
    return [Share(owner, rule, method, 1)]


def sentinel(name: str, ctx: Context) -> Owner:
    return tuple(name for _ in ctx.keys)


# --- usage splits ----------------------------------------------------------------------------


def claiming_rule(row: Row, ctx: Context) -> Mapping[str, Any] | None:
    return next((r for r in ctx.rules if r["kind"] in SPLIT_RULES and matches(r, row)), None)


def weight_of(rule: Mapping[str, Any]) -> str:
    default = "gpu_seconds" if rule.get("usage") == "jobs" else "token_cost"
    return str(rule.get("weight", default))


def idle_policy(split: Mapping[str, Any], ctx: Context) -> str:
    for rule in ctx.rules:
        if rule["kind"] != "idle":
            continue
        names = rule.get("of")  # absent: every split; [] names none
        if names is None or split["name"] in names:
            return str(rule.get("policy", "keep"))
    return "keep"


def on_of(rule: Mapping[Any, Any]) -> Mapping[str, str]:
    """The ``on`` map; under ``True`` when a YAML 1.1 parser (PyYAML) read ``on:`` as a boolean."""
    return rule.get("on") or rule.get(True) or {}


def on_holds(on: Mapping[str, str], row: Row, usage: Row) -> bool:
    for cost_ref, usage_ref in on.items():
        left, right = ref_value(row, cost_ref), ref_value(usage, usage_ref)
        if left is None or right is None or left != right:
            return False
    return True


def usage_owner(usage: Row, ctx: Context) -> Owner:
    return tuple(as_text(usage.get(key)) for key in ctx.keys)


def period_ms(start: datetime, end: datetime) -> int:
    return (end - start) // MS


def overlap_ms(job: Row, start: datetime, end: datetime) -> int | None:
    """Whole milliseconds ``job`` ran in [start, end); None when it did not run in it (R8)."""
    job_end = job.get("end") or end
    lo, hi = max(job["start"], start), min(job_end, end)
    return None if hi <= lo else (hi - lo) // MS


def job_weight(job: Row, weight: str, ms: int) -> int:
    per_ms = {
        "gpu_seconds": lambda: milli(job.get("accelerator_count")),
        "cpu_seconds": lambda: milli(job.get("cpu_cores")),
        "memory_gib_seconds": lambda: milli(job.get("memory_gib")),
        "seconds": lambda: 1000,
    }
    return 1 if weight == "requests" else per_ms[weight]() * ms


def capacity_weight(rule: Mapping[str, Any], row: Row) -> int | None:
    spec = rule.get("capacity")
    if spec is None:
        return None
    value = number(spec)
    if value is None:
        value = number(ref_value(row, str(spec)))
    if value is None:
        return None
    ms = period_ms(row["ChargePeriodStart"], row["ChargePeriodEnd"])
    return round_half_up(value * 1000) * ms


def grouped(
    rule: Mapping[str, Any], method: str, items: Iterable[tuple[Row, int]], ctx: Context
) -> list[Share]:
    """One share per owner tuple: Σ weights, count of usage rows."""
    groups: dict[Owner, list[tuple[Row, int]]] = {}
    for usage, weight in items:
        groups.setdefault(usage_owner(usage, ctx), []).append((usage, weight))
    return [
        Share(owner, rule["name"], method, sum(w for _, w in g), len(g), tuple(u for u, _ in g))
        for owner, g in groups.items()
    ]


def job_shares(row: Row, rule: Mapping[str, Any], ctx: Context) -> tuple[list[Share], int]:
    """The users' shares and the idle weight of a jobs split."""
    on = on_of(rule) or {"ResourceId": "resource_id"}
    weight = weight_of(rule)
    start, end = row["ChargePeriodStart"], row["ChargePeriodEnd"]
    items = []
    for job in ctx.jobs:
        ms = overlap_ms(job, start, end) if on_holds(on, row, job) else None
        if ms is not None:
            items.append((job, job_weight(job, weight, ms)))
    used = grouped(rule, f"usage_split:{weight}", items, ctx)
    capacity = capacity_weight(rule, row) if weight != "requests" else None
    if capacity is None:
        return used, 0
    return used, max(0, capacity - sum(s.weight for s in used))


def llm_shares(row: Row, rule: Mapping[str, Any], ctx: Context) -> tuple[list[Share], int]:
    on = on_of(rule) or {}
    weight = weight_of(rule)
    kinds = row_kinds(rule, row)
    start, end = row["ChargePeriodStart"], row["ChargePeriodEnd"]
    matched = [r for r in ctx.llm if on_holds(on, row, r) and start <= r["time"] < end]
    if weight == "token_cost" and any(token_value(r, kinds, ctx) is None for r in matched):
        weight, method = "tokens", "usage_split:tokens(unpriced)"
    else:
        method = f"usage_split:{weight}"
    items = [(r, request_weight(r, weight, kinds, ctx)) for r in matched]
    return grouped(rule, method, items, ctx), 0


def usage_split_shares(row: Row, rule: Mapping[str, Any], ctx: Context) -> list[Share]:
    shares, idle = (job_shares if rule["usage"] == "jobs" else llm_shares)(row, rule, ctx)
    policy = idle_policy(rule, ctx)
    if shares and (idle == 0 or policy == "spread"):
        return shares
    if policy == "owner" and (direct := direct_owner(row, ctx)) is not None:
        return [*shares, Share(direct[0], rule["name"], "idle:owner", idle)]
    return [*shares, Share(sentinel(IDLE, ctx), rule["name"], "idle", idle)]


# --- LLM prices --------------------------------------------------------------------------------


def row_kinds(rule: Mapping[str, Any], row: Row) -> tuple[str, ...]:
    ref = rule.get("token_kind")
    kind = ref_value(row, ref) if ref else None
    return (kind,) if kind in TOKEN_KINDS else tuple(TOKEN_KINDS)


def price_for(request: Row, ctx: Context) -> Row | None:
    tier = request.get("service_tier") or "standard"
    time = request["time"]
    candidates = [
        p
        for p in ctx.prices
        if (p["provider"], p["model"]) == (request["provider"], request["model"])
        and (p.get("service_tier") or "standard") == tier
        and (p.get("valid_from") is None or p["valid_from"] <= time)
        and (p.get("valid_to") is None or time < p["valid_to"])
    ]
    return max(candidates, key=_since) if candidates else None


def _since(price: Row) -> datetime:
    """A price row's start; an open start (since forever) is the earliest."""
    return price.get("valid_from") or datetime.min.replace(tzinfo=UTC)


def kind_price(price: Row, kind: str) -> Any:
    value = price.get(TOKEN_KINDS[kind][1])
    return price.get("output_per_mtok") if value is None and kind == "reasoning" else value


def tokens_of(request: Row, kind: str) -> int:
    return int(request.get(TOKEN_KINDS[kind][0]) or 0)


def token_value(request: Row, kinds: Sequence[str], ctx: Context) -> Fraction | None:
    """Σ tokens × $/Mtok over ``kinds`` (i.e. the cost × 10⁶), exactly; None when unpriced."""
    price = price_for(request, ctx)
    if price is None:
        return None
    total = Fraction(0)
    for kind in kinds:
        tokens, per_mtok = tokens_of(request, kind), kind_price(price, kind)
        if tokens and per_mtok is None:
            return None
        total += tokens * (number(per_mtok) or Fraction(0))
    return total


def request_weight(request: Row, weight: str, kinds: Sequence[str], ctx: Context) -> int:
    if weight == "requests":
        return int(request.get("request_count") or 1)
    if weight == "tokens":
        return sum(tokens_of(request, kind) for kind in kinds)
    value = token_value(request, kinds, ctx)
    assert value is not None
    return round_half_up(value * 1000)


# --- apportioning ------------------------------------------------------------------------------


def unit_of(currency: str, rounding: Any) -> Fraction:
    if rounding is None or rounding == "currency":
        return Fraction(1, 10 ** MINOR_UNITS.get(currency, 2))
    unit = number(rounding)
    if unit is None or unit <= 0:
        raise ValueError(f"rounding {rounding!r} is neither 'currency' nor a positive decimal")
    return unit


def to_decimal(x: Fraction) -> Decimal:
    """A terminating fraction as an exact Decimal."""
    for places in range(60):
        scaled = x * 10**places
        if scaled.denominator == 1:
            return Decimal(scaled.numerator).scaleb(-places)
    raise ValueError(f"{x} is not a short decimal")


def tie_key(share: Share) -> tuple[Any, ...]:
    owner = tuple((0, "") if v is None else (1, v) for v in share.owner)
    return owner, share.rule, share.method


@dataclass
class Cell:
    """One share's apportioning of one metric: its amount, exact remainder (z·W) and unit."""

    amount: Decimal | None
    rem: Fraction = Fraction(0)
    extra: int = 0
    #: 1 / 2: the share would be against its row's sign without / with the unit
    risk: int = 0


def apportion(total: Any, shares: Sequence[Share], weights: Sequence[int], unit: Fraction) -> list:
    """Steps 1–5 of "Apportioning, exactly" for one metric of one row (before the controlled
    rounding): a :class:`Cell` per share."""
    if total is None:
        return [Cell(None)] * len(shares)
    c = Fraction(Decimal(total))
    sign = -1 if c < 0 else 1
    v = abs(c) / unit
    units = int(v)
    dust = v - units
    whole = sum(weights)
    order = sorted(range(len(shares)), key=lambda i: (-weights[i], tie_key(shares[i])))
    sid = {i: n + 1 for n, i in enumerate(order)}
    yw = [sign * (v * w - (dust * whole if sid[i] == 1 else 0)) for i, w in enumerate(weights)]
    q = [(y / whole).__floor__() for y in yw]
    r = [y - qi * whole for y, qi in zip(yw, q, strict=True)]
    ranked = sorted(range(len(shares)), key=lambda i: (-r[i], sign * sid[i]))
    extra = set(ranked[: sign * units - sum(q)])
    return [
        Cell(
            to_decimal((q[i] + (i in extra)) * unit + (sign * dust * unit if sid[i] == 1 else 0)),
            r[i],
            int(i in extra),
            (1 if c >= 0 and q[i] == -1 else 2 if c < 0 and q[i] == 0 else 0) if sid[i] == 1 else 0,
        )
        for i in range(len(shares))
    ]


def apportioned(
    row: Row, shares: Sequence[Share], ctx: Context, cells: list[dict[str, Any]] | None = None
) -> list[tuple[Row, Share, dict[str, Any]]]:
    """The allocation rows of ``row``; with ``cells``, its shares' fractional cells appended
    there (for :func:`controlled_rounding`)."""
    weights = [s.weight for s in shares]
    if sum(weights) == 0:
        weights = [1] * len(shares)
    unit = unit_of(row["BillingCurrency"], ctx.rounding)
    amounts = {m: apportion(row.get(m), shares, weights, unit) for m in METRICS}
    order = sorted(range(len(shares)), key=lambda i: (-weights[i], tie_key(shares[i])))
    out = []
    for i, share in enumerate(shares):
        allocation: dict[str, Any] = {
            "x_source_file": row["x_source_file"],
            "x_source_row": row["x_source_row"],
            **{f"x_{k}": v for k, v in zip(ctx.keys, share.owner, strict=True)},
            "x_rule": share.rule,
            "x_method": share.method,
            "x_weight": float(Fraction(weights[i], sum(weights))),
            "x_usage_weight": weights[i],
            "x_usage_count": share.usage_count,
            **{m: amounts[m][i].amount for m in METRICS},
        }
        out.append((row, share, allocation))
        if cells is not None and len(shares) > 1 and any(amounts[m][i].rem for m in METRICS):
            whole = sum(weights)
            cell: dict[str, Any] = {
                "row": row,
                "sid": order.index(i) + 1,
                "owner": "\x1f".join("-" if v is None else "+" + v for v in share.owner),
                "g_rule": share.rule,
                "g_period": row["BillingPeriodStart"],
                "g_currency": row["BillingCurrency"],
                "unit": to_decimal(unit),  # not read by the rounding: for applying its moves
                "wsum": whole,
                "allocation": allocation,
            }
            for m in METRICS:
                a = amounts[m][i]
                rem = None if a.amount is None else to_decimal(a.rem)
                cell[f"rem_{m}"] = rem
                cell[f"e_{m}"] = None if a.amount is None else a.extra
                cell[f"f_{m}"] = None if a.amount is None else a.risk
            cells.append(cell)
    return out


def controlled_rounding(cells: list[dict[str, Any]]) -> None:
    """R16: move units between the shares of a row so each owner's total per rule, billing
    period and currency is within one unit of its exact share (the engine's own repair, fed the
    cells the engine would feed it: rows keyed as the engine keys them)."""
    if not cells:
        return
    files = sorted({c["row"]["x_source_file"] for c in cells} | set())
    fx = {f: n + 1 for n, f in enumerate(files)}
    for c in cells:
        c["x_id"] = fx[c["row"]["x_source_file"]] * 2**40 + c["row"]["x_source_row"]
    columns = [*CELL_COLUMNS, *(f"{k}_{m}" for m in METRICS for k in ("rem", "e", "f"))]
    table = pa.table(
        {
            col: pa.array(
                [c[col] for c in cells],
                pa.decimal128(38, 12) if col.startswith("rem_") else None,
            )
            for col in columns
        }
    )
    changes = controlled(table, METRICS).to_pylist()
    by_key = {(c["x_id"], c["sid"]): c for c in cells}
    for change in changes:
        cell = by_key[(change["x_id"], change["sid"])]
        allocation = cell["allocation"]
        for m in METRICS:
            if allocation[m] is not None:
                allocation[m] = allocation[m] + change[f"k_{m}"] * cell["unit"]


# --- shared pools ------------------------------------------------------------------------------


def restricted(owner: Owner, keys: Sequence[str], ctx: Context) -> Owner | None:
    out = tuple(v if k in keys else None for k, v in zip(ctx.keys, owner, strict=True))
    return None if all(v is None for v in out) else out


def pool_shares(
    row: Row,
    rule: Mapping[str, Any],
    done: Sequence[tuple[Row, Share, dict[str, Any]]],
    ctx: Context,
) -> list[Share]:
    keys = list(rule.get("keys") or ctx.require)
    by = str(rule.get("by", "direct_cost"))
    period = (row["BillingPeriodStart"], row["BillingCurrency"])
    cost: dict[Owner, Fraction] = {}
    for other, share, allocation in done:
        if (other["BillingPeriodStart"], other["BillingCurrency"]) != period:
            continue
        owner = restricted(share.owner, keys, ctx)
        if share.owner[0] not in SENTINELS and owner is not None:
            effective = allocation["EffectiveCost"]
            cost[owner] = cost.get(owner, Fraction(0)) + Fraction(effective or 0)
    weights = {
        owner: pool_weight(by, owner, total, keys, rule, row, ctx) for owner, total in cost.items()
    }
    method = f"shared_pool:{by}"
    shares = [Share(owner, rule["name"], method, w) for owner, w in weights.items()]
    if not any(weights.values()):
        return [Share(sentinel(UNALLOCATED, ctx), rule["name"], "shared_pool:none", 1)]
    return shares


def pool_weight(
    by: str,
    owner: Owner,
    direct_cost: Fraction,
    keys: Sequence[str],
    rule: Mapping[str, Any],
    row: Row,
    ctx: Context,
) -> int:
    if by == "direct_cost":
        return round_half_up(max(Fraction(0), direct_cost) * 10**6)
    if by == "even":
        return 1
    if by == "weights":
        first = owner[ctx.keys.index(keys[0])]
        return round_half_up((number((rule.get("weights") or {}).get(first)) or 0) * 10**6)
    return usage_in_period(by, owner, keys, row, ctx)


def usage_in_period(by: str, owner: Owner, keys: Sequence[str], row: Row, ctx: Context) -> int:
    start, end = row["BillingPeriodStart"], row["BillingPeriodEnd"]
    total = 0
    if by == "gpu_seconds":
        for job in ctx.jobs:
            ms = overlap_ms(job, start, end)
            if ms is not None and restricted(usage_owner(job, ctx), keys, ctx) == owner:
                total += milli(job.get("accelerator_count")) * ms
        return total
    for request in ctx.llm:
        mine = restricted(usage_owner(request, ctx), keys, ctx) == owner
        if mine and start <= request["time"] < end:
            total += request_weight(request, by, tuple(TOKEN_KINDS), ctx)
    return total


# --- reconciliation ----------------------------------------------------------------------------


@dataclass
class Recon:
    invoiced: Fraction
    priced: Fraction | None
    requests: dict[str, int]


def reconciliation(done: Sequence[tuple[Row, Share, dict[str, Any]]], ctx: Context) -> list:
    llm_rules = {
        r["name"]: r for r in ctx.rules if r["kind"] == "usage_split" and r["usage"] == "llm"
    }
    groups: dict[tuple[Any, ...], Recon] = {}
    for row, share, allocation in done:
        if share.rule not in llm_rules or not share.method.startswith(("usage_split", "idle")):
            continue
        usage = share.method.startswith("usage_split")
        model = share.owner[ctx.keys.index("model")] if usage and "model" in ctx.keys else None
        key = (
            share.rule,
            row.get("ProviderName"),
            model,
            row["ChargePeriodStart"].date(),
            row["BillingCurrency"],
        )
        group = groups.setdefault(key, Recon(Fraction(0), Fraction(0), {}))
        group.invoiced += Fraction(allocation["BilledCost"])
        kinds = row_kinds(llm_rules[share.rule], row)
        for request in share.requests:
            value = token_value(request, kinds, ctx)
            exact = None if value is None else Fraction(round(value / 10**6 * 10**12), 10**12)
            group.priced = None if exact is None or group.priced is None else group.priced + exact
            group.requests[request["request_id"]] = int(request.get("request_count") or 1)
    return [recon_row(key, g) for key, g in groups.items()]


def recon_row(key: tuple[Any, ...], group: Recon) -> dict[str, Any]:
    rule, provider, model, day, currency = key
    priced = None if group.priced is None else to_decimal(group.priced)
    invoiced = to_decimal(group.invoiced)
    return {
        "x_rule": rule,
        "ProviderName": provider,
        "model": model,
        "day": day,
        "BillingCurrency": currency,
        "invoiced": invoiced,
        "priced": priced,
        "gap": None if priced is None else invoiced - priced,
        "requests": sum(group.requests.values()),
    }
