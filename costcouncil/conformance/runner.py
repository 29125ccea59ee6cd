"""Run the FOCUS conformance checks over a DuckDB relation in one aggregated scan.

:func:`run_checks` reads the relation's column names and types (a bind, not a scan), answers the
``presence`` and ``type`` checks from them, and counts every ``row`` check's violations in a
single aggregated ``SELECT``. Pure: it
executes SQL on the connection it is given and touches no files. When checks fail, a second scan
over those checks alone collects their examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from costcouncil.conformance.checks import ALL_CHECKS, Check, Severity, q
from costcouncil.schema.arrow import SQL_TYPES
from costcouncil.schema.focus import FOCUS_1_2, Kind

Status = Literal["passed", "failed", "skipped"]

_QUERY = re.compile(r"^\s*(select|with|from|values|\()", re.IGNORECASE)
_ACCEPTED: dict[Kind, re.Pattern[str]] = {
    "decimal": re.compile(r"^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|(U?(TINY|SMALL|BIG|HUGE)?INT))"),
    "datetime": re.compile(r"^TIMESTAMP( WITH TIME ZONE)?$"),
    "string": re.compile(r"^(VARCHAR|JSON)$"),
    "currency": re.compile(r"^(VARCHAR|JSON)$"),
    "json": re.compile(r"^(VARCHAR|JSON)$"),
}


@dataclass(frozen=True)
class Example:
    """One violating row: its row number (1-based, or the ``row_id`` column) and what it held."""

    row: int
    value: str | None


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: Status
    count: int = 0
    examples: tuple[Example, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "id": c.id,
            "column": c.column,
            "severity": c.severity,
            "kind": c.kind,
            "status": self.status,
            "count": self.count,
            "description": c.description,
            "reason": self.reason,
            "rule": c.rule,
            "examples": [{"row": e.row, "value": e.value} for e in self.examples],
        }


@dataclass(frozen=True)
class Report:
    """The outcome of :func:`run_checks`: ``ok`` when no error-severity check failed."""

    rows: int
    results: tuple[CheckResult, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failures("error")

    def failures(self, severity: Severity | None = None) -> tuple[CheckResult, ...]:
        return tuple(
            r
            for r in self.results
            if r.status == "failed" and (severity is None or r.check.severity == severity)
        )

    def counts(self) -> dict[str, int]:
        """Check id -> number of violations, for the failed checks."""
        return {r.check.id: r.count for r in self.failures()}

    def result(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.check.id == check_id:
                return r
        raise KeyError(f"no check {check_id!r} in this report")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "errors": len(self.failures("error")),
            "warnings": len(self.failures("warning")),
            "checks": [r.to_dict() for r in self.results],
        }

    def to_text(self) -> str:
        skipped = sum(r.status == "skipped" for r in self.results)
        head = (
            f"FOCUS 1.2 conformance: {'OK' if self.ok else 'FAILED'} -- {self.rows} rows, "
            f"{len(self.results)} checks, {len(self.failures('error'))} errors, "
            f"{len(self.failures('warning'))} warnings, {skipped} skipped"
        )
        lines = [head]
        for r in sorted(self.failures(), key=lambda r: (r.check.severity != "error", r.check.id)):
            lines.append(
                f"  {r.check.severity.upper():7} {r.check.id}: {r.count} "
                f"{'row' if r.check.kind == 'row' else 'dataset'} -- "
                f"{r.check.description}"
            )
            lines += [f"          row {e.row}: {e.value}" for e in r.examples]
        return "\n".join(lines)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    relation_sql: str,
    checks: Sequence[Check] = ALL_CHECKS,
    sample: int = 5,
    row_id: str | None = None,
) -> Report:
    """Check a FOCUS 1.2 relation (a table or view name, a table function or a query).

    ``row_id`` names a column that identifies rows in examples (``x_source_row``); by default
    examples give the 1-based position in the relation's scan order.
    """
    source = f"({relation_sql})" if _QUERY.match(relation_sql) else relation_sql
    types = _describe(con, source)
    static = {c.id: _static(c, types) for c in checks if c.kind != "row"}
    runnable = [c for c in checks if c.kind == "row" and c.column in types]
    rows, found = _scan(con, source, types, runnable, max(sample, 0), row_id)
    results = tuple(static.get(c.id) or found.get(c.id) or _skipped(c) for c in checks)
    return Report(rows=rows, results=results)


def _describe(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    described = con.execute(f"DESCRIBE SELECT * FROM {source} AS __focus").fetchall()
    return {str(row[0]): str(row[1]) for row in described}


def _static(check: Check, types: dict[str, str]) -> CheckResult:
    present = check.column in types
    if check.kind == "presence":
        return CheckResult(check, "passed" if present else "failed", 0 if present else 1)
    if not present:
        return _skipped(check)
    kind = _KINDS[check.column]
    if _ACCEPTED[kind].match(types[check.column]):
        return CheckResult(check, "passed")
    return CheckResult(
        check,
        "failed",
        1,
        (Example(0, types[check.column]),),
        f"type {types[check.column]}; expected {SQL_TYPES[kind]}",
    )


def _skipped(check: Check) -> CheckResult:
    return CheckResult(check, "skipped", reason=f"column {check.column} is not in the dataset")


_KINDS: dict[str, Kind] = {c.name: c.kind for c in FOCUS_1_2}


def _column_sql(name: str, types: dict[str, str]) -> str:
    """A FOCUS column as the checks see it: typed, or NULL when the dataset lacks it."""
    sql_type = SQL_TYPES[_KINDS[name]]
    if name not in types:
        return f"CAST(NULL AS {sql_type}) AS {q(name)}"
    if _ACCEPTED[_KINDS[name]].match(types[name]):
        return q(name)
    return f"TRY_CAST({q(name)} AS {sql_type}) AS {q(name)}"


def _scan_sql(
    source: str, types: dict[str, str], checks: Sequence[Check], sample: int, row_id: str | None
) -> str:
    """One scan: the row count, then per check its violation count (``sample`` = 0) or its first
    ``sample`` violating rows and what they held."""
    row = f"CAST({q(row_id)} AS BIGINT)" if row_id else "row_number() OVER ()"
    columns = ", ".join(_column_sql(c.name, types) for c in FOCUS_1_2)
    flags = ", ".join(
        f"coalesce(({c.sql}), false) AS __f{i}"
        + (
            f", CASE WHEN __f{i} THEN CAST(({c.show_sql}) AS VARCHAR) END AS __v{i}"
            if sample
            else ""
        )
        for i, c in enumerate(checks)
    )
    aggregates = ["count(*)"] + [
        f"min({{'r': __row, 'v': __v{i}}}, {sample}) FILTER (WHERE __f{i})"
        if sample
        else f"count_if(__f{i})"
        for i in range(len(checks))
    ]
    flag_cte = f", __flags AS (SELECT __row, {flags} FROM __src)" if checks else ""
    return (
        f"WITH __src AS (SELECT {row} AS __row, {columns} FROM {source} AS __focus)"
        f"{flag_cte} SELECT {', '.join(aggregates)} "
        f"FROM {'__flags' if checks else '__src'}"
    )


def _scan(
    con: duckdb.DuckDBPyConnection,
    source: str,
    types: dict[str, str],
    checks: Sequence[Check],
    sample: int,
    row_id: str | None,
) -> tuple[int, dict[str, CheckResult]]:
    """Count every check's violations in one scan; a second scan, over the failed checks only,
    fetches examples (top-n aggregates are costly, so they run only where needed)."""
    counts = _fetch(con, _scan_sql(source, types, checks, 0, row_id))
    failed = [c for c, n in zip(checks, counts[1:], strict=True) if n] if sample else []
    shown = _fetch(con, _scan_sql(source, types, failed, sample, row_id)) if failed else []
    examples = {c.id: _examples(raw) for c, raw in zip(failed, shown[1:], strict=True)}
    found = {
        c.id: CheckResult(c, "failed" if n else "passed", int(n), examples.get(c.id, ()))
        for c, n in zip(checks, counts[1:], strict=True)
    }
    return int(counts[0]), found


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    fetched = con.execute(sql).fetchone()
    assert fetched is not None
    return list(fetched)


def _examples(raw: Any) -> tuple[Example, ...]:
    return tuple(Example(int(e["r"]), e["v"]) for e in raw or ())


__all__ = ["CheckResult", "Example", "Report", "run_checks"]
