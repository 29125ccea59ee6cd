"""Engines for the conformance suite: DuckDB, and Spark once per test process (it starts in seconds).

The ``engine`` fixture runs a test on each engine; Spark is skipped, with the reason, only where
no Java 17+ is installed (CI installs it with ``scripts/java.sh``). ``-m "not spark"`` leaves
Spark out on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costcouncil.engine.base import Engine
from costcouncil.engine.duckdb import DuckDBEngine


@pytest.fixture(scope="session")
def reference() -> Iterator[Engine]:
    """DuckDB, the reference every engine's result is compared with."""
    duck = DuckDBEngine()
    yield duck
    duck.close()
