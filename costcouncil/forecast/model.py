"""Forecasts of many series: a method per series by backtest, calibrated intervals, fallbacks.

:func:`forecast_many` is the entry point. Each series is prepared on its own (leading zeros
trimmed, backtest, chosen method refitted on the whole history), in worker processes when there
are many; then the interval multipliers are pooled over the series of the call that share a
season (:func:`costcouncil.forecast.intervals.pool`) and known future changes
(:class:`Adjustment`) are applied. Values never go below 0.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing import get_context

import numpy as np

from costcouncil.forecast import backtest as bt
from costcouncil.forecast import intervals, methods, short
from costcouncil.forecast.prepared import Prepared
from costcouncil.forecast.result import Adjustment, Forecast
from costcouncil.schema.series import Series

__all__ = ["Adjustment", "Forecast", "forecast_many", "prepare"]

#: From this many series on, :func:`forecast_many` uses one process per core by default.
PARALLEL_FROM = 64


def forecast_many(
    series: Sequence[Series],
    horizon: int,
    *,
    methods: Sequence[str] | None = None,
    adjustments: Mapping[str, Sequence[Adjustment]] | None = None,
    jobs: int | None = None,
) -> list[Forecast]:
    """Forecasts of ``horizon`` steps for every series, in order.

    ``methods`` are the candidates (default :data:`costcouncil.forecast.methods.DEFAULT`;
    seasonal naive is always backtested as the baseline); ``jobs`` the worker processes
    (default: one per core from :data:`PARALLEL_FROM` series on, else none).
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 step, got {horizon}")
    names = _names(methods)
    prepared = _prepare_all(series, horizon, names, jobs)
    calibrations = _calibrate(prepared)
    out = [p.forecast(calibrations.get(p.season)) for p in prepared]
    return [_adjust(f, (adjustments or {}).get(f.key, ())) for f in out]


def _names(wanted: Sequence[str] | None) -> tuple[str, ...]:
    names = tuple(wanted) if wanted is not None else methods.DEFAULT
    unknown = [n for n in names if n not in methods.NAMES]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(methods.NAMES)}")
    return (methods.BASELINE, *[n for n in names if n != methods.BASELINE])


def _prepare_all(
    series: Sequence[Series], horizon: int, names: tuple[str, ...], jobs: int | None
) -> list[Prepared]:
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs is None and len(series) < PARALLEL_FROM:
        workers = 1
    args = [(s, horizon, names) for s in series]
    if workers <= 1 or len(series) < 2:
        return [_prepare_args(a) for a in args]
    chunk = max(1, math.ceil(len(args) / (workers * 4)))
    with _main_hidden(), ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_prepare_args, args, chunksize=chunk))


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Start the workers without re-running the caller's main script.

    A spawned worker normally imports the parent's ``__main__`` again (by module name or file):
    a script without an ``if __name__ == "__main__"`` guard would run again in every worker, and
    one read from standard input cannot be found at all. The workers need nothing from it (they
    run :func:`prepare`), so its name and file are hidden while they start.
    """
    main = sys.modules["__main__"]
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(main, key, value)


def _prepare_args(args: tuple[Series, int, tuple[str, ...]]) -> Prepared:
    return prepare(*args)


def prepare(series: Series, horizon: int, names: tuple[str, ...]) -> Prepared:
    """One series' point forecast and error model, before pooled calibration."""
    season = methods.season_of(series.step)
    future = series.start + (len(series) + np.arange(horizon)) * series.step
    base = Prepared(series.key, season, future, series.step, 0, "", None)
    nonzero = np.flatnonzero(series.values)
    if len(nonzero) == 0 or len(series) - nonzero[0] < short.least(season):
        return short.fallback(base, series.values, nonzero)
    y = series.values[nonzero[0] :]
    where = bt.plan(len(y), horizon, season)
    if where is None:
        return short.untested(replace(base, history=len(y)), y)
    scores = bt.run(y, where, names, season)
    best = bt.choose(scores)
    point = methods.run_all((best.method,), y, horizon, season).get(best.method)
    if point is None:
        return short.untested(replace(base, history=len(y)), y)
    baseline = scores.get(methods.BASELINE)
    return replace(
        base,
        history=len(y),
        method=best.method,
        point=point,
        spread=intervals.fit(best.errors),
        mase=best.mase,
        mape=best.mape,
        baseline_mase=baseline.mase if baseline else None,
    )


def _calibrate(prepared: Sequence[Prepared]) -> dict[int, intervals.Calibration]:
    groups: dict[int, list[intervals.Spread]] = {}
    for p in prepared:
        if p.spread is not None:
            groups.setdefault(p.season, []).append(p.spread)
    return {season: intervals.pool(spreads) for season, spreads in groups.items()}


def _adjust(forecast: Forecast, changes: Sequence[Adjustment]) -> Forecast:
    """``forecast`` with the adjustments applied in order (values and bounds, clipped at 0)."""
    if not changes:
        return forecast
    arrays = {n: getattr(forecast, n).copy() for n in ("value", "lo80", "hi80", "lo95", "hi95")}
    spreads = [s.copy() if s is not None else None for s in (forecast.spread80, forecast.spread95)]
    t = forecast.timestamps
    for change in changes:
        inside = (t >= change.start) & ((t < change.end) if change.end is not None else True)
        for a in arrays.values():
            a[inside] = np.clip(a[inside] * change.factor + change.amount, 0.0, None)
        for s in spreads:
            if s is not None:
                s[inside] *= abs(change.factor)
    labels = tuple(c.label for c in changes if c.label)
    return replace(forecast, **arrays, spread80=spreads[0], spread95=spreads[1], adjusted=labels)
