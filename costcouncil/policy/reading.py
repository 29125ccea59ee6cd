"""Reading ``policies.yaml``: the walk from parsed YAML to policies, collecting every problem.

Each problem is one line, ``path:LINE: key.path: message (got VALUE)``. A key whose value fails
is left out (its default stands in) so that the policy's other keys are still checked; a policy
with any problem is left out of the result.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from typing import Any

from costcouncil.document_values import Invalid, ValueReader
from costcouncil.documents import YamlDocument
from costcouncil.errors import ConfigError
from costcouncil.policy.model import (
    KINDS,
    PARAMS,
    REQUIRED_PARAMS,
    Experiment,
    Params,
    Policy,
    did_you_mean,
    policy_problems,
    scope_pairs,
)

#: The keys of one policy, in the order they are written.
POLICY_KEYS = ("name", "kind", "scope", "severity", "owner", "description", "enforce", "params")
REQUIRED = ("name", "kind")
EXPERIMENT_KEYS = ("match", "cap", "ends")

Loc = tuple[str | int, ...]
Reader = Callable[[Loc, Any], Any]


class PolicyReader(ValueReader):
    """Walks a parsed document, turning it into policies and collecting every problem."""

    def __init__(
        self,
        document: YamlDocument,
        known_keys: Collection[str],
        instance_types: Collection[str] | None,
    ) -> None:
        super().__init__(document)
        self.known_keys = known_keys
        self.instance_types = instance_types

    def read(self) -> list[Policy]:
        raw = self.entries("policies", "policy")
        policies = [self.policy(("policies", i), item) for i, item in enumerate(raw or [])]
        return [p for p in policies if p is not None]

    # -- one policy ---------------------------------------------------------------------------

    def policy(self, loc: Loc, raw: Any) -> Policy | None:
        if not isinstance(raw, dict):
            self.problem(loc, "must be a mapping of policy keys", raw)
            return None
        before = len(self.found)
        self.unknown_keys(loc, raw, POLICY_KEYS)
        values, failed = self.fields(loc, raw)
        kind = values.get("kind")
        if kind is None:
            return None
        params = self.params((*loc, "params"), kind, raw.get("params"))
        if params is None:
            return None
        policy = Policy(**{"name": "-", **values, "params": params})
        for issue in policy_problems(policy, self.instance_types):
            if issue.path[0] not in failed:
                self.problem((*loc, *issue.path), issue.message, issue.value, issue.hint)
        if "scope" not in failed:
            self.unknown_scope_keys(loc, policy.scope)
        return policy if len(self.found) == before else None

    def fields(self, loc: Loc, raw: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
        values: dict[str, Any] = {}
        failed: set[str] = set()
        readers: dict[str, Reader] = {
            **dict.fromkeys(("name", "scope", "severity", "owner", "description"), self.text),
            "kind": self.kind,
            "enforce": self.boolean,
        }
        for key, read in readers.items():
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

    def kind(self, loc: Loc, raw: Any) -> str:
        kind = self.text(loc, raw)
        if kind not in KINDS:
            hint = did_you_mean(kind, KINDS)
            self.problem(loc, f"unknown kind; known: {', '.join(KINDS)}", kind, hint)
            raise Invalid()
        return kind

    def unknown_scope_keys(self, loc: Loc, scope: str) -> None:
        try:
            pairs = scope_pairs(scope)
        except ConfigError:
            return  # a malformed scope, reported with the policy's problems
        for key, _ in pairs:
            if key not in self.known_keys:
                hint = did_you_mean(key, self.known_keys)
                self.problem((*loc, "scope"), f"unknown scope key {key!r}", scope, hint)

    # -- parameters ---------------------------------------------------------------------------

    def params(self, loc: Loc, kind: str, raw: Any) -> Params | None:
        cls = PARAMS[kind]
        names = [f.name for f in fields(cls)]
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem(loc, f"must be a mapping of {kind} parameters", raw)
            return None
        bad = self.unknown_keys(loc, raw, names)
        for name in REQUIRED_PARAMS.get(kind, ()):
            if name not in raw:
                self.problem(loc, f"`{name}` is required for kind {kind}")
                bad = True
        values = {}
        for name in names:
            try:
                if name in raw:
                    values[name] = self.param_readers()[name]((*loc, name), raw[name])
            except Invalid:
                bad = True
        return None if bad else cls(**values)

    def param_readers(self) -> dict[str, Reader]:
        return {
            "keys": self.texts,
            "min_coverage": self.number,
            "service_categories": self.texts,
            "include_gpu": self.boolean,
            "report": self.texts,
            "environments": self.environments,
            "gpu_only": self.boolean,
            "key": self.text,
            "experiments": lambda loc, raw: self.each(loc, raw, self.experiment),
            "max_idle_percent": self.number,
            "days": self.integer,
            "max": self.number,
            "per": self.text,
            "by": self.text,
            "budgets": self.budget_names,
            "basis": self.text,
        }

    def environments(self, loc: Loc, raw: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(raw, dict):
            raise self.fail(loc, "must map environments to lists of patterns", raw)
        out, bad = {}, False
        for env, patterns in raw.items():
            try:
                out[str(env)] = self.texts((*loc, str(env)), patterns)
            except Invalid:
                bad = True
        if bad:
            raise Invalid()
        return out

    def experiment(self, loc: Loc, raw: Any) -> Experiment:
        if not isinstance(raw, dict):
            raise self.fail(loc, "must be a mapping with match, cap, ends", raw)
        if self.unknown_keys(loc, raw, EXPERIMENT_KEYS):
            raise Invalid()
        if "match" not in raw:
            raise self.fail(loc, "`match` is required")
        readers: dict[str, Reader] = {"match": self.text, "cap": self.number, "ends": self.day}
        values, bad = {}, False
        for key, read in readers.items():
            try:
                if raw.get(key) is not None:
                    values[key] = read((*loc, key), raw[key])
            except Invalid:
                bad = True
        if bad:
            raise Invalid()
        return Experiment(**values)

    def budget_names(self, loc: Loc, raw: Any) -> tuple[str, ...]:
        return () if raw == "all" else self.texts(loc, raw)

    # -- values -------------------------------------------------------------------------------

    def texts(self, loc: Loc, raw: Any) -> tuple[str, ...]:
        return self.each(loc, raw, self.text)

    def each(self, loc: Loc, raw: Any, read: Reader) -> tuple[Any, ...]:
        """Every item read; when one fails, all are still read and the key fails."""
        if not isinstance(raw, list):
            raise self.fail(loc, "must be a list", raw)
        out, bad = [], False
        for i, item in enumerate(raw):
            try:
                out.append(read((*loc, i), item))
            except Invalid:
                bad = True
        if bad:
            raise Invalid()
        return tuple(out)
