"""Stage 1: every cost row's direct owner (tag and resource rules) and the split rule claiming it.

``Tags`` JSON is parsed once per distinct value (``cc_tagmap``), not once per row. ``cc_rows``
(a view, never materialised) gives, per cost row: ``x_id`` (a ``BIGINT`` row id that keys every
internal join and window: the file's index in ``cc_files`` × 2^40 + ``x_source_row``), its key,
metrics, periods, ``o_<key>`` direct owner keys, ``o_rule`` / ``o_method``, ``split_rule``, and
the rounding unit of its currency (``pow`` = 10^places, ``unit``).
"""

from __future__ import annotations

from dataclasses import dataclass

from costcouncil.attribution.refs import Scope, json_path, match_sql
from costcouncil.attribution.rules import (
    ResourceRule,
    Rules,
    SharedPoolRule,
    TagRule,
    UsageSplitRule,
)
from costcouncil.schema.currencies import minor_unit_exceptions
from costcouncil.schema.sql import lit, q

KEY = ("x_source_file", "x_source_row")
#: The internal row id: ``cc_files.fx * ROW_SPAN + x_source_row``.
ID = "x_id"
ROW_SPAN = 2**40
METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
ROW_COLUMNS = (
    *KEY,
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingCurrency",
    "ProviderName",
    *METRICS,
)


@dataclass
class Candidate:
    """One way a rule may give an owner key: the rule, and SQL that is NULL when it does not."""

    rule: str
    method: str
    key: str
    sql: str


def tagmap_sql(rules: Rules, aliases: dict[str, list[str]]) -> str:
    """Distinct ``Tags`` values with one column per (tag rule, owner key)."""
    columns = ["Tags"]
    for i, rule in enumerate(rules.rules):
        if isinstance(rule, TagRule):
            columns += [
                f"{_tag_value(rule, k, aliases)} AS {q(_tag_col(i, k))}"
                for k in _tag_keys(rule, rules)
            ]
    body = ", ".join(columns)
    return f"SELECT {body} FROM (SELECT DISTINCT Tags FROM costs WHERE Tags IS NOT NULL) AS d"


def files_sql() -> str:
    """``cc_files``: each distinct source file and its index ``fx`` (1, 2, … by name)."""
    return (
        "SELECT x_source_file, ROW_NUMBER() OVER (ORDER BY x_source_file) AS fx "
        "FROM (SELECT DISTINCT x_source_file FROM costs) AS f"
    )


def rows_sql(
    rules: Rules, aliases: dict[str, list[str]], cost_columns: list[str], has_tags: bool
) -> str:
    """``cc_rows``: one row per cost row with everything later stages need."""
    scope = Scope("c", cost_columns, "the cost data")
    candidates = _candidates(rules, scope)
    row_id = f"CAST(f.fx AS BIGINT) * CAST({ROW_SPAN} AS BIGINT) + CAST(c.x_source_row AS BIGINT)"
    parts = [f"{row_id} AS {ID}", *(f"c.{q(col)}" for col in _row_columns(rules, scope))]
    parts += [_owner_sql(rules, k, candidates) for k in rules.owner_keys]
    parts += [_first_rule_sql(candidates, "rule"), _first_rule_sql(candidates, "method")]
    parts += [_split_rule_sql(rules, scope), *_unit_sql(rules)]
    join = " JOIN cc_files AS f ON f.x_source_file = c.x_source_file"
    join += " LEFT JOIN cc_tagmap AS t ON c.Tags = t.Tags" if has_tags else ""
    return f"SELECT {', '.join(parts)} FROM costs AS c{join}"


def _row_columns(rules: Rules, scope: Scope) -> list[str]:
    """The row columns, plus every base column a split rule refers to."""
    wanted = list(ROW_COLUMNS)
    for rule in rules.rules:
        if isinstance(rule, UsageSplitRule):
            refs = [*rule.joins, *([rule.capacity] if isinstance(rule.capacity, str) else [])]
            refs += [rule.token_kind] if rule.token_kind else []
            wanted += [c for c in scope.base_columns(refs) if c not in wanted]
    return wanted


def _tag_keys(rule: TagRule, rules: Rules) -> list[str]:
    return list(rule.keys or rules.owner_keys)


def _tag_col(index: int, key: str) -> str:
    return f"t{index}__{key}"


def _spellings(rule: TagRule, key: str, aliases: dict[str, list[str]]) -> list[str]:
    names = [key, key.capitalize(), key.upper(), *aliases.get(key, []), *rule.aliases.get(key, [])]
    return list(dict.fromkeys(names))


def _tag_value(rule: TagRule, key: str, aliases: dict[str, list[str]]) -> str:
    found = [
        _given(f"json_extract_string(Tags, {lit(json_path(name))})")
        for name in _spellings(rule, key, aliases)
    ]
    value = found[0] if len(found) == 1 else f"COALESCE({', '.join(found)})"
    if rule.normalise == "slug":
        value = f"regexp_replace(lower(TRIM({value})), '[\\s_]+', '-', 'g')"
    return _value_map(value, rule.values.get(key, {}))


def _given(raw: str) -> str:
    """The value as written; NULL when it is blank (``normalise: none`` keeps it untrimmed)."""
    return f"CASE WHEN TRIM({raw}) = '' THEN NULL ELSE {raw} END"


def _value_map(value: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return value
    whens = " ".join(f"WHEN {lit(raw)} THEN {lit(canonical)}" for raw, canonical in mapping.items())
    return f"CASE {value} {whens} ELSE {value} END"


def _candidates(rules: Rules, scope: Scope) -> list[Candidate]:
    out: list[Candidate] = []
    for i, rule in enumerate(rules.rules):
        where = f"{rules.path}: rules[{i}] ({rule.name})"
        if isinstance(rule, TagRule):
            cond = match_sql(rule.match, scope, where)
            out += [
                Candidate(rule.name, "tag", k, _when(cond, f"t.{q(_tag_col(i, k))}"))
                for k in _tag_keys(rule, rules)
            ]
        elif isinstance(rule, ResourceRule):
            cond = match_sql(rule.match, scope, where)
            out += [
                Candidate(rule.name, "resource", k, _when(cond, _set_value(v, scope, where)))
                for k, v in rule.set.items()
            ]
    return out


def _when(cond: str, value: str) -> str:
    return value if cond == "TRUE" else f"CASE WHEN {cond} THEN {value} END"


def _set_value(value: str, scope: Scope, where: str) -> str:
    if value.startswith("$"):
        return f"NULLIF(TRIM(CAST({scope.sql(value[1:], where + '.set')} AS VARCHAR)), '')"
    return lit(value)


def _owner_sql(rules: Rules, key: str, candidates: list[Candidate]) -> str:
    found = [c.sql for c in candidates if c.key == key]
    if not found:
        return f"CAST(NULL AS VARCHAR) AS {q('o_' + key)}"
    value = found[0] if len(found) == 1 else f"COALESCE({', '.join(found)})"
    return f"{value} AS {q('o_' + key)}"


def _first_rule_sql(candidates: list[Candidate], what: str) -> str:
    """The first owner rule that gave the row any key (its name, or its method)."""
    order = list(dict.fromkeys((c.rule, c.method) for c in candidates))
    whens = []
    for rule, method in order:
        gives = " OR ".join(f"{c.sql} IS NOT NULL" for c in candidates if c.rule == rule)
        whens.append(f"WHEN {gives} THEN {lit(rule if what == 'rule' else method)}")
    if not whens:
        return f"CAST(NULL AS VARCHAR) AS o_{what}"
    return f"CASE {' '.join(whens)} END AS o_{what}"


def _split_rule_sql(rules: Rules, scope: Scope) -> str:
    whens = []
    for i, rule in enumerate(rules.rules):
        if isinstance(rule, UsageSplitRule | SharedPoolRule):
            cond = match_sql(rule.match, scope, f"{rules.path}: rules[{i}] ({rule.name})")
            whens.append(f"WHEN {cond} THEN {lit(rule.name)}")
    if not whens:
        return "CAST(NULL AS VARCHAR) AS split_rule"
    return f"CASE {' '.join(whens)} END AS split_rule"


def _unit_sql(rules: Rules) -> list[str]:
    """``pow`` (10^places, DECIMAL(38,0)) and ``unit`` (10^-places, DECIMAL(38,12)) per row."""
    unit = rules.rounding_unit
    if unit is not None:
        per = int(1 / unit)
        return [
            f"CAST({per} AS DECIMAL(38,0)) AS pow",
            f"CAST('{unit:.12f}' AS DECIMAL(38,12)) AS unit",
        ]
    exceptions = minor_unit_exceptions()
    by_places: dict[int, list[str]] = {}
    for code, n in sorted(exceptions.items()):
        by_places.setdefault(n, []).append(lit(code))
    pw = " ".join(
        f"WHEN upper(c.BillingCurrency) IN ({', '.join(v)}) THEN {_pow(n)}"
        for n, v in by_places.items()
    )
    un = " ".join(
        f"WHEN upper(c.BillingCurrency) IN ({', '.join(v)}) THEN {_unit(n)}"
        for n, v in by_places.items()
    )
    return [f"CASE {pw} ELSE {_pow(2)} END AS pow", f"CASE {un} ELSE {_unit(2)} END AS unit"]


def _pow(places: int) -> str:
    return f"CAST({10**places} AS DECIMAL(38,0))"


def _unit(places: int) -> str:
    return f"CAST('{1 / 10**places:.12f}' AS DECIMAL(38,12))"
