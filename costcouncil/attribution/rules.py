"""``rules.yaml``: the ordered attribution rules, validated with every problem reported at once.

The document's meaning is specified in ``docs/attribution.md``; this module only checks its
shape and its cross-references (rule names, owner keys, weights that fit the usage).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcouncil.documents import (
    DEFAULT_OWNER_KEYS,
    YamlDocument,
    parse_yaml,
    raise_problems,
    validation_problems,
)

Condition = str | list[str] | dict[str, str]
Match = dict[str, Condition]
JOB_WEIGHTS = ("gpu_seconds", "cpu_seconds", "memory_gib_seconds", "seconds", "requests")
LLM_WEIGHTS = ("token_cost", "tokens", "requests")
TIME_WEIGHTS = ("gpu_seconds", "cpu_seconds", "memory_gib_seconds", "seconds")
TOKEN_KINDS = ("input", "cached", "cache_write", "output", "reasoning")
SENTINELS = ("__unallocated__", "__idle__")
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
    problems = _name_checks(rules, doc) + _key_checks(rules, doc)
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
    keys: list[str] | None, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    out = []
    for key in keys or []:
        if key not in rules.owner_keys:
            choices = ", ".join(rules.owner_keys)
            out.append(f"{doc.where(loc)}: {key!r} is not an owner key (owner keys: {choices})")
    return out


def _rule_checks(
    rule: _Rule, loc: tuple[str | int, ...], rules: Rules, doc: YamlDocument
) -> list[str]:
    if isinstance(rule, TagRule):
        keys = [*(rule.keys or []), *rule.aliases, *rule.values]
        return _unknown_keys(keys, (*loc, "keys"), rules, doc)
    if isinstance(rule, ResourceRule):
        return _unknown_keys(list(rule.set), (*loc, "set"), rules, doc)
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
