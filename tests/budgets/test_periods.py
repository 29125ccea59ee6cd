"""A budget's periods: calendar months, quarters and years across year ends and leap years."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.budgets import Amount, Budget, Window, elapsed, window_at, windows_between

AMOUNT = Amount("fixed", Decimal(100))


def budget(period: str, *windows: Window) -> Budget:
    return Budget("b", "org", AMOUNT, period=period, windows=windows)


def w(start: str, end: str) -> Window:
    return Window(date.fromisoformat(start), date.fromisoformat(end))


@pytest.mark.parametrize(
    "period, day, expected",
    [
        ("monthly", "2024-02-29", w("2024-02-01", "2024-03-01")),
        ("monthly", "2025-12-31", w("2025-12-01", "2026-01-01")),
        ("monthly", "2026-01-01", w("2026-01-01", "2026-02-01")),
        ("quarterly", "2026-03-31", w("2026-01-01", "2026-04-01")),
        ("quarterly", "2026-04-01", w("2026-04-01", "2026-07-01")),
        ("quarterly", "2025-11-15", w("2025-10-01", "2026-01-01")),
        ("annual", "2024-12-31", w("2024-01-01", "2025-01-01")),
    ],
)
def test_window_at_calendar_periods(period: str, day: str, expected: Window) -> None:
    assert window_at(budget(period), date.fromisoformat(day)) == expected


def test_leap_and_common_februaries_and_years() -> None:
    assert window_at(budget("monthly"), date(2024, 2, 10)).days == 29  # type: ignore[union-attr]
    assert window_at(budget("monthly"), date(2025, 2, 10)).days == 28  # type: ignore[union-attr]
    assert window_at(budget("annual"), date(2024, 6, 1)).days == 366  # type: ignore[union-attr]
    assert window_at(budget("quarterly"), date(2024, 2, 1)).days == 91  # type: ignore[union-attr]


def test_custom_windows_lookup_and_the_gaps_between() -> None:
    b = budget("custom", w("2026-01-05", "2026-02-01"), w("2026-03-01", "2026-03-15"))
    assert window_at(b, date(2026, 1, 5)) == w("2026-01-05", "2026-02-01")
    assert window_at(b, date(2026, 1, 31)) == w("2026-01-05", "2026-02-01")
    assert window_at(b, date(2026, 2, 1)) is None
    assert window_at(b, date(2026, 3, 14)) == w("2026-03-01", "2026-03-15")
    assert window_at(b, date(2026, 1, 4)) is None


def test_windows_between_across_a_year_end() -> None:
    got = windows_between(budget("monthly"), date(2025, 11, 20), date(2026, 2, 1))
    assert got == [
        w("2025-11-01", "2025-12-01"),
        w("2025-12-01", "2026-01-01"),
        w("2026-01-01", "2026-02-01"),
    ]
    quarters = windows_between(budget("quarterly"), date(2025, 12, 31), date(2026, 4, 2))
    assert [q.start.isoformat() for q in quarters] == ["2025-10-01", "2026-01-01", "2026-04-01"]
    assert windows_between(budget("annual"), date(2026, 1, 1), date(2026, 1, 1)) == []


def test_windows_between_custom_keeps_those_sharing_a_day() -> None:
    first, second = w("2026-01-05", "2026-02-01"), w("2026-03-01", "2026-03-15")
    b = budget("custom", first, second)
    assert windows_between(b, date(2026, 1, 31), date(2026, 3, 1)) == [first]
    assert windows_between(b, date(2026, 1, 1), date(2026, 3, 2)) == [first, second]
    assert windows_between(b, date(2026, 2, 1), date(2026, 3, 1)) == []


@given(
    st.sampled_from(["monthly", "quarterly", "annual"]),
    st.dates(date(1990, 1, 1), date(2090, 1, 1)),
    st.integers(1, 800),
)
def test_calendar_windows_tile_the_span_without_gaps(period: str, start: date, days: int) -> None:
    end = start + timedelta(days=days)
    windows = windows_between(budget(period), start, end)
    assert windows[0].contains(start) and windows[-1].contains(end - timedelta(days=1))
    for before, after in pairwise(windows):
        assert before.end == after.start and after.start.day == 1
    for window in windows:
        assert window_at(budget(period), window.start) == window


@pytest.mark.parametrize(
    "today, expected",
    [("2026-01-31", (0, 28)), ("2026-02-01", (1, 28)), ("2026-02-14", (14, 28)),
     ("2026-02-28", (28, 28)), ("2026-03-01", (28, 28)), ("2027-01-01", (28, 28))],
)  # fmt: skip
def test_elapsed_counts_today_and_clips_to_the_window(
    today: str, expected: tuple[int, int]
) -> None:
    assert elapsed(w("2026-02-01", "2026-03-01"), date.fromisoformat(today)) == expected
