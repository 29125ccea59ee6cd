"""Shared fixtures: a fresh workspace, the shared real-data folder (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from costcouncil.engine.base import Engine
from costcouncil.engine.duckdb import DuckDBEngine
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


#: Test data is tiny: one shuffle partition, and a JVM tuned to start fast rather than run long
#: (C1 compiler only, serial GC) — about half the Spark suite's time on a small machine.
FAST_SMALL_SPARK = {
    "spark.sql.shuffle.partitions": "1",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Engine]:
    """The one SparkEngine of this test process (each xdist worker makes at most one)."""
    from costcouncil.engine.spark import SparkEngine, java_version  # pyspark only when needed

    version = java_version()
    if version is None or version < 17:
        found = "no Java found" if version is None else f"found Java {version}"
        pytest.skip(f"Spark needs Java 17+ ({found}); install it with scripts/java.sh")
    engine = SparkEngine("local[2]", conf=FAST_SMALL_SPARK)
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine in turn; tests written against this fixture are the conformance suite."""
    if request.param == "spark":
        yield request.getfixturevalue("spark_engine")
        return
    duck = DuckDBEngine()
    yield duck
    duck.close()
