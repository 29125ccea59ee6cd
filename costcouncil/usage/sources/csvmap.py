"""The generic CSV usage source: any CSV of jobs or LLM calls, declared by a YAML mapping.

``costcouncil ingest ws/ --source csv --mapping m.yaml trace.csv`` (the source's name is ``csv``;
the module is ``csvmap`` so that it never stands in for the standard library's ``csv``). The
mapping (:mod:`costcouncil.usage.mapping`) names, for each of our columns, a DuckDB SQL expression
over the file's columns, all read as text. Reading one file:

1. DuckDB loads it as the mapping's ``csv:`` options say (:mod:`costcouncil.usage.csvfile`);
2. every expression is bound to it here: SQL DuckDB cannot parse or bind, a source column the
   file lacks, or naive timestamps without ``csv.timezone``, is a
   :class:`~costcouncil.errors.ConfigError` naming the mapping's line and our column;
3. the filter and expressions are evaluated once, every value is checked against its column's
   type, and the rows are typed into exactly the kind's schema (:mod:`costcouncil.usage.evaluate`).

Naive timestamps are read in ``csv.timezone`` (the session time zone while the file is read);
without one they are refused, unless the caller assumes UTC (``--assume-utc``).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from costcouncil.documents import raise_problems
from costcouncil.engine.duckdb import connect
from costcouncil.errors import ConfigError, FormatError
from costcouncil.schema.sql import lit, q
from costcouncil.usage.base import SCHEMAS, SourceOptions, UsageSource
from costcouncil.usage.csvfile import VIRTUAL, load_csv
from costcouncil.usage.evaluate import (
    PROBE_ZONE,
    Bound,
    Plan,
    check,
    evaluate,
    first_line,
    output,
    session_zone,
    sql_type,
)
from costcouncil.usage.mapping import CsvMapping, load_mapping

_NAIVE_TYPES = ("TIMESTAMP", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")


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
    reading = zone or "UTC"
    con.execute(f"SET TimeZone = {lit(reading)}")
    header = load_csv(con, path, mapping.spec.csv)
    plan = _bind(con, path, mapping, header, zone)
    evaluate(con, path, plan)
    with session_zone(con, zone or PROBE_ZONE, reading):
        check(con, path, mapping.spec.kind, plan, naive=zone is None)
    return output(con, mapping.spec.kind, mapping.source, plan)


def _bind(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    mapping: CsvMapping,
    header: tuple[str, ...],
    zone: str | None,
) -> Plan:
    """Every expression checked against the file; :class:`ConfigError` lists each that fails."""
    binder = _Binder(con, path, mapping, header, zone)
    columns = tuple(
        binder.column(f) for f in SCHEMAS[mapping.spec.kind] if f.name in mapping.spec.columns
    )
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
        typed = sql_type(field.type)
        bound = self._bind(field.name, self.mapping.sql(field.name), where, typed)
        if bound is not None and pa.types.is_timestamp(field.type):
            self._naive_type(bound, where)
        if bound is not None and self.mapping.spec.columns[field.name].value is not None:
            self._constant(bound, where, typed)
        return bound

    def filter(self) -> Bound | None:
        text = self.mapping.spec.filter
        if text is None:
            return None
        return self._bind(
            "filter", self.mapping.substitute(text), self.mapping.where("filter"), "BOOLEAN"
        )

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
        known = {n.lower() for n in (*self.header, *VIRTUAL)}
        try:
            raw_type = self._type(sql, typed)
        except duckdb.Error as e:
            missing = [r for r in refs if r.lower() not in known]
            self.problems += [f"{where}: {self._absent(r)}" for r in missing] or [
                f"{where}: DuckDB cannot evaluate {sql!r}: {first_line(e)}"
            ]
            return None
        return Bound(target, sql, raw_type, tuple(r for r in refs if r.lower() in known))

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

    def _constant(self, bound: Bound, where: str, typed: str) -> None:
        [(ok,)] = self.con.execute(
            f"SELECT TRY_CAST({bound.sql} AS {typed}) IS NOT NULL"
        ).fetchall()
        if not ok:
            self.problems.append(f"{where}: the value {bound.sql} is not a valid {typed.lower()}")

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


def references(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[str, ...]:
    """The column names one SQL expression reads, from DuckDB's own parse of it.

    Raises ValueError when ``sql`` is not exactly one expression.
    """
    [(text,)] = con.execute("SELECT json_serialize_sql(?)", [f"SELECT ({sql}) AS v"]).fetchall()
    parsed = json.loads(text)
    statements = parsed.get("statements") or []
    if parsed.get("error") or len(statements) != 1:
        reason = parsed.get("error_message") or "several statements"
        raise ValueError(f"not one SQL expression ({reason}): {sql!r}")
    node = statements[0]["node"]
    if (
        len(node["select_list"]) != 1
        or node["from_table"]["type"] != "EMPTY"
        or node["where_clause"]
    ):
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


SOURCES = (
    UsageSource(
        name="csv",
        kind=None,
        title="any CSV of jobs or LLM calls, with a YAML mapping",
        read=read,
    ),
)
