"""The FinOps Foundation's FOCUS 1.0 sample (../shared/data) as typed FOCUS 1.2 relations."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from costcouncil.schema.arrow import SQL_TYPES
from costcouncil.schema.focus import FOCUS_1_2, Column

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE = SHARED_DATA / "billing" / "focus_1.0_sample.csv"


def require_sample() -> Path:
    """The sample's path, or skip the calling test with the reason."""
    if not SAMPLE.is_file():
        pytest.skip(
            f"../shared/data not found at {SHARED_DATA}; the FOCUS sample tests need "
            "billing/focus_1.0_sample.csv there (clone the shared data beside the repo)"
        )
    return SAMPLE


def _typed(c: Column, present: bool) -> str:
    name = f'"{c.name}"'
    if not present:
        return f"CAST(NULL AS {SQL_TYPES[c.kind]}) AS {name}"
    if c.kind == "datetime":
        return f"strptime({name}, '%Y-%m-%d %H:%M:%S')::TIMESTAMP AT TIME ZONE 'UTC' AS {name}"
    return f"CAST({name} AS {SQL_TYPES[c.kind]}) AS {name}"


def load_sample(
    con: duckdb.DuckDBPyConnection, table: str = "focus_sample", *, add_missing: bool = False
) -> list[str]:
    """Create ``table`` from the sample with the lake's types; return the FOCUS columns it has.

    The 1.0 sample lacks the columns 1.1 and 1.2 added; ``add_missing`` adds them as NULL (a
    naive 1.0 -> 1.2 upgrade), otherwise they are absent. The sample's non-FOCUS ``Id`` column
    is dropped. Row order is the file's.
    """
    path = require_sample()
    with path.open(newline="") as f:
        header = set(next(csv.reader(f)))
    columns = [c for c in FOCUS_1_2 if add_missing or c.name in header]
    select = ", ".join(_typed(c, c.name in header) for c in columns)
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM read_csv("
        f"'{path}', all_varchar = true, nullstr = ['NULL', ''])"
    )
    return [c.name for c in columns]


def write_focus_1_2_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """The sample as a FOCUS 1.2 CSV: all 57 columns, ISO 8601 UTC times, empty for NULL."""
    load_sample(con, "focus_sample_1_2", add_missing=True)
    select = ", ".join(
        f"strftime(\"{c.name}\" AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS \"{c.name}\""
        if c.kind == "datetime"
        else f'"{c.name}"'
        for c in FOCUS_1_2
    )
    con.execute(f"COPY (SELECT {select} FROM focus_sample_1_2) TO '{path}' (HEADER, DELIMITER ',')")
    return path
