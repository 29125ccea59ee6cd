"""A file larger than the memory limit streams through: DuckDB spills, nothing is lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from costcouncil.demo import DemoSpec, generate_costs
from costcouncil.schema.arrow import TIMESTAMP


def _demo_csv(path: Path, rows: int) -> None:
    writer = None
    for _, _, batch in generate_costs(DemoSpec(rows=rows, seed=3, months=1)):
        arrays = [
            pc.strftime(c, format="%Y-%m-%dT%H:%M:%SZ") if c.type == TIMESTAMP else c
            for c in batch.columns
        ]
        text = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
        writer = writer or pacsv.CSVWriter(path, text.schema)
        writer.write_batch(text)
    assert writer is not None
    writer.close()


@pytest.mark.slow
def test_a_file_larger_than_the_memory_limit_ingests(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    _demo_csv(source, 1_150_000)
    assert source.stat().st_size > 1024**3  # larger than the memory limit below
    code = (
        "import sys; from costcouncil.cli.main import app; "
        "app(['init', sys.argv[2]], standalone_mode=False); app(sys.argv[1:])"
    )
    env = os.environ | {"COSTCOUNCIL_MEMORY_LIMIT": "1GB"}
    ws = tmp_path / "ws"
    result = subprocess.run(
        [sys.executable, "-c", code, "ingest", str(ws), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    con = duckdb.connect()
    expected = con.execute(
        f"SELECT count(*), sum(BilledCost::DECIMAL(38,12)) FROM "
        f"read_csv('{source}', all_varchar=true)"
    ).fetchone()
    got = con.execute(
        f"SELECT count(*), sum(BilledCost) FROM '{ws}/lake/costs/**/*.parquet'"
    ).fetchone()
    assert got == expected
