"""Flagged points merged into anomaly events: start, end (or ongoing), actual vs expected, impact.

Consecutive flagged points on the same side are one event; up to ``gap`` unflagged points
between two flagged ones do not split it (a spike that dips inside the band for an hour is one
anomaly). An event's actual and expected are sums over every point from its start to its end,
so for a cost series they are the money spent and the money expected over the anomaly; impact
is actual − expected and impact_pct is impact / expected (None when nothing was expected).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcouncil.anomaly.detect import Detection

__all__ = ["DEFAULT_GAP", "DIRECTIONS", "Event", "events"]

#: Unflagged points allowed inside one event.
DEFAULT_GAP = 1
#: Which events to keep: above the band, below it, or both.
DIRECTIONS = ("up", "down", "both")


@dataclass(frozen=True)
class Event:
    """One anomaly: consecutive flagged points of a series on one side of the band.

    ``end`` is the time of the last flagged point (inclusive), None while it is ongoing (the
    series' last point is flagged). ``score`` is the highest point score; ``direction`` is
    ``"up"`` or ``"down"``.
    """

    key: str
    start: np.datetime64
    end: np.datetime64 | None
    actual: float
    expected: float
    impact: float
    impact_pct: float | None
    score: float
    direction: str


def events(detection: Detection, *, gap: int = DEFAULT_GAP, direction: str = "both") -> list[Event]:
    """The events of ``detection``, in time order: those above the band (``direction="up"``,
    spend higher than expected), below it (``"down"``) or ``"both"``. The direction only picks
    events; the detector learns from both sides alike."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r}: one of {', '.join(DIRECTIONS)}")
    found = [_event(detection, a, b) for a, b in _spans(detection, gap)]
    return [e for e in found if direction in ("both", e.direction)]


def _spans(detection: Detection, gap: int) -> list[tuple[int, int]]:
    """Index ranges ``[a, b]`` (inclusive) of flagged points merged into events."""
    points = np.flatnonzero(detection.flagged)
    side = np.sign(detection.actual[points] - detection.expected[points])
    spans: list[tuple[int, int]] = []
    last = 0.0
    for i, s in zip(points.tolist(), side.tolist(), strict=True):
        if spans and i - spans[-1][1] <= gap + 1 and s == last:
            spans[-1] = (spans[-1][0], i)
        else:
            spans.append((i, i))
        last = s
    return spans


def _event(d: Detection, a: int, b: int) -> Event:
    actual = float(np.nansum(d.actual[a : b + 1]))
    expected = float(np.sum(d.expected[a : b + 1]))
    impact = actual - expected
    ongoing = b == len(d.flagged) - 1
    return Event(
        key=d.key,
        start=d.timestamps[a],
        end=None if ongoing else d.timestamps[b],
        actual=actual,
        expected=expected,
        impact=impact,
        impact_pct=impact / expected if expected else None,
        score=float(np.max(d.score[a : b + 1])),
        direction="up" if impact > 0 else "down",
    )
