"""``budgets.yaml``: budgets as a version-controlled document (docs/budgets.md is the reference).

::

    version: 1
    budgets:
      - name: research-monthly
        scope: team=research
        amount: 5000                                  # or {plan: {...}} or {auto: {...}}
        thresholds: ["50%", "80%", "100%", "100% forecast"]

:func:`parse_budgets` reports every problem of a document at once, each as
``path:LINE: key.path: message (got VALUE)``, with a "did you mean" for misspelt keys and values.
:func:`dump_budgets` writes budgets back (keys at their defaults left out), and :func:`diff` says
what importing a document would change (the dry run).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import MISSING, dataclass, fields
from decimal import Decimal
from typing import Any

import yaml

from costcouncil.budgets.model import Amount, Budget, Threshold
from costcouncil.budgets.reading import ANY_TAG, BUDGET_KEYS, BudgetReader
from costcouncil.documents import parse_yaml, raise_problems
from costcouncil.errors import ConfigError

CHANGE_KINDS = ("add", "remove", "change")

__all__ = [
    "ANY_TAG",
    "BUDGET_KEYS",
    "CHANGE_KINDS",
    "Change",
    "diff",
    "dump_budgets",
    "parse_budgets",
]


def parse_budgets(text: str, path: str, *, known_keys: Collection[str]) -> list[Budget]:
    """The budgets of a ``budgets.yaml`` text; a ConfigError lists every problem at once.

    ``known_keys`` are the scope keys the workspace has; with :data:`ANY_TAG` among them, any
    ``tag:<key>`` is allowed too. Budget names must be unique.
    """
    try:
        document = parse_yaml(text, path)
    except ValueError as e:  # PyYAML builds `2026-02-30` as a date and lets the ValueError out
        raise ConfigError(f"{path}: not valid YAML ({e})") from e
    reader = BudgetReader(document, known_keys)
    budgets = reader.read()
    raise_problems(document, reader.problems)
    return budgets


def dump_budgets(budgets: Sequence[Budget]) -> str:
    """A ``version: 1`` document holding ``budgets``, which :func:`parse_budgets` reads back."""
    data = {"version": 1, "budgets": [_budget_data(b) for b in budgets]}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class Change:
    """What importing a document does to one budget: ``add``, ``remove`` or ``change`` (fields)."""

    name: str
    kind: str
    fields: tuple[str, ...] = ()


def diff(current: Sequence[Budget], wanted: Sequence[Budget]) -> list[Change]:
    """What replacing ``current`` by ``wanted`` changes, by budget name; unchanged ones omitted."""
    before = {b.name: b for b in current}
    after = {b.name: b for b in wanted}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            changes.append(Change(name, "remove"))
        elif name not in before:
            changes.append(Change(name, "add"))
        elif differ := _differing(before[name], after[name]):
            changes.append(Change(name, "change", differ))
    return changes


def _differing(old: Budget, new: Budget) -> tuple[str, ...]:
    return tuple(f.name for f in fields(Budget) if getattr(old, f.name) != getattr(new, f.name))


def _budget_data(budget: Budget) -> dict[str, Any]:
    """The budget's keys in document order, leaving out those at their defaults."""
    out: dict[str, Any] = {}
    for f in fields(Budget):
        value = getattr(budget, f.name)
        if f.default is MISSING or value != f.default:
            out[f.name] = _value(f.name, value)
    return out


def _value(key: str, value: Any) -> Any:
    if key == "amount":
        return _amount_data(value)
    if key == "windows":
        return [{"start": w.start, "end": w.end} for w in value]
    if key == "thresholds":
        return [_threshold_text(t) for t in value]
    return value


def _amount_data(amount: Amount) -> Any:
    if amount.kind == "plan":
        return {"plan": dict(amount.plan)}
    if amount.kind == "auto":
        return {"auto": {"months": amount.months, "factor": amount.factor}}
    return amount.value


def _threshold_text(threshold: Threshold) -> str:
    basis = "" if threshold.basis == "actual" else f" {threshold.basis}"
    return f"{_digits(threshold.percent)}%{basis}"


def _digits(value: Decimal) -> str:
    """A Decimal as plain digits (``100``, ``12.5``), never in exponent form."""
    return format(value, "f")


class _Dumper(yaml.SafeDumper):
    """Writes a Decimal as a plain YAML number, with all its digits."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_scalar("tag:yaml.org,2002:float", _digits(value))


_Dumper.add_representer(Decimal, _represent_decimal)
