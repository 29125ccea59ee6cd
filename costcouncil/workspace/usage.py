"""Ingest usage files already in CostCouncil's own usage schemas (``jobs``, ``llm``).

A file (Parquet or CSV) with the schema's columns is checked cell by cell — every value that does
not fit its column's type is reported with file, row, column and value, and the file is refused
whole — then stored in the lake as one slice ``<kind>/<fingerprint>``. Re-ingesting the same
content is a no-op. Source adapters (MLflow, Kubernetes, LiteLLM …) map their data to these
schemas; see docs/usage.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from costcouncil.engine.duckdb import connect
from costcouncil.errors import FormatError, Problem, ValidationError
from costcouncil.lake import manifest as mf
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest import fingerprint_file

SCHEMAS = {"jobs": JOBS_SCHEMA, "llm": LLM_SCHEMA}
_TIME = {"jobs": "start", "llm": "time"}


@dataclass
class UsageOutcome:
    """What happened to one usage file."""

    path: Path
    status: str  # ingested, already ingested
    rows: int


def sql_type(t: pa.DataType) -> str:
    """The DuckDB type of a usage column."""
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_decimal(t):
        return "DECIMAL(38,12)"
    return {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}[str(t)]


def ingest_usage(workspace: Workspace, kind: str, paths: Sequence[Path]) -> list[UsageOutcome]:
    """Store each file as a slice of the ``kind`` dataset; refuse a bad file with every problem."""
    if kind not in SCHEMAS:
        raise FormatError(f"unknown usage kind {kind!r} (choose one of {', '.join(SCHEMAS)})")
    lake = workspace.lake
    outcomes = []
    with lake.writer() as tx:
        manifest = lake.read()
        for path in paths:
            outcome = _one(workspace, tx.staging, manifest, kind, path)
            if outcome.status == "ingested":
                tx.place(
                    tx.staging / f"{kind}.parquet", manifest.slices[_slice_id(kind, path)].files[0]
                )
            outcomes.append(outcome)
        tx.commit(manifest, lake.read())
    return outcomes


def _slice_id(kind: str, path: Path) -> str:
    return f"{kind}/{fingerprint_file(path)}"


def _one(
    workspace: Workspace, staging: Path, manifest: mf.Manifest, kind: str, path: Path
) -> UsageOutcome:
    slice_id = _slice_id(kind, path)
    if slice_id in manifest.slices:
        return UsageOutcome(path, "already ingested", manifest.slices[slice_id].rows)
    con = connect(temp_dir=workspace.lake.root / ".spill")
    try:
        con.execute(f"CREATE VIEW raw AS SELECT * FROM {_reader(path)}")
        _check(con, kind, path)
        rows, start, end = _write(con, kind, staging / f"{kind}.parquet")
    except duckdb.Error as e:
        raise FormatError(f"{path}: cannot be read as {kind} usage ({e})") from e
    finally:
        con.close()
    now = datetime.now(UTC).isoformat()
    relative = f"{kind}/{slice_id.split('/')[1]}.parquet"
    manifest.slices[slice_id] = mf.Slice(
        slice_id, kind, kind, "", "", now, [path.name], [relative], rows, {}, start, end
    )
    return UsageOutcome(path, "ingested", rows)


def _reader(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({lit(str(path))})"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return f"read_csv({lit(str(path))}, all_varchar = true, header = true)"
    raise FormatError(f"{path}: usage files are Parquet or CSV (.parquet, .csv, .csv.gz)")


def _check(con: duckdb.DuckDBPyConnection, kind: str, path: Path) -> None:
    schema = SCHEMAS[kind]
    have = {r[0] for r in con.execute("DESCRIBE raw").fetchall()}
    problems = [
        Problem(str(path), 0, f.name, None, "required column is missing")
        for f in schema
        if not f.nullable and f.name not in have
    ]
    for f in schema:
        if f.name in have:
            problems += _bad_cells(con, path, f)
    if problems:
        raise ValidationError(problems)


def _bad_cells(con: duckdb.DuckDBPyConnection, path: Path, field: pa.Field) -> list[Problem]:
    col = q(field.name)
    typed = f"TRY_CAST({col} AS {sql_type(field.type)})"
    null_bad = "" if field.nullable else f" OR {col} IS NULL"
    rows = con.execute(
        f"SELECT n, CAST(v AS VARCHAR) FROM (SELECT row_number() OVER () AS n, {col} AS v, {typed} AS t "
        f"FROM raw) WHERE (v IS NOT NULL AND t IS NULL){null_bad.replace(col, 'v')} ORDER BY n LIMIT 20"
    ).fetchall()
    why = f"not a valid {sql_type(field.type).lower()}" if field.nullable else "required value"
    return [Problem(str(path), int(n), field.name, v, why) for n, v in rows]


def _write(con: duckdb.DuckDBPyConnection, kind: str, target: Path) -> tuple[int, str, str]:
    schema = SCHEMAS[kind]
    have = {r[0] for r in con.execute("DESCRIBE raw").fetchall()}
    cols = [
        f"CAST({q(f.name) if f.name in have else 'NULL'} AS {sql_type(f.type)}) AS {q(f.name)}"
        for f in schema
    ]
    con.execute(f"COPY (SELECT {', '.join(cols)} FROM raw) TO {lit(str(target))} (FORMAT parquet)")
    t = q(_TIME[kind])
    n, start, end = con.execute(
        f"SELECT count(*), CAST(min({t}) AS VARCHAR), CAST(max({t}) AS VARCHAR) FROM read_parquet({lit(str(target))})"
    ).fetchall()[0]
    return int(n), start or "", end or ""
