"""Differential tests: the fast engine against the slow, exact reference, on generated scenarios.

Every scenario Hypothesis draws (charges, jobs, LLM requests, prices, rules of every kind) must
give the same allocation rows to the last digit on DuckDB as ``reference.allocate``; a smaller
sample runs on Spark too. Conservation is checked inside the pipeline on every run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costcouncil.engine.duckdb import DuckDBEngine
from tests.attribution import harness, reference
from tests.attribution.strategies import Scenario, scenarios


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(scope="module")
def duck() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.close()


def _compare(engine: object, scenario: Scenario, split_parts: int = 1) -> None:
    expected = reference.allocate(**scenario.reference_inputs())
    actual, _ = harness.run(
        engine,  # type: ignore[arg-type]
        scenario.tables(),
        scenario.rules,
        scenario.owner_keys,
        scenario.aliases,
        split_parts,
    )
    keys = list(scenario.rules.get("owner_keys") or scenario.owner_keys)
    harness.assert_same(actual, expected.allocations, keys)


@_settings(150)
@given(scenario=scenarios())
def test_duckdb_equals_reference(duck: DuckDBEngine, scenario: Scenario) -> None:
    _compare(duck, scenario)


@_settings(60)
@given(scenario=scenarios(), parts=st.integers(min_value=2, max_value=5))
def test_jobs_split_in_parts_equals_reference(
    duck: DuckDBEngine, scenario: Scenario, parts: int
) -> None:
    """The jobs join run in parts by time (bounded memory) gives the same rows."""
    _compare(duck, scenario, parts)


@_settings(8)
@given(scenario=scenarios(max_rows=5))
def test_spark_equals_reference(spark_engine: object, scenario: Scenario) -> None:
    _compare(spark_engine, scenario)
