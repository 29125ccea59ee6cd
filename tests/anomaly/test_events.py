"""Flagged points merged into events: gaps, direction, impact, ongoing."""

from __future__ import annotations

import numpy as np
import pytest

from costcouncil.anomaly.detect import Detection
from costcouncil.anomaly.events import events


def detection(actual: list[float], flagged: list[int]) -> Detection:
    n = len(actual)
    stamps = np.datetime64("2026-01-01", "s") + np.arange(n) * np.timedelta64(86400, "s")
    mask = np.zeros(n, dtype=bool)
    mask[flagged] = True
    expected = np.full(n, 10.0)
    return Detection(
        "k",
        stamps,
        np.array(actual),
        expected,
        expected - 2,
        expected + 2,
        np.abs(np.array(actual) - 10),
        mask,
    )


def test_gap_of_one_point_merges_and_sums_span() -> None:
    d = detection([10, 30, 11, 40, 10, 10, 10], [1, 3])
    (e,) = events(d)
    assert e.start == d.timestamps[1] and e.end == d.timestamps[3]
    assert e.actual == 81 and e.expected == 30 and e.impact == 51
    assert e.impact_pct == 51 / 30 and e.score == 30 and e.direction == "up"
    assert len(events(d, gap=0)) == 2


def test_direction_change_splits_and_last_point_is_ongoing() -> None:
    d = detection([10, 30, 0, 10, 0], [1, 2, 4])
    up, down, ongoing = events(d, gap=0)
    assert (up.direction, down.direction, ongoing.direction) == ("up", "down", "down")
    assert down.impact == -10 and ongoing.end is None and up.end is not None


def test_same_side_within_the_gap_merges_into_an_ongoing_event() -> None:
    d = detection([10, 30, 0, 10, 0], [1, 2, 4])
    up, down = events(d)
    assert up.end == d.timestamps[1] and down.start == d.timestamps[2] and down.end is None


def test_direction_keeps_one_side() -> None:
    d = detection([10, 30, 0, 10, 0], [1, 2, 4])
    assert [e.direction for e in events(d, direction="up")] == ["up"]
    assert [e.direction for e in events(d, direction="down", gap=0)] == ["down", "down"]
    assert len(events(d, direction="both")) == 2 == len(events(d))
    with pytest.raises(ValueError, match="direction 'left'"):
        events(d, direction="left")
