"""Table helpers shared by the kinds: the window, the scope, sums per group, owners, evidence.

A scope key names a column of the table a kind reads; a key the table lacks is a ConfigError
naming the policy and the table's columns. Null owner columns count as ``__unallocated__``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.errors import ConfigError
from costcouncil.policy.model import UNALLOCATED, Policy, scope_pairs
from costcouncil.policy.violation import Violation, plain

ZERO = Decimal(0)
#: How many ids an evidence list holds at most (the count is given beside it).
EVIDENCE_IDS = 20


@dataclass(frozen=True)
class Window:
    """The days a policy looks at: ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def ending(cls, as_of: date, days: int) -> Window:
        """The ``days`` days that end with ``as_of``."""
        return cls(as_of - timedelta(days=days - 1), as_of)

    def of(self, table: pa.Table, column: str = "day") -> pa.Table:
        """The rows of ``table`` whose ``column`` falls in the window."""
        days = table[column]
        keep = pc.and_(pc.greater_equal(days, self.first), pc.less_equal(days, self.last))
        return table.filter(keep)


def in_scope(table: pa.Table, policy: Policy, name: str) -> pa.Table:
    """The rows of ``table`` (input ``name``) inside the policy's scope."""
    for key, value in scope_pairs(policy.scope):
        if key not in table.column_names:
            columns = ", ".join(table.column_names)
            raise ConfigError(
                f"policy {policy.name!r}: scope key {key!r} is not a column of the {name} table "
                f"({columns})"
            )
        table = table.filter(pc.equal(table[key], value))
    return table


def sums(table: pa.Table, keys: Sequence[str], values: Sequence[str]) -> list[dict[str, Any]]:
    """One row per group of ``keys``: the sum of each of ``values``, and first and last day."""
    aggregations = [(v, "sum") for v in values]
    if "day" in table.column_names:
        aggregations += [("day", "min"), ("day", "max")]
    rows: list[dict[str, Any]] = table.group_by(list(keys)).aggregate(aggregations).to_pylist()
    return rows


def owners(
    table: pa.Table, keys: Sequence[str], column: str = "cost"
) -> dict[tuple[Any, ...], str]:
    """Per group of ``keys``, the team with the most ``column`` (ties: the first by name)."""
    best: dict[tuple[Any, ...], tuple[Any, str]] = {}
    for row in sums(table, [*keys, "team"], [column]):
        group = tuple(row[k] for k in keys)
        team = team_of(row["team"])
        amount = row[f"{column}_sum"] or 0
        held = best.get(group)
        if held is None or amount > held[0] or (amount == held[0] and team < held[1]):
            best[group] = (amount, team)
    return {group: team for group, (_, team) in best.items()}


def with_teams(table: pa.Table) -> pa.Table:
    """``table`` with a null or empty ``team`` replaced by ``__unallocated__``."""
    if "team" not in table.column_names:
        return table
    team = table["team"]
    filled = pc.if_else(pc.fill_null(pc.equal(team, ""), True), UNALLOCATED, team)
    return table.set_column(table.column_names.index("team"), "team", filled)


def team_of(value: Any) -> str:
    """A team column's value, ``__unallocated__`` for none."""
    return str(value) if value else UNALLOCATED


def distinct(table: pa.Table, keys: Sequence[str], column: str) -> dict[tuple[Any, ...], list[str]]:
    """Per group of ``keys``, the sorted distinct non-null values of ``column``."""
    found: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in table.select([*keys, column]).to_pylist():
        if row[column] is not None:
            found[tuple(row[k] for k in keys)].add(str(row[column]))
    return {group: sorted(values) for group, values in found.items()}


def ids(values: Iterable[str]) -> list[str]:
    """At most :data:`EVIDENCE_IDS` of ``values``, sorted, for evidence."""
    return sorted(values)[:EVIDENCE_IDS]


def money(value: Any) -> Decimal:
    """A sum as a Decimal (None, an empty sum, is 0)."""
    return ZERO if value is None else Decimal(value)


def violation(
    policy: Policy,
    subject: str,
    owner: str,
    at_stake: Decimal,
    row: dict[str, Any],
    **evidence: Any,
) -> Violation:
    """A violation of ``policy``; ``row`` gives its first and last day (``day_min``, ``day_max``)."""
    return Violation(
        policy.name,
        policy.kind,
        policy.severity,
        subject,
        owner,
        at_stake,
        plain(evidence),
        row.get("day_min"),
        row.get("day_max"),
    )
