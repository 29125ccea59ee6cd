"""Run one file through ingest's stage pass in memory, without a workspace (for converter tests)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from costcouncil.engine.duckdb import connect
from costcouncil.ingest import plan
from costcouncil.ingest.detect import detect, sniff
from costcouncil.ingest.sources import REGISTRY

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def staged(path: Path, fmt: str | None = None, assume_utc: bool = False) -> pa.Table:
    """Every row of ``path`` as staged: typed FOCUS columns, ``x_problems`` and the slice key."""
    con = connect()
    sql = staged_query(con, path, fmt, assume_utc)
    return con.sql(sql).to_arrow_table()


def staged_query(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str | None = None, assume_utc: bool = False
) -> str:
    sniffed = sniff(path)
    converter = REGISTRY[fmt] if fmt else detect(sniffed, REGISTRY)
    options = plan.Options(naive_timezone="UTC" if assume_utc else None)
    converted = plan.converted_sql(converter, sniffed, plan.source_sql(sniffed, options))
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {converted}").fetchall()}
    return plan.staged_sql(converted, types, converter, options)


def problems(table: pa.Table, column: str = "x_problems") -> list[str]:
    """The non-null ``x_problems`` (or ``x_warnings``) of a staged table, as readable strings."""
    if column not in table.column_names:
        return []
    out = []
    for value in table.column(column).to_pylist():
        if value:
            out += [" | ".join(p.split("\x1f")) for p in value.split("\x1e")]
    return out


def warnings(table: pa.Table) -> list[str]:
    return problems(table, "x_warnings")


def need(path: Path) -> None:
    """Skip unless a shared real-data file is there."""
    if not path.exists():
        pytest.skip(f"shared sample {path} is absent (checkout without ../shared/data)")
