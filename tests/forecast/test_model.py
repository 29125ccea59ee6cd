"""forecast_many: methods chosen by backtest, honest intervals, fallbacks, adjustments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.forecast import Adjustment, Forecast, forecast_many
from costcouncil.forecast import methods as m
from costcouncil.schema.series import DAY, HOUR, Series


def weekly(key: str, n: int, seed: int, noise: float = 5.0) -> Series:
    """A seeded daily cost series: level 100, weekly season ±30, Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 30 * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise, n)
    return Series.of(key, "2026-01-01", DAY, np.clip(y, 0, None))


def ordered(f: Forecast) -> bool:
    return bool(
        np.all(f.lo95 <= f.lo80 + 1e-9)
        and np.all(f.lo80 <= f.value + 1e-9)
        and np.all(f.value <= f.hi80 + 1e-9)
        and np.all(f.hi80 <= f.hi95 + 1e-9)
        and np.all(f.lo95 >= 0)
    )


def test_a_weekly_series_is_forecast_by_a_backtested_method_better_than_naive() -> None:
    full = weekly("a", 200, seed=1)
    train = Series(full.key, full.start, full.step, full.values[:172])
    [f] = forecast_many([train], 28)
    assert f.fallback is None and f.mase is not None and f.mape is not None
    assert f.history == 172 and len(f.value) == 28 and ordered(f)
    assert f.timestamps[0] == np.datetime64("2026-06-22", "s")  # the day after the last one
    naive = m.seasonal_naive(train.values, 28, 7)
    actual = full.values[172:]
    assert np.mean(np.abs(actual - f.value)) < np.mean(np.abs(actual - naive))


def test_80_and_95_intervals_cover_about_80_and_95_percent_of_held_out_days() -> None:
    series = [weekly(f"s{i}", 180, seed=i, noise=3.0 + i % 5 * 4) for i in range(30)]
    cuts = [Series(s.key, s.start, s.step, s.values[:152]) for s in series]
    forecasts = forecast_many(cuts, 28, jobs=1)
    actual = np.concatenate([s.values[152:] for s in series])
    lo80, hi80 = (np.concatenate([getattr(f, n) for f in forecasts]) for n in ("lo80", "hi80"))
    lo95, hi95 = (np.concatenate([getattr(f, n) for f in forecasts]) for n in ("lo95", "hi95"))
    assert 0.70 <= np.mean((actual >= lo80) & (actual <= hi80)) <= 0.90
    assert 0.88 <= np.mean((actual >= lo95) & (actual <= hi95)) <= 0.99


@pytest.mark.parametrize(
    ("values", "method", "history", "said"),
    [
        ([], "zero", 0, "no history"),
        ([0.0] * 30, "zero", 0, "all 30 values are 0"),
        ([0.0, 0.0, 5.0], "last_value", 1, "only 1 point"),
        ([0.0, 3.0, 4.0, 5.0, 6.0], "recent_mean", 4, "history too short (4 points"),
        ([0.0] * 100 + [7.0] * 10, "recent_mean", 10, "history too short (10 points"),
        (list(np.linspace(1, 2, 17)), "seasonal_naive", 17, "too short for a backtest"),
    ],
)
def test_short_empty_and_late_histories_say_what_they_fell_back_to(
    values: list[float], method: str, history: int, said: str
) -> None:
    [f] = forecast_many([Series.of("s", "2026-03-01", DAY, values)], 10)
    assert (f.method, f.history) == (method, history)
    assert f.fallback is not None and said in f.fallback
    assert f.mase is None and ordered(f) and len(f.value) == 10


def test_short_history_intervals_are_wide_and_positive() -> None:
    [f] = forecast_many([Series.of("s", "2026-03-01", DAY, [10, 12, 9, 11, 10])], 5)
    assert np.allclose(f.value, 10.4) and np.all(f.hi80 - f.lo80 > 2) and np.all(f.hi95 > f.hi80)


def test_a_series_that_starts_late_is_forecast_from_its_first_spend() -> None:
    late = weekly("late", 120, seed=3)
    padded = Series.of("late", "2025-10-01", DAY, np.concatenate([np.zeros(90), late.values]))
    [f] = forecast_many([padded], 14)
    assert f.history == 120 and f.fallback is None and np.mean(f.value) > 50


def test_hourly_series_use_a_daily_season() -> None:
    t = np.arange(24 * 21)
    y = 10 + 5 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.5, len(t))
    [f] = forecast_many([Series.of("h", "2026-02-01", HOUR, y)], 48)
    assert f.step == HOUR and f.fallback is None and ordered(f)
    assert f.timestamps[1] - f.timestamps[0] == HOUR
    assert abs(int(np.argmax(f.value[:24])) - 6) <= 2  # the daily peak (6:00) is kept


def test_an_adjustment_changes_values_and_bounds_inside_its_window_only() -> None:
    s = weekly("a", 120, seed=2)
    start = s.timestamps[-1] + 5 * DAY
    change = Adjustment(start, start + 3 * DAY, amount=50.0, factor=2.0, label="new cluster")
    [plain] = forecast_many([s], 14)
    [moved] = forecast_many([s], 14, adjustments={"a": [change]})
    inside = np.arange(14) >= 4
    inside &= np.arange(14) < 7
    assert np.allclose(moved.value[inside], plain.value[inside] * 2 + 50)
    assert np.allclose(moved.hi95[inside], plain.hi95[inside] * 2 + 50)
    assert np.allclose(moved.value[~inside], plain.value[~inside])
    assert moved.adjusted == ("new cluster",) and ordered(moved)


def test_a_price_cut_to_zero_gives_zero_and_never_negative() -> None:
    s = weekly("a", 60, seed=4)
    cut = Adjustment(s.timestamps[-1], None, amount=-1000.0)
    [f] = forecast_many([s], 7, adjustments={"a": [cut]})
    assert np.all(f.value == 0) and np.all(f.lo95 == 0) and np.all(f.hi95 == 0)


def test_chosen_only_among_the_methods_asked_for() -> None:
    [f] = forecast_many([weekly("a", 120, seed=5)], 14, methods=["ets"])
    assert f.method in ("ets", m.BASELINE) and f.baseline_mase is not None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        forecast_many([weekly("a", 60, 1)], 7, methods=["prophet"])
    with pytest.raises(ValueError, match="horizon"):
        forecast_many([weekly("a", 60, 1)], 0)


def test_worker_processes_give_the_same_forecasts() -> None:
    series = [weekly(f"s{i}", 90, seed=i) for i in range(3)]
    one = forecast_many(series, 10, jobs=1)
    two = forecast_many(series, 10, jobs=2)
    for a, b in zip(one, two, strict=True):
        assert (
            a.method == b.method and np.allclose(a.value, b.value) and np.allclose(a.hi95, b.hi95)
        )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=0, max_size=40),
    st.integers(1, 20),
)
def test_any_history_gives_ordered_non_negative_bounds(values: list[float], h: int) -> None:
    [f] = forecast_many([Series.of("s", "2026-01-01", DAY, values)], h)
    assert len(f.value) == h and ordered(f) and np.all(np.isfinite(f.hi95))
