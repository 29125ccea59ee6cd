"""Sums over a forecast: calendar months, the current month's end, and threshold crossings.

The interval of a sum is not the sum of the bounds (that assumes every day errs the same way at
once) nor the root sum of squares (that assumes independent days). The half-width of a sum of
steps is ``sqrt(rho (sum w)^2 + (1 - rho) sum w^2)``, with the steps' half-widths ``w`` and the
error correlation ``rho`` measured in the backtest (:func:`costcouncil.forecast.intervals.sum_spread`;
fallback forecasts use ``rho = 1``, the widest). Lower bounds are clipped at what is already
spent; actuals add no uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcouncil.forecast.intervals import sum_spread
from costcouncil.forecast.result import Forecast
from costcouncil.schema.series import Series


@dataclass(frozen=True)
class Band:
    """A total with its 80 % and 95 % interval."""

    value: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


@dataclass(frozen=True)
class Month:
    """A calendar month of a forecast: ``days`` forecast days in it, ``complete`` if all are."""

    start: np.datetime64
    days: int
    complete: bool
    total: Band


@dataclass(frozen=True)
class MonthEnd:
    """The month's expected total: ``actual`` so far (``days_actual``) plus the forecast rest."""

    month_start: np.datetime64
    actual: float
    days_actual: int
    days_forecast: int
    total: Band


@dataclass(frozen=True)
class Crossing:
    """When cumulative spend reaches ``threshold``: ``date`` by the point forecast, ``earliest``
    by the upper 80 % bound and ``latest`` by the lower 80 % bound (None: not within the
    horizon). ``already``: the threshold was reached before the forecast starts (dates None)."""

    threshold: float
    date: np.datetime64 | None
    earliest: np.datetime64 | None
    latest: np.datetime64 | None
    already: bool = False


def _halves(forecast: Forecast) -> tuple[np.ndarray, np.ndarray]:
    h80 = forecast.spread80 if forecast.spread80 is not None else forecast.hi80 - forecast.value
    h95 = forecast.spread95 if forecast.spread95 is not None else forecast.hi95 - forecast.value
    return h80, h95


def band(forecast: Forecast, steps: np.ndarray, base: float = 0.0) -> Band:
    """``base`` plus the sum of the forecast at index ``steps``, with its interval."""
    h80, h95 = _halves(forecast)
    v = float(np.sum(forecast.value[steps]))
    w80, w95 = sum_spread(h80[steps], forecast.rho), sum_spread(h95[steps], forecast.rho)
    return Band(
        base + v,
        base + max(v - w80, 0.0),
        base + v + w80,
        base + max(v - w95, 0.0),
        base + v + w95,
    )


def _months(timestamps: np.ndarray) -> np.ndarray:
    return timestamps.astype("datetime64[M]")


def monthly(forecast: Forecast, months: int = 12) -> list[Month]:
    """Totals per calendar month of the forecast, the first ``months`` months it touches."""
    of = _months(forecast.timestamps)
    out: list[Month] = []
    for month in np.unique(of)[:months]:
        steps = np.flatnonzero(of == month)
        length = int(
            ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(int)
        )
        days = int(len(steps) * forecast.step / np.timedelta64(1, "D"))
        out.append(
            Month(month.astype("datetime64[s]"), days, days >= length, band(forecast, steps))
        )
    return out


def month_end(series: Series, forecast: Forecast, month_start: np.datetime64) -> MonthEnd:
    """The month from ``month_start``: actual spend to date plus the forecast for the rest."""
    month: np.datetime64 = np.datetime64(month_start).astype("datetime64[M]")
    seen = _months(series.timestamps) == month
    ahead = np.flatnonzero(_months(forecast.timestamps) == month)
    actual = float(np.sum(series.values[seen]))
    return MonthEnd(
        month.astype("datetime64[s]"),
        actual,
        int(np.count_nonzero(seen)),
        len(ahead),
        band(forecast, ahead, actual),
    )


def crossing(spent_so_far: float, forecast: Forecast, threshold: float) -> Crossing | None:
    """When spend (``spent_so_far`` plus the forecast) reaches ``threshold``; None if the point
    forecast does not reach it within the horizon."""
    if spent_so_far >= threshold:
        return Crossing(threshold, None, None, None, already=True)
    h80, _ = _halves(forecast)
    cum = spent_so_far + np.cumsum(forecast.value)
    rho = forecast.rho
    half = np.sqrt(rho * np.cumsum(h80) ** 2 + (1 - rho) * np.cumsum(h80**2))
    date = _first(forecast.timestamps, cum >= threshold)
    if date is None:
        return None
    return Crossing(
        threshold,
        date,
        _first(forecast.timestamps, cum + half >= threshold),
        _first(forecast.timestamps, cum - half >= threshold),
    )


def _first(timestamps: np.ndarray, hit: np.ndarray) -> np.datetime64 | None:
    found = np.flatnonzero(hit)
    return timestamps[found[0]] if len(found) else None
