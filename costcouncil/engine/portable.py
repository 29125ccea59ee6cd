"""DuckDB SQL → Spark SQL: SQLGlot's transpiler plus the fix-ups that keep the meaning.

SQLGlot translates spelling; a few DuckDB constructs keep their spelling on Spark but change their
meaning, or have no Spark form. Each is declared here as data:

* ``REWRITES`` — a node kind and the function that rewrites it so Spark computes what DuckDB does;
* ``REFUSED`` — constructs with no faithful translation, each with what to write instead.

:func:`to_spark` refuses first (collecting every problem), then rewrites bottom-up, then lets
SQLGlot generate Spark SQL. ``docs/engines.md`` lists the resulting portable subset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeGuard

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from costcouncil.errors import EngineError

__all__ = ["REFUSED", "REWRITES", "check_portable", "glob_to_regex", "refusals", "to_spark"]

Rewrite = Callable[[exp.Expr], exp.Expr]
Refusal = Callable[[exp.Expr], str | None]

#: ``date_diff`` units whose boundary-counting DuckDB semantics Spark reproduces via date_trunc.
BOUNDARY_UNITS = frozenset(
    {"MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR"}
)


def to_spark(sql: str, stage: str = "sql") -> str:
    """``sql`` (DuckDB dialect, one statement) as Spark SQL with the same meaning.

    Raises :class:`EngineError` naming ``stage`` when the SQL does not parse or uses a construct
    outside the portable subset.
    """
    tree = check_portable(sql, stage)
    return _rewrite(tree).sql(dialect="spark")


def _rewrite(tree: exp.Expr) -> exp.Expr:
    """``tree`` with every REWRITES entry applied, children before parents."""
    for node in reversed(list(tree.walk(bfs=True))):  # deeper nodes first
        rewrite = REWRITES.get(type(node))
        if rewrite is None:
            continue
        parent, key, index = node.parent, node.arg_key, node.index
        new = rewrite(node)  # may re-parent node (when it wraps it)
        if new is node:
            continue
        if parent is None or key is None:
            tree = new
        else:
            parent.set(key, new, index)
    return tree


def check_portable(sql: str, stage: str = "sql") -> exp.Expr:
    """The parsed ``sql``; :class:`EngineError` listing every non-portable construct in it."""
    tree = _parse(sql, stage)
    problems = refusals(tree)
    if problems:
        raise EngineError(stage, "not portable to Spark:\n  - " + "\n  - ".join(problems))
    return tree


def _parse(sql: str, stage: str) -> exp.Expr:
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except ParseError as e:
        raise EngineError(stage, f"DuckDB SQL does not parse: {e}") from e
    if len(trees) != 1 or trees[0] is None:
        raise EngineError(stage, f"expected one SQL statement, got {len(trees)}")
    return trees[0]


def refusals(tree: exp.Expr) -> list[str]:
    """Every construct in ``tree`` outside the portable subset, each with what to use instead."""
    found: list[str] = []
    for node in tree.walk():
        for kind, refuse in REFUSED:
            message = refuse(node) if isinstance(node, kind) else None
            if message and message not in found:
                found.append(message)
    return found


# --- rewrites -------------------------------------------------------------------------------


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _epoch_ms(node: exp.Expr) -> exp.Expr:
    """DuckDB ``epoch_ms(ts)`` is milliseconds since the epoch; SQLGlot reads it as the inverse."""
    if node.args.get("scale") != exp.UnixToTime.MILLIS or _is_number(node.this):
        return node
    return _fn("UNIX_MILLIS", node.this)


def _is_number(node: exp.Expr) -> bool:
    """A numeric literal or an integer cast: ``epoch_ms(n)`` then makes a timestamp."""
    inner = node.this if isinstance(node, exp.Neg) else node
    if isinstance(inner, exp.Cast):
        return inner.to.is_type(*exp.DataType.INTEGER_TYPES)
    return isinstance(inner, exp.Literal) and not inner.is_string


def _epoch_seconds(node: exp.Expr) -> exp.Expr:
    """DuckDB ``epoch(ts)`` is fractional seconds (DOUBLE); Spark's unix_timestamp truncates."""
    micros = exp.cast(_fn("UNIX_MICROS", node.this), "DOUBLE")
    return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number(1_000_000)))


def _anonymous(node: exp.Expr) -> exp.Expr:
    """Functions SQLGlot does not know: ``epoch_us``, three-argument ``date_sub``."""
    name = node.name.upper()
    args = node.expressions
    if name == "EPOCH_US" and len(args) == 1:
        return _fn("UNIX_MICROS", args[0])
    if name == "DATE_SUB" and len(args) == 3:
        unit = exp.var(_unit_name(args[0]))
        return _fn("TIMESTAMPDIFF", unit, args[1], args[2])
    return node


def _unit_name(node: exp.Expr) -> str:
    return (node.name if isinstance(node, exp.Literal | exp.Var) else node.sql()).upper()


def _date_diff(node: exp.Expr) -> exp.Expr:
    """DuckDB ``date_diff`` counts unit boundaries crossed; Spark counts whole units elapsed."""
    unit = _unit_name(node.args["unit"]) if node.args.get("unit") else "DAY"

    def trunc(x: exp.Expr) -> exp.Expr:
        return exp.TimestampTrunc(this=x, unit=exp.Literal.string(unit))

    return _fn("TIMESTAMPDIFF", exp.var(unit), trunc(node.expression), trunc(node.this))


def _float_division(node: exp.Expr) -> exp.Expr:
    """DuckDB ``/`` is always DOUBLE division; Spark divides decimals as DECIMAL."""
    node.set("this", exp.cast(node.this, "DOUBLE"))
    return node


def _day_of_week(node: exp.Expr) -> exp.Expr:
    """DuckDB dayofweek: Sunday = 0; Spark's: Sunday = 1."""
    return exp.Paren(this=exp.Sub(this=_fn("DAYOFWEEK", node.this), expression=_one()))


def _iso_day_of_week(node: exp.Expr) -> exp.Expr:
    """DuckDB isodow: Monday = 1 … Sunday = 7; Spark's weekday: Monday = 0."""
    return exp.Paren(this=exp.Add(this=_fn("WEEKDAY", node.this), expression=_one()))


def _double_avg(node: exp.Expr) -> exp.Expr:
    """DuckDB's avg is DOUBLE for every input; Spark's avg of a DECIMAL is a DECIMAL."""
    if isinstance(node.parent, exp.Filter | exp.Window) or not _is_avg(node):
        return node  # the outermost FILTER / OVER is cast
    return exp.cast(node, "DOUBLE")


def _is_avg(node: exp.Expr) -> bool:
    while isinstance(node, exp.Filter | exp.Window):
        node = node.this
    return isinstance(node, exp.Avg)


def _one() -> exp.Expr:
    return exp.Literal.number(1)


def _like(node: exp.Expr) -> exp.Expr:
    """DuckDB LIKE has no escape character; Spark's default is ``\\``: make backslashes literal."""
    pattern = node.expression
    if isinstance(node.parent, exp.Escape) or not _is_string(pattern):
        return node
    node.set("expression", exp.Literal.string(pattern.this.replace("\\", "\\\\")))
    return node


def _is_string(node: object) -> TypeGuard[exp.Literal]:
    return isinstance(node, exp.Literal) and node.is_string


def _glob(node: exp.Expr) -> exp.Expr:
    """Spark has no GLOB: a literal pattern becomes an anchored regular expression."""
    regex = exp.Literal.string(glob_to_regex(node.expression.this))
    return exp.RegexpLike(this=node.this, expression=regex)


def _full_match(node: exp.Expr) -> exp.Expr:
    """Spark has no regexp_full_match: anchor the pattern at both ends."""
    parts = [exp.Literal.string("^(?:"), node.expression, exp.Literal.string(")\\z")]
    return exp.RegexpLike(this=node.this, expression=exp.Concat(expressions=parts))


def _replace_all(node: exp.Expr) -> exp.Expr:
    """With the ``'g'`` flag DuckDB replaces every match, as Spark always does."""
    node.set("modifiers", None)
    return node


def _qualify(node: exp.Expr) -> exp.Expr:
    """Spark has no QUALIFY: filter a subquery that carries the condition as a column."""
    condition = node.args.get("qualify")
    if not isinstance(node, exp.Select) or condition is None:
        return node
    inner = node.copy()
    for key in ("qualify", "order", "limit"):
        inner.set(key, None)
    inner.select(exp.alias_(_inline_aliases(node, condition.this), "__qualify"), copy=False)
    outer = exp.select(exp.Star(except_=[exp.column("__qualify")]))
    outer = outer.from_(inner.subquery("__qualified")).where(exp.column("__qualify"))
    outer.set("order", _unqualified(node.args.get("order")))
    outer.set("limit", node.args.get("limit"))
    return outer


def _inline_aliases(select: exp.Expr, condition: exp.Expr) -> exp.Expr:
    """``condition`` with references to the select list's aliases replaced by their expressions."""
    aliases: dict[str, exp.Expr] = {
        e.alias: e.this for e in select.expressions if isinstance(e, exp.Alias)
    }

    def inline(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in aliases:
            return aliases[node.name].copy()
        return node

    inlined: exp.Expr = condition.transform(inline)
    return inlined


def _unqualified(order: exp.Expr | None) -> exp.Expr | None:
    if order is None:
        return None
    order = order.copy()
    for column in order.find_all(exp.Column):
        column.set("table", None)
    return order


REWRITES: dict[type[exp.Expr], Rewrite] = {
    exp.UnixToTime: _epoch_ms,
    exp.TimeToUnix: _epoch_seconds,
    exp.Anonymous: _anonymous,
    exp.DateDiff: _date_diff,
    exp.Div: _float_division,
    exp.DayOfWeek: _day_of_week,
    exp.DayOfWeekIso: _iso_day_of_week,
    exp.Avg: _double_avg,
    exp.Filter: _double_avg,
    exp.Window: _double_avg,
    exp.Like: _like,
    exp.ILike: _like,
    exp.Glob: _glob,
    exp.RegexpFullMatch: _full_match,
    exp.RegexpReplace: _replace_all,
    exp.Select: _qualify,
}


# --- refusals -------------------------------------------------------------------------------


def _non_literal_glob(node: exp.Expr) -> str | None:
    if _is_string(node.expression):
        return None
    return "GLOB needs a literal pattern on Spark; use LIKE or regexp_matches with a column"


def _regexp_replace(node: exp.Expr) -> str | None:
    modifiers = node.args.get("modifiers")
    if modifiers is None or modifiers.name != "g":
        return (
            "regexp_replace replaces only the first match on DuckDB and every match on Spark: "
            "pass 'g' as the fourth argument (no other flags; use (?i) in the pattern)"
        )
    replacement = node.args.get("replacement")
    if _is_string(replacement) and re.search(r"[\\$]", replacement.this):
        return "regexp_replace: '\\' and '$' in the replacement differ between engines; avoid them"
    return None


def _date_diff_unit(node: exp.Expr) -> str | None:
    unit = _unit_name(node.args["unit"]) if node.args.get("unit") else "DAY"
    if unit in BOUNDARY_UNITS:
        return None
    return f"date_diff unit {unit!r} is not portable; use one of {sorted(BOUNDARY_UNITS)}"


def _ordered_list(node: exp.Expr) -> str | None:
    if isinstance(node.this, exp.Order):
        return "list(x ORDER BY …) loses its order on Spark; use string_agg(x, sep ORDER BY …)"
    return None


def _by_name(node: exp.Expr) -> str | None:
    if node.args.get("by_name"):
        return "UNION BY NAME does not exist in Spark SQL; list the columns in the same order"
    return None


def _hugeint(node: exp.Expr) -> str | None:
    wide = (exp.DataType.Type.INT128, exp.DataType.Type.UINT128)
    if isinstance(node, exp.Cast) and node.to.this in wide:
        return "HUGEINT has no Spark type; use DECIMAL(38, 0)"
    return None


def _anonymous_refusal(node: exp.Expr) -> str | None:
    return _NO_SPARK_FUNCTION.get(node.name.upper())


_NO_SPARK_FUNCTION = {
    "HASH": "hash() differs between engines; use md5(x) for a stable hash",
    "EPOCH_NS": "epoch_ns has no Spark form; use epoch_us(ts) (microseconds)",
    "DATE_PART": "date_part('…', x) is not portable; use year(x), month(x), hour(x), isodow(x) …",
}


def _json_value(node: exp.Expr) -> str | None:
    return "json_extract / -> return JSON on DuckDB, text on Spark; use json_extract_string / ->>"


def _trunc(node: exp.Expr) -> str | None:
    return "trunc(x) changes type on Spark; use floor(x) / ceil(x), then CAST"


REFUSED: tuple[tuple[type[exp.Expr], Refusal], ...] = (
    (exp.Glob, _non_literal_glob),
    (exp.RegexpReplace, _regexp_replace),
    (exp.DateDiff, _date_diff_unit),
    (exp.ArrayAgg, _ordered_list),
    (exp.Union, _by_name),
    (exp.Cast, _hugeint),
    (exp.Anonymous, _anonymous_refusal),
    (exp.JSONExtract, _json_value),
    (exp.Trunc, _trunc),
)


# --- glob -----------------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> str:
    """A DuckDB GLOB pattern as a whole-string regex: ``*``, ``?``, ``[…]``, ``[!…]``, ``\\x``.

    For Java regexes (Spark); an unclosed ``[`` or a trailing ``\\`` matches nothing, as on
    DuckDB.
    """
    out, i = [], 0
    while i < len(pattern):
        token, i = _glob_token(pattern, i)
        out.append(token)
    return "^(?s:" + "".join(out) + ")\\z"


def _glob_token(pattern: str, i: int) -> tuple[str, int]:
    char = pattern[i]
    if char == "*":
        return ".*", i + 1
    if char == "?":
        return ".", i + 1
    if char == "\\":
        return (re.escape(pattern[i + 1]), i + 2) if i + 1 < len(pattern) else (_NEVER, i + 1)
    if char == "[":
        end = pattern.find("]", i + 2)
        return (_glob_class(pattern[i + 1 : end]), end + 1) if end > 0 else (_NEVER, len(pattern))
    return re.escape(char), i + 1


_NEVER = "(?!)"  # DuckDB: a pattern with an unclosed [ or a trailing \ matches nothing


def _glob_class(body: str) -> str:
    negate = body.startswith("!")
    body = body[1:] if negate else body
    parts = [
        body[j] if body[j] == "-" and 0 < j < len(body) - 1 else re.escape(body[j])
        for j in range(len(body))
    ]
    return "[" + ("^" if negate else "") + "".join(parts) + "]"
