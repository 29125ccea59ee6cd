"""The detector: expected value, band and score for every point of a series, judged causally.

For each point, in time order, the detector predicts the value from the points before it only
(so a backtest and a live run flag the same points):

* **expected** = level + trend + season. The *level* is the rolling median of the last
  deseasonalised points (:mod:`~costcouncil.anomaly.plan` gives the window per grain); the
  *trend* is the level's slope over four such windows, carried forward half a window (the
  median lags that much); the *season* is, per phase (hour of day, day of week), the median of
  that phase's last few detrended values.
* **scale** = 1.4826 × the median absolute one-step residual of recent clean points (a robust
  standard deviation), at least 1 % of the level, so scores compare across series.
* **score** = |actual − expected| / scale (a robust z); a point is **flagged** when its score
  exceeds ``THRESHOLD / sensitivity``. The band is expected ± that many scales.

Flagged points are learned only at the edge of the band, and not in the scale: an outage or a
spike moves a median only once such points are the majority of its window. When the last
``plan.accept`` points (a day for sub-daily series, a week for daily ones) begin with a flagged
point and at least half of them are flagged on that side, that is a **level shift**: level and
seasons restart from those points (the scale is kept, widened in proportion when the level
rose), and detection goes on against the new
normal; for a while after, a point back within the band of the *old* normal is the end of a long
anomaly, not a new one, and restarts there. A single phase flagged on the same side in two
periods running (weekends that fell to zero) restarts from its latest value. A daily series also
learns what recurs by the calendar: when the same place in the month (days 1-15 counted from the
1st, later days from the month's last day) was off the band on the same side in each of the last
two months — a month-end batch, a fee on the 1st — that amount is expected there; and a point
leaning at least one scale the same way as the mean of its last week, when that week's mean is
off the band (its z is the sum of the week's z over √7), is flagged too: a sustained change each
day's noise hides (it is then learned as expected, so the level does not absorb it). Points in a :class:`Known`
window are never flagged and are learned as normal. Missing values (NaN) are not judged or learned.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costcouncil.anomaly.plan import Plan, phases, plan
from costcouncil.anomaly.windows import Profile, RollingMedian
from costcouncil.schema.series import DAY, Series

__all__ = ["DEFAULT_SENSITIVITY", "KINDS", "THRESHOLD", "Detection", "Known", "detect"]

#: The robust z a point must exceed at sensitivity 1.
THRESHOLD = 5.0
DEFAULT_SENSITIVITY = 1.0
#: Feedback and annotation kinds: each window is never flagged and is learned as normal.
KINDS = ("expected", "not_anomaly", "annotation")
MAD_TO_SD = 1.4826
#: The scale is also at least the 90th percentile of recent absolute residuals, flagged spikes
#: included (but not the points of a run), over its normal-equivalent: spikes on more than one
#: day in ten are how that series varies, not anomalies.
TAIL_Q, TAIL_TO_SD = 0.9, 1.645
#: The scale is at least this share of the level (a flat series still has a band).
MIN_RELATIVE_SCALE = 0.01
TINY = 1e-9
#: The trend is the level's slope over this many level windows (longer than the level's, so a
#: ramp of a few days shows as a deviation before it shows as a trend).
TREND_SPAN = 4
#: Months a day's place in the month remembers (daily series: recurring monthly amounts), and
#: among how many of the latest a recurrence must have been seen to still be expected.
MONTHS, RECENT_MONTHS = 5, 3
#: For this many acceptance windows after a level shift, a return to the old normal is not flagged.
RETURN_WINDOW = 8


@dataclass(frozen=True)
class Known:
    """A window a person vouched for: ``expected``, ``not_anomaly`` or ``annotation``.

    ``end`` is inclusive; None means open (from ``start`` on).
    """

    start: np.datetime64
    end: np.datetime64 | None
    kind: str


@dataclass(frozen=True)
class Detection:
    """The detector's verdict on every point of one series (arrays as long as the series)."""

    key: str
    timestamps: np.ndarray
    actual: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    score: np.ndarray
    flagged: np.ndarray


def detect(
    series: Series,
    *,
    sensitivity: float = DEFAULT_SENSITIVITY,
    known: Sequence[Known] = (),
    min_history: int | None = None,
) -> Detection:
    """Judge every point of ``series`` against what the points before it predict.

    ``sensitivity`` scales the band (2 halves its width, flagging more); ``min_history`` is
    how many points are learned before any is judged (default: the grain's, see
    :mod:`~costcouncil.anomaly.plan`).
    """
    if not sensitivity > 0:
        raise ValueError(f"sensitivity must be > 0, not {sensitivity}")
    grain = plan(series.step)
    stamps = series.timestamps
    runner = _Runner(
        grain, THRESHOLD / sensitivity, grain.min_history if min_history is None else min_history
    )
    seasons = [phases(stamps, series.step, s).tolist() for s in grain.seasons]
    excused = excused_points(stamps, known).tolist()
    runner.months = list(month_keys(stamps)) if series.step == DAY else [None] * len(series)
    expected, scale = runner.run(
        series.values.tolist(),
        list(zip(*seasons, strict=True)) if seasons else [()] * len(series),
        excused,
    )
    return _verdict(series, stamps, expected, scale, runner)


def month_keys(stamps: np.ndarray) -> list[int]:
    """Each day's place in its month: days 1-15 count from the 1st (0, 1, …), later days from
    the month's last day (-1 is the last day), so "the last day" is one place in every month."""
    days = stamps.astype("datetime64[D]")
    first = days.astype("datetime64[M]").astype("datetime64[D]")
    following = (days.astype("datetime64[M]") + 1).astype("datetime64[D]")
    day = (days - first).astype(np.int64)
    left = (following - days).astype(np.int64)
    keys: list[int] = np.where(day < 15, day, -left).tolist()
    return keys


def excused_points(stamps: np.ndarray, known: Sequence[Known]) -> np.ndarray:
    """Which timestamps fall in a :class:`Known` window (never flagged, learned as normal)."""
    out = np.zeros(len(stamps), dtype=bool)
    for k in known:
        if k.kind not in KINDS:
            raise ValueError(f"unknown kind {k.kind!r}; one of {', '.join(KINDS)}")
        inside = stamps >= k.start
        if k.end is not None:
            inside &= stamps <= k.end
        out |= inside
    return out


def _verdict(
    series: Series, stamps: np.ndarray, expected: np.ndarray, scale: np.ndarray, runner: _Runner
) -> Detection:
    actual = series.values
    with np.errstate(invalid="ignore"):
        score = np.where(np.isfinite(actual), np.abs(actual - expected) / scale, 0.0)
    width = runner.threshold * scale
    flagged = np.asarray(runner.flagged, dtype=bool)
    return Detection(
        series.key, stamps, actual, expected, expected - width, expected + width, score, flagged
    )


class _Runner:
    """The detector's state as it walks a series point by point."""

    def __init__(self, grain: Plan, threshold: float, min_history: int) -> None:
        self.grain = grain
        self.threshold = threshold
        self.min_history = min_history
        self.level = RollingMedian(grain.level)
        self.residuals = RollingMedian(grain.scale)
        self.tail = RollingMedian(grain.scale)
        self.profiles = [Profile(s.length, s.depth) for s in grain.seasons]
        self.history: deque[float] = deque(maxlen=TREND_SPAN * grain.level + 1)
        self.recent: deque[tuple[float, tuple[int, ...], int]] = deque(maxlen=grain.accept)
        self.flagged: list[bool] = []
        self.months: list[int | None] = []
        self.by_month: dict[int, deque[float]] = {}
        self.zs: deque[float] = deque(maxlen=max(grain.sustained, default=1))
        self.run_level = math.nan
        self.last_key: int | None = None
        self.last_side = 0
        #: The level, scale and remaining points of the normal before the last accepted shift.
        self.before: tuple[float, float, int] | None = None

    def run(
        self, values: list[float], seasons: list[tuple[int, ...]], excused: list[bool]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected value and scale of every point; fills ``self.flagged``."""
        n = len(values)
        expected, scale = np.empty(n), np.empty(n)
        for i in range(n):
            expected[i], scale[i] = self.step(i, values[i], seasons[i], excused[i])
        return expected, scale

    def step(self, i: int, y: float, phase: tuple[int, ...], excused: bool) -> tuple[float, float]:
        """Judge point ``i`` (value ``y``) on the state so far, then learn from it."""
        season = self.season(phase)
        level = self.expected_level(y)
        scale = self.scale(level)
        key = self.months[i] if i < len(self.months) else None
        monthly = self.monthly(key, scale)
        expected = level + season + monthly
        residual = y - expected
        judged = i >= self.min_history and not math.isnan(y)
        flag = judged and not excused and abs(residual) > self.threshold * scale
        returned = flag and self.back_to_before(y, season + monthly)
        if returned:
            flag, expected, residual = False, y, 0.0
        held = judged and not (flag or excused) and self.sustained(residual / scale)
        flag = flag or held
        self.flagged.append(flag)
        if not math.isnan(y):
            side = (1 if residual > 0 else -1) if flag else 0
            if i >= self.grain.tail[0] and (side == 0 or side != self.last_side):
                self.tail.push(abs(residual))
            if key is not None:
                self.remember_month(key, monthly if returned else y - level - season, side)
            y -= monthly
            edge = expected - monthly + (0 if held else side * self.threshold * scale)
            self.learn(i, edge if flag else y, season, level, None if flag else residual, phase)
            for profile, p in zip(self.profiles, phase, strict=True):
                profile.mark(p, side, y - level)
            self.remember(y, phase, side)
        if len(self.level) >= self.grain.level:  # the trend starts once the level is settled
            self.history.append(self.level.median())
        if self.before is not None:
            level_b, scale_b, left = self.before
            self.before = (level_b, scale_b, left - 1) if left > 1 else None
        return expected, scale

    def remember_month(self, key: int, residual: float, side: int) -> None:
        """Keep the day's residual at its place in the month. A recurring amount is a day that
        stands out on its own: a day flagged on the same side as the day before is part of a run
        (an outage, a runaway), so neither counts for that month."""
        past = self.by_month.setdefault(key, deque(maxlen=MONTHS))
        if side != 0 and side == self.last_side:
            residual = 0.0
            if self.last_key is not None and self.by_month.get(self.last_key):
                self.by_month[self.last_key][-1] = 0.0
        past.append(residual)
        self.last_key, self.last_side = key, side

    def sustained(self, z: float) -> bool:
        """Whether the mean of the last few points (this one included) is off the band: a change
        each day's noise hides but several days in a row show (its z grows with the root of the
        run's length). The point itself must lean the same way by at least one scale; points
        flagged on their own are not part of a run (a spike does not make the next days odd)."""
        runs = self.grain.sustained
        if not runs:
            return False
        past = self.zs
        past.append(z)
        if abs(z) < 1:
            return False
        for k in runs:
            if len(past) >= k:
                mean = sum(list(past)[-k:]) / math.sqrt(k)
                if abs(mean) > self.threshold and mean * z > 0:
                    return True
        return False

    def monthly(self, key: int | None, scale: float) -> float:
        """A day's recurring monthly amount: when the same place in at least two of the last
        :data:`MONTHS` months (one of them among the last :data:`RECENT_MONTHS`) was off by more
        than the band on the same side, by amounts within a factor of two of each other (a
        month-end batch, a fee on the 1st), the median of those residuals; else 0. A month or
        two that differ (the batch skipped, an anomaly over that day) do not undo it."""
        past = self.by_month.get(key) if key is not None else None
        if not past or len(past) < 2:
            return 0.0
        limit = self.threshold * scale
        for side in (1, -1):
            off = [side * r for r in past if side * r > limit]
            recent = any(side * r > limit for r in list(past)[-RECENT_MONTHS:])
            if len(off) >= 2 and recent and min(off) * 2 >= max(off):
                return side * float(np.median(off))
        return 0.0

    def back_to_before(self, y: float, season: float) -> bool:
        """After an accepted shift, a point back within the band of the old normal is the old
        normal returning (the end of a long anomaly), not an anomaly: restart there."""
        if self.before is None:
            return False
        level, scale, _ = self.before
        if abs(y - level - season) > self.threshold * scale:
            return False
        self.before = None
        self.level.clear()
        self.history.clear()
        for _ in range(self.grain.level):
            self.level.push(level)
        self.recent.clear()
        return True

    def season(self, phase: tuple[int, ...]) -> float:
        """The season at this point: the longest profile that has learned enough here."""
        for profile, p in zip(reversed(self.profiles), reversed(phase), strict=True):
            if profile.count(p) >= (3 if profile is not self.profiles[0] else 1):
                return profile.value(p)
        return 0.0

    def expected_level(self, y: float) -> float:
        """The rolling median level, carried forward by the trend (``y`` when nothing is known)."""
        median = self.level.median()
        if math.isnan(median):
            return 0.0 if math.isnan(y) else y
        history = self.history
        if len(history) < history.maxlen:  # type: ignore[operator]
            return median
        slope = (history[-1] - history[0]) / (len(history) - 1)
        return median + slope * (self.grain.level + 1) / 2

    def scale(self, level: float) -> float:
        spread = MAD_TO_SD * self.residuals.median() if len(self.residuals) else 0.0
        tail = (
            self.tail.quantile(TAIL_Q) / TAIL_TO_SD if len(self.tail) >= self.grain.tail[1] else 0.0
        )
        return max(spread, tail, MIN_RELATIVE_SCALE * abs(level), TINY)

    def learn(
        self,
        i: int,
        y: float,
        season: float,
        level: float,
        residual: float | None,
        phase: tuple[int, ...],
    ) -> None:
        """Feed the level, the season profiles and (for a normal point) the scale."""
        self.level.push(y - season)
        for profile, p in zip(self.profiles, phase, strict=True):
            profile.push(p, y - level)
        if residual is not None and i >= self.min_history // 2:
            self.residuals.push(abs(residual))

    def remember(self, y: float, phase: tuple[int, ...], side: int) -> None:
        """Keep the point among the recent ones; restart on a level shift."""
        recent = self.recent
        if side != 0 and (not recent or recent[-1][2] != side):
            self.run_level = self.level.median()  # the normal before this run of flags
        recent.append((y, phase, side))
        if side == 0 or len(recent) < self.grain.accept or recent[0][2] != side:
            return
        if 2 * sum(1 for _, _, s in recent if s == side) >= len(recent):
            self.restart()

    def restart(self) -> None:
        """A level shift: level and seasons start again from the recent points.

        The scale stays, widened in proportion when the level rose (cost noise grows with spend).
        """
        level = float(np.median([y for y, _, _ in self.recent]))
        before = self.level.median()
        normal = self.run_level if not math.isnan(self.run_level) else before
        if not math.isnan(normal):
            self.before = (normal, self.scale(normal), RETURN_WINDOW * self.grain.accept)
        if before > 0 and level > before:
            self.residuals.rescale(level / before)
        self.level.clear()
        self.history.clear()
        self.profiles = [Profile(s.length, s.depth) for s in self.grain.seasons]
        for y, phase, _ in self.recent:
            for profile, p in zip(self.profiles, phase, strict=True):
                profile.push(p, y - level)
            self.level.push(level)
        self.recent.clear()
