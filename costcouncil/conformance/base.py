"""The :class:`Check` record and the SQL helpers the check modules share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
CheckKind = Literal["presence", "type", "row"]

#: Absolute and relative tolerance for ``cost = unit price x quantity`` and cost comparisons.
ABS_TOL = "0.000001"
REL_TOL = "0.0001"


@dataclass(frozen=True)
class Check:
    """One conformance requirement.

    Attributes:
        id: stable id, ``FOCUS-<Column>-<Requirement>``.
        column: the FOCUS column the requirement is about.
        severity: ``error`` for a MUST, ``warning`` for a SHOULD or a heuristic.
        description: the requirement in words, as a report prints it.
        sql: DuckDB boolean over one row, TRUE when the row violates the requirement
            (empty for ``presence`` and ``type`` checks).
        show: SQL of what a report shows for a violating row (default: the column's value).
        kind: ``presence``, ``type`` or ``row``.
        rule: the 1.2 rule-model id(s) implemented, for reference.
    """

    id: str
    column: str
    severity: Severity
    description: str
    sql: str = ""
    show: str = ""
    kind: CheckKind = "row"
    rule: str = ""

    @property
    def show_sql(self) -> str:
        return self.show or f"CAST({q(self.column)} AS VARCHAR)"


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(values: Iterable[str]) -> str:
    """A parenthesised SQL list of string literals."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def show(*columns: str) -> str:
    """SQL showing several columns as ``A=1, B=NULL``."""
    parts = [f"'{c}=' || coalesce(CAST({q(c)} AS VARCHAR), 'NULL')" for c in columns]
    return "concat_ws(', ', " + ", ".join(parts) + ")"


def differs(a: str, b: str) -> str:
    """SQL: the decimals ``a`` and ``b`` differ by more than the tolerance."""
    return (
        f"abs(CAST({a} AS DOUBLE) - CAST({b} AS DOUBLE)) > {ABS_TOL} + {REL_TOL} * "
        f"greatest(abs(CAST({a} AS DOUBLE)), abs(CAST({b} AS DOUBLE)))"
    )


CATEGORY = q("ChargeCategory")
NOT_CORRECTION = f"{q('ChargeClass')} IS DISTINCT FROM 'Correction'"
USAGE_OR_PURCHASE = f"{CATEGORY} IN ('Usage', 'Purchase') AND {NOT_CORRECTION}"
COMMITMENT_PURCHASE = f"{CATEGORY} = 'Purchase' AND {q('CommitmentDiscountId')} IS NOT NULL"

__all__ = ["Check", "CheckKind", "Severity", "differs", "lit", "q", "show"]
