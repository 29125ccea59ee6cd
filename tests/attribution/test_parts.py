"""A large period's parts are ranges of row ids: disjoint, covering every id, about equal."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.attribution.parts import BUCKET, bind_sql, conditions, placeholder

ids = st.lists(st.integers(min_value=1, max_value=2**40), min_size=0, max_size=300)


def _parts_of(values: list[int], parts: int) -> list[int]:
    """How many of ``values`` each part's condition keeps, evaluated by DuckDB."""
    buckets, counts = np.unique(np.array(values, dtype=np.int64) // BUCKET, return_counts=True)
    bound = conditions(buckets, counts, parts)
    con = duckdb.connect()
    con.register("t", pa.table({"x_id": pa.array(values, pa.int64())}))
    kept = []
    for k in range(parts):
        sql = bind_sql(f"SELECT COUNT(*) FROM t WHERE {placeholder(k)}", bound)
        kept.append(con.execute(sql).fetchone()[0])
    return kept


@settings(max_examples=60, deadline=None)
@given(values=ids, parts=st.integers(min_value=2, max_value=9))
def test_every_id_is_in_exactly_one_part(values: list[int], parts: int) -> None:
    kept = _parts_of(values, parts)
    assert sum(kept) == len(values)


def test_parts_hold_about_equal_rows() -> None:
    # 1M ids in three files, the middle one sparse: every part within a bucket of its share
    rng = np.random.default_rng(3)
    files = [1 << 32, 2 << 32, 3 << 32]
    values = np.concatenate(
        [
            f + rng.choice(4_000_000, n, replace=False)
            for f, n in zip(files, (500_000, 100_000, 400_000), strict=True)
        ]
    )
    kept = _parts_of(values.tolist(), 8)
    assert sum(kept) == values.size
    assert max(abs(n - values.size / 8) for n in kept) <= BUCKET


def test_an_unbound_placeholder_is_refused() -> None:
    try:
        bind_sql(f"SELECT 1 WHERE {placeholder(0)}", {})
    except RuntimeError as e:
        assert "placeholder" in str(e)
    else:
        raise AssertionError("an unbound placeholder went through")
