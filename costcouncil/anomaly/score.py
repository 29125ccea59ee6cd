"""Scoring flagged points against labelled windows: window recall, point precision and F1.

A labelled window ``[start, end]`` (inclusive) is **found** when any flagged point falls in it;
**recall** is found windows / windows. **Precision** is flagged points inside some window /
flagged points. F1 = 2PR / (P + R). Counts add up across series, so a group's score is the
score of its summed counts (micro-average), not a mean of per-series scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Window = tuple[np.datetime64, np.datetime64]


@dataclass(frozen=True)
class Score:
    """Counts of one or more scored series, and the figures they give."""

    windows: int
    found: int
    flagged: int
    inside: int

    @property
    def recall(self) -> float:
        return self.found / self.windows if self.windows else 1.0

    @property
    def precision(self) -> float:
        return self.inside / self.flagged if self.flagged else (1.0 if not self.windows else 0.0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Score) -> Score:
        return Score(
            self.windows + other.windows,
            self.found + other.found,
            self.flagged + other.flagged,
            self.inside + other.inside,
        )


def score(flagged: np.ndarray, windows: Sequence[Window]) -> Score:
    """Score the flagged timestamps (``datetime64``) of one series against its windows."""
    flagged = np.asarray(flagged, dtype="datetime64[s]")
    inside = np.zeros(len(flagged), dtype=bool)
    found = 0
    for start, end in windows:
        hit = (flagged >= start) & (flagged <= end)
        found += bool(hit.any())
        inside |= hit
    return Score(len(windows), found, len(flagged), int(inside.sum()))


def total(scores: Iterable[Score]) -> Score:
    """The summed counts of several scores."""
    out = Score(0, 0, 0, 0)
    for s in scores:
        out = out + s
    return out
