"""The rolling-origin backtest that picks a method per series and measures its errors.

The last ``k`` origins of a series' history are cut off one after another: at each origin every
candidate method is fitted on the points before it and forecasts the next ``H`` points, which are
compared with what happened. ``H`` is the horizon asked for, capped where history is short; the
origins are ``H`` points apart, so their test windows do not overlap, the latest ending at the
last point. The score is MASE: the mean absolute error divided by the in-sample
mean absolute error of seasonal naive on the training part (Hyndman & Koehler 2006). The method
with the lowest mean MASE is chosen; its errors calibrate the intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costcouncil.forecast import methods

#: Default number of backtest origins.
ORIGINS = 3


@dataclass(frozen=True)
class Plan:
    """Where the backtest cuts a history of ``n`` points: origin indexes and horizon ``h``."""

    origins: tuple[int, ...]
    h: int


@dataclass(frozen=True)
class Scores:
    """One method's backtest: ``errors[o, i]`` = actual - forecast at origin o, step i + 1."""

    method: str
    errors: np.ndarray
    mase: float
    mape: float | None


def plan(n: int, horizon: int, season: int, origins: int = ORIGINS) -> Plan | None:
    """The origins for ``n`` points and a wanted ``horizon``; None when history is too short.

    Training needs at least two seasons (14 points for daily data); the backtest horizon is the
    wanted one, shortened down to one season (or 7 points) when history does not allow it.
    """
    least_train = max(2 * season, 14)
    floor = min(horizon, max(season, 7))
    h = horizon
    while h >= floor:
        stride = h
        k = min(origins, 1 + (n - least_train - h) // stride) if n - least_train >= h else 0
        if k >= min(origins, 2) or (k >= 1 and h == floor):
            return Plan(tuple(n - h - i * stride for i in range(k - 1, -1, -1)), h)
        h = max(floor, h // 2) if h > floor else floor - 1
    return None


def scale(train: np.ndarray, season: int) -> float:
    """MASE's denominator: seasonal naive's in-sample mean absolute error (never 0)."""
    m = season if len(train) > season else 1
    diffs = np.abs(train[m:] - train[:-m])
    found = float(np.mean(diffs)) if len(diffs) else 0.0
    if found > 0:
        return found
    level = float(np.mean(np.abs(train))) if len(train) else 0.0
    return level if level > 0 else 1.0


def run(y: np.ndarray, where: Plan, names: Sequence[str], season: int) -> dict[str, Scores]:
    """Every method's backtest errors, MASE and MAPE over the plan's origins."""
    errors: dict[str, list[np.ndarray]] = {}
    scaled: dict[str, list[float]] = {}
    for origin in where.origins:
        train, actual = y[:origin], y[origin : origin + where.h]
        s = scale(train, season)
        for name, f in methods.run_all(tuple(names), train, where.h, season).items():
            errors.setdefault(name, []).append(actual - f)
            scaled.setdefault(name, []).append(float(np.mean(np.abs(actual - f))) / s)
    actuals = np.vstack([y[o : o + where.h] for o in where.origins])
    return {
        name: Scores(name, np.vstack(e), float(np.mean(scaled[name])), _mape(np.vstack(e), actuals))
        for name, e in errors.items()
        if len(e) == len(where.origins)
    }


def _mape(errors: np.ndarray, actuals: np.ndarray) -> float | None:
    """Mean absolute percentage error over the points whose actual is not 0, in percent."""
    nonzero = actuals != 0
    if not nonzero.any():
        return None
    return float(np.mean(np.abs(errors[nonzero] / actuals[nonzero])) * 100)


def choose(scores: dict[str, Scores]) -> Scores:
    """The method with the lowest mean MASE (the baseline wins ties)."""
    ranked = sorted(scores.values(), key=lambda s: (s.mase, s.method != methods.BASELINE))
    return ranked[0]
