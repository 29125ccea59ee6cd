"""Rolling robust statistics the detector keeps point by point: a rolling median and season profiles.

Each structure holds only what was pushed into it, so the detector decides what is learned
(clean points, feedback) and what is not (flagged points). Pushing is O(window) in C (a sorted
list with ``bisect``), a median is O(1).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

NAN = float("nan")


class RollingMedian:
    """The median of the last ``size`` values pushed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._fifo)

    def push(self, value: float) -> None:
        """Add ``value``; the oldest value leaves once the window is full."""
        self._fifo.append(value)
        insort(self._sorted, value)
        if len(self._fifo) > self.size:
            old = self._fifo.popleft()
            del self._sorted[bisect_left(self._sorted, old)]

    def median(self) -> float:
        """The median of the window (NaN while it is empty)."""
        values, n = self._sorted, len(self._sorted)
        if n == 0:
            return NAN
        half = n // 2
        return values[half] if n % 2 else 0.5 * (values[half - 1] + values[half])

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the window (nearest rank; NaN while it is empty)."""
        values = self._sorted
        if not values:
            return NAN
        return values[min(len(values) - 1, int(q * len(values)))]

    def rescale(self, factor: float) -> None:
        """Multiply every value in the window by ``factor`` (> 0, so the order holds)."""
        self._fifo = deque(v * factor for v in self._fifo)
        self._sorted = [v * factor for v in self._sorted]

    def clear(self) -> None:
        self._fifo.clear()
        self._sorted.clear()


class Profile:
    """A season profile: per phase, the median of the last ``depth`` values pushed at that phase."""

    def __init__(self, length: int, depth: int) -> None:
        self.length = length
        self._depth = depth
        self._values: list[deque[float]] = [deque(maxlen=depth) for _ in range(length)]
        self._median = [NAN] * length
        self._streak = [0] * length

    def count(self, phase: int) -> int:
        """How many values the profile holds at ``phase``."""
        return len(self._values[phase])

    def value(self, phase: int) -> float:
        """The profile at ``phase`` (NaN where nothing was learned yet)."""
        return self._median[phase]

    def mark(self, phase: int, side: int, value: float) -> None:
        """Count a point flagged above (``side`` 1), below (-1) or not (0) at ``phase``.

        A phase flagged on the same side in two periods running has changed: it restarts from
        ``value``.
        """
        streak = self._streak[phase]
        streak = streak + side if side and streak * side >= 0 else side
        if abs(streak) >= 2:
            self._values[phase].clear()
            self.push(phase, value)
            streak = 0
        self._streak[phase] = streak

    def push(self, phase: int, value: float) -> None:
        """Learn ``value`` at ``phase``."""
        held = self._values[phase]
        held.append(value)
        ordered = sorted(held)
        half = len(ordered) // 2
        self._median[phase] = (
            ordered[half] if len(ordered) % 2 else 0.5 * (ordered[half - 1] + ordered[half])
        )
