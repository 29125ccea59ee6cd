"""The SQL that turns one source file into typed, validated FOCUS rows (pure: it only builds SQL).

Ingest types a file in one pass, streaming in bounded memory: read it (a CSV first copied as text
to Parquet in file order, see :func:`text_copy_sql`), number its data rows (``x_source_row``,
1-based, in file order), apply the converter's
expressions, type every FOCUS column, and write the rows straight to Parquet partitioned by
slice (provider, billing account, billing period: ``x_slice``) and by state (``x_state``):
``ok``, ``warned`` (stored, with a FOCUS breach that does not touch the money) or ``rejected``
(under ``x_slice=rejected``; never stored). Each row's problems are ``x_problems``: NULL for a
good row, else joined with ``\\x1e``, each problem's ``column``, ``value`` and ``reason`` joined
with ``\\x1f``; its warnings are ``x_warnings`` in the same form. Neither is written: only a file
with rejected or warned rows is read a second time, for exactly those rows' messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from costcouncil.errors import FormatError
from costcouncil.ingest.detect import Sniffed
from costcouncil.ingest.sources.base import Converter
from costcouncil.schema.arrow import SQL_TYPES, lake_columns
from costcouncil.schema.currencies import ISO_4217
from costcouncil.schema.focus import CANONICAL_VERSION, Column
from costcouncil.schema.sql import lit, q

_TZ_SUFFIX = r"([Zz]|[+-]\d\d(:?\d\d)?)$"

#: Why a timestamp without a zone is rejected; ``--assume-utc`` is its fix.
NAIVE_REASON = (
    "has no time zone (FOCUS timestamps are UTC, e.g. 2026-10-01T00:00:00Z); use --assume-utc"
)

#: Columns a row cannot be stored without: a NULL or untypable value here rejects the row. Other
#: FOCUS breaches (a NULL ContractedCost, a value outside the allowed list) keep the row and are
#: reported as warnings, so no money is dropped for a defect that does not touch it.
STORE_CRITICAL = frozenset(
    {
        "BilledCost",
        "BillingCurrency",
        "BillingAccountId",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
    }
)


@dataclass(frozen=True)
class Options:
    """How strictly to read: which zone naive timestamps are in (None: reject them)."""

    naive_timezone: str | None = None
    max_line_bytes: int = 8 * 1024 * 1024


def source_sql(sniffed: Sniffed, options: Options) -> str:
    """A DuckDB table function reading the whole file, every CSV column as VARCHAR."""
    path = lit(str(sniffed.path))
    if sniffed.container == "parquet":
        return f"read_parquet({path}, file_row_number = true)"
    return (
        f"read_csv({path}, {_csv_columns(sniffed)}, header=true, delim={lit(sniffed.delimiter)}, "
        f"quote='\"', escape='\"', nullstr=['', 'NULL'], strict_mode=true, "
        f"compression={lit(sniffed.compression if sniffed.compression != 'none' else 'auto')}, "
        f"max_line_size={options.max_line_bytes})"
    )


def _csv_columns(sniffed: Sniffed) -> str:
    """The columns as the header names them, all VARCHAR: DuckDB then samples nothing to bind.

    A header that repeats a name is left to DuckDB's detection (it renames the repeats).
    """
    if len(set(sniffed.header)) != len(sniffed.header):
        return "all_varchar=true"
    listed = ", ".join(f"{lit(name)}: 'VARCHAR'" for name in sniffed.header)
    return f"columns={{{listed}}}, auto_detect=false"


def text_copy_sql(sniffed: Sniffed, options: Options, target: Path) -> str:
    """A CSV file's rows, every column as text, copied in file order to a Parquet file.

    DuckDB parses a CSV in parallel but cannot number its rows in parallel (``row_number() OVER
    ()`` runs on one thread), so a CSV is first copied as text -- the parse, nothing more -- and
    the typing pass reads that copy with Parquet's own row numbers, on every core.
    """
    return (
        f"COPY (SELECT * FROM {source_sql(sniffed, options)}) TO {lit(str(target))} "
        "(FORMAT parquet)"
    )


def text_copy_source(target: Path) -> str:
    """The text copy of :func:`text_copy_sql`, read back with its row numbers."""
    return f"read_parquet({lit(str(target))}, file_row_number = true)"


def converted_sql(
    converter: Converter, sniffed: Sniffed, source: str, numbered: bool | None = None
) -> str:
    """``SELECT`` of every lake FOCUS column from the source, as the converter maps it.

    ``numbered``: the source has Parquet's ``file_row_number`` (default: a Parquet file does).
    """
    chosen, missing = converter.resolve(sniffed.header)
    _refuse_missing(converter, sniffed, missing)
    items = [f"{chosen.get(c.name, 'NULL::VARCHAR')} AS {q(c.name)}" for c in lake_columns()]
    parquet = sniffed.container == "parquet" if numbered is None else numbered
    rows = "file_row_number + 1" if parquet else "row_number() OVER ()"
    items.append(f"{rows} AS x_source_row")
    return "SELECT " + ",\n  ".join(items) + f"\nFROM {source}"


def _refuse_missing(
    converter: Converter, sniffed: Sniffed, missing: Mapping[str, set[str]]
) -> None:
    native = converter.name.startswith("focus-")
    from costcouncil.schema.focus import BY_NAME

    required = {
        name: cols
        for name, cols in missing.items()
        if BY_NAME[name].mandatory and (native or not BY_NAME[name].nullable)
    }
    if required:
        need = "; ".join(
            f"{name} needs {', '.join(sorted(cols))}" for name, cols in sorted(required.items())
        )
        raise FormatError(
            f"{sniffed.path}, row 0: missing mandatory column(s) for {converter.title}: {need}"
        )


def staged_sql(
    converted: str, types: Mapping[str, str], converter: Converter, options: Options
) -> str:
    """Typed FOCUS columns plus ``x_problems`` and the slice key, over ``converted``."""
    zone = converter.naive_timezone or options.naive_timezone
    typed: list[str] = []
    errors: list[Flag] = []
    warnings: list[Flag] = []
    for column in lake_columns():
        value, check = _typed(column, types[column.name], zone)
        typed.append(f"{value} AS {q(column.name)}")
        critical = column.name in STORE_CRITICAL or column.kind in _CRITICAL_KINDS
        (errors if critical else warnings).extend(check)
        warnings += _nullable_warning(column)
    keys = _slice_sql(_provider_key(converter))
    inner = ",\n  ".join(typed)
    helpers = [
        f"{h} AS {_helper_name(c)}"
        for c in lake_columns()
        if (h := _helper(c, types[c.name])) is not None
    ]
    checked = f"SELECT *, {', '.join(helpers)} FROM ({converted}) AS conv"
    return (
        f"SELECT *, {keys} FROM (SELECT {inner},\n  {_joined(errors)} AS x_problems,\n"
        f"  {_joined(warnings)} AS x_warnings, x_source_row\nFROM ({checked}) AS conv) AS typed"
    )


def _joined(flags: list[Flag]) -> str:
    """All of a row's flagged problems as one string; the message is built only for bad rows."""
    if not flags:
        return "NULL::VARCHAR"
    any_bad = " OR ".join(f"({f.condition})" for f in flags)
    messages = ", ".join(f.case() for f in flags)
    return f"CASE WHEN {any_bad} THEN NULLIF(concat_ws(chr(30), {messages}), '') END"


def _nullable_warning(column: Column) -> list[Flag]:
    if column.nullable or not column.mandatory or column.since > CANONICAL_VERSION:
        return []
    if column.name in STORE_CRITICAL:
        return []
    return [_problem(column.name, f"{q(column.name)} IS NULL", "is required by FOCUS but empty")]


def _provider_key(converter: Converter) -> str:
    if converter.provider:
        return lit(converter.provider)
    return "lower(regexp_replace(trim(\"ProviderName\"), '[^A-Za-z0-9]+', '-', 'g'))"


def _slice_sql(provider: str) -> str:
    period = "strftime(\"BillingPeriodStart\", '%Y-%m')"
    return (
        f"{provider} AS x_provider, {period} AS x_period, "
        f"md5(concat_ws('|', {provider}, \"BillingAccountId\", {period}))[:16] AS x_slice"
    )


@dataclass(frozen=True)
class Flag:
    """A problem a row may have: the SQL condition that flags it and the message it gets."""

    column: str
    condition: str
    reason: str

    def case(self) -> str:
        value = f"coalesce(CAST({q(self.column)} AS VARCHAR), '')"
        message = f"concat({lit(self.column)}, chr(31), {value}, chr(31), {lit(self.reason)})"
        return f"CASE WHEN {self.condition} THEN {message} END"


def _problem(column: str, condition: str, reason: str) -> Flag:
    return Flag(column, condition, reason)


def _typed(column: Column, source_type: str, zone: str | None) -> tuple[str, list[Flag]]:
    v = q(column.name)
    checks = []
    if column.name in STORE_CRITICAL:
        checks.append(_problem(column.name, f"{v} IS NULL", "is required but empty"))
    kind_value, kind_checks = _KIND[column.kind](column, v, source_type.upper(), zone)
    return kind_value, checks + kind_checks


def _decimal(column: Column, v: str, source_type: str, zone: str | None) -> tuple[str, list[Flag]]:
    target = SQL_TYPES["decimal"]
    typed = f"TRY_CAST({v} AS {target})"
    bad = _problem(column.name, f"{v} IS NOT NULL AND {typed} IS NULL", "is not a decimal number")
    return typed, [bad]


def _datetime(column: Column, v: str, source_type: str, zone: str | None) -> tuple[str, list[Flag]]:
    if source_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return v, []
    if source_type.startswith(("TIMESTAMP", "DATE")):
        if zone:
            return f"timezone({lit(zone)}, CAST({v} AS TIMESTAMP))", []
        return "NULL::TIMESTAMPTZ", [_problem(column.name, f"{v} IS NOT NULL", NAIVE_REASON)]
    naive = f"NOT regexp_matches({v}, {lit(_TZ_SUFFIX)})"
    typed = f"TRY_CAST({v} AS TIMESTAMPTZ)"
    if zone and zone.upper() != "UTC":
        typed = f"CASE WHEN {naive} THEN timezone({lit(zone)}, TRY_CAST({v} AS TIMESTAMP)) ELSE {typed} END"
    checks = [
        _problem(
            column.name, f"{v} IS NOT NULL AND {typed} IS NULL", "is not an ISO 8601 timestamp"
        )
    ]
    if not zone:
        checks.append(_problem(column.name, f"{v} IS NOT NULL AND {naive}", NAIVE_REASON))
    return typed, checks


def _string(column: Column, v: str, source_type: str, zone: str | None) -> tuple[str, list[Flag]]:
    typed = v if source_type == "VARCHAR" else f"CAST({v} AS VARCHAR)"
    if not column.allowed:
        return typed, []
    spelled = _helper_name(column)  # FOCUS's spelling of the value, NULL when not allowed
    reason = "is not one of: " + ", ".join(column.allowed) + " (kept as is)"
    return f"coalesce({spelled}, {typed})", [
        _problem(column.name, f"{spelled} IS NULL AND {typed} IS NOT NULL", reason),
        _problem(
            column.name,
            f"{spelled} IS DISTINCT FROM {typed}",
            "case-normalised to FOCUS's spelling",
        ),
    ]


def _currency(column: Column, v: str, source_type: str, zone: str | None) -> tuple[str, list[Flag]]:
    known = _helper_name(column)  # whether the value is an ISO 4217 code
    bad = _problem(column.name, f"NOT {known}", "is not an ISO 4217 currency code")
    return v, [bad]


def _helper_name(column: Column) -> str:
    return q(f"x$check${column.name}")


def _helper(column: Column, source_type: str) -> str | None:
    """A column's lookup, computed once per row beneath the checks that read it (or None).

    Each check reads the lookup by name, so an allowed-values list or the ISO 4217 codes appear
    once in the SQL, not once per check: the statement binds in milliseconds, not tenths.
    """
    v = q(column.name)
    if column.kind == "currency":
        codes = ", ".join(lit(c) for c in sorted(ISO_4217))
        return f"{v} IN ({codes})"
    if column.kind == "string" and column.allowed:
        typed = v if source_type.upper() == "VARCHAR" else f"CAST({v} AS VARCHAR)"
        cases = " ".join(f"WHEN {lit(a.lower())} THEN {lit(a)}" for a in column.allowed)
        return f"CASE lower(trim({typed})) {cases} END"
    return None


#: Kinds whose check failures always reject the row (the value cannot be stored typed).
_CRITICAL_KINDS = ("decimal", "datetime", "json", "currency")


def _json(column: Column, v: str, source_type: str, zone: str | None) -> tuple[str, list[Flag]]:
    typed = v if source_type == "VARCHAR" else f"CAST({v} AS VARCHAR)"
    ok = f"CASE WHEN json_valid({typed}) THEN json_type({typed}) = 'OBJECT' ELSE false END"
    return typed, [
        _problem(column.name, f"{typed} IS NOT NULL AND NOT ({ok})", "is not a JSON object")
    ]


_KIND = {
    "decimal": _decimal,
    "datetime": _datetime,
    "string": _string,
    "currency": _currency,
    "json": _json,
}


#: The ``x_slice`` of rejected rows (a slice key is 16 hex digits, so never this).
REJECTED = "rejected"
#: The ``x_state`` of stored rows: clean, and kept with a warning.
OK, WARNED = "ok", "warned"


def split_sql(staged: str, fmt: str, fingerprint: str) -> str:
    """Every row of ``staged`` as a lake row with its source columns, slice and state keys."""
    cols = ", ".join(q(c.name) for c in lake_columns())
    return (
        f"SELECT {cols}, {lit(fmt)} AS x_source_format, {lit(fingerprint)} AS x_source_file, "
        f"x_source_row, CASE WHEN x_problems IS NULL THEN x_slice ELSE {lit(REJECTED)} END "
        f"AS x_slice, CASE WHEN x_problems IS NOT NULL THEN {lit(REJECTED)} "
        f"WHEN x_warnings IS NOT NULL THEN {lit(WARNED)} ELSE {lit(OK)} END AS x_state "
        f"FROM ({staged}) AS staged"
    )


def flags_sql(staged: str) -> str:
    """The row number, problems and warnings of every flagged row of ``staged``."""
    return (
        f"SELECT x_source_row, x_problems, x_warnings FROM ({staged}) AS staged "
        "WHERE x_problems IS NOT NULL OR x_warnings IS NOT NULL"
    )


def _files(files: list[Path]) -> str:
    listed = ", ".join(lit(str(f)) for f in files)
    return f"read_parquet([{listed}], filename = true, hive_partitioning = false)"


def slices_sql(files: list[Path], converter: Converter) -> str:
    """Per slice and currency of the stored ``files``: keys, row count and cost totals."""
    sid = "regexp_extract(filename, 'x_slice=([^/]+)/', 1)"
    return (
        f'SELECT {sid} AS sid, any_value({_provider_key(converter)}), any_value("BillingAccountId"), '
        'any_value(strftime("BillingPeriodStart", \'%Y-%m\')), "BillingCurrency", count(*), '
        'sum("BilledCost"), sum("EffectiveCost"), '
        "strftime(min(\"ChargePeriodStart\"), '%Y-%m-%dT%H:%M:%SZ'), "
        "strftime(max(\"ChargePeriodEnd\"), '%Y-%m-%dT%H:%M:%SZ') "
        f'FROM {_files(files)} GROUP BY sid, "BillingCurrency" ORDER BY 1, 5'
    )


def currencies_sql(files: list[Path]) -> str:
    """Per billing account and period: the currencies of the stored rows, each one's first row."""
    firsts = (
        'SELECT "BillingAccountId" a, strftime("BillingPeriodStart", \'%Y-%m\') p, '
        f'"BillingCurrency" c, min(x_source_row) AS first FROM {_files(files)} GROUP BY ALL'
    )
    return (
        f"SELECT a, p, list(c ORDER BY first), list(first ORDER BY first) "
        f"FROM ({firsts}) GROUP BY a, p"
    )


def problems_sql(flags: Path, which: str = "x_problems") -> str:
    """One row per problem (or warning): data row, column, value, reason -- in file order."""
    exploded = (
        f"SELECT x_source_row AS row, unnest(string_split({which}, chr(30))) AS p "
        f"FROM read_parquet({lit(str(flags))}) WHERE {which} IS NOT NULL"
    )
    parts = "string_split(p, chr(31))"
    return (
        f'SELECT "row", {parts}[1] AS "column", {parts}[2] AS value, {parts}[3] AS reason '
        f'FROM ({exploded}) ORDER BY "row"'
    )


def check_converter(converter: Converter) -> None:
    """Raise if a converter names a column the lake does not have (a programming error)."""
    known = {c.name for c in lake_columns()}
    unknown = set(converter.columns) - known
    if unknown:
        raise FormatError(
            f"converter {converter.name} maps unknown FOCUS columns: {sorted(unknown)}"
        )
