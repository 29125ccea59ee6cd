"""``policies.yaml``: policies as a version-controlled document (docs/policies.md is the reference).

::

    version: 1
    policies:
      - name: prod-gpus
        kind: allowed_instances
        scope: org
        severity: critical
        owner: platform@acme.com
        enforce: true
        params:
          environments: {prod: ["p4d.*", "g5.*"], dev: ["g5.xlarge", "g6.*"]}

:func:`parse_policies` reports every problem of a document at once, each as
``path:LINE: key.path: message (got VALUE)``, with a "did you mean" for misspelt kinds, keys and
parameters; :func:`dump_policies` writes policies back (keys at their defaults left out).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import MISSING, fields
from datetime import date
from decimal import Decimal
from typing import Any

import yaml

from costcouncil.documents import DEFAULT_OWNER_KEYS, parse_yaml, raise_problems
from costcouncil.errors import ConfigError
from costcouncil.policy.model import REQUIRED_PARAMS, Experiment, Params, Policy
from costcouncil.policy.reading import POLICY_KEYS, PolicyReader

#: Scope keys a policy may name by default: the owner keys and the columns of the input tables.
SCOPE_KEYS = (*DEFAULT_OWNER_KEYS, "resource_id", "instance_type", "service_category")

__all__ = ["POLICY_KEYS", "SCOPE_KEYS", "dump_policies", "parse_policies"]


def parse_policies(
    text: str,
    path: str,
    *,
    instance_types: Collection[str] | None = None,
    known_keys: Collection[str] = SCOPE_KEYS,
) -> list[Policy]:
    """The policies of a ``policies.yaml`` text; a ConfigError lists every problem at once.

    ``instance_types`` are the catalog's known instance types: an ``allowed_instances`` pattern
    that matches none of them is an error (None skips that check). ``known_keys`` are the keys a
    scope may name. Policy names must be unique.
    """
    try:
        document = parse_yaml(text, path)
    except ValueError as e:  # PyYAML builds `2026-02-30` as a date and lets the ValueError out
        raise ConfigError(f"{path}: not valid YAML ({e})") from e
    reader = PolicyReader(document, known_keys, instance_types)
    policies = reader.read()
    raise_problems(document, reader.problems)
    return policies


def dump_policies(policies: Sequence[Policy]) -> str:
    """A ``version: 1`` document holding ``policies``, which :func:`parse_policies` reads back."""
    data = {"version": 1, "policies": [_policy_data(p) for p in policies]}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def _policy_data(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(Policy):
        value = getattr(policy, f.name)
        if f.name == "params":
            out["params"] = _params_data(policy.kind, value)
        elif f.default is MISSING or value != f.default:
            out[f.name] = value
    return out


def _params_data(kind: str, params: Params) -> dict[str, Any]:
    """The required parameters and those that differ from their defaults, as YAML data."""
    defaults = type(params)()
    required = REQUIRED_PARAMS.get(kind, ())
    return {
        f.name: _plain(getattr(params, f.name))
        for f in fields(params)
        if f.name in required or getattr(params, f.name) != getattr(defaults, f.name)
    }


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Experiment):
        return {k: v for k, v in vars(value).items() if v is not None}
    return value


class _Dumper(yaml.SafeDumper):
    """Writes a Decimal as a plain YAML number with all its digits, and dates as ISO days."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))


def _represent_date(dumper: yaml.SafeDumper, value: date) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", value.isoformat())


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(date, _represent_date)
