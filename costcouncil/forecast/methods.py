"""The forecasting methods a series can be given, by name, and the season of a grain.

Every method is a function ``(y, h, season) -> h point forecasts``. The baseline is seasonal
naive; the others wrap statsforecast 2.1 models called directly on arrays (no pandas), without
their own intervals: CostCouncil calibrates intervals from backtest errors instead
(:mod:`costcouncil.forecast.intervals`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from statsforecast.models import (
    AutoARIMA,
    AutoCES,
    AutoETS,
    DynamicOptimizedTheta,
    SeasonalWindowAverage,
    Theta,
)

from costcouncil.schema.series import DAY

Method = Callable[[np.ndarray, int, int], np.ndarray]

BASELINE = "seasonal_naive"
#: Methods whose forecasts are averaged into ``combination`` (computed only when all ran).
COMBINED = ("ets", "theta", "dynamic_theta")


def seasonal_naive(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """The last full season repeated: the baseline every method must beat."""
    m = min(season, len(y))
    last = y[-m:]
    return np.asarray(np.resize(last, h), dtype=np.float64)


def naive(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """The last value repeated: best for spend that moves in steps (quotas, reservations)."""
    return np.full(h, float(y[-1]))


def _model(y: np.ndarray, h: int, model: Any) -> np.ndarray:
    return np.asarray(model.forecast(y=y, h=h)["mean"], dtype=np.float64)


def seasonal_average(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """The mean of each season position over the last four seasons (robust to noise)."""
    windows = max(1, min(4, len(y) // max(season, 1)))
    return _model(y, h, SeasonalWindowAverage(season_length=season, window_size=windows))


def ets(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """Exponential smoothing, additive error and season, no trend (``AutoETS(model="ANA")``)."""
    return _model(y, h, AutoETS(season_length=season, model="ANA" if season > 1 else "ANN"))


def theta(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """The Theta method (seasonally adjusted when a season is found)."""
    return _model(y, h, Theta(season_length=season))


def dynamic_theta(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """Dynamic optimised Theta (Fiorucci et al. 2016)."""
    return _model(y, h, DynamicOptimizedTheta(season_length=season))


def damped_ets(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """Exponential smoothing with a damped additive trend (``AutoETS(model="AAA", damped)``)."""
    spec = "AAA" if season > 1 else "AAN"
    return _model(y, h, AutoETS(season_length=season, model=spec, damped=True))


def ces(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """Complex exponential smoothing (``AutoCES``)."""
    return _model(y, h, AutoCES(season_length=season))


def arima(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """``AutoARIMA`` (about a second per series: not in the default set)."""
    return _model(y, h, AutoARIMA(season_length=season))


METHODS: Mapping[str, Method] = {
    BASELINE: seasonal_naive,
    "naive": naive,
    "seasonal_average": seasonal_average,
    "ets": ets,
    "theta": theta,
    "dynamic_theta": dynamic_theta,
    "damped_ets": damped_ets,
    "ces": ces,
    "arima": arima,
}
#: The default candidates: fast enough for ~500 series with a backtest in well under a minute.
DEFAULT = (BASELINE, "naive", "seasonal_average", "ets", "theta", "dynamic_theta", "combination")
#: Every name ``methods=`` accepts.
NAMES = (*METHODS, "combination")


def season_of(step: np.timedelta64) -> int:
    """Steps per season: 7 for daily data (weekly), 24 for hourly, steps per day below a day."""
    seconds = int(step / np.timedelta64(1, "s"))
    if seconds == int(DAY / np.timedelta64(1, "s")):
        return 7
    if 0 < seconds < 86400 and 86400 % seconds == 0:
        return 86400 // seconds
    return 1


def run(name: str, y: np.ndarray, h: int, season: int) -> np.ndarray | None:
    """Method ``name``'s forecast, clipped at 0; None when the model fails or returns non-finite."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out = METHODS[name](y, h, season)
    except (ValueError, ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError):
        return None
    if out.shape != (h,) or not np.all(np.isfinite(out)):
        return None
    return np.clip(out, 0.0, None)


def run_all(names: tuple[str, ...], y: np.ndarray, h: int, season: int) -> dict[str, np.ndarray]:
    """The forecasts of every named method that succeeded (``combination`` from its parts)."""
    wanted = set(names) | (set(COMBINED) if "combination" in names else set())
    out: dict[str, np.ndarray] = {}
    for name in (n for n in METHODS if n in wanted):
        if (f := run(name, y, h, season)) is not None:
            out[name] = f
    if "combination" in names and all(n in out for n in COMBINED):
        out["combination"] = np.mean(np.vstack([out[n] for n in COMBINED]), axis=0)
    return {n: out[n] for n in names if n in out}
