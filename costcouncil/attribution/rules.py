"""``rules.yaml``: the ordered attribution rules, validated with every problem reported at once.

The document's meaning is specified in ``docs/attribution.md``; this module only checks its
shape and its cross-references (rule names, owner keys, weights that fit the usage).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcouncil.documents import (
    DEFAULT_OWNER_KEYS,
    YamlDocument,
    parse_yaml,
    raise_problems,
    validation_problems,
)
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA, OWNER_KEYS

Condition = str | list[str] | dict[str, str]
Match = dict[str, Condition]
JOB_WEIGHTS = ("gpu_seconds", "cpu_seconds", "memory_gib_seconds", "seconds", "requests")
LLM_WEIGHTS = ("token_cost", "tokens", "requests")
TIME_WEIGHTS = ("gpu_seconds", "cpu_seconds", "memory_gib_seconds", "seconds")
TOKEN_KINDS = ("input", "cached", "cache_write", "output", "reasoning")
SENTINELS = ("__unallocated__", "__idle__")
#: The owner keys each usage schema carries as columns: what a usage-weighted shared_pool reads
#: (``pools.py``), and what a usage_split offers (it also reads any other text column by name).
USAGE_OWNERS = {"jobs": OWNER_KEYS, "llm": (*OWNER_KEYS, "feature", "customer", "api_key_id")}
#: Which usage a shared_pool's ``by`` weighs owners by.
POOL_USAGE = {"gpu_seconds": "jobs", "tokens": "llm", "requests": "llm"}
_NAME = r"^[a-z0-9][a-z0-9_-]*$"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME)


class TagRule(_Rule):
    """Owner keys from the row's ``Tags``."""

    kind: Literal["tag"]
    keys: list[str] | None = None
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    normalise: Literal["slug", "none"] = "slug"
    match: Match | None = None


class ResourceRule(_Rule):
    """Owner keys set for the rows a pattern matches."""

    kind: Literal["resource"]
    match: Match
    set: dict[str, str] = Field(min_length=1)


class UsageSplitRule(_Rule):
    """A shared resource's cost split over the usage that ran on it."""

    kind: Literal["usage_split"]
    usage: Literal["jobs", "llm"]
    match: Match | None = None
    on: dict[str, str] | None = None
    weight: (
        Literal[
            "gpu_seconds",
            "cpu_seconds",
            "memory_gib_seconds",
            "seconds",
            "token_cost",
            "tokens",
            "requests",
        ]
        | None
    ) = None
    capacity: float | str | None = None
    token_kind: str | None = None

    @property
    def weight_kind(self) -> str:
        return self.weight or ("gpu_seconds" if self.usage == "jobs" else "token_cost")

    @property
    def joins(self) -> dict[str, str]:
        if self.on is not None:
            return self.on
        return {"ResourceId": "resource_id"} if self.usage == "jobs" else {}


class IdleRule(_Rule):
    """Who carries the idle share of usage splits."""

    kind: Literal["idle"]
    policy: Literal["keep", "owner", "spread"]
    of: list[str] | None = None


class SharedPoolRule(_Rule):
    """Shared costs spread over the period's owners."""

    kind: Literal["shared_pool"]
    match: Match | None = None
    by: Literal["direct_cost", "even", "weights", "gpu_seconds", "tokens", "requests"] = (
        "direct_cost"
    )
    keys: list[str] | None = None
    weights: dict[str, float] | None = None


Rule = Annotated[
    TagRule | ResourceRule | UsageSplitRule | IdleRule | SharedPoolRule,
    Field(discriminator="kind"),
]


class RulesDocument(BaseModel):
    """The whole ``rules.yaml``."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    owner_keys: list[str] | None = None
    require: list[str] | None = None
    rounding: str | float = "currency"
    rules: list[Rule] = Field(default_factory=list)


class Rules:
    """A validated rules document with the workspace's defaults filled in."""

    def __init__(self, document: RulesDocument, owner_keys: list[str], path: str) -> None:
        self.document = document
        self.path = path
        self.owner_keys = list(document.owner_keys or owner_keys)
        self.require = list(document.require or self.owner_keys[:1])
        self.rules = list(document.rules)

    @property
    def rounding_unit(self) -> Decimal | None:
        """An explicit rounding unit (0.01, 0.05, 1); None means the currency's minor unit."""
        if self.document.rounding == "currency":
            return None
        return Decimal(str(self.document.rounding))

    def of_kind(self, kind: type[_Rule]) -> list[_Rule]:
        return [r for r in self.rules if isinstance(r, kind)]

    def idle_policy(self, split: str) -> str:
        for rule in self.rules:
            if isinstance(rule, IdleRule) and (rule.of is None or split in rule.of):
                return rule.policy
        return "keep"


def parse_rules(text: str, path: str, owner_keys: list[str] | None = None) -> Rules:
    """Parse and validate ``rules.yaml`` text; raise ``ConfigError`` listing every problem."""
    document = parse_yaml(text, path)
    if not isinstance(document.data, dict):
        raise_problems(document, [f"{path}:1: the document must be a mapping with `version: 1`"])
    try:
        parsed = RulesDocument.model_validate(document.data)
    except ValidationError as e:
        raise_problems(document, validation_problems(document, e) + _raw_name_checks(document))
        raise AssertionError("unreachable") from e
    rules = Rules(parsed, owner_keys or list(DEFAULT_OWNER_KEYS), path)
    raise_problems(document, _cross_checks(rules, document))
    return rules


def default_rules_text() -> str:
    """The ``rules.yaml`` a new workspace starts with: tags, then unallocated."""
    return (
        "# Attribution rules: see docs/attribution.md. Rules apply in order; what no rule\n"
        "# owns is __unallocated__.\n"
        "version: 1\n"
        "rules:\n"
        "  - name: tags\n"
        "    kind: tag\n"
    )


def _cross_checks(rules: Rules, doc: YamlDocument) -> list[str]:
    problems = _name_checks(rules, doc) + _key_checks(rules, doc) + _fill_checks(rules, doc)
    for i, rule in enumerate(rules.rules):
        problems += _rule_checks(rule, ("rules", i), rules, doc)
    return problems


def _raw_name_checks(doc: YamlDocument) -> list[str]:
    """Duplicate names, found even when the document's shape is wrong elsewhere."""
    raw = doc.data.get("rules") if isinstance(doc.data, dict) else None
    names = [r.get("name") for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
    return [
        f"{doc.where(('rules', i, 'name'))}: duplicate rule name {name!r}"
        for i, name in enumerate(names)
        if name is not None and name in names[:i]
    ]


def _name_checks(rules: Rules, doc: YamlDocument) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, rule in enumerate(rules.rules):
        if rule.name in seen:
            problems.append(f"{doc.where(('rules', i, 'name'))}: duplicate rule name {rule.name!r}")
        seen.add(rule.name)
    return problems


def _key_checks(rules: Rules, doc: YamlDocument) -> list[str]:
    problems = _unknown_keys(rules.require, ("require",), rules, doc)
    if rules.document.rounding != "currency":
        problems += _rounding_problem(rules.document.rounding, doc)
    return problems


def _fill_checks(rules: Rules, doc: YamlDocument) -> list[str]:
    """Owner keys no rule could ever fill (docs/attribution.md, "Owner keys no rule can fill").

    While an owner rule names a key that is not an owner key (reported already), what the rules
    would leave unfilled is not: fixing the name changes it.
    """
    problems = [] if _misnamed(rules) else _direct_fill(rules, doc) + _declared_fill(rules, doc)
    for i, rule in enumerate(rules.rules):
        if isinstance(rule, UsageSplitRule):
            problems += _split_fill(rule, ("rules", i), rules, doc)
        elif isinstance(rule, SharedPoolRule) and rule.by in POOL_USAGE:
            problems += _pool_fill(rule, ("rules", i), rules, doc)
    return problems


def _usage_columns(usage: str) -> set[str]:
    """The text columns of a usage schema: those a usage_split can take an owner key from."""
    schema = JOBS_SCHEMA if usage == "jobs" else LLM_SCHEMA
    return {f.name for f in schema if pa.types.is_string(f.type) and f.name != "attributes"}


def _fills(rule: _Rule, rules: Rules) -> set[str]:
    """The owner keys ``rule`` can give (idle and pools pass on keys other rules gave)."""
    if isinstance(rule, TagRule):
        return set(rule.keys or rules.owner_keys)
    if isinstance(rule, ResourceRule):
        return set(rule.set)
    if isinstance(rule, UsageSplitRule):
        return _usage_columns(rule.usage) & set(rules.owner_keys)
    return set()


def _misnamed(rules: Rules) -> bool:
    named = [
        k for r in rules.rules if isinstance(r, TagRule | ResourceRule) for k in _fills(r, rules)
    ]
    return any(k not in rules.owner_keys for k in named)


def _shown(keys: set[str], rules: Rules) -> str:
    return ", ".join(k for k in rules.owner_keys if k in keys) or "none"


def _direct_fill(rules: Rules, doc: YamlDocument) -> list[str]:
    """With owner rules, every required key must be one of theirs, or no row is directly owned."""
    owner_rules = [r for r in rules.rules if isinstance(r, TagRule | ResourceRule)]
    given = set().union(*(_fills(r, rules) for r in owner_rules))
    return [
        f"{doc.where(_require_loc(rules, i))}: no tag or resource rule gives the required key "
        f"{key!r}{_default_require(rules)}, so no row is ever directly owned (a tag rule gives "
        "its `keys`, default all "
        f"owner keys; a resource rule its `set`; these give: {_shown(given, rules)})"
        for i, key in enumerate(rules.require)
        if owner_rules and key in rules.owner_keys and key not in given
    ]


def _declared_fill(rules: Rules, doc: YamlDocument) -> list[str]:
    """A key the document's own ``owner_keys`` names that no rule fills (an always-empty column).

    Required keys are left to :func:`_direct_fill` and :func:`_split_fill`; the workspace's
    ``tags.owner_keys`` are shared by every rules file and need not all be filled by this one.
    """
    filled = set().union(*(_fills(r, rules) for r in rules.rules))
    return [
        f"{doc.where(('owner_keys', i))}: no rule can fill the owner key {key!r}: no tag rule's "
        "`keys` or resource rule's `set` names it and no usage this document splits has it "
        f"(keys these rules can fill: {_shown(filled, rules)})"
        for i, key in enumerate(rules.document.owner_keys or [])
        if rules.rules and key not in filled and key not in rules.require
    ]


def _split_fill(
    rule: UsageSplitRule, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    """A split's shares take their owner from usage columns: the coverage key must be one."""
    key = rules.require[0]
    if key not in rules.owner_keys or key in _usage_columns(rule.usage):
        return []
    return [
        f"{doc.where((*loc, 'usage'))}: {rule.usage} usage has no {key!r} column, so no share of "
        f"this split could have an owner: {key!r} is {_coverage_key(rules)}, which decides "
        f"coverage (owner keys of {rule.usage} usage: {', '.join(USAGE_OWNERS[rule.usage])})"
    ]


def _pool_fill(
    rule: SharedPoolRule, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    """A usage-weighted pool meets owners and usage on its keys: each must be a usage column."""
    usage = POOL_USAGE[rule.by]
    where = doc.where((*loc, "keys") if rule.keys else (*loc, "by"))
    keys = "a key of the pool" if rule.keys else "a key of the pool (default: `require`)"
    return [
        f"{where}: {usage} usage has no {key!r} column, {keys}, so `by: {rule.by}` finds no "
        f"usage for an owner with a {key!r} (owner keys of {usage} usage: "
        f"{', '.join(USAGE_OWNERS[usage])})"
        for key in rule.keys or rules.require
        if key in rules.owner_keys and key not in USAGE_OWNERS[usage]
    ]


def _require_loc(rules: Rules, index: int) -> tuple[str | int, ...]:
    """Where the ``index``-th required key is named: ``require``, else ``owner_keys``, else (from
    the workspace) the first owner rule's ``keys`` or ``set``."""
    if rules.document.require:
        return ("require", index)
    if rules.document.owner_keys:
        return ("owner_keys", 0)
    owner = [i for i, r in enumerate(rules.rules) if isinstance(r, TagRule | ResourceRule)]
    return ("rules", owner[0], "set" if isinstance(rules.rules[owner[0]], ResourceRule) else "keys")


def _coverage_key(rules: Rules) -> str:
    if rules.document.require:
        return "the first `require` key"
    if rules.document.owner_keys:
        return "the first owner key (required by default)"
    return "the first of the workspace's `tags.owner_keys` (costcouncil.yaml; required by default)"


def _default_require(rules: Rules) -> str:
    return "" if rules.document.require else f" ({_coverage_key(rules)})"


def _rounding_problem(value: str | float, doc: YamlDocument) -> list[str]:
    try:
        unit = Decimal(str(value))
    except InvalidOperation:
        unit = Decimal(0)
    if unit >= Decimal("1e-12") and (1 / unit) == (1 / unit).to_integral_value():
        return []
    return [
        f"{doc.where(('rounding',))}: must be `currency` or a unit whose inverse is a whole number, "
        f"like 0.01, 0.05 or 1 (got {value!r})"
    ]


def _unknown_keys(
    keys: Sequence[str] | dict[str, object] | None,
    loc: tuple[str | int, ...],
    rules: Rules,
    doc: YamlDocument,
) -> list[str]:
    """A problem per key that is not an owner key, at its list item (or its mapping key)."""
    named: list[tuple[str | int, str]] = (
        [(k, k) for k in keys] if isinstance(keys, dict) else list(enumerate(keys or []))
    )
    out = []
    for part, key in named:
        if key not in rules.owner_keys:
            choices = ", ".join(rules.owner_keys)
            out.append(
                f"{doc.where((*loc, part))}: {key!r} is not an owner key (owner keys: {choices})"
                + _suggest(key, rules.owner_keys)
            )
    return out


def _suggest(bad: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(bad, choices, n=1, cutoff=0.5)
    return f" — did you mean {close[0]!r}?" if close else ""


def _rule_checks(
    rule: _Rule, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    if isinstance(rule, TagRule):
        out = _unknown_keys(rule.keys, (*loc, "keys"), rules, doc)
        out += _unknown_keys(dict(rule.aliases), (*loc, "aliases"), rules, doc)
        return out + _unknown_keys(dict(rule.values), (*loc, "values"), rules, doc)
    if isinstance(rule, ResourceRule):
        return _unknown_keys(dict(rule.set), (*loc, "set"), rules, doc)
    if isinstance(rule, UsageSplitRule):
        return _split_checks(rule, loc, doc)
    if isinstance(rule, IdleRule):
        return _idle_checks(rule, loc, rules, doc)
    if isinstance(rule, SharedPoolRule):
        return _pool_checks(rule, loc, rules, doc)
    return []


def _split_checks(rule: UsageSplitRule, loc: tuple[str | int, ...], doc: YamlDocument) -> list[str]:
    allowed = JOB_WEIGHTS if rule.usage == "jobs" else LLM_WEIGHTS
    out = []
    if rule.weight_kind not in allowed:
        out.append(
            f"{doc.where((*loc, 'weight'))}: {rule.weight_kind!r} does not apply to {rule.usage} usage (choose one of {', '.join(allowed)})"
        )
    if rule.capacity is not None and rule.weight_kind not in TIME_WEIGHTS:
        out.append(
            f"{doc.where((*loc, 'capacity'))}: capacity needs a time weight ({', '.join(TIME_WEIGHTS)})"
        )
    if rule.token_kind is not None and rule.usage != "llm":
        out.append(f"{doc.where((*loc, 'token_kind'))}: token_kind applies to llm usage only")
    return out


def _idle_checks(
    rule: IdleRule, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    splits = {r.name for r in rules.of_kind(UsageSplitRule)}
    return [
        f"{doc.where((*loc, 'of'))}: {name!r} is not a usage_split rule (usage_split rules: {', '.join(sorted(splits)) or 'none'})"
        for name in rule.of or []
        if name not in splits
    ]


def _pool_checks(
    rule: SharedPoolRule, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    out = _unknown_keys(rule.keys, (*loc, "keys"), rules, doc)
    if (rule.by == "weights") != (rule.weights is not None):
        out.append(
            f"{doc.where((*loc, 'weights'))}: `weights` goes with `by: weights` and only with it"
        )
    for value in (rule.weights or {}).values():
        if value < 0:
            out.append(
                f"{doc.where((*loc, 'weights'))}: weights must not be negative (got {value})"
            )
    return out


def is_glob(pattern: str) -> bool:
    return bool(re.search(r"[*?]", pattern))
