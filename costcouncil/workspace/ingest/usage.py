"""Ingest usage files already in CostCouncil's own usage schemas (``jobs``, ``llm``).

A file (Parquet or CSV) with the schema's columns is checked cell by cell — every value that does
not fit its column's type is reported with file, row, column and value, and the file is refused
whole — then stored in the lake as one slice ``<kind>/<fingerprint>``. Re-ingesting the same
content is a no-op. Source adapters (MLflow, Kubernetes, LiteLLM …) map their data to these
schemas; see docs/usage.md.
"""

from __future__ import annotations

import difflib
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
import pyarrow.parquet as pq

from costcouncil.engine.duckdb import connect
from costcouncil.errors import FormatError, Problem, ValidationError
from costcouncil.lake import manifest as mf
from costcouncil.lake.store import Transaction
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.usage.base import SourceOptions, UsageSource
from costcouncil.usage.sources import REGISTRY
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import fingerprint_file

SCHEMAS = {"jobs": JOBS_SCHEMA, "llm": LLM_SCHEMA}
_TIME = {"jobs": "start", "llm": "time"}


@dataclass
class UsageOutcome:
    """What happened to one usage file."""

    path: Path
    status: str  # ingested, already ingested, replaced, unchanged
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


def ingest_source(
    workspace: Workspace, name: str, paths: Sequence[Path], options: SourceOptions
) -> list[UsageOutcome]:
    """Read each input with usage source ``name`` and store it as one slice of its kind.

    A file is one slice keyed by source and content: re-ingesting it is a no-op, and ingesting it
    again with other options (``--label``) replaces what it gave before. A snapshot source (MLflow)
    has one slice per origin, replaced by every read. Nothing is stored unless every input reads
    cleanly: one bad file raises and the lake stays as it was.
    """
    source = _source(name)
    inputs: list[Path | None] = list(paths) if source.needs_file else [None]
    if source.needs_file and not paths:
        raise FormatError(f"source {name!r} reads files: name at least one")
    lake = workspace.lake
    with lake.writer() as tx:
        manifest = lake.read()
        outcomes = [_store(tx, manifest, source, path, options) for path in inputs]
        tx.commit(manifest, lake.read())
    return outcomes


def _source(name: str) -> UsageSource:
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, REGISTRY, n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    raise FormatError(
        f"unknown usage source {name!r}{hint} (choose one of {', '.join(sorted(REGISTRY))})"
    )


def _store(
    tx: Transaction,
    manifest: mf.Manifest,
    source: UsageSource,
    path: Path | None,
    options: SourceOptions,
) -> UsageOutcome:
    key, origin = _key(source, path, options)
    shown = path or Path(origin)
    mapping = (
        options.mapping.read_bytes().hex() if options.mapping and options.mapping.exists() else ""
    )
    settings = _digest(repr(sorted(options.labels.items())), mapping)
    old = next((s for s in manifest.slices.values() if s.slice_id.endswith(f"/{key}")), None)
    if path is not None and old is not None and old.billing_account == settings:
        return UsageOutcome(shown, "already ingested", old.rows)
    table = source.read(path, options)
    kind = "jobs" if table.schema.equals(JOBS_SCHEMA) else "llm"
    content = _table_digest(table)
    if (
        old is not None
        and old.billing_account == settings
        and old.totals.get("content") == {"digest": content}
    ):
        return UsageOutcome(shown, "unchanged", old.rows)
    if old is not None:
        del manifest.slices[old.slice_id]
    relative = f"{kind}/{key}-{content[:12]}.parquet"
    staged = tx.staging / f"{content}.parquet"
    pq.write_table(table, staged)
    tx.place(staged, relative)
    manifest.slices[f"{kind}/{key}"] = _slice(
        f"{kind}/{key}", kind, source.name, settings, origin, relative, table, content
    )
    return UsageOutcome(shown, "replaced" if old else "ingested", table.num_rows)


def _slice(
    slice_id: str,
    kind: str,
    source: str,
    settings: str,
    origin: str,
    relative: str,
    table: pa.Table,
    content: str,
) -> mf.Slice:
    times = table.column(_TIME[kind])
    start, end = (pc.min(times).as_py(), pc.max(times).as_py())
    return mf.Slice(
        slice_id,
        kind,
        source,
        settings,
        "",
        datetime.now(UTC).isoformat(),
        [origin],
        [relative],
        table.num_rows,
        {"content": {"digest": content}},
        start.isoformat() if start else "",
        end.isoformat() if end else "",
    )


def _key(source: UsageSource, path: Path | None, options: SourceOptions) -> tuple[str, str]:
    """The slice key of one input (source + file content, or source + origin) and its name."""
    if path is not None:
        return f"{source.name}-{fingerprint_file(path)}", path.name
    origin = options.tracking_uri or source.name
    return f"{source.name}-{_digest(origin, *options.experiments)[:16]}", origin


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _table_digest(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.blake2b(sink.getvalue().to_pybytes(), digest_size=16).hexdigest()


def store_tables(workspace: Workspace, tables: Sequence[tuple[str, pa.Table, str]]) -> None:
    """Store usage tables made elsewhere (live events) as slices ``<kind>/<key>``, in one commit.

    Each item is (key, table of the jobs or llm schema, origin); a slice with the same id is
    replaced. The key must be unique to the content (live events: the log segment's name).
    """
    lake = workspace.lake
    with lake.writer() as tx:
        manifest = lake.read()
        for key, table, origin in tables:
            kind = "jobs" if table.schema.equals(JOBS_SCHEMA) else "llm"
            content = uuid.uuid4().hex  # made once, never re-read: no need to hash the content
            relative = f"{kind}/{key}-{content[:12]}.parquet"
            staged = tx.staging / f"{content}.parquet"
            pq.write_table(table, staged)
            tx.place(staged, relative)
            slice_id = f"{kind}/{key}"
            manifest.slices[slice_id] = _slice(
                slice_id, kind, key.split("-")[0], "", origin, relative, table, content
            )
        tx.commit(manifest, lake.read())
