"""The engine conformance suite: every test runs on DuckDB and on Spark.

Each query runs on the engine under test *and* on a DuckDB reference (a differential test) and the
two Arrow tables must be identical — schema, values and order — before the test checks the values
it expects. See docs/engines.md for the portable SQL subset these tests pin down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costcouncil.engine.base import Engine, normalise
from costcouncil.errors import EngineError

UTC = dt.UTC
MONEY = pa.decimal128(38, 12)
TS = pa.timestamp("us", tz="UTC")


def assert_same(a: pa.Table, b: pa.Table) -> None:
    """``a`` and ``b`` hold the same columns, types, values and row order."""
    assert a.schema.equals(b.schema), f"schemas differ:\n{a.schema}\n---\n{b.schema}"
    rows_a, rows_b = a.to_pylist(), b.to_pylist()
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=False)):
        assert ra == rb, f"row {i} differs:\n{ra}\n{rb}"
    assert len(rows_a) == len(rows_b), f"{len(rows_a)} rows vs {len(rows_b)}"


@dataclass
class Pair:
    """The engine under test beside the DuckDB reference: each step runs on both."""

    engine: Engine
    reference: Engine

    def load_arrow(self, view: str, table: pa.Table) -> None:
        self.engine.load_arrow(view, table)
        self.reference.load_arrow(view, table)

    def create(self, view: str, sql: str, materialize: bool = False) -> None:
        self.engine.create(view, sql, materialize)
        self.reference.create(view, sql, materialize)

    def fetch(self, sql: str) -> pa.Table:
        """The engine's result, after checking it is identical to the reference's."""
        got = self.engine.fetch(sql)
        assert_same(got, self.reference.fetch(sql))
        return got


@pytest.fixture
def pair(engine: Engine, reference: Engine) -> Pair:
    return Pair(engine, reference)


def column(table: pa.Table, name: str) -> list[object]:
    return table.column(name).to_pylist()


# --- money ----------------------------------------------------------------------------------


def test_decimal_38_12_sums_are_exact(pair: Pair) -> None:
    tiny, big = Decimal("0.000000000001"), Decimal("123456789012.345678901234")
    values = [big + tiny * k for k in range(1, 3001)] + [-big, Decimal("-0.000000000007")]
    groups = [k % 3 for k in range(len(values))]
    pair.load_arrow("money", pa.table({"g": groups, "x": pa.array(values, MONEY)}))
    got = pair.fetch("SELECT g, sum(x) AS total FROM money GROUP BY g ORDER BY g")
    assert got.schema.field("total").type == MONEY
    expected = [sum(v for v, g in zip(values, groups, strict=True) if g == k) for k in range(3)]
    assert column(got, "total") == expected


def test_decimal_38_0_products_and_integer_weights_are_exact(pair: Pair) -> None:
    a = [10**18 + 7, -(10**18) - 9, 999_999_999_999_999_999, 0]
    b = [10**18 + 3, 10**18 + 11, 10**18 + 1, 5]
    pair.load_arrow("factors", pa.table({"i": range(4), "a": a, "b": b}))
    got = pair.fetch(
        "SELECT CAST(a AS DECIMAL(38, 0)) * CAST(b AS DECIMAL(38, 0)) AS product, "
        "CAST(0.000000000001 AS DECIMAL(38, 12)) * b AS scaled FROM factors ORDER BY i"
    )
    assert column(got, "product") == [Decimal(x * y) for x, y in zip(a, b, strict=True)]
    assert column(got, "scaled") == [Decimal(y).scaleb(-12) for y in b]
    assert got.schema.field("scaled").type == MONEY


def test_rounding_decimals_keeps_the_scale_on_both_engines(pair: Pair) -> None:
    pair.load_arrow("halves", pa.table({"x": pa.array([Decimal("2.5"), Decimal("-2.5")], MONEY)}))
    got = pair.fetch(
        "SELECT round(x, 0) AS r, floor(x) AS f, ceil(x) AS c, round(x, 2) AS r2 FROM halves"
    )
    assert got.schema.field("r").type == pa.decimal128(38, 0)
    assert column(got, "r") == [Decimal(3), Decimal(-3)]  # half away from zero on both
    assert column(got, "f") == [Decimal(2), Decimal(-3)]
    assert column(got, "c") == [Decimal(3), Decimal(-2)]


# --- integer and float arithmetic -------------------------------------------------------------

PAIRS = [(7, 2), (-7, 2), (7, -2), (-7, -2), (6, 3), (-1, 5)]


def test_integer_division_truncates_toward_zero(pair: Pair) -> None:
    pair.load_arrow("ints", pa.table({"a": [p[0] for p in PAIRS], "b": [p[1] for p in PAIRS]}))
    got = pair.fetch(
        "SELECT a // b AS q, a % b AS r, (a - ((a % b) + b) % b) // b AS floored FROM ints"
    )
    assert column(got, "q") == [int(a / b) for a, b in PAIRS]  # not Python's floor division
    assert column(got, "r") == [a - b * int(a / b) for a, b in PAIRS]
    assert column(got, "floored") == [a // b for a, b in PAIRS]


def test_slash_is_double_division(pair: Pair) -> None:
    pair.load_arrow(
        "ratio", pa.table({"a": [1, 7], "d": pa.array([Decimal(1), Decimal(7)], MONEY)})
    )
    got = pair.fetch(
        "SELECT a / 2 AS i, d / 2 AS d, d / CAST(4 AS DECIMAL(38, 12)) AS dd FROM ratio"
    )
    assert got.schema.types == [pa.float64()] * 3
    assert column(got, "d") == [0.5, 3.5]


def test_avg_is_double_and_guarded_division_is_null(pair: Pair) -> None:
    money = pa.array([Decimal(1), Decimal(2), None], MONEY)
    pair.load_arrow("avgs", pa.table({"k": [1, 1, 2], "x": money, "zero": [0, 0, 0]}))
    got = pair.fetch("SELECT avg(x) AS a, avg(k) AS i FROM avgs")
    assert got.schema.types == [pa.float64()] * 2 and column(got, "a") == [1.5]
    rows = pair.fetch(
        "SELECT avg(x) OVER (PARTITION BY k) AS w, k / NULLIF(zero, 0) AS guarded "
        "FROM avgs ORDER BY k, x"
    )
    assert rows.schema.types == [pa.float64()] * 2
    assert rows.to_pylist() == [{"w": 1.5, "guarded": None}] * 2 + [{"w": None, "guarded": None}]


def test_integer_sums_come_back_as_int64(pair: Pair) -> None:
    pair.load_arrow("weights", pa.table({"w": pa.array([1, 2, 3], pa.int32())}))
    got = pair.fetch("SELECT sum(w) AS total, count(*) AS n FROM weights")
    assert got.to_pylist() == [{"total": 6, "n": 3}]
    running = pair.fetch("SELECT sum(w) OVER (ORDER BY w) AS running FROM weights ORDER BY w")
    assert running.schema.types == [pa.int64()] and column(running, "running") == [1, 3, 6]


# --- time -----------------------------------------------------------------------------------


def _zoned(*stamps: str, zone: str) -> pa.Array:
    tz = ZoneInfo(zone)
    values = [dt.datetime.fromisoformat(s).replace(tzinfo=tz) for s in stamps]
    return pa.array(values, pa.timestamp("us", tz=zone))


def test_epoch_ms_differences_between_zoned_timestamps(pair: Pair) -> None:
    start = _zoned("2024-03-10 01:59:59.250", "2024-01-01 00:00:00", zone="America/New_York")
    end = _zoned("2024-03-10 13:30:00.000", "2023-12-31 23:59:59.999", zone="Asia/Kolkata")
    pair.load_arrow("spans", pa.table({"i": [0, 1], "a": start, "b": end}))
    got = pair.fetch(
        "SELECT epoch_ms(b) - epoch_ms(a) AS ms, epoch_us(a) AS us, epoch(a) AS s "
        "FROM spans ORDER BY i"
    )
    starts = [x.as_py() for x in start]
    ends = [x.as_py() for x in end]
    assert column(got, "ms") == [
        (e - s) // dt.timedelta(milliseconds=1) for s, e in zip(starts, ends, strict=True)
    ]
    assert column(got, "us") == [
        (s - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1) for s in starts
    ]


def test_timestamps_round_trip_as_utc_instants(pair: Pair) -> None:
    stamps = _zoned("2024-11-03 01:30:00", "1969-12-31 19:00:00.000001", zone="America/New_York")
    table = pa.table(
        {"ts": stamps, "naive": pa.array([dt.datetime(2024, 1, 1), None], pa.timestamp("us"))}
    )
    pair.load_arrow("instants", table)
    got = pair.fetch("SELECT * FROM instants")
    assert got.equals(normalise(table))
    assert column(got, "ts")[1] == dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)


def test_date_diff_counts_unit_boundaries(pair: Pair) -> None:
    a = _zoned("2024-01-31 23:59:59.900", zone="UTC")
    b = _zoned("2024-02-01 00:00:00.100", zone="UTC")
    pair.load_arrow("edges", pa.table({"a": a, "b": b}))
    units = ["millisecond", "second", "minute", "hour", "day", "month", "quarter", "year"]
    diffs = ", ".join(f"date_diff('{u}', a, b) AS {u}" for u in units)
    got = pair.fetch(f"SELECT {diffs}, date_sub('second', a, b) AS whole_seconds FROM edges")
    assert got.to_pylist() == [
        dict.fromkeys(units, 1) | {"millisecond": 200, "quarter": 0, "year": 0, "whole_seconds": 0}
    ]


def test_calendar_fields_are_utc(pair: Pair) -> None:
    days = [dt.datetime(2024, 3, d, 23, 30, tzinfo=UTC) for d in range(3, 10)]  # Sunday..Saturday
    pair.load_arrow("week", pa.table({"ts": pa.array(days, TS)}))
    got = pair.fetch(
        "SELECT dayofweek(ts) AS dow, isodow(ts) AS iso, strftime(ts, '%Y-%m-%d %H:%M:%S') AS f, "
        "date_trunc('month', ts) AS m, date_trunc('hour', ts) AS h, year(ts) AS y, "
        "CAST(ts AS DATE) AS d FROM week ORDER BY ts"
    )
    assert column(got, "dow") == [0, 1, 2, 3, 4, 5, 6]
    assert column(got, "iso") == [7, 1, 2, 3, 4, 5, 6]
    assert column(got, "f")[0] == "2024-03-03 23:30:00"
    assert column(got, "m")[0] == dt.datetime(2024, 3, 1, tzinfo=UTC)


# --- text -----------------------------------------------------------------------------------

JSON = (
    '{"plain": "p", "with space": "s", "with.dot": "d", "with-dash": "h", "n": 1.50, '
    '"t": true, "nul": null, "nested": {"inner": "i"}, "é": "accent"}'
)


def test_json_keys_with_spaces_dots_and_dashes(pair: Pair) -> None:
    pair.load_arrow("tags", pa.table({"j": [JSON, "{}", None]}))
    got = pair.fetch(
        "SELECT j ->> '$.plain' AS plain, json_extract_string(j, '$.\"with space\"') AS space, "
        "json_extract_string(j, '$.\"with.dot\"') AS dot, "
        "json_extract_string(j, '$.\"with-dash\"') AS dash, json_extract_string(j, '$.n') AS n, "
        "json_extract_string(j, '$.t') AS t, json_extract_string(j, '$.nul') AS nul, "
        "json_extract_string(j, '$.nested.inner') AS inner, json_extract_string(j, '$.é') AS e, "
        "json_extract_string(j, '$.missing') AS missing FROM tags"
    )
    assert got.to_pylist()[0] == {
        "plain": "p",
        "space": "s",
        "dot": "d",
        "dash": "h",
        "n": "1.5",
        "t": "true",
        "nul": None,
        "inner": "i",
        "e": "accent",
        "missing": None,
    }
    assert column(got, "plain")[1:] == [None, None]


NAMES = ["gpu-a100", "gpu-h100", "cpu_large", "GPU-x", "a\\b", "50%off", "cpu-2"]


def test_like_glob_and_regexp(pair: Pair) -> None:
    pair.load_arrow("names", pa.table({"i": range(len(NAMES)), "s": NAMES}))
    got = pair.fetch(
        "SELECT s LIKE 'gpu-%' AS l1, s LIKE 'cpu_%' AS l2, s LIKE 'a\\b' AS l3, "
        "s ILIKE 'GPU%' AS l4, s LIKE '50!%%' ESCAPE '!' AS l5, s NOT LIKE '%1__' AS l6, "
        "s GLOB 'gpu-[ah]100' AS g1, s GLOB '*[!0-9]' AS g2, s GLOB '?pu-*' AS g3, "
        "regexp_matches(s, '\\d{3}') AS r1, regexp_matches(s, '(?i)^gpu') AS r2, "
        "regexp_full_match(s, '[a-z]+-\\d') AS r3, regexp_extract(s, '([a-z])(\\d+)', 2) AS r4, "
        "regexp_replace(s, '\\d', '#', 'g') AS r5 FROM names ORDER BY i"
    )
    rows = {name: row for name, row in zip(NAMES, got.to_pylist(), strict=True)}
    assert rows["a\\b"]["l3"] and not rows["cpu_large"]["l3"]  # DuckDB LIKE has no escape char
    assert [r["l2"] for r in rows.values()] == [False, False, True, False, False, False, True]
    assert rows["gpu-h100"]["g1"] and not rows["GPU-x"]["g1"] and rows["cpu-2"]["g3"]
    assert rows["cpu-2"]["r3"] and not rows["gpu-a100"]["r3"]
    assert rows["gpu-a100"]["r4"] == "100" and rows["gpu-a100"]["r5"] == "gpu-a###"


def test_string_agg_is_ordered(pair: Pair) -> None:
    pair.load_arrow("parts", pa.table({"g": [1, 1, 1, 2], "s": ["b", "c", "a", "z"]}))
    got = pair.fetch(
        "SELECT g, string_agg(s, ',' ORDER BY s DESC) AS joined FROM parts GROUP BY g ORDER BY g"
    )
    assert column(got, "joined") == ["c,b,a", "z"]


# --- windows and QUALIFY --------------------------------------------------------------------


def _usage() -> pa.Table:
    return pa.table(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "team": ["a", "a", "a", "b", "b", None],
            "hours": pa.array([3, 1, 3, 2, None, 1], pa.int64()),
            "cost": pa.array(
                [Decimal("1.5"), Decimal("0.25"), Decimal("2"), Decimal(1), None, Decimal(4)], MONEY
            ),
        }
    )


def test_window_functions_with_deterministic_order(pair: Pair) -> None:
    pair.load_arrow("usage", _usage())
    got = pair.fetch(
        "SELECT id, row_number() OVER (PARTITION BY team ORDER BY hours DESC, id) AS rn, "
        "rank() OVER (ORDER BY hours) AS rk, "
        "sum(cost) OVER (PARTITION BY team ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING "
        "AND CURRENT ROW) AS running, sum(cost) OVER (PARTITION BY team) AS team_total, "
        "lag(id) OVER (ORDER BY id) AS prev, "
        "CAST(sum(hours) OVER (PARTITION BY team) AS BIGINT) AS team_hours "
        "FROM usage ORDER BY team, id"
    )
    assert column(got, "id") == [1, 2, 3, 4, 5, 6]  # NULL team last, as on DuckDB
    assert column(got, "rn") == [1, 3, 2, 1, 2, 1]
    assert column(got, "running")[:3] == [Decimal("1.5"), Decimal("1.75"), Decimal("3.75")]
    assert column(got, "rk") == [4, 1, 4, 3, 6, 1]  # NULL hours sort last


def test_qualify_keeps_the_first_row_per_group(pair: Pair) -> None:
    pair.load_arrow("usage", _usage())
    got = pair.fetch(
        "SELECT * FROM usage QUALIFY row_number() OVER (PARTITION BY team ORDER BY cost DESC, id) = 1 "
        "ORDER BY usage.id"
    )
    assert got.column_names == ["id", "team", "hours", "cost"]
    assert column(got, "id") == [3, 4, 6]
    aliased = pair.fetch(
        "SELECT team, id, row_number() OVER (PARTITION BY team ORDER BY id DESC) AS rn "
        "FROM usage QUALIFY rn = 1 ORDER BY id"
    )
    assert column(aliased, "id") == [3, 5, 6]


# --- views, Parquet, Arrow ------------------------------------------------------------------

COSTS = pa.schema(
    [
        ("BilledCost", MONEY),
        ("ChargePeriodStart", TS),
        ("ServiceName", pa.string()),
        ("x_source_row", pa.int64()),
    ]
)


def test_load_parquet_with_zero_files_is_an_empty_view_of_the_schema(engine: Engine) -> None:
    engine.load_parquet("no_costs", [], COSTS)
    assert engine.fetch("SELECT * FROM no_costs").schema.equals(COSTS)
    got = engine.fetch("SELECT count(*) AS n, sum(BilledCost) AS total FROM no_costs")
    assert got.to_pylist() == [{"n": 0, "total": None}]


def test_load_parquet_reads_exactly_the_given_schema(pair: Pair, tmp_path: Path) -> None:
    stamps = _zoned("2024-05-01 00:00:00", zone="Europe/Paris")
    first = pa.table(
        {
            "x_source_row": pa.array([1], pa.int32()),  # narrower than the schema's int64
            "ServiceName": ["gpu"],
            "BilledCost": pa.array([Decimal("0.000000000001")], MONEY),
            "ChargePeriodStart": stamps,
            "extra": ["not in the schema"],
        }
    )
    second = first.drop_columns(["ServiceName", "extra"])
    files = [tmp_path / "provider=a" / "period=2024-05" / f"{i}.parquet" for i in (1, 2)]
    for file, table in zip(files, (first, second), strict=True):
        file.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, file)
    for e in (pair.engine, pair.reference):
        e.load_parquet("some_costs", files, COSTS)
    got = pair.fetch("SELECT * FROM some_costs ORDER BY ServiceName")
    assert got.schema.equals(COSTS)
    assert column(got, "ServiceName") == ["gpu", None]
    assert column(got, "ChargePeriodStart") == [dt.datetime(2024, 4, 30, 22, tzinfo=UTC)] * 2


def test_fetch_schema_is_identical_for_mixed_types(pair: Pair) -> None:
    pair.load_arrow("one", pa.table({"w": pa.array([2], pa.int32())}))
    got = pair.fetch(
        "SELECT CAST(1 AS INTEGER) AS i32, CAST(2 AS BIGINT) AS i64, CAST(1.5 AS DOUBLE) AS f64, "
        "CAST(1.5 AS REAL) AS f32, true AS b, 'x' AS s, DATE '2024-01-02' AS d, "
        "TIMESTAMPTZ '2024-01-01 12:00:00+00' AS tz, TIMESTAMP '2024-01-01 12:00:00' AS naive, "
        "CAST(1.5 AS DECIMAL(38, 12)) AS money, CAST(1.5 AS DECIMAL(10, 2)) AS narrow, "
        "length('abc') AS n, sum(w) AS total, CAST(NULL AS VARCHAR) AS nothing FROM one"
    )
    assert got.schema == pa.schema(
        [
            ("i32", pa.int64()),
            ("i64", pa.int64()),
            ("f64", pa.float64()),
            ("f32", pa.float64()),
            ("b", pa.bool_()),
            ("s", pa.string()),
            ("d", pa.date32()),
            ("tz", TS),
            ("naive", TS),
            ("money", MONEY),
            ("narrow", pa.decimal128(38, 2)),
            ("n", pa.int64()),
            ("total", pa.int64()),
            ("nothing", pa.string()),
        ]
    )


def test_load_arrow_round_trips_money_and_text(pair: Pair) -> None:
    table = pa.table(
        {
            "cost": pa.array(
                [Decimal("99999999999999999999999999.999999999999"), None, Decimal("-1e-12")], MONEY
            ),
            "name": pa.array(["é", None, ""], pa.large_string()),
            "n": pa.array([1, None, -(2**31)], pa.int32()),
        }
    )
    pair.load_arrow("roundtrip", table)
    assert pair.fetch("SELECT * FROM roundtrip").equals(normalise(table))


def test_views_can_be_materialized_and_replaced(pair: Pair) -> None:
    pair.load_arrow("usage", _usage())
    pair.create(
        "by_team", "SELECT team, sum(cost) AS cost FROM usage GROUP BY team", materialize=True
    )
    pair.create("by_team", "SELECT team, count(*) AS n FROM usage GROUP BY team")
    pair.create("by_team", "SELECT 'all' AS team, count(*) AS n FROM usage", materialize=True)
    assert pair.fetch("SELECT * FROM by_team").to_pylist() == [{"team": "all", "n": 6}]


def test_scalar(engine: Engine) -> None:
    assert engine.scalar("SELECT CAST(1.5 AS DECIMAL(38, 12)) AS x") == Decimal("1.5")
    assert engine.scalar("SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' AS t") == dt.datetime(
        2024, 1, 1, tzinfo=UTC
    )
    assert engine.scalar("SELECT 1 AS x WHERE false") is None


# --- errors ---------------------------------------------------------------------------------


def test_a_failing_statement_names_its_stage(engine: Engine) -> None:
    with pytest.raises(EngineError, match="'allocate_shares'") as caught:
        engine.create("allocate_shares", "SELECT no_such_column FROM (SELECT 1 AS a)")
    assert caught.value.engine == engine.name and caught.value.stage == "allocate_shares"
    with pytest.raises(EngineError, match="'fetch'"):
        engine.fetch("SELECT 1 // 0 AS x")


def test_a_missing_parquet_file_names_its_view(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="'lake_costs'"):
        engine.load_parquet("lake_costs", [tmp_path / "gone.parquet"], COSTS)


def test_sql_outside_the_portable_subset_is_refused_on_both_engines(engine: Engine) -> None:
    with pytest.raises(EngineError, match="pass 'g'") as caught:
        engine.create("tidy", "SELECT regexp_replace('aa', 'a', 'b') AS s")
    assert caught.value.stage == "tidy"
    with pytest.raises(EngineError, match="view name"):
        engine.create("bad name", "SELECT 1 AS x")


_WRITTEN = (
    "SELECT CAST(i AS BIGINT) AS id, CAST(i AS DECIMAL(38, 12)) AS money, "
    "TIMESTAMPTZ '2026-10-01 00:00:00+00' + INTERVAL 1 HOUR AS hour, "
    "CAST(i AS DOUBLE) / 3 AS share, 'row ' || CAST(i AS VARCHAR) AS label, "
    "DATE '2026-10-01' AS day FROM many"
)


def _read(path: Path) -> pa.Table:
    return normalise(pq.read_table(path)).sort_by("id")


def test_write_parquet_streams_every_row_in_canonical_types(pair: Pair, tmp_path: Path) -> None:
    pair.load_arrow("many", pa.table({"i": pa.array(range(50_000), pa.int64())}))
    mine, theirs = tmp_path / "engine.parquet", tmp_path / "reference.parquet"
    assert pair.engine.write_parquet(_WRITTEN, mine) == 50_000
    assert pair.reference.write_parquet(_WRITTEN, theirs) == 50_000
    assert_same(_read(mine), _read(theirs))
    assert pq.read_schema(mine).field("money").type == MONEY
    assert pq.read_schema(mine).field("hour").type == TS
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob("*.parts"))


def test_write_parquet_of_no_rows_keeps_the_columns(pair: Pair, tmp_path: Path) -> None:
    pair.load_arrow("many", pa.table({"i": pa.array([], pa.int64())}))
    mine, theirs = tmp_path / "engine.parquet", tmp_path / "reference.parquet"
    assert pair.engine.write_parquet(_WRITTEN, mine) == 0
    assert pair.reference.write_parquet(_WRITTEN, theirs) == 0
    assert _read(mine).schema.equals(_read(theirs).schema)
