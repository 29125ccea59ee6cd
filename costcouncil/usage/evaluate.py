"""Evaluating a mapping bound to one file: every value computed once, checked, then typed.

Three steps over DuckDB tables (``src``: the file as text, see :mod:`costcouncil.usage.csvfile`):

1. :func:`evaluate` runs the filter and every expression once into the table ``mapped``. An
   expression that fails on some row (a ``CAST`` of a bad cell) is reported with the first row it
   fails on, found by bisection, and the values it read there;
2. :func:`check` tries every value as its column's type (``TRY_CAST``, as ingest checks usage
   files) and lists each that is missing, invalid, negative, fractional where a count is whole,
   or a timestamp without a zone; then duplicate ids and jobs that end before they start;
3. :func:`output` casts the values to the kind's types: exactly its Arrow schema.

A text value counts as a naive timestamp when DuckDB reads it, in the session zone
:data:`PROBE_ZONE` (an offset no place uses), as that zone's wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from costcouncil.engine.base import normalise
from costcouncil.errors import Problem, ValidationError
from costcouncil.schema.sql import lit, q
from costcouncil.usage.base import SCHEMAS

#: An offset no time zone uses: a naive time read in it never equals a zoned reading of the text.
PROBE_ZONE = "GMT+13:47"
#: Problems listed per check (the total is always counted).
SHOWN = 20


@dataclass(frozen=True)
class Bound:
    """One of our columns, bound to the file: its SQL, DuckDB type and the columns it reads."""

    target: str
    sql: str
    raw_type: str
    refs: tuple[str, ...]

    @property
    def raw(self) -> str:
        """The expression as evaluated: empty text is a missing value."""
        return f"NULLIF(({self.sql}), '')" if self.raw_type == "VARCHAR" else f"({self.sql})"

    @property
    def label(self) -> str:
        """The column as messages name it: ours, and the source columns it comes from."""
        shown = [r for r in self.refs if r != self.target]
        return f"{self.target} ({', '.join(shown)})" if shown else self.target


@dataclass(frozen=True)
class Plan:
    """Everything bound for one file."""

    columns: tuple[Bound, ...]
    filter: Bound | None
    attributes: str | None


def evaluate(con: duckdb.DuckDBPyConnection, path: Path, plan: Plan) -> None:
    """Evaluate the filter and every expression once into the table ``mapped``."""
    values = [f"{b.raw} AS {q(b.target)}" for b in plan.columns]
    if plan.attributes is not None:
        values.append(f"{plan.attributes} AS __attributes")
    where = f" WHERE ({plan.filter.sql})" if plan.filter else ""
    try:
        con.execute(
            f"CREATE TEMP TABLE mapped AS SELECT x_row, {', '.join(values)} FROM src{where}"
        )
    except duckdb.Error as e:
        problems = _failures(con, path, plan)
        raise ValidationError(problems or [Problem(str(path), 0, "", None, first_line(e))]) from e


def _failures(con: duckdb.DuckDBPyConnection, path: Path, plan: Plan) -> list[Problem]:
    """For the filter and each expression that fails on some row: the first such row."""
    where = f"({plan.filter.sql})" if plan.filter else "true"
    if plan.filter is not None:
        problems = _failure(con, path, plan.filter, where, "count(*)")
        if problems:
            return problems
    return [p for b in plan.columns for p in _failure(con, path, b, where, f"count({b.raw})")]


def _failure(
    con: duckdb.DuckDBPyConnection, path: Path, bound: Bound, where: str, value: str
) -> list[Problem]:
    def fails(lo: int, hi: int) -> str | None:
        # LIMIT keeps the optimiser from evaluating ``where`` on rows outside lo..hi
        rows = f"SELECT * FROM src WHERE x_row BETWEEN {lo} AND {hi} LIMIT {hi - lo + 1}"
        try:
            con.execute(f"SELECT {value} FROM ({rows}) WHERE {where}")
        except duckdb.Error as e:
            return first_line(e)
        return None

    rows = int(con.execute("SELECT count(*) FROM src").fetchall()[0][0])
    row = first_failing(fails, 1, rows)
    if row is None:
        return []
    return [
        Problem(
            str(path),
            row,
            bound.label,
            _cells(con, bound, row),
            _expression_failed(fails(row, row)),
        )
    ]


def first_failing(fails: Callable[[int, int], str | None], lo: int, hi: int) -> int | None:
    """The first row in ``lo..hi`` on which ``fails`` fails, by bisection; None if none alone does."""
    if lo > hi or fails(lo, hi) is None:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(lo, mid) is not None:
            hi = mid
        else:
            lo = mid + 1
    return lo if fails(lo, lo) is not None else None


def _cells(con: duckdb.DuckDBPyConnection, bound: Bound, row: int) -> str | None:
    """The source values an expression read on ``row``: ``'abc'``, or ``a='1', b='x'``."""
    if not bound.refs:
        return None
    names = ", ".join(q(r) for r in bound.refs)
    values = con.execute(f"SELECT {names} FROM src WHERE x_row = {row}").fetchall()[0]
    if len(values) == 1:
        return None if values[0] is None else str(values[0])
    return ", ".join(f"{r}={v!r}" for r, v in zip(bound.refs, values, strict=True))


def _expression_failed(message: str | None) -> str:
    return f"the mapping's expression fails on this row: {message} (the first such row)"


# --- checking every value ------------------------------------------------------------------


@contextmanager
def session_zone(con: duckdb.DuckDBPyConnection, zone: str, after: str) -> Iterator[None]:
    """Run in time zone ``zone``, then return to ``after``."""
    con.execute(f"SET TimeZone = {lit(zone)}")
    try:
        yield
    finally:
        con.execute(f"SET TimeZone = {lit(after)}")


def check(
    con: duckdb.DuckDBPyConnection, path: Path, kind: str, plan: Plan, *, naive: bool
) -> None:
    """Raise :class:`ValidationError` with every bad value (up to 20 per check, all counted).

    ``naive``: text timestamps must carry a zone; run this in :data:`PROBE_ZONE` then.
    """
    schema = SCHEMAS[kind]
    found: list[tuple[list[Problem], int]] = []
    for bound in plan.columns:
        found.append(_bad_cells(con, path, bound, schema.field(bound.target), naive))
    key = "job_id" if kind == "jobs" else "request_id"
    found.append(_duplicates(con, path, next(b for b in plan.columns if b.target == key)))
    if {"start", "end"} <= {b.target for b in plan.columns}:
        found.append(_reversed(con, path, plan))
    total = sum(n for _, n in found)
    if total:
        listed = [p for problems, _ in found for p in problems]
        raise ValidationError(sorted(listed, key=lambda p: p.row), total)


def _bad_cells(
    con: duckdb.DuckDBPyConnection, path: Path, bound: Bound, field: pa.Field, naive: bool
) -> tuple[list[Problem], int]:
    col, typed = q(bound.target), sql_type(field.type)
    cases = " ".join(
        f"WHEN {cond} THEN {lit(why)}" for cond, why in _conditions(bound, field, naive)
    )
    return _listed(
        con,
        path,
        bound.label,
        f"SELECT x_row, CAST(v AS VARCHAR) AS shown, CASE {cases} END AS why "
        f"FROM (SELECT x_row, {col} AS v, TRY_CAST({col} AS {typed}) AS t FROM mapped)",
    )


def _conditions(bound: Bound, field: pa.Field, naive: bool) -> list[tuple[str, str]]:
    """(SQL condition on ``v`` and its typed ``t``, the reason) pairs, checked in order."""
    t = field.type
    found = [] if field.nullable else [("v IS NULL", "required value is missing")]
    found.append(("v IS NOT NULL AND t IS NULL", _invalid(t)))
    if pa.types.is_int64(t):
        found.append(("TRY_CAST(v AS DOUBLE) <> t", "not a whole number"))
    if pa.types.is_float64(t):
        found.append(("NOT isfinite(t)", "not a finite number"))
    if pa.types.is_int64(t) or pa.types.is_float64(t):
        found.append(("t < 0", "must not be negative"))
    if pa.types.is_timestamp(t) and naive and bound.raw_type == "VARCHAR":
        found.append(
            (
                f"t = timezone({lit(PROBE_ZONE)}, TRY_CAST(v AS TIMESTAMP))",
                "timestamp has no time zone (add Z or an offset, or set csv.timezone in the mapping)",
            )
        )
    return found


def _invalid(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "not a timestamp (ISO 8601, e.g. 2024-05-01T12:00:00Z)"
    if pa.types.is_int64(t):
        return "not an integer"
    return "not a number" if pa.types.is_floating(t) or pa.types.is_decimal(t) else "not valid"


def _duplicates(
    con: duckdb.DuckDBPyConnection, path: Path, key: Bound
) -> tuple[list[Problem], int]:
    col = q(key.target)
    return _listed(
        con,
        path,
        key.label,
        f"SELECT x_row, shown, 'duplicate id (first on row ' || first || ')' AS why FROM ("
        f"SELECT x_row, CAST({col} AS VARCHAR) AS shown, min(x_row) OVER (PARTITION BY {col}) AS first "
        f"FROM mapped WHERE {col} IS NOT NULL) WHERE x_row > first",
    )


def _reversed(con: duckdb.DuckDBPyConnection, path: Path, plan: Plan) -> tuple[list[Problem], int]:
    end = next(b for b in plan.columns if b.target == "end")
    start, stop = 'TRY_CAST("start" AS TIMESTAMPTZ)', 'TRY_CAST("end" AS TIMESTAMPTZ)'
    return _listed(
        con,
        path,
        end.label,
        f'SELECT x_row, CAST("end" AS VARCHAR) AS shown, '
        f"'ends before it starts (start ' || CAST(\"start\" AS VARCHAR) || ')' AS why "
        f"FROM mapped WHERE {stop} < {start}",
    )


def _listed(
    con: duckdb.DuckDBPyConnection, path: Path, column: str, rows: str
) -> tuple[list[Problem], int]:
    """The first :data:`SHOWN` rows of ``rows`` (x_row, shown, why) with a reason, and their count."""
    found = con.execute(
        f"SELECT x_row, shown, why, count(*) OVER () FROM ({rows}) WHERE why IS NOT NULL "
        f"ORDER BY x_row LIMIT {SHOWN}"
    ).fetchall()
    problems = [Problem(str(path), int(n), column, shown, why) for n, shown, why, _ in found]
    return problems, int(found[0][3]) if found else 0


# --- the table ---------------------------------------------------------------------------


def output(con: duckdb.DuckDBPyConnection, kind: str, source: str, plan: Plan) -> pa.Table:
    """The mapped rows, in file order, in exactly the kind's schema; ``source`` on every row."""
    schema = SCHEMAS[kind]
    bound = {b.target for b in plan.columns}
    values = []
    for f in schema:
        if f.name == "source":
            value = lit(source)
        elif f.name == "attributes":
            value = "__attributes" if plan.attributes is not None else "NULL"
        else:
            value = q(f.name) if f.name in bound else "NULL"
        values.append(f"CAST({value} AS {sql_type(f.type)}) AS {q(f.name)}")
    fetched = con.sql(f"SELECT {', '.join(values)} FROM mapped ORDER BY x_row").to_arrow_table()
    table = normalise(fetched)
    return pa.table([table.column(f.name) for f in schema], schema=schema)


def sql_type(t: pa.DataType) -> str:
    """The DuckDB type of a usage column."""
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    return {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}[str(t)]


def first_line(error: Exception) -> str:
    """The first line of a DuckDB message (the rest repeats the SQL)."""
    return str(error).strip().splitlines()[0]
