"""Reading typed values out of a parsed YAML document, every problem collected with its line.

What ``budgets.yaml`` and ``policies.yaml`` readers share: a :class:`ValueReader` over a
:class:`~costcouncil.documents.YamlDocument` that reads text, booleans, numbers (as
:class:`~decimal.Decimal`), whole numbers and days, reporting each problem as ``path:LINE:
key.path: message (got VALUE)`` and raising :class:`Invalid` so the caller leaves that key out and
goes on; and the small pieces their messages and scopes are made of.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from costcouncil.documents import YamlDocument
from costcouncil.errors import ConfigError

__all__ = [
    "ORG",
    "Invalid",
    "Loc",
    "ValueReader",
    "did_you_mean",
    "dotted",
    "got",
    "scope_pairs",
    "yaml_decimal",
]

Loc = tuple[str | int, ...]
#: The scope over everything.
ORG = "org"


class Invalid(Exception):
    """A value was reported as a problem; the key it belongs to is left out."""


class ValueReader:
    """Reads values from ``document``, collecting every problem in line order."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.found: list[tuple[int, str]] = []

    @property
    def problems(self) -> list[str]:
        """Every problem found, in the order of their lines."""
        return [text for _, text in sorted(self.found, key=lambda p: p[0])]

    def problem(self, loc: Loc, message: str, value: Any = None, hint: str = "") -> None:
        text = f"{self.document.where(loc)}: {message}{got(value)}{hint}"
        self.found.append((self.document.line(loc), text))

    def entries(self, key: str, what: str) -> list[Any] | None:
        r"""The list under ``key`` of a ``version: 1`` document (``budgets``, ``policies``), its
        other top-level keys and duplicate ``name``\ s of its entries reported; None when there is
        no list to read (reported too). ``what`` names one entry (``budget``)."""
        data = self.document.data
        if not isinstance(data, dict):
            self.problem((), f"the document must be a mapping with `version: 1` and `{key}:`")
            return None
        self.unknown_keys((), data, ("version", key))
        if data.get("version") != 1:
            self.problem(("version",), "must be 1 (`version: 1`)", data.get("version"))
        raw = data.get(key)
        if not isinstance(raw, list):
            self.problem((key,), f"must be a list of {key}", raw)
            return None
        names = [item.get("name") if isinstance(item, dict) else None for item in raw]
        for i, name in enumerate(names):
            if isinstance(name, str) and name in names[:i]:
                self.problem((key, i, "name"), f"another {what} has this name", name)
        return raw

    def unknown_keys(self, loc: Loc, raw: Any, allowed: Collection[str]) -> bool:
        """Report every key of ``raw`` not in ``allowed``; whether there was one."""
        unknown = [str(k) for k in raw if str(k) not in allowed]
        for key in unknown:
            hint = did_you_mean(key, allowed)
            self.problem((*loc, key), f"unknown key; known: {', '.join(allowed)}", hint=hint)
        return bool(unknown)

    def fail(self, loc: Loc, message: str, value: Any = None) -> Invalid:
        self.problem(loc, message, value)
        return Invalid()

    def text(self, loc: Loc, raw: Any) -> str:
        if not isinstance(raw, str):
            raise self.fail(loc, "must be text", raw)
        return raw

    def boolean(self, loc: Loc, raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise self.fail(loc, "must be true or false", raw)
        return raw

    def number(self, loc: Loc, raw: Any) -> Decimal:
        value = yaml_decimal(raw)
        if value is None:
            raise self.fail(loc, "must be a number", raw)
        return value

    def integer(self, loc: Loc, raw: Any) -> int:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise self.fail(loc, "must be a whole number", raw)
        return raw

    def day(self, loc: Loc, raw: Any) -> date:
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        try:
            if isinstance(raw, str):
                return date.fromisoformat(raw)
        except ValueError:
            pass
        raise self.fail(loc, "must be a date YYYY-MM-DD", raw)


def yaml_decimal(raw: Any) -> Decimal | None:
    """A YAML number (or numeric text) as a Decimal; floats by their shortest text."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        value = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def scope_pairs(scope: str) -> tuple[tuple[str, str], ...]:
    """The ``(key, value)`` pairs of a scope: ``"org"`` is none, else ``"k=v,k2=v2"``.

    Spaces around keys and values are dropped. A part without ``=``, an empty key or value, or
    a key given twice is a :class:`ConfigError`.
    """
    if scope.strip() == ORG:
        return ()
    pairs: list[tuple[str, str]] = []
    for part in scope.split(","):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not (sep and key and value):
            raise ConfigError(f"scope part {part.strip()!r} is not KEY=VALUE (or the scope 'org')")
        if any(k == key for k, _ in pairs):
            raise ConfigError(f"scope key {key!r} is given twice")
        pairs.append((key, value))
    return tuple(pairs)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the choice closest to ``value``, or nothing."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def got(value: object) -> str:
    """`` (got VALUE)`` for a message: numbers and dates as written, text quoted; none for None."""
    if value is None:
        return ""
    if isinstance(value, Decimal | date):
        return f" (got {value})"
    return f" (got {value!r})"


def dotted(path: Loc) -> str:
    """A key path as written: ``budgets[0].amount``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
