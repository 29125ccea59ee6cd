"""Threshold expressions that gate notifications (never detection), e.g.
``impact >= 500 and impact_pct >= 20`` or ``impact >= 1000 or status == "resolved"``.

Grammar (keywords lower case; columns in errors are 1-based)::

    expr        := and_expr ("or" and_expr)*
    and_expr    := not_expr ("and" not_expr)*
    not_expr    := "not" not_expr | "(" expr ")" | comparison
    comparison  := NAME OP literal
    NAME        := impact | impact_pct | score | status | kind | severity
    OP          := == | != | < | <= | > | >=
    literal     := NUMBER (e.g. 500, -20, 12.5) for impact, impact_pct, score
                 | STRING ("..." or '...') for status, kind, severity (== and != only)

An empty expression matches every alert. :func:`parse` checks the whole expression once (names,
operators, literal types, known status/kind/severity values) and raises ``ConfigError`` naming the
expression, the column and what was expected, with a "did you mean" where one is close; the
:class:`Threshold` it returns is then evaluated against many alerts. A comparison with a value the
alert does not have (``impact_pct`` when expected spend was zero, ``score`` of a budget alert) is
false. Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costcouncil.errors import ConfigError
from costcouncil.notify.message import KINDS, SEVERITIES, STATUSES, Alert

__all__ = ["NAMES", "Threshold", "parse"]

#: Names with numeric values.
NUMBERS = ("impact", "impact_pct", "score")
#: Names with string values and their valid values.
CHOICES: Mapping[str, tuple[str, ...]] = {
    "status": STATUSES,
    "kind": KINDS,
    "severity": SEVERITIES,
}
NAMES = (*NUMBERS, *CHOICES)
KEYWORDS = ("and", "or", "not")
OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
#: Longest expression and deepest nesting accepted (the parser is recursive).
MAX_LENGTH = 1000
MAX_DEPTH = 32
#: Most characters of an expression repeated in an error.
SHOWN = 120

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.]))
      | (?P<bad_number>-?[0-9][A-Za-z0-9_.]*)
      | (?P<string>"[^"\n]*"|'[^'\n]*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>)
      | (?P<paren>[()])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number | string | name | op | paren | end
    text: str
    column: int


Value = Decimal | str | None


@dataclass(frozen=True)
class _Compare:
    name: str
    op: str
    literal: Decimal | str

    def __call__(self, values: Mapping[str, Value]) -> bool:
        value = values[self.name]
        return value is not None and OPERATORS[self.op](value, self.literal)


@dataclass(frozen=True)
class _Not:
    item: _Node

    def __call__(self, values: Mapping[str, Value]) -> bool:
        return not self.item(values)


@dataclass(frozen=True)
class _All:
    items: tuple[_Node, ...]

    def __call__(self, values: Mapping[str, Value]) -> bool:
        return all(item(values) for item in self.items)


@dataclass(frozen=True)
class _Any:
    items: tuple[_Node, ...]

    def __call__(self, values: Mapping[str, Value]) -> bool:
        return any(item(values) for item in self.items)


_Node = _Compare | _Not | _All | _Any


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold expression; call :meth:`matches` for each alert."""

    expression: str
    root: _Node | None

    def matches(self, alert: Alert) -> bool:
        """Whether ``alert`` passes (always true for an empty expression)."""
        return True if self.root is None else self.root(alert_values(alert))


def alert_values(alert: Alert) -> dict[str, Value]:
    """The values an expression's names refer to, numbers as ``Decimal``."""
    return {
        "impact": alert.impact,
        "impact_pct": _decimal(alert.impact_pct),
        "score": _decimal(alert.score),
        "status": alert.status,
        "kind": alert.kind,
        "severity": alert.severity,
    }


def parse(expression: str) -> Threshold:
    """Parse ``expression`` once; raises ``ConfigError`` naming the column and what was expected."""
    if len(expression) > MAX_LENGTH:
        raise _error(expression, 1, f"the expression is longer than {MAX_LENGTH} characters")
    parser = _Parser(expression, _tokens(expression))
    if parser.peek().kind == "end":
        return Threshold(expression, None)
    root = parser.expr(0)
    parser.expect_end()
    return Threshold(expression, root)


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))


def _tokens(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            found = expression[position]
            hint = " (a percentage is a plain number: impact_pct >= 20)" if found == "%" else ""
            raise _error(expression, position + 1, f"unexpected character {found!r}{hint}")
        kind = match.lastgroup or ""
        if kind == "bad_number":
            raise _error(
                expression, position + 1, f"{match.group()!r} is not a number (e.g. 500, 12.5)"
            )
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(expression) + 1))
    return tokens


class _Parser:
    """Recursive descent over the tokens, one method per grammar rule."""

    def __init__(self, expression: str, tokens: list[_Token]) -> None:
        self.expression = expression
        self.tokens = tokens
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text == word

    def expr(self, depth: int) -> _Node:
        items = [self.and_expr(depth)]
        while self.at_keyword("or"):
            self.take()
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else _Any(tuple(items))

    def and_expr(self, depth: int) -> _Node:
        items = [self.not_expr(depth)]
        while self.at_keyword("and"):
            self.take()
            items.append(self.not_expr(depth))
        return items[0] if len(items) == 1 else _All(tuple(items))

    def not_expr(self, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.fail(self.peek(), f"nesting deeper than {MAX_DEPTH} levels")
        if self.at_keyword("not"):
            self.take()
            return _Not(self.not_expr(depth + 1))
        if self.peek().text == "(":
            self.take()
            inner = self.expr(depth + 1)
            if self.peek().text != ")":
                raise self.fail(self.peek(), "expected ')' or 'and' or 'or'")
            self.take()
            return inner
        return self.comparison()

    def comparison(self) -> _Compare:
        name = self.name()
        op = self.take()
        if op.kind != "op":
            raise self.fail(op, f"expected a comparison ({', '.join(OPERATORS)}) after {name!r}")
        literal = self.literal(name, op)
        return _Compare(name, op.text, literal)

    def name(self) -> str:
        token = self.take()
        if token.kind != "name" or token.text in KEYWORDS:
            raise self.fail(token, f"expected a name ({', '.join(NAMES)}) or 'not' or '('")
        if token.text not in NAMES:
            close = difflib.get_close_matches(token.text, NAMES, n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; expected one of {', '.join(NAMES)}"
            )
            raise self.fail(token, f"unknown name {token.text!r}", hint=hint)
        return token.text

    def literal(self, name: str, op: _Token) -> Decimal | str:
        token = self.take()
        if name in NUMBERS:
            if token.kind != "number":
                raise self.fail(token, f"expected a number after '{name} {op.text}'")
            return Decimal(token.text)
        if op.text not in ("==", "!="):
            raise self.fail(op, f"{name!r} is compared with == or != only")
        if token.kind != "string":
            raise self.fail(token, f"expected a quoted string after '{name} {op.text}'")
        return self.choice(name, token)

    def choice(self, name: str, token: _Token) -> str:
        value = token.text[1:-1]
        choices = CHOICES[name]
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; expected one of {', '.join(choices)}"
            )
            raise self.fail(token, f"unknown {name} {value!r}", hint=hint)
        return value

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.fail(token, "expected 'and', 'or' or the end of the expression")

    def fail(self, token: _Token, what: str, *, hint: str = "") -> ConfigError:
        found = "the end" if token.kind == "end" else repr(token.text)
        message = (
            f"{what} at column {token.column}"
            if hint
            else f"{what}, found {found} at column {token.column}"
        )
        return _error(self.expression, None, message + hint)


def _error(expression: str, column: int | None, message: str) -> ConfigError:
    where = f" at column {column}" if column is not None else ""
    shown = expression if len(expression) <= SHOWN else expression[: SHOWN - 1] + "…"
    return ConfigError(f"threshold {shown!r}: {message}{where}")
