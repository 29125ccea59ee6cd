"""CSV cells for people: formula-like strings prefixed with ``'``, typed columns untouched."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.workspace.common import csvsafe

HOSTILE = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
           "\tTAB", "\rCR", "-5"]  # fmt: skip
HARMLESS = ["vision", "<script>alert(1)</script>", " =x", "a,b", 'say "hi"', "x\ny", "", "'"]


def _csv(table: pa.Table) -> str:
    sink = io.BytesIO()
    csvsafe.write_csv(table, sink)
    return sink.getvalue().decode()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_like_string_is_prefixed(value: str) -> None:
    assert csvsafe.neutralise(value) == "'" + value
    assert _rows(_csv(pa.table({"team": [value]}))) == [{"team": "'" + value}]


@pytest.mark.parametrize("value", HARMLESS)
def test_any_other_string_is_kept(value: str) -> None:
    assert csvsafe.neutralise(value) == value
    assert _rows(_csv(pa.table({"team": [value]}))) == [{"team": value}]


def test_typed_columns_stay_numbers() -> None:
    table = pa.table({
        "cost": pa.array(["-12.50"]).cast(pa.decimal128(38, 6)),
        "share": pa.array([-0.25]),
        "count": pa.array([-3]),
        "label": pa.array(["-12.50"]),
    })  # fmt: skip
    text = _csv(table)
    assert text.splitlines()[1] == '-12.500000,-0.25,-3,"\'-12.50"'
    assert Decimal(_rows(text)[0]["cost"]) == Decimal("-12.5")


def test_nulls_stay_empty_and_string_cells_are_quoted() -> None:
    text = _csv(pa.table({"a": ["x", None], "b": ["=1", "y"]}))
    assert text.splitlines() == ['"a","b"', '"x","\'=1"', ',"y"']


def test_dictionary_and_large_strings_are_covered() -> None:
    table = pa.table({
        "d": pa.array(["=a", "b"]).dictionary_encode(),
        "l": pa.array(["@a", "b"], pa.large_string()),
    })  # fmt: skip
    assert _rows(_csv(table)) == [{"d": "'=a", "l": "'@a"}, {"d": "b", "l": "b"}]


def test_a_formula_like_column_name_is_prefixed() -> None:
    assert _csv(pa.table({"=x": ["a"]})).splitlines()[0] == '"\'=x"'


def test_the_sql_form_agrees_with_the_python_form() -> None:
    values = [*HOSTILE, *HARMLESS]
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate([*values, None])))
        got = con.execute(f"SELECT {csvsafe.neutralised_sql('v')} FROM t ORDER BY i").fetchall()
    assert [g for (g,) in got] == [csvsafe.neutralise(v) for v in values] + [None]


@given(st.text())
def test_no_cell_ever_reads_as_a_formula(value: str) -> None:
    [row] = _rows(_csv(pa.table({"v": [value]})))
    cell = row["v"]
    assert not cell.startswith(csvsafe.TRIGGERS)
    assert cell in (value, "'" + value)
