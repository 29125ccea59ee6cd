"""Shared fixtures: a fresh workspace, the shared real-data folder (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from costcouncil.workspace.core import Workspace

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws", name="test")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real data not found at {SHARED_DATA} (../shared/data beside the checkout); "
            "these tests run in CI where it is present"
        )
    return SHARED_DATA


def lake_rows(
    workspace: Workspace, sql: str = "SELECT count(*), sum(BilledCost) FROM costs"
) -> list[tuple[object, ...]]:
    """Run ``sql`` over the lake's ``costs`` (exactly the manifest's files)."""
    files = [str(p) for p in workspace.lake.data_paths()]
    con = duckdb.connect()
    if files:
        con.execute(f"CREATE VIEW costs AS SELECT * FROM read_parquet({files!r})")
    else:
        con.execute("CREATE VIEW costs AS SELECT 0::DECIMAL(38,12) AS BilledCost WHERE false")
    return [tuple(r) for r in con.execute(sql).fetchall()]
