"""Sums over forecasts: months, month-end, threshold crossings; and the interval maths."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.forecast import backtest as bt
from costcouncil.forecast import crossing, forecast_many, month_end, monthly
from costcouncil.forecast.intervals import conformal, fit, sum_spread
from costcouncil.schema.series import DAY, Series


def history(days: int = 120) -> Series:
    rng = np.random.default_rng(7)
    t = np.arange(days)
    y = 100 + 20 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 8, days)
    return Series.of("team/vision", "2026-01-01", DAY, y)  # to 2026-04-30


def test_monthly_totals_sum_the_days_of_each_calendar_month() -> None:
    s = history()
    [f] = forecast_many([s], 400)
    months = monthly(f)
    assert len(months) == 12 and months[0].start == np.datetime64("2026-05-01", "s")
    assert [m.days for m in months[:3]] == [31, 30, 31] and all(m.complete for m in months)
    may = f.timestamps.astype("datetime64[M]") == np.datetime64("2026-05")
    b = months[0].total
    assert np.isclose(b.value, f.value[may].sum())
    assert b.lo95 <= b.lo80 <= b.value <= b.hi80 <= b.hi95
    # between independent days (root sum of squares) and one common error (sum of bounds)
    half = f.hi80[may] - f.value[may]
    assert np.sqrt(np.sum(half**2)) - 1e-6 <= b.hi80 - b.value <= half.sum() + 1e-6


def test_a_partial_last_month_is_marked_incomplete() -> None:
    [f] = forecast_many([history()], 40)  # May and 9 days of June
    months = monthly(f)
    assert [(m.days, m.complete) for m in months] == [(31, True), (9, False)]


def test_month_end_is_actual_to_date_plus_the_forecast_rest() -> None:
    s = Series.of("x", "2026-04-01", DAY, [10.0] * 20)  # April 1..20 spent
    [f] = forecast_many([s], 30)
    end = month_end(s, f, np.datetime64("2026-04-01"))
    assert (end.actual, end.days_actual, end.days_forecast) == (200.0, 20, 10)
    assert np.isclose(end.total.value, 200 + f.value[:10].sum())
    assert end.total.lo95 >= 200  # what is spent is spent


def test_crossing_dates_bracket_the_point_forecast_date() -> None:
    s = history()
    [f] = forecast_many([s], 60)
    c = crossing(500.0, f, 3000.0)
    assert c is not None and c.date is not None
    assert c.earliest is not None and c.earliest <= c.date
    assert c.latest is None or c.date <= c.latest
    cum = 500 + np.cumsum(f.value)
    i = int(np.flatnonzero(cum >= 3000)[0])
    assert c.date == f.timestamps[i] and (i == 0 or cum[i - 1] < 3000)


def test_crossing_already_done_or_never() -> None:
    [f] = forecast_many([history()], 10)
    done = crossing(5000.0, f, 4000.0)
    assert done is not None and done.already and done.date is None
    assert crossing(0.0, f, 1e9) is None


def test_backtest_plan_caps_the_horizon_to_the_history() -> None:
    p = bt.plan(365, 365, 7)
    assert p is not None and p.h < 365 and len(p.origins) >= 2
    assert p.origins[-1] + p.h == 365 and p.origins[0] >= 14
    assert bt.plan(17, 30, 7) is None


def test_interval_spread_grows_with_the_horizon_for_random_walk_errors() -> None:
    rng = np.random.default_rng(0)
    errors = np.cumsum(rng.normal(0, 1, (200, 20)), axis=1)
    spread = fit(errors)
    sigma = spread.sigma(np.arange(1, 21, dtype=float))
    assert sigma[-1] > 3 * sigma[0] and spread.rho > 0.5


@given(st.lists(st.floats(0, 100), min_size=1, max_size=50), st.floats(0.5, 0.99))
def test_conformal_quantile_covers_at_least_the_level(scores: list[float], level: float) -> None:
    q = conformal(np.array(scores), level)
    assert np.mean(np.array(scores) <= q) >= level - 1e-9 or q == max(scores)


@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=30), st.floats(0, 1))
def test_sum_spread_lies_between_independent_and_common(half: list[float], rho: float) -> None:
    w = np.array(half)
    got = sum_spread(w, rho)
    assert np.sqrt(np.sum(w**2)) * (1 - 1e-9) - 1e-9 <= got <= np.sum(w) * (1 + 1e-9) + 1e-9
