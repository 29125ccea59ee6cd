"""The detector learns what recurs by the calendar, and the end of a long anomaly is not one."""

from __future__ import annotations

import numpy as np

from costcouncil.anomaly import detect, events
from costcouncil.anomaly.detect import month_keys
from costcouncil.schema.series import DAY, Series


def _noise(n: int, seed: int = 3) -> np.ndarray:
    return 100 + np.random.default_rng(seed).normal(0, 2, n)


def test_a_month_end_batch_is_learned_after_two_months() -> None:
    start = np.datetime64("2026-01-01")
    values = _noise(240)
    days = start + np.arange(240)
    last = (days + 1).astype("datetime64[M]") != days.astype("datetime64[M]")
    values[last] += 80
    found = detect(Series.of("batch", "2026-01-01", DAY, values))
    flagged_days = days[found.flagged]
    assert len(flagged_days) >= 1  # the first month-ends are news
    assert all(d < np.datetime64("2026-04-01") for d in flagged_days), flagged_days


def test_a_fee_on_the_first_and_a_spike_elsewhere() -> None:
    days = np.datetime64("2026-01-01") + np.arange(200)
    values = _noise(200, seed=5)
    values[(days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(int) == 0] += 300
    values[150] += 90  # 31 May: a one-off, not on the 1st
    found = detect(Series.of("fee", "2026-01-01", DAY, values))
    late = found.flagged & (days >= np.datetime64("2026-04-01"))
    assert list(days[late]) == [days[150]]


def test_the_end_of_a_long_anomaly_is_not_an_anomaly() -> None:
    values = _noise(160, seed=11)
    values[60:85] += 60  # 25 days high: accepted as the new normal after a week
    found = detect(Series.of("long", "2026-01-01", DAY, values))
    spans = events(found)
    assert [(e.direction, int((e.start - found.timestamps[0]) // DAY)) for e in spans] == [("up", 60)]


def test_month_keys_count_from_the_first_and_from_the_last_day() -> None:
    days = np.array(["2026-02-01", "2026-02-15", "2026-02-16", "2026-02-28", "2026-03-31"],
                    dtype="datetime64[s]")  # fmt: skip
    assert month_keys(days) == [0, 14, -13, -1, -1]
