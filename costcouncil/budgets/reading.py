"""Reading ``budgets.yaml``: the walk from parsed YAML to budgets, collecting every problem.

Each problem is one line, ``path:LINE: key.path: message (got VALUE)``; a key that fails is left
out of its budget (a placeholder stands in) so that the budget's other keys are still checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any

from costcouncil.budgets.model import (
    ORG,
    Amount,
    Budget,
    Threshold,
    Window,
    budget_problems,
    did_you_mean,
    scope_keys,
)
from costcouncil.document_values import Invalid, ValueReader, yaml_decimal
from costcouncil.documents import YamlDocument
from costcouncil.errors import ConfigError

#: The keys of one budget, in the order they are written.
BUDGET_KEYS = (
    "name",
    "scope",
    "amount",
    "period",
    "windows",
    "metric",
    "thresholds",
    "hard",
    "owner",
    "team",
    "currency",
)
REQUIRED = ("name", "scope", "amount")
#: In ``known_keys``, this lets a scope name any tag as ``tag:<key>``.
ANY_TAG = "tag:<any>"
_THRESHOLD = re.compile(r"\s*([0-9.]+)\s*%\s*([A-Za-z_]*)\s*\Z")
_PLACEHOLDER: dict[str, Any] = {"name": "-", "scope": ORG, "amount": Amount("fixed", Decimal(1))}

Loc = tuple[str | int, ...]


class BudgetReader(ValueReader):
    """Walks a parsed document, turning it into budgets and collecting every problem on the way."""

    def __init__(self, document: YamlDocument, known_keys: Collection[str]) -> None:
        super().__init__(document)
        self.known_keys = known_keys
        #: For a list key with items that failed, the document index of each item kept.
        self.kept: dict[Loc, list[int]] = {}

    def read(self) -> list[Budget]:
        raw = self.entries("budgets", "budget")
        budgets = [self.budget(("budgets", i), item) for i, item in enumerate(raw or [])]
        return [b for b in budgets if b is not None]

    def budget(self, loc: Loc, raw: Any) -> Budget | None:
        if not isinstance(raw, dict):
            self.problem(loc, "must be a mapping of budget keys", raw)
            return None
        before = len(self.found)
        self.unknown_keys(loc, raw, BUDGET_KEYS)
        values, failed = self.fields(loc, raw)
        budget = Budget(**{**_PLACEHOLDER, **values})
        for issue in budget_problems(budget):
            if issue.path[0] not in failed:
                path = self.document_path(loc, issue.path)
                self.problem((*loc, *path), issue.message, issue.value, issue.hint)
        if "scope" not in failed:
            self.unknown_scope_keys(loc, budget.scope)
        return budget if len(self.found) == before else None

    def document_path(self, loc: Loc, path: Loc) -> Loc:
        """``path`` with a list index counted among all the items, the failed ones too."""
        kept = self.kept.get((*loc, path[0]))
        if kept is None or len(path) < 2 or not isinstance(path[1], int):
            return path
        return (path[0], kept[path[1]], *path[2:])

    def fields(self, loc: Loc, raw: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
        values: dict[str, Any] = {}
        failed: set[str] = set()
        for key, read in self.readers().items():
            if key not in raw:
                if key in REQUIRED:
                    self.problem(loc, f"`{key}` is required")
                    failed.add(key)
                continue
            try:
                values[key] = read((*loc, key), raw[key])
            except Invalid:
                failed.add(key)
        return values, failed

    def readers(self) -> dict[str, Callable[[Loc, Any], Any]]:
        text, bool_ = self.text, self.boolean
        return {
            **dict.fromkeys(("name", "scope", "period", "metric", "owner", "currency"), text),
            "amount": self.amount,
            "windows": self.windows,
            "thresholds": self.thresholds,
            "hard": bool_,
            "team": self.optional_text,
        }

    def unknown_scope_keys(self, loc: Loc, scope: str) -> None:
        try:
            unknown = [key for key, _ in scope_keys(scope) if not self.known(key)]
        except ConfigError:
            return  # a malformed scope, reported with the budget's problems
        choices = [k for k in self.known_keys if k != ANY_TAG]
        for key in unknown:
            hint = did_you_mean(key, choices)
            self.problem((*loc, "scope"), f"unknown scope key {key!r}", scope, hint)

    def known(self, key: str) -> bool:
        tag = key.startswith("tag:") and len(key) > len("tag:") and ANY_TAG in self.known_keys
        return tag or key in self.known_keys

    # -- values -------------------------------------------------------------------------------

    def optional_text(self, loc: Loc, raw: Any) -> str | None:
        return None if raw is None else self.text(loc, raw)

    def mapping(self, loc: Loc, raw: Any, allowed: tuple[str, ...]) -> dict[Any, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(loc, f"must be a mapping with {', '.join(allowed)}", raw)
        self.unknown_keys(loc, raw, allowed)
        if any(str(k) not in allowed for k in raw):
            raise Invalid()
        return raw

    def each(self, loc: Loc, raw: Any, read: Callable[[Loc, Any], Any]) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            raise self.fail(loc, "must be a list", raw)
        out, kept = [], []
        for i, item in enumerate(raw):
            try:
                out.append(read((*loc, i), item))
                kept.append(i)
            except Invalid:
                pass
        if raw and not kept:
            raise Invalid()
        if len(kept) < len(raw):
            self.kept[loc] = kept
        return tuple(out)

    # -- budget keys ----------------------------------------------------------------------------

    def amount(self, loc: Loc, raw: Any) -> Amount:
        if not isinstance(raw, dict):
            return Amount("fixed", self.number(loc, raw))
        form = self.mapping(loc, raw, ("plan", "auto"))
        if len(form) != 1:
            raise self.fail(loc, "must be a number, {plan: {...}} or {auto: {...}}", raw)
        if "plan" in form:
            return self.plan((*loc, "plan"), form["plan"])
        return self.auto((*loc, "auto"), form["auto"])

    def plan(self, loc: Loc, raw: Any) -> Amount:
        if not isinstance(raw, dict):
            raise self.fail(loc, 'must map months to amounts ({"2026-01": 4000, ...})', raw)
        plan, bad = {}, False
        for month, value in raw.items():
            try:
                plan[str(month)] = self.number((*loc, str(month)), value)
            except Invalid:
                bad = True
        if bad:
            raise Invalid()
        return Amount("plan", plan=plan)

    def auto(self, loc: Loc, raw: Any) -> Amount:
        form = self.mapping(loc, raw, ("months", "factor"))
        months = self.integer((*loc, "months"), form.get("months", 3))
        return Amount(
            "auto", months=months, factor=self.number((*loc, "factor"), form.get("factor", 1))
        )

    def windows(self, loc: Loc, raw: Any) -> tuple[Window, ...]:
        return self.each(loc, raw, self.window)

    def window(self, loc: Loc, raw: Any) -> Window:
        form = self.mapping(loc, raw, ("start", "end"))
        missing = [k for k in ("start", "end") if k not in form]
        if missing:
            raise self.fail(loc, f"needs {' and '.join(missing)}")
        return Window(
            self.day((*loc, "start"), form["start"]), self.day((*loc, "end"), form["end"])
        )

    def thresholds(self, loc: Loc, raw: Any) -> tuple[Threshold, ...]:
        return self.each(loc, raw, self.threshold)

    def threshold(self, loc: Loc, raw: Any) -> Threshold:
        if isinstance(raw, str):
            found = _THRESHOLD.match(raw)
            percent = yaml_decimal(found.group(1)) if found else None
            if found is None or percent is None:
                raise self.fail(loc, "must read like '80%' or '100% forecast'", raw)
            return Threshold(percent, found.group(2) or "actual")
        form = self.mapping(loc, raw, ("percent", "basis"))
        if "percent" not in form:
            raise self.fail(loc, "needs a percent", raw)
        basis = self.text((*loc, "basis"), form.get("basis", "actual"))
        return Threshold(self.number((*loc, "percent"), form["percent"]), basis)
