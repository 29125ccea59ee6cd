"""The generic CSV usage source: any CSV of jobs or LLM calls, declared by a YAML mapping.

``costcouncil ingest ws/ --source csv --mapping m.yaml trace.csv`` (the source's name is ``csv``;
the module is ``csvmap`` so that it never stands in for the standard library's ``csv``). The
mapping (:mod:`costcouncil.usage.mapping`) names, for each of our columns, a DuckDB SQL expression
over the file's columns, all read as text. Reading one file:

1. its header is read with the standard library's ``csv`` module, then DuckDB reads the file
   with exactly those columns (no sniffing, strict RFC 4180), adding the virtual columns
   ``x_file_stem``, ``x_file_name`` and ``x_row`` (the 1-based data row);
2. every expression is bound once: SQL DuckDB cannot parse or bind, or a source column the file
   lacks, is a :class:`~costcouncil.errors.ConfigError` naming the mapping's line and the column;
3. the filter and expressions are evaluated once into a table; an expression that fails on a
   row (a ``CAST`` of a bad cell) is reported with the first row it fails on;
4. every value is checked against its column's type with ``TRY_CAST``, as ingest checks usage
   files: each bad cell is named with file, row, column and value, and the file is refused whole;
5. the values are cast to the kind's types and returned in exactly its schema.

Naive timestamps are read in ``csv.timezone`` (the session time zone while the file is read);
without one they are refused, unless the caller assumes UTC. A text value counts as naive when
DuckDB reads it differently in two time zones.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa

from costcouncil.documents import raise_problems
from costcouncil.engine.base import normalise
from costcouncil.engine.duckdb import connect
from costcouncil.errors import ConfigError, FormatError, Problem, ValidationError
from costcouncil.schema.sql import lit, q
from costcouncil.usage.base import SCHEMAS, SourceOptions, UsageSource
from costcouncil.usage.mapping import CsvMapping, CsvOptions, load_mapping

#: Columns every row has besides the file's own.
VIRTUAL = ("x_file_stem", "x_file_name", "x_row")
#: An offset no time zone uses: a naive time read in it never equals a zoned reading of the text.
PROBE_ZONE = "GMT+13:47"
#: Bad cells listed per column (the total is always counted).
SHOWN = 20
_NAIVE_TYPES = ("TIMESTAMP", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")


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


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """Read one CSV with the mapping ``options.mapping`` into its kind's table."""
    if path is None:
        raise FormatError("source 'csv' reads files: name at least one CSV")
    if options.mapping is None:
        raise ConfigError("--source csv needs --mapping MAPPING.yaml (see docs/sources/csv.md)")
    if options.labels:
        raise ConfigError("--label does not apply to --source csv: map owner keys in the mapping")
    mapping = load_mapping(options.mapping)
    zone = mapping.spec.csv.timezone or ("UTC" if options.assume_utc else None)
    con = connect()
    try:
        return _read(con, path, mapping, zone)
    finally:
        con.close()


def _read(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: CsvMapping, zone: str | None
) -> pa.Table:
    con.execute(f"SET TimeZone = {lit(zone or 'UTC')}")
    header = _open(con, path, mapping.spec.csv)
    plan = _bind(con, path, mapping, header, zone)
    _evaluate(con, path, mapping, plan)
    with _session_zone(con, zone or PROBE_ZONE):
        _check(con, path, mapping, plan, naive=zone is None)
    return _output(con, mapping, plan)


# --- 1. the file ---------------------------------------------------------------------------


def _open(con: duckdb.DuckDBPyConnection, path: Path, options: CsvOptions) -> tuple[str, ...]:
    """Load the file into the table ``src``; its columns (header names) are returned."""
    header = read_header(path, options)
    reserved = sorted(set(header) & set(VIRTUAL))
    if reserved:
        raise FormatError(f"{path}: has columns named {', '.join(reserved)}, which the CSV source adds")
    stem, name = file_stem(path), path.name
    virtual = f"{lit(stem)} AS x_file_stem, {lit(name)} AS x_file_name, row_number() OVER () AS x_row"
    try:
        con.execute(
            f"CREATE TEMP TABLE src AS SELECT *, {virtual} FROM {_reader(path, options, header)}"
        )
    except duckdb.Error as e:
        raise FormatError(f"{path}: {_csv_error(e)}{_dialect(path, options)}") from e
    return header


def read_header(path: Path, options: CsvOptions) -> tuple[str, ...]:
    """The column names: the header row's (an empty name is ``column<i>``), else ``column1…``."""
    try:
        with _text(path, options) as f:
            for _ in range(options.skip):
                f.readline()
            first = next(csv.reader(f, delimiter=options.separator(path), quotechar=options.quote))
    except StopIteration:
        raise FormatError(f"{path}: is empty (expected a CSV{_dialect(path, options)})") from None
    except (OSError, UnicodeError, csv.Error, EOFError) as e:
        raise FormatError(f"{path}: cannot be read as CSV ({e}){_dialect(path, options)}") from e
    names = tuple(
        n.strip() if options.header and n.strip() else f"column{i}" for i, n in enumerate(first, 1)
    )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FormatError(f"{path}: the header names {', '.join(map(repr, twice))} more than once")
    return names


def _text(path: Path, options: CsvOptions) -> IO[str]:
    encoding = "utf-8-sig" if options.encoding == "utf-8" else options.encoding
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def file_stem(path: Path) -> str:
    """``vc6YE.csv`` -> ``vc6YE``; ``calls.csv.gz`` -> ``calls``."""
    name = path.name[: -len(".gz")] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def _reader(path: Path, options: CsvOptions, header: tuple[str, ...]) -> str:
    columns = ", ".join(f"{lit(n)}: 'VARCHAR'" for n in header)
    nulls = ", ".join(lit(s) for s in ["", *options.null])
    settings = {
        "columns": f"{{{columns}}}",
        "header": "true" if options.header else "false",
        "skip": str(options.skip),
        "delim": lit(options.separator(path)),
        "quote": lit(options.quote),
        "escape": lit(options.escape or options.quote),
        "nullstr": f"[{nulls}]",
        "encoding": lit(options.encoding),
    }
    given = "".join(f", {k} = {v}" for k, v in settings.items())
    return f"read_csv({lit(str(path))}, auto_detect = false, strict_mode = true{given})"


def _csv_error(error: duckdb.Error) -> str:
    """DuckDB's CSV error without its list of fixes (they name DuckDB options, not ours)."""
    lines = [line.strip() for line in str(error).splitlines()]
    kept = [line for line in lines[: lines.index("Possible fixes:")] if line] if (
        "Possible fixes:" in lines
    ) else lines[:3]
    return "; ".join(kept)


def _dialect(path: Path, options: CsvOptions) -> str:
    shown = "tab" if options.separator(path) == "\t" else repr(options.separator(path))
    header = "a header row" if options.header else "no header row"
    return (
        f" — the mapping reads {options.encoding} text separated by {shown}, quoted with "
        f"{options.quote!r}, with {header}; set csv.delimiter, csv.quote or csv.header to match"
    )


# --- 2. binding the mapping to the file ----------------------------------------------------


def _bind(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    mapping: CsvMapping,
    header: tuple[str, ...],
    zone: str | None,
) -> Plan:
    """Every expression checked against the file; :class:`ConfigError` lists each that fails."""
    binder = _Binder(con, path, mapping, header, zone)
    columns = tuple(binder.column(f) for f in SCHEMAS[mapping.spec.kind] if f.name in mapping.spec.columns)
    where = binder.filter()
    attributes = binder.attributes([b for b in (*columns, where) if b is not None])
    raise_problems(mapping.document, binder.problems)
    return Plan(tuple(b for b in columns if b is not None), where, attributes)


class _Binder:
    """Binds expressions to ``src``, collecting a message for each that does not bind."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        mapping: CsvMapping,
        header: tuple[str, ...],
        zone: str | None,
    ) -> None:
        self.con, self.path, self.mapping = con, path, mapping
        self.header, self.zone = header, zone
        self.problems: list[str] = []

    def column(self, field: pa.Field) -> Bound | None:
        """Our column ``field`` bound, or None (and a problem) when it does not bind."""
        where = self.mapping.where("columns", field.name)
        bound = self._bind(field.name, self.mapping.sql(field.name), where, sql_type(field.type))
        if bound is not None and pa.types.is_timestamp(field.type):
            self._naive_type(bound, where)
        return bound

    def filter(self) -> Bound | None:
        text = self.mapping.spec.filter
        if text is None:
            return None
        return self._bind("filter", self.mapping.substitute(text), self.mapping.where("filter"), "BOOLEAN")

    def attributes(self, used: list[Bound]) -> str | None:
        """The SQL of the ``attributes`` JSON: the chosen (or every unused) source column."""
        choice = self.mapping.spec.attributes
        if choice == "none":
            return None
        if choice == "unmapped":
            refs = {r.lower() for b in used for r in b.refs}
            return json_object([h for h in self.header if h.lower() not in refs])
        for i, name in enumerate(choice):
            if name not in self.header:
                self.problems.append(f"{self.mapping.where('attributes', i)}: {self._absent(name)}")
        return json_object([n for n in choice if n in self.header])

    def _bind(self, target: str, sql: str, where: str, typed: str) -> Bound | None:
        try:
            refs = references(self.con, sql)
        except ValueError as e:
            self.problems.append(f"{where}: {e}")
            return None
        missing = [r for r in refs if r.lower() not in {n.lower() for n in (*self.header, *VIRTUAL)}]
        if missing:
            self.problems += [f"{where}: {self._absent(r)}" for r in missing]
            return None
        try:
            raw_type = self._type(sql, typed)
        except duckdb.Error as e:
            self.problems.append(f"{where}: DuckDB cannot evaluate {sql!r}: {first_line(e)}")
            return None
        return Bound(target, sql, raw_type, refs)

    def _type(self, sql: str, typed: str) -> str:
        described = self.con.execute(
            f"DESCRIBE SELECT x_row, ({sql}) AS v, TRY_CAST(({sql}) AS {typed}) AS t FROM src"
        ).fetchall()
        return str(described[1][1])

    def _naive_type(self, bound: Bound, where: str) -> None:
        if self.zone is None and bound.raw_type in _NAIVE_TYPES:
            self.problems.append(
                f"{where}: gives {bound.raw_type} values, which have no time zone — set "
                "csv.timezone (e.g. UTC) to say which zone they are in"
            )

    def _absent(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.header, n=5, cutoff=0.6)
        if not close:
            close = [h for h in self.header if h.lower() == name.lower()]
        hint = f" — did you mean {', '.join(map(repr, close))}?" if close else ""
        return (
            f"source column {name!r} is not in {self.path.name}{hint} "
            f"(its columns: {_shown(self.header)}){self._one_column_hint()}"
        )

    def _one_column_hint(self) -> str:
        if len(self.header) != 1:
            return ""
        return " — the file read as a single column: is csv.delimiter right?"


def _shown(names: tuple[str, ...], limit: int = 12) -> str:
    more = f", … ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def sql_type(t: pa.DataType) -> str:
    """The DuckDB type of a usage column."""
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    return {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}[str(t)]


def references(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[str, ...]:
    """The column names one SQL expression reads, from DuckDB's own parse of it.

    Raises ValueError when ``sql`` is not exactly one expression.
    """
    parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"SELECT ({sql}) AS v"]).fetchone()[0])  # type: ignore[index]
    statements = parsed.get("statements") or []
    if parsed.get("error") or len(statements) != 1:
        reason = parsed.get("error_message") or "several statements"
        raise ValueError(f"not one SQL expression ({reason}): {sql!r}")
    node = statements[0]["node"]
    if len(node["select_list"]) != 1 or node["from_table"]["type"] != "EMPTY" or node["where_clause"]:
        raise ValueError(f"not one SQL expression: {sql!r}")
    found: dict[str, None] = {}
    _collect(node["select_list"], found)
    return tuple(found)


def _collect(node: Any, found: dict[str, None]) -> None:
    if isinstance(node, dict):
        if node.get("class") == "COLUMN_REF":
            found[node["column_names"][-1]] = None
        for value in node.values():
            _collect(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect(value, found)


def json_object(names: list[str]) -> str | None:
    """SQL of a JSON object of the named columns (sorted keys, null values left out)."""
    if not names:
        return None
    pairs = ", ".join(f"{lit(n)}, {q(n)}" for n in sorted(names))
    return f"NULLIF(CAST(json_merge_patch('{{}}', json_object({pairs})) AS VARCHAR), '{{}}')"


def first_line(error: Exception) -> str:
    """The first line of a DuckDB message (the rest repeats the SQL)."""
    return str(error).strip().splitlines()[0]


# --- 3. evaluating -------------------------------------------------------------------------


def _evaluate(con: duckdb.DuckDBPyConnection, path: Path, mapping: CsvMapping, plan: Plan) -> None:
    """Evaluate the filter and every expression once into the table ``mapped``."""
    values = [f"{b.raw} AS {q(b.target)}" for b in plan.columns]
    if plan.attributes is not None:
        values.append(f"{plan.attributes} AS __attributes")
    where = f" WHERE ({plan.filter.sql})" if plan.filter else ""
    try:
        con.execute(f"CREATE TEMP TABLE mapped AS SELECT x_row, {', '.join(values)} FROM src{where}")
    except duckdb.Error as e:
        problems = _failures(con, path, plan)
        raise ValidationError(problems or [Problem(str(path), 0, "", None, first_line(e))]) from e


def _failures(con: duckdb.DuckDBPyConnection, path: Path, plan: Plan) -> list[Problem]:
    """For the filter and each expression that fails on some row: the first such row."""
    where = f"({plan.filter.sql})" if plan.filter else "true"
    problems = []
    if plan.filter is not None:
        problems += _failure(con, path, plan.filter, "true", "count(*)")
    if problems:
        return problems
    for bound in plan.columns:
        problems += _failure(con, path, bound, where, f"count({bound.raw})")
    return problems


def _failure(
    con: duckdb.DuckDBPyConnection, path: Path, bound: Bound, where: str, value: str
) -> list[Problem]:
    def fails(lo: int, hi: int) -> str | None:
        try:
            con.execute(f"SELECT {value} FROM src WHERE x_row BETWEEN {lo} AND {hi} AND {where}")
        except duckdb.Error as e:
            return first_line(e)
        return None

    rows = int(con.execute("SELECT count(*) FROM src").fetchall()[0][0])
    row = first_failing(fails, 1, rows)
    if row is None:
        return []
    return [Problem(str(path), row, bound.label, _cells(con, bound, row), _expression_failed(fails(row, row)))]


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


# --- 4. checking every value ---------------------------------------------------------------


@contextmanager
def _session_zone(con: duckdb.DuckDBPyConnection, zone: str) -> Iterator[None]:
    con.execute(f"SET TimeZone = {lit(zone)}")
    try:
        yield
    finally:
        con.execute("SET TimeZone = 'UTC'")


def _check(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: CsvMapping, plan: Plan, *, naive: bool
) -> None:
    """Raise :class:`ValidationError` with every bad value (up to 20 per column, all counted)."""
    schema = SCHEMAS[mapping.spec.kind]
    found: list[tuple[list[Problem], int]] = []
    for bound in plan.columns:
        found.append(_bad_cells(con, path, bound, schema.field(bound.target), naive))
    key = "job_id" if mapping.spec.kind == "jobs" else "request_id"
    found.append(_duplicates(con, path, next(b for b in plan.columns if b.target == key)))
    if {"start", "end"} <= {b.target for b in plan.columns}:
        found.append(_reversed(con, path, plan))
    total = sum(n for _, n in found)
    if total:
        raise ValidationError([p for problems, _ in found for p in problems], total)


def _bad_cells(
    con: duckdb.DuckDBPyConnection, path: Path, bound: Bound, field: pa.Field, naive: bool
) -> tuple[list[Problem], int]:
    col, typed = q(bound.target), sql_type(field.type)
    cases = " ".join(f"WHEN {cond} THEN {lit(why)}" for cond, why in _conditions(bound, field, naive))
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


def _duplicates(con: duckdb.DuckDBPyConnection, path: Path, key: Bound) -> tuple[list[Problem], int]:
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
        f"SELECT x_row, CAST(\"end\" AS VARCHAR) AS shown, "
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


# --- 5. the table --------------------------------------------------------------------------


def _output(con: duckdb.DuckDBPyConnection, mapping: CsvMapping, plan: Plan) -> pa.Table:
    """The mapped rows, in file order, in exactly the kind's schema."""
    schema = SCHEMAS[mapping.spec.kind]
    bound = {b.target for b in plan.columns}
    values = []
    for f in schema:
        if f.name == "source":
            value = lit(mapping.source)
        elif f.name == "attributes":
            value = "__attributes" if plan.attributes is not None else "NULL"
        else:
            value = q(f.name) if f.name in bound else "NULL"
        values.append(f"CAST({value} AS {sql_type(f.type)}) AS {q(f.name)}")
    fetched = con.execute(f"SELECT {', '.join(values)} FROM mapped ORDER BY x_row").fetch_arrow_table()
    table = normalise(fetched)
    return pa.table([table.column(f.name) for f in schema], schema=schema)


SOURCES = (
    UsageSource(
        name="csv",
        kind=None,
        title="any CSV of jobs or LLM calls, with a YAML mapping",
        read=read,
    ),
)
