"""The live spend-rate monitor: a 10x runaway flagged within 60 s; normal traffic never."""

from __future__ import annotations

import numpy as np

from costcouncil.anomaly.rate import RateMonitor

T0 = np.datetime64("2026-03-02T00:00:00", "ms")
RATE = 600.0  # events per hour at the usual rate
AMOUNT = 0.05  # spend per event: $30 an hour


def traffic(rng: np.random.Generator, start: float, end: float, per_hour: float) -> np.ndarray:
    """Poisson event times (seconds after T0) between start and end."""
    n = rng.poisson(per_hour * (end - start) / 3600)
    return np.sort(rng.uniform(start, end, n))


def at(seconds: float) -> np.datetime64:
    return T0 + np.timedelta64(int(seconds * 1000), "ms")


def feed(monitor: RateMonitor, times: np.ndarray, rng: np.random.Generator) -> float | None:
    """Observe every event, checking after each; the first time an alert came (or None)."""
    for t in times:
        monitor.observe(at(t), float(AMOUNT * rng.uniform(0.5, 1.5)))
        if monitor.check(at(t)) is not None:
            return float(t)
    return None


def test_normal_poisson_traffic_is_not_flagged_over_a_day() -> None:
    rng = np.random.default_rng(11)
    monitor = RateMonitor()
    day = 86400.0
    for t in traffic(rng, 0, day, RATE):  # a day of history, learned before checking
        monitor.observe(at(t), float(AMOUNT * rng.uniform(0.5, 1.5)))
    assert feed(monitor, traffic(rng, day, 2 * day, RATE), rng) is None
    assert all(monitor.check(at(2 * day + s)) is None for s in range(0, 3600, 10))


def test_a_tenfold_runaway_is_flagged_within_a_minute_of_its_first_event() -> None:
    rng = np.random.default_rng(12)
    monitor = RateMonitor()
    start = 86400.0 + 1234.5
    for t in traffic(rng, 0, start, RATE):
        monitor.observe(at(t), float(AMOUNT * rng.uniform(0.5, 1.5)))
    loop = traffic(rng, start, start + 600, 9 * RATE)
    both = np.sort(np.concatenate([loop, traffic(rng, start, start + 600, RATE)]))
    when = feed(monitor, both, rng)
    assert when is not None and when - loop[0] <= 60
    alert = monitor.check(at(when))
    assert alert is not None and alert.ratio > 3 and alert.expected > 0


def test_a_first_ever_stream_alarms_only_well_above_the_floor() -> None:
    rng = np.random.default_rng(13)
    quiet = RateMonitor(floor=100.0)
    assert feed(quiet, traffic(rng, 0, 3600, RATE), rng) is None  # $30/h, no history
    one_big = RateMonitor(floor=100.0)
    one_big.observe(at(0), 5.0)  # one $5 call is not a runaway
    assert one_big.check(at(1)) is None
    loop = RateMonitor(floor=100.0)
    for s in range(100):
        loop.observe(at(s * 0.3), 1.0)
    alert = loop.check(at(30))
    assert alert is not None and alert.rate == 100 * 60 and alert.expected == 0
    assert alert.events == 100 and alert.since == at(0)


def test_old_events_leave_the_window() -> None:
    monitor = RateMonitor(floor=10.0)
    for s in range(50):
        monitor.observe(at(s * 0.1), 1.0)
    assert monitor.check(at(10)) is not None
    assert monitor.check(at(70)) is None
