"""Read the lake through DuckDB: a ``costs`` view over exactly the files the manifest lists."""

from __future__ import annotations

import duckdb

from costcouncil.engine.duckdb import connect
from costcouncil.schema.arrow import SOURCE_COLUMNS, SQL_TYPES, lake_columns
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.core import Workspace

_SOURCE_SQL = {"x_source_format": "VARCHAR", "x_source_file": "VARCHAR", "x_source_row": "BIGINT"}


def open_costs(workspace: Workspace, periods: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with a ``costs`` view; ``periods`` ('YYYY-MM') prunes to those slices."""
    con = connect(temp_dir=workspace.lake.root / ".spill")
    manifest = workspace.lake.read()
    files = [
        str(workspace.lake.root / f)
        for s in manifest.slices.values()
        if s.dataset == "costs" and (not periods or s.period in periods)
        for f in s.files
    ]
    con.execute(f"CREATE VIEW costs AS {_costs_sql(files)}")
    return con


def _costs_sql(files: list[str]) -> str:
    if files:
        listed = ", ".join(lit(f) for f in files)
        return f"SELECT * FROM read_parquet([{listed}])"
    typed = [f"NULL::{SQL_TYPES[c.kind]} AS {q(c.name)}" for c in lake_columns()]
    typed += [f"NULL::{_SOURCE_SQL[name]} AS {name}" for name, _ in SOURCE_COLUMNS]
    return "SELECT " + ", ".join(typed) + " WHERE false"
