"""DuckDB → Spark transpilation: one golden pair per fix-up, every refusal, GLOB vs DuckDB's own."""

from __future__ import annotations

import re

import duckdb
import pytest

from costcouncil.engine.portable import glob_to_regex, to_spark
from costcouncil.errors import EngineError

GOLDEN = [
    # DuckDB epoch_ms(ts) is ms since the epoch (SQLGlot alone reads the inverse function)
    (
        "SELECT epoch_ms(b) - epoch_ms(a) AS d FROM t",
        "SELECT UNIX_MILLIS(b) - UNIX_MILLIS(a) AS d FROM t",
    ),
    ("SELECT epoch_ms(1700000000000) AS t", "SELECT TIMESTAMP_MILLIS(1700000000000) AS t"),
    (
        "SELECT epoch_ms(CAST(n AS BIGINT)) AS t FROM t",
        "SELECT TIMESTAMP_MILLIS(CAST(n AS BIGINT)) AS t FROM t",
    ),
    ("SELECT epoch_us(a) AS u FROM t", "SELECT UNIX_MICROS(a) AS u FROM t"),
    (
        "SELECT epoch(a) AS s FROM t",
        "SELECT (CAST(UNIX_MICROS(a) AS DOUBLE) / 1000000) AS s FROM t",
    ),
    # date_diff counts boundaries; date_sub counts whole units (Spark's TIMESTAMPDIFF)
    (
        "SELECT date_diff('second', a, b) AS s FROM t",
        "SELECT TIMESTAMPDIFF(SECOND, DATE_TRUNC('SECOND', a), DATE_TRUNC('SECOND', b)) AS s FROM t",
    ),
    ("SELECT date_sub('month', a, b) AS m FROM t", "SELECT TIMESTAMPDIFF(MONTH, a, b) AS m FROM t"),
    # `/` is DOUBLE division on DuckDB; `//` truncates on both
    (
        "SELECT a / b AS r, a // b AS q FROM t",
        "SELECT CAST(a AS DOUBLE) / b AS r, a DIV b AS q FROM t",
    ),
    (
        "SELECT dayofweek(a) AS d, isodow(a) AS i FROM t",
        "SELECT (DAYOFWEEK(a) - 1) AS d, (WEEKDAY(a) + 1) AS i FROM t",
    ),
    # DuckDB LIKE has no escape character; Spark's default is a backslash
    ("SELECT s LIKE 'a\\b%' AS l FROM t", "SELECT s LIKE 'a\\\\\\\\b%' AS l FROM t"),
    ("SELECT s LIKE 'a!%' ESCAPE '!' AS l FROM t", "SELECT s LIKE 'a!%' ESCAPE '!' AS l FROM t"),
    ("SELECT s GLOB 'a*' AS g FROM t", "SELECT s RLIKE '^(?s:a.*)\\\\z' AS g FROM t"),
    (
        "SELECT regexp_full_match(s, 'a.c') AS f FROM t",
        "SELECT s RLIKE CONCAT('^(?:', 'a.c', ')\\\\z') AS f FROM t",
    ),
    (
        "SELECT regexp_replace(s, 'a', 'b', 'g') AS r FROM t",
        "SELECT REGEXP_REPLACE(s, 'a', 'b') AS r FROM t",
    ),
    (
        "SELECT json_extract_string(j, '$.\"a b\"') AS v FROM t",
        "SELECT GET_JSON_OBJECT(j, '$[\\'a b\\']') AS v FROM t",
    ),
    ("SELECT 'it''s' AS s", "SELECT 'it\\'s' AS s"),
    (
        "SELECT k, row_number() OVER (PARTITION BY k ORDER BY v) AS rn FROM t QUALIFY rn = 1 ORDER BY t.k",
        "SELECT * EXCEPT (__qualify) FROM (SELECT k, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v "
        "NULLS LAST) AS rn, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v NULLS LAST) = 1 AS "
        "__qualify FROM t) AS __qualified WHERE __qualify ORDER BY k NULLS LAST",
    ),
]


@pytest.mark.parametrize("duck,spark", GOLDEN, ids=[g[0][:48] for g in GOLDEN])
def test_golden_transpilation(duck: str, spark: str) -> None:
    assert to_spark(duck) == spark


REFUSED = {
    "SELECT regexp_replace(s, 'a', 'b') AS r FROM t": "pass 'g'",
    "SELECT regexp_replace(s, 'a', '\\1', 'g') AS r FROM t": "replacement",
    "SELECT s GLOB p AS g FROM t": "literal pattern",
    "SELECT date_diff('week', a, b) AS w FROM t": "'WEEK'",
    "SELECT list(x ORDER BY y) AS l FROM t": "string_agg",
    "SELECT 1 AS a UNION ALL BY NAME SELECT 2 AS a": "UNION BY NAME",
    "SELECT CAST(x AS HUGEINT) AS h FROM t": "DECIMAL\\(38, 0\\)",
    "SELECT hash(x) AS h FROM t": "md5",
    "SELECT json_extract(j, '$.a') AS v FROM t": "json_extract_string",
    "SELECT j -> '$.a' AS v FROM t": "json_extract_string",
    "SELECT trunc(x) AS v FROM t": "floor",
    "SELECT date_part('dow', a) AS v FROM t": "isodow",
}


@pytest.mark.parametrize("sql,hint", REFUSED.items(), ids=list(REFUSED))
def test_non_portable_sql_is_refused_with_what_to_use(sql: str, hint: str) -> None:
    with pytest.raises(EngineError, match=hint) as caught:
        to_spark(sql, stage="shares")
    assert caught.value.stage == "shares"


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(EngineError) as caught:
        to_spark("SELECT hash(x) AS h, trunc(y) AS t FROM t")
    assert "md5" in str(caught.value) and "floor" in str(caught.value)


@pytest.mark.parametrize("sql", ["SELECT (", "SELECT 1; SELECT 2"])
def test_unparseable_or_several_statements_are_errors(sql: str) -> None:
    with pytest.raises(EngineError, match="stage 'sql'"):
        to_spark(sql)


PATTERNS = [
    "a*",
    "*.parquet",
    "a?c",
    "[ab]*",
    "[!ab]*",
    "a[b-d]",
    "a\\*",
    "*[]]*",
    "x.y",
    "(a)+",
    "a[^b]",
    "[a-",
    "[a-]",
    "a\\",
    "x[",
]
STRINGS = [
    "abc",
    "a.parquet",
    "b",
    "ab",
    "a*",
    "]",
    "x.y",
    "xzy",
    "(a)+",
    "a^",
    "a-",
    "[a-",
    "a\nc",
    "",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_glob_translation_agrees_with_duckdb(pattern: str) -> None:
    regex = re.compile(glob_to_regex(pattern).replace("\\z", "\\Z"))  # \z is Python 3.14+
    con = duckdb.connect()
    for s in STRINGS:
        expected = con.execute("SELECT ? GLOB ?", [s, pattern]).fetchall()[0][0]
        assert bool(regex.match(s)) == expected, (pattern, s)
