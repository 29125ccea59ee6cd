"""The detector: spikes, drops, shifts, seasons, causality, feedback, speed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.anomaly.detect import Known, detect
from costcouncil.anomaly.events import events
from costcouncil.schema.series import DAY, Series

START = "2025-01-06"  # a Monday


def daily(seed: int = 1, days: int = 240) -> np.ndarray:
    """Daily cost with a weekday/weekend season, growth and 4 % noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return 100 * np.exp(0.001 * t) * np.where(t % 7 >= 5, 0.5, 1.0) * rng.lognormal(0, 0.04, days)


def flagged(values: np.ndarray, **kw: object) -> list[int]:
    d = detect(Series.of("s", START, DAY, values), **kw)  # type: ignore[arg-type]
    return np.flatnonzero(d.flagged).tolist()


def test_normal_seasonal_growing_series_is_not_flagged() -> None:
    assert flagged(daily()) == []


def test_spike_is_flagged_and_does_not_become_normal() -> None:
    v = daily()
    v[150:152] *= 3
    assert flagged(v) == [150, 151]


def test_drop_to_zero_is_flagged_as_down() -> None:
    v = daily()
    v[120:123] = 0
    d = detect(Series.of("s", START, DAY, v))
    assert np.flatnonzero(d.flagged).tolist() == [120, 121, 122]
    (event,) = events(d)
    assert event.direction == "down" and event.actual == 0 and event.impact < 0


def test_level_shift_is_flagged_then_accepted() -> None:
    v = daily()
    v[100:] *= 2
    assert flagged(v) == list(range(100, 107))


def test_weekends_only_change_is_accepted_after_two_weeks() -> None:
    v = daily()
    t = np.arange(len(v))
    v[(t >= 100) & (t % 7 >= 5)] = 0
    found = flagged(v)
    assert found[:4] == [103, 104, 110, 111]  # the first two weekends at zero
    assert not [i for i in found[4:] if i % 7 >= 5]  # later ones are the new normal


def test_weekday_pattern_is_learned_not_flagged() -> None:
    v = daily()
    d = detect(Series.of("s", START, DAY, v))
    weekend = np.arange(len(v)) % 7 >= 5
    assert np.all(d.expected[60:][weekend[60:]] < 0.7 * d.expected[60:][~weekend[60:]].mean())


def test_known_windows_are_never_flagged() -> None:
    v = daily()
    v[150] *= 4
    when = np.datetime64(START) + np.timedelta64(150, "D")
    for kind in ("expected", "not_anomaly", "annotation"):
        assert flagged(v, known=[Known(when, when, kind)]) == []
    assert flagged(v, known=[Known(when + DAY, None, "expected")]) == [150]


def test_hourly_series_uses_the_daily_season() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(24 * 28)
    v = 50 + 40 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, len(t))
    v[24 * 20 + 3] += 40  # at night, in the band of a day without season
    hourly = Series.of("h", START, np.timedelta64(3600, "s"), v)
    assert np.flatnonzero(detect(hourly).flagged).tolist() == [24 * 20 + 3]


def test_sensitivity_widens_and_narrows_the_band() -> None:
    v = daily()
    v[150] *= 1.2
    assert 150 not in flagged(v, sensitivity=0.5)
    assert 150 in flagged(v, sensitivity=2.0)


def test_missing_values_are_neither_judged_nor_learned() -> None:
    v = daily()
    v[100:110] = np.nan
    d = detect(Series.of("s", START, DAY, v))
    assert not d.flagged.any() and np.isfinite(d.expected).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(30, 200))
def test_causal_a_point_is_judged_only_on_the_points_before_it(seed: int, cut: int) -> None:
    v = daily(seed, 220) * np.random.default_rng(seed).choice([1, 1, 1, 3, 0], 220)
    whole = detect(Series.of("s", START, DAY, v))
    prefix = detect(Series.of("s", START, DAY, v[:cut]))
    assert np.array_equal(whole.flagged[:cut], prefix.flagged)
    assert np.allclose(whole.expected[:cut], prefix.expected)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=120))
def test_band_holds_expected_and_flags_lie_outside_it(values: list[float]) -> None:
    d = detect(Series.of("s", START, DAY, values))
    assert np.all(d.lower <= d.expected) and np.all(d.expected <= d.upper)
    outside = (d.actual < d.lower) | (d.actual > d.upper)
    assert np.all(outside[d.flagged]) and np.all(d.score >= 0)

