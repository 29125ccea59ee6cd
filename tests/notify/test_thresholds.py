"""Threshold expressions: grammar, evaluation, errors that point at the column."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.errors import ConfigError
from costcouncil.notify.thresholds import MAX_DEPTH, parse
from tests.workspace.notify.factories import alert


@pytest.mark.parametrize(
    ("expression", "impact", "pct", "status", "expected"),
    [
        ("impact >= 500 and impact_pct >= 20", "1234.50", 38.2, "new", True),
        ("impact >= 500 and impact_pct >= 20", "1234.50", 12.0, "new", False),
        ("impact >= 500 and impact_pct >= 20", "1234.50", None, "new", False),
        ("impact >= 1000 or status == 'resolved'", "10", None, "resolved", True),
        ('impact >= 1000 or status == "resolved"', "10", None, "new", False),
        ("not (impact < 100) and kind != 'budget'", "100", None, "new", True),
        ("impact > -50", "-49.99", None, "new", True),
        ("impact == 1234.5", "1234.50", None, "new", True),
        ("", "0", None, "new", True),
        ("  ", "0", None, "resolved", True),
        ("impact < 1 or impact > 2 and impact < 3", "0.5", None, "new", True),  # and binds tighter
        ("(impact < 1 or impact > 2) and impact < 3", "0.5", None, "new", True),
        ("(impact < 1 or impact > 2) and impact > 3", "0.5", None, "new", False),
    ],
)
def test_evaluation(
    expression: str, impact: str, pct: float | None, status: str, expected: bool
) -> None:
    subject = alert(impact=Decimal(impact), impact_pct=pct, status=status)
    assert parse(expression).matches(subject) is expected


def test_a_missing_score_fails_every_comparison() -> None:
    assert not parse("score >= 0").matches(alert(score=None))
    assert not parse("score < 0").matches(alert(score=None))
    assert parse("not score >= 5").matches(alert(score=None))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("impcat >= 500", "unknown name 'impcat' at column 1; did you mean 'impact'?"),
        (
            "impact >= 500 and status == 'resolvd'",
            "unknown status 'resolvd' at column 29; did you mean 'resolved'?",
        ),
        (
            "impact >= 'a lot'",
            "expected a number after 'impact >=', found \"'a lot'\" at column 11",
        ),
        ("status > 'new'", "'status' is compared with == or != only, found '>' at column 8"),
        (
            "impact 500",
            "expected a comparison (==, !=, <=, >=, <, >) after 'impact', found '500' at column 8",
        ),
        ("(impact > 1", "expected ')' or 'and' or 'or', found the end at column 12"),
        (
            "impact > 1 impact",
            "expected 'and', 'or' or the end of the expression, found 'impact' at column 12",
        ),
        (
            "impact_pct >= 20%",
            "unexpected character '%' (a percentage is a plain number: impact_pct >= 20) at column 17",
        ),
        ("impact >= 1e3", "'1e3' is not a number (e.g. 500, 12.5) at column 11"),
        (
            "and impact > 1",
            "expected a name (impact, impact_pct, score, status, kind, severity) or 'not' or '(', found 'and' at column 1",
        ),
    ],
)
def test_errors_name_the_expression_the_column_and_what_was_expected(
    expression: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(expression)
    assert str(caught.value) == f"threshold {expression!r}: {message}"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match="nesting deeper"):
        parse("(" * 200 + "impact > 1" + ")" * 200)
    with pytest.raises(ConfigError, match="longer than 1000 characters"):
        parse("(" * 5000 + "impact > 1" + ")" * 5000)
    nested = "(" * MAX_DEPTH + "impact > 1" + ")" * MAX_DEPTH
    assert parse(nested).matches(alert())


_PIECES = st.sampled_from(
    [
        "impact",
        "impact_pct",
        "score",
        "status",
        "kind",
        "and",
        "or",
        "not",
        "(",
        ")",
        ">=",
        "<",
        "==",
        "!=",
        "500",
        "-3.5",
        "'new'",
        '"budget"',
        "'x",
        "impcat",
        "%",
        "1e3",
        " ",
        "\n",
        "é",
    ]
)


@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=25).map(" ".join)))
def test_parse_raises_only_config_error(text: str) -> None:
    try:
        threshold = parse(text)
    except ConfigError as e:
        assert str(e).startswith("threshold ")
        return
    assert isinstance(threshold.matches(alert()), bool)
