"""How the detector adapts to a series' grain: its seasons and window lengths, in points.

The grain (the series' step) decides everything, so that one rule serves daily cost, hourly
usage and 5-minute metrics alike:

========================  =================================  =========  ======  =======
grain                     seasons (period: phases × depth)     level      scale   accept
========================  =================================  =========  ======  =======
finer than a day          day: per-day × 7, week: × 4         1 day      4 days  1 day
a day                     week: 7 × 6                         14 days    8 weeks 7 days
coarser than a day        none                                8 points   26      4 points
========================  =================================  =========  ======  =======

A daily series is judged from its 29th day (four weeks learned), and also by the mean of its
last 7 days (see :mod:`~costcouncil.anomaly.detect`). *depth* is how many past seasons each phase's median looks at; the weekly profile of a sub-daily
series is used at a phase once it holds 3 weeks there (the daily one before). *level* is the
window of the rolling median level, *scale* the window of past residuals whose MAD is the
scale, *accept* the run of flagged points after which a shift is accepted as the new normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcouncil.schema.series import DAY

WEEK = 7 * DAY


@dataclass(frozen=True)
class Season:
    """A season: its period, its phases (points per period) and how many periods it remembers."""

    period: np.timedelta64
    length: int
    depth: int


@dataclass(frozen=True)
class Plan:
    """The detector's windows for one grain, in points (see the module docstring)."""

    seasons: tuple[Season, ...]
    level: int
    scale: int
    accept: int
    min_history: int
    #: Runs of points whose mean is judged too (a sustained change within each day's noise).
    sustained: tuple[int, ...] = ()
    #: The tail scale learns from this point on, and is used once it holds this many points.
    tail: tuple[int, int] = (0, 0)


def plan(step: np.timedelta64) -> Plan:
    """The plan for a series whose points are ``step`` apart."""
    if step < DAY:
        per_day = max(1, round(DAY / step))
        seasons = (Season(DAY, per_day, 7), Season(WEEK, 7 * per_day, 4))
        return Plan(seasons, per_day, 4 * per_day, per_day, 2 * per_day, (), (per_day, per_day))
    if step == DAY:
        return Plan((Season(WEEK, 7, 6),), 14, 56, 7, 28, (7,), (28, 28))
    return Plan((), 8, 26, 4, 8, (), (8, 8))


def phases(timestamps: np.ndarray, step: np.timedelta64, season: Season) -> np.ndarray:
    """The phase of each timestamp in ``season`` (time of day or of week, in steps; UTC)."""
    since = (timestamps - np.datetime64(0, "s")) % season.period
    return np.minimum((since // step).astype(np.int64), season.length - 1)
