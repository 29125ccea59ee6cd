"""The live spend-rate monitor: flags a runaway (a loop calling a model) within a minute.

One :class:`RateMonitor` watches one stream of live usage events (e.g. one team and model).
It is pure and incremental: :meth:`RateMonitor.observe` adds an event's time and amount,
:meth:`RateMonitor.check` answers whether the stream is running away *now*.

* **current rate** — the spend of the last ``window`` seconds, scaled to an hour.
* **expected rate** — learned from the stream's own completed hours: the larger of the median of
  the last 24 hours and the median of the same hour of day over the last 7 days (robust: a
  runaway of a few hours moves neither; the larger one, so a daily peak is not a runaway),
  and at least ``floor`` per hour, so a first-ever stream or a tiny baseline does not alarm on
  noise.
* **alert** when the window's spend exceeds both ``factor`` × the expected spend of a window
  and the expected spend plus ``z`` compound-Poisson standard deviations (√(expected × mean
  event amount), so a quiet stream of big calls is not flagged for one more call).

With the defaults (60 s window, factor 3, z 6) a stream running at 10× its usual rate is flagged
once about 20 events of the runaway have arrived — within seconds for a busy stream — while
ordinary Poisson traffic at the usual rate is not flagged.
"""

from __future__ import annotations

import math
import statistics
from bisect import insort
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

__all__ = ["RateAlert", "RateMonitor"]

HOUR_S = 3600
DAY_HOURS = 24
WEEK_HOURS = 7 * DAY_HOURS


@dataclass(frozen=True)
class RateAlert:
    """A stream spending far above its expected rate (both per hour) at ``at``."""

    at: np.datetime64
    since: np.datetime64
    rate: float
    expected: float
    spend: float
    events: int

    @property
    def ratio(self) -> float:
        """Current rate over expected rate (inf when nothing was expected)."""
        return self.rate / self.expected if self.expected else math.inf


def seconds(when: np.datetime64 | datetime) -> float:
    """Seconds since the epoch (a naive datetime is UTC)."""
    if isinstance(when, datetime):
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        return aware.timestamp()
    return float((when - np.datetime64(0, "ms")) / np.timedelta64(1, "ms")) / 1000.0


class RateMonitor:
    """The spend-rate monitor of one stream (see the module docstring for the rule)."""

    def __init__(
        self,
        *,
        window: float = 60.0,
        factor: float = 3.0,
        z: float = 6.0,
        floor: float = 10.0,
        history_hours: int = WEEK_HOURS,
    ) -> None:
        self.window, self.factor, self.z, self.floor = window, factor, z, floor
        self._recent: deque[tuple[float, float]] = deque()
        self._hours: dict[int, float] = {}
        self._history_hours = history_hours
        self._count = 0
        self._total = 0.0

    def observe(self, when: np.datetime64 | datetime, amount: float) -> None:
        """Add one event (its time and spend); events may arrive a little out of order."""
        t = seconds(when)
        if self._recent and t < self._recent[-1][0]:
            items = list(self._recent)
            insort(items, (t, amount))
            self._recent = deque(items)
        else:
            self._recent.append((t, amount))
        hour = int(t // HOUR_S)
        self._hours[hour] = self._hours.get(hour, 0.0) + amount
        self._count += 1
        self._total += amount

    def expected(self, now: np.datetime64 | datetime) -> float:
        """The expected spend per hour at ``now``, from completed hours (0 with no history)."""
        current = int(seconds(now) // HOUR_S)
        first = min(self._hours, default=current)
        last_day = [
            self._hours.get(h, 0.0) for h in range(max(first, current - DAY_HOURS), current)
        ]
        same_hour = [
            self._hours.get(h, 0.0) for h in range(current - DAY_HOURS, first - 1, -DAY_HOURS)
        ][:7]
        medians = [statistics.median(v) for v in (last_day, same_hour) if v]
        return max(medians, default=0.0)

    def check(self, now: np.datetime64 | datetime) -> RateAlert | None:
        """A :class:`RateAlert` when the last ``window`` seconds ran away, else None."""
        t = seconds(now)
        self._forget(t)
        inside = [(s, a) for s, a in self._recent if s <= t]
        spend = sum(a for _, a in inside)
        expected = self.expected(now)
        if not inside or spend <= self.limit(expected):
            return None
        since = np.datetime64(int(inside[0][0] * 1000), "ms")
        at = np.datetime64(int(t * 1000), "ms")
        rate = spend * HOUR_S / self.window
        return RateAlert(at, since, rate, expected, spend, len(inside))

    def limit(self, expected: float) -> float:
        """The most a window may spend before it is a runaway, given the expected rate per hour.

        The expected rate counts as at least ``floor``, so a new or tiny stream needs a burst
        well above the floor (and above its own Poisson noise) to alarm.
        """
        per_window = max(expected, self.floor) * self.window / HOUR_S
        mean_amount = self._total / self._count if self._count else 0.0
        noise = per_window + self.z * math.sqrt(per_window * mean_amount)
        return max(self.factor * per_window, noise)

    def _forget(self, t: float) -> None:
        """Drop events older than the window and hours older than the history."""
        while self._recent and self._recent[0][0] <= t - self.window:
            self._recent.popleft()
        oldest = int(t // HOUR_S) - self._history_hours - 1
        for hour in [h for h in self._hours if h < oldest]:
            del self._hours[hour]
