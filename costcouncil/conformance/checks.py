"""FOCUS 1.2 conformance checks, declared as data.

Each :class:`Check` is one requirement of the specification (or, as a ``warning``, one of its
SHOULDs) written as a DuckDB SQL boolean over one FOCUS 1.2 row that is TRUE when the row
*violates* it. Rule ids in ``rule`` are those of the Foundation's 1.2 rule model
(``BilledCost-C-003-M``), so a finding can be looked up in the specification.

Three kinds of check:

* ``presence`` -- the column must be in the dataset (mandatory columns);
* ``type`` -- the column, when present, must have the lake's type for its FOCUS kind;
* ``row`` -- ``sql`` over the row; a row check runs only when its own ``column`` is present, and
  other columns it mentions read as NULL when the dataset lacks them.

Money comparisons use a tolerance (:data:`ABS_TOL`, :data:`REL_TOL`), because providers round
costs and unit prices separately; corrections (``ChargeClass = 'Correction'``) are exempt from
the arithmetic, as the specification allows discrepancies there.

This module is the table (:data:`ALL_CHECKS`) and the checks generated from the column catalogue
(presence, type, not-null, not-empty, allowed values); :mod:`.nullability` holds nullability that
depends on other columns, :mod:`.values` the value rules (formats, periods, cost arithmetic).
"""

from __future__ import annotations

from costcouncil.conformance import nullability, values
from costcouncil.conformance.base import Check, CheckKind, Severity, lit, q
from costcouncil.schema.focus import FOCUS_1_2, Column


def _presence(c: Column) -> Check:
    return Check(
        f"FOCUS-{c.name}-Present",
        c.name,
        "error",
        f"{c.name} is mandatory and must be present in the dataset",
        kind="presence",
        rule="CostAndUsage-D-*-M",
    )


def _type(c: Column) -> Check:
    return Check(
        f"FOCUS-{c.name}-Type",
        c.name,
        "error",
        f"{c.name} must be of FOCUS type {c.kind}",
        kind="type",
        rule=f"{c.name}-C-001-M",
    )


def _not_null(c: Column) -> Check:
    when = "" if c.mandatory else " when the column is present"
    return Check(
        f"FOCUS-{c.name}-NotNull",
        c.name,
        "error",
        f"{c.name} must not be null{when}",
        f"{q(c.name)} IS NULL",
        rule="Nullability",
    )


def _not_empty(c: Column) -> Check:
    return Check(
        f"FOCUS-{c.name}-NotEmpty",
        c.name,
        "error",
        f"{c.name} must use NULL, not an empty or blank string",
        f"CASE WHEN starts_with({q(c.name)}, ' ') THEN trim({q(c.name)}) = '' "
        f"ELSE {q(c.name)} = '' END",
        rule="NullHandling-A-002-M",
    )


def _allowed(c: Column) -> Check:
    listed = ", ".join(c.allowed) if len(c.allowed) <= 8 else f"{len(c.allowed)} values"
    return Check(
        f"FOCUS-{c.name}-AllowedValues",
        c.name,
        "error",
        f"{c.name} must be one of the allowed values ({listed})",
        f"{q(c.name)} NOT IN {lit(c.allowed)}",
        rule="Validation: allowed values",
    )


def _column_checks() -> list[Check]:
    checks: list[Check] = []
    for c in FOCUS_1_2:
        checks += [_presence(c)] if c.mandatory else []
        checks.append(_type(c))
        checks += [] if c.nullable else [_not_null(c)]
        checks += [_not_empty(c)] if c.kind in ("string", "currency", "json") else []
        checks += [_allowed(c)] if c.allowed else []
    return checks


ALL_CHECKS: tuple[Check, ...] = tuple(
    _column_checks()
    + nullability.pairs()
    + nullability.priced()
    + nullability.commitments()
    + nullability.consumed()
    + values.formats()
    + values.periods()
    + values.arithmetic()
    + values.cost_rules()
    + values.charges()
)

BY_ID: dict[str, Check] = {c.id: c for c in ALL_CHECKS}

__all__ = ["ALL_CHECKS", "BY_ID", "Check", "CheckKind", "Severity", "q"]
