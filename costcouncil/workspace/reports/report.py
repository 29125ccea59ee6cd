"""Cost reports over the lake: group by FOCUS columns, ``x_`` columns or tag keys, any period.

Group-by keys, in ``--by``:

* a FOCUS column (``ServiceCategory``, ``RegionId`` …, any case) or a lake ``x_`` column;
* ``x_<key>`` for an owner key from ``costcouncil.yaml`` (``x_team``): the tag under the key or
  any of its aliases, trimmed and lower-cased (``Team: 'Vision '`` and ``team: vision`` agree);
* ``tag:<Key>`` for any tag key, exactly as written;
* ``period`` (the billing period, ``YYYY-MM``) and ``day`` / ``month`` of the charge period.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal

from costcouncil.errors import ConfigError
from costcouncil.schema.arrow import SOURCE_COLUMNS, lake_columns
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.common.query import open_costs
from costcouncil.workspace.core import Workspace

METRICS = {
    "billed": "BilledCost",
    "effective": "EffectiveCost",
    "list": "ListCost",
    "contracted": "ContractedCost",
}
NONE_LABEL = "(none)"
_PSEUDO = {
    "period": "strftime(\"BillingPeriodStart\", '%Y-%m')",
    "month": "strftime(\"ChargePeriodStart\", '%Y-%m')",
    "day": "strftime(\"ChargePeriodStart\", '%Y-%m-%d')",
}


@dataclass(frozen=True)
class Report:
    """A cost table: the group columns, then currency, cost and row count per group."""

    by: list[str]
    metric: str
    rows: list[tuple[object, ...]]

    @property
    def columns(self) -> list[str]:
        return [*self.by, "BillingCurrency", METRICS[self.metric], "rows"]

    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for row in self.rows:
            currency, cost = str(row[-3]), row[-2]
            out[currency] = out.get(currency, Decimal(0)) + Decimal(str(cost))
        return out

    def to_dict(self) -> dict[str, object]:
        records = [
            dict(
                zip(self.columns, [str(v) if isinstance(v, Decimal) else v for v in r], strict=True)
            )
            for r in self.rows
        ]
        return {
            "by": self.by,
            "metric": METRICS[self.metric],
            "rows": records,
            "totals": {k: str(v) for k, v in self.totals().items()},
        }


def report(
    workspace: Workspace,
    by: list[str],
    period: str | None = None,
    metric: str = "billed",
    allocated: bool = False,
) -> Report:
    """Cost per group of ``by`` (an empty list gives the grand total per currency).

    With ``allocated`` the rows are the allocations of ``costcouncil allocate`` and an owner key
    (``team`` or ``x_team``) groups by the owner it was allocated to.
    """
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    keys = [group_expression(workspace, key, allocated) for key in by]
    labels = [_label(workspace, key, allocated) for key in by]
    con = open_costs(workspace, [period] if period else None, allocated)
    source = "allocated" if allocated else "costs"
    selected = [f"coalesce(CAST({k} AS VARCHAR), {lit(NONE_LABEL)})" for k in keys]
    cols = ", ".join([*selected, '"BillingCurrency"'])
    sql = (
        f"SELECT {cols}, sum({q(METRICS[metric])}), count(*) FROM {source} "
        f"GROUP BY ALL ORDER BY {len(keys) + 2} DESC"
    )
    return Report(labels, metric, [tuple(r) for r in con.execute(sql).fetchall()])


def _label(workspace: Workspace, key: str, allocated: bool = False) -> str:
    """The column heading of a key: FOCUS columns in their canonical spelling."""
    owner = _owner_name(workspace, key)
    if owner is not None:
        return "x_" + owner
    columns = {c.name.lower(): c.name for c in lake_columns()}
    return columns.get(key.lower(), key)


def _owner_name(workspace: Workspace, key: str) -> str | None:
    """The owner key ``key`` names (``team`` or ``x_team``), if it names one."""
    name = key[2:] if key.startswith("x_") else key
    return name if name in workspace.config.tags.owner_keys else None


def group_expression(workspace: Workspace, key: str, allocated: bool = False) -> str:
    """The SQL expression for one ``--by`` key; an unknown key lists the choices.

    An owner key (``team``/``x_team``) is the allocated owner with ``allocated``, else the
    resource's tag under that key or an alias.
    """
    owner = _owner_name(workspace, key)
    if owner is not None:
        return q("x_" + owner) if allocated else _owner_key(workspace, owner)
    if allocated and key in ("x_rule", "x_method"):
        return key
    columns = {c.name.lower(): c.name for c in lake_columns()}
    columns.update({name: name for name, _ in SOURCE_COLUMNS})
    if key.lower() in columns:
        return q(columns[key.lower()])
    if key in _PSEUDO:
        return _PSEUDO[key]
    if key.startswith("tag:") and len(key) > 4:
        return f'json_extract_string("Tags", {lit(_json_path(key[4:]))})'
    if key.startswith("x_") and key[2:] in workspace.config.tags.owner_keys:
        return _owner_key(workspace, key[2:])
    raise ConfigError(_unknown_key(workspace, key, list(columns.values())))


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def _owner_key(workspace: Workspace, key: str) -> str:
    spellings = workspace.config.tags.spellings(key)
    found = ", ".join(f'json_extract_string("Tags", {lit(_json_path(s))})' for s in spellings)
    return f"NULLIF(lower(trim(coalesce({found}))), '')"


def _unknown_key(workspace: Workspace, key: str, columns: list[str]) -> str:
    choices = columns + [f"x_{k}" for k in workspace.config.tags.owner_keys] + list(_PSEUDO)
    near = difflib.get_close_matches(key, choices, n=3)
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    return (
        f"unknown --by key {key!r}.{hint} Use a FOCUS column, x_<owner key> "
        f"({', '.join(workspace.config.tags.owner_keys)}), tag:<Key>, period, month or day."
    )
