"""One Spark engine per test process (a Spark session takes seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costcouncil.engine.base import Engine


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Engine]:
    from costcouncil.engine.spark import SparkEngine
    from costcouncil.errors import EngineError

    try:
        engine = SparkEngine("local[2]")
    except EngineError as e:  # Java missing on a developer machine; `make test` installs it
        pytest.skip(f"Spark is not available here ({e}); `make test` installs Java 17")
    yield engine
    engine.close()
