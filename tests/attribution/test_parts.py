"""A large period's parts are ranges of row ids: disjoint, covering every id, about equal."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.attribution.parts import BUCKET, bind_sql, bounds_stage, placeholder
from costcouncil.engine.duckdb import DuckDBEngine
from costcouncil.errors import AttributionError

ids = st.lists(st.integers(min_value=1, max_value=2**42), min_size=0, max_size=300, unique=True)


@pytest.fixture(scope="module")
def engine() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.con.close()


def _membership(engine: DuckDBEngine, values: list[int], parts: int) -> np.ndarray:
    """values × parts: 1 where the part's condition keeps the id, cut as a run cuts them."""
    engine.load_arrow("rows", pa.table({"x_id": pa.array(values, pa.int64())}))
    stage = bounds_stage("v", "rows", "TRUE", parts)
    assert stage.bind is not None
    bound = stage.bind(engine, stage.sql)
    kept = [f"CAST({bind_sql(placeholder('v', k), bound)} AS INTEGER)" for k in range(parts)]
    table = engine.fetch(f"SELECT {', '.join(kept)} FROM rows ORDER BY x_id")
    return np.array([table.column(k).to_pylist() for k in range(parts)], dtype=int).T


@settings(max_examples=60, deadline=None)
@given(values=ids, parts=st.integers(min_value=2, max_value=9))
def test_every_id_is_in_exactly_one_part(
    engine: DuckDBEngine, values: list[int], parts: int
) -> None:
    member = _membership(engine, values, parts)
    assert member.shape[0] == len(values)
    assert (member.sum(axis=1) == 1).all()


def test_consecutive_rows_of_one_file_are_cut_exactly(engine: DuckDBEngine) -> None:
    # 100 rows of one file (one bucket) in 3 parts: 34, 33, 33 — not all in the first part
    member = _membership(engine, [7 * 2**40 + row for row in range(100)], 3)
    assert member.sum(axis=0).tolist() == [34, 33, 33]


def test_parts_hold_about_equal_rows(engine: DuckDBEngine) -> None:
    # 1M ids in three files, the middle one sparse: every part within a bucket of its share
    rng = np.random.default_rng(3)
    files = [1 << 40, 2 << 40, 3 << 40]
    values = np.concatenate(
        [
            f + rng.choice(4_000_000, n, replace=False)
            for f, n in zip(files, (500_000, 100_000, 400_000), strict=True)
        ]
    )
    held = _membership(engine, values.tolist(), 8).sum(axis=0)
    assert held.sum() == values.size
    assert max(abs(n - values.size / 8) for n in held) <= BUCKET


def test_an_unbound_placeholder_is_refused() -> None:
    with pytest.raises(AttributionError, match="not bound"):
        bind_sql(f"SELECT 1 WHERE {placeholder('v', 0)}", {})


def test_a_literal_that_looks_like_a_placeholder_is_left_alone() -> None:
    # a string literal doubles its quotes, so it can never hold a placeholder's text
    sql = "SELECT 1 WHERE split_rule = '{{''v_part_0''}}'"
    assert bind_sql(sql, {"v_part_0": "TRUE"}) == sql
