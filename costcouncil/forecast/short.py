"""Forecasts for series too short (or too empty) for a backtest, with deliberately wide intervals.

* no value at all, or all zeros: a flat 0 (intervals 0) — nothing has been spent;
* one point since the first non-zero one: that value repeated, intervals from 0 to 2.3x (80 %)
  and 3x (95 %) the value;
* under two seasons (14 days for daily data): the mean of the last 7 points, half-widths
  ``1.5 * z * sd * sqrt(1 + h / n)`` (``z`` the normal quantile, ``sd`` of the history);
* enough for a model but not for a backtest: seasonal naive, half-widths
  ``z * rms * sqrt(ceil(h / season))`` from its in-sample errors.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from costcouncil.forecast import methods
from costcouncil.forecast.prepared import Prepared

Z80, Z95 = 1.2816, 1.9600
#: Widening of the short-history intervals (their sd is itself a guess from few points).
WIDE = 1.5


def least(season: int) -> int:
    """Fewest points (from the first non-zero one) a series needs for a model: two seasons, ≥ 14."""
    return max(2 * season, 14)


def fallback(base: Prepared, values: np.ndarray, nonzero: np.ndarray) -> Prepared:
    """The forecast of a series with fewer than :func:`least` points since its first non-zero."""
    h = len(base.timestamps)
    if len(nonzero) == 0:
        said = "no history" if len(values) == 0 else f"all {len(values)} values are 0"
        return replace(base, method="zero", fallback=f"{said}: the forecast is 0", history=0)
    y = values[nonzero[0] :]
    n = len(y)
    if n == 1:
        v = float(y[0])
        why = f"only 1 point of history (need {least(base.season)}): its value repeated"
        return _flat(replace(base, history=1, method="last_value", fallback=why), v, 2.3 * v, 3 * v)
    recent = y[-min(7, n) :]
    sd = float(np.std(y, ddof=1)) or 0.5 * float(np.mean(y))
    grow = WIDE * sd * np.sqrt(1 + np.arange(1, h + 1) / n)
    why = (
        f"history too short ({n} points, a model needs {least(base.season)}): "
        f"the mean of the last {len(recent)} points, with wide intervals"
    )
    return replace(
        base,
        history=n,
        method="recent_mean",
        fallback=why,
        point=np.full(h, float(np.mean(recent))),
        half80=Z80 * grow,
        half95=Z95 * grow,
    )


def _flat(base: Prepared, value: float, half80: float, half95: float) -> Prepared:
    h = len(base.timestamps)
    return replace(
        base, point=np.full(h, value), half80=np.full(h, half80), half95=np.full(h, half95)
    )


def untested(base: Prepared, y: np.ndarray) -> Prepared:
    """Seasonal naive for a history long enough for it but too short for a backtest."""
    h, m = len(base.timestamps), min(base.season, len(y) - 1) or 1
    rms = float(np.sqrt(np.mean((y[m:] - y[:-m]) ** 2)))
    grow = rms * np.sqrt(np.ceil(np.arange(1, h + 1) / m))
    why = f"history too short for a backtest ({len(y)} points): seasonal naive, untested"
    return replace(
        base,
        method=methods.BASELINE,
        fallback=why,
        point=methods.seasonal_naive(y, h, base.season),
        half80=Z80 * grow,
        half95=Z95 * grow,
    )
