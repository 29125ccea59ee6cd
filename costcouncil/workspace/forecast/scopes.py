"""Forecasts of a workspace's scopes: the organisation, every value of every owner key (but runs),
each provider and ServiceCategory — or the scopes a caller names.

A scope's forecast is the sum of two parts. **Usage** charges (ChargeCategory ``Usage``) go
through the forecast engine (method chosen per series by backtest, calibrated 80 %/95 %
intervals). **Other** charges — purchases, support fees, taxes, credits — are invoice events that
recur by the calendar, so each future day gets the median of the same day of the month over the
last three months (a one-off purchase or credit drops out; a monthly fee stays); they widen no
interval. Known future changes (``forecasts.yaml``) are applied to the usage part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from costcouncil.forecast import Adjustment, Forecast, forecast_many
from costcouncil.schema.series import DAY, Series
from costcouncil.workspace.allocate.series import (
    FIXED_DIMENSIONS,
    Scope,
    all_values,
    scope_series,
)
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.adjustments import load_adjustments

#: Dimensions with a forecast per value by default, besides the owner keys (runs excluded:
#: a run is short and one-off).
EXTRA_DIMENSIONS = ("provider", "service_category")
SKIPPED_KEYS = ("run",)
#: At most this many values per dimension, the most expensive first.
PER_DIMENSION = 100
#: Daily points forecast: a year ahead (the 12-month view sums them by month).
HORIZON_DAYS = 366


@dataclass(frozen=True)
class ScopeForecast:
    """One scope's history (every charge) and forecast (usage model + recurring other charges)."""

    scope: Scope
    history: Series
    forecast: Forecast
    recurring: np.ndarray


def default_scopes(workspace: Workspace) -> list[Scope]:
    """The organisation, then each value of each owner key (but runs), provider and category."""
    keys = [k for k in workspace.config.tags.owner_keys if k not in SKIPPED_KEYS]
    dims = [*keys, *(d for d in EXTRA_DIMENSIONS if d in FIXED_DIMENSIONS)]
    values = [Scope(d, v) for d in dims for v in all_values(workspace, d)[:PER_DIMENSION]]
    return [Scope(), *values]


def forecast_scopes(
    workspace: Workspace,
    scopes: list[Scope] | None = None,
    *,
    horizon: int = HORIZON_DAYS,
    metric: str = "EffectiveCost",
) -> list[ScopeForecast]:
    """Forecast ``scopes`` (by default :func:`default_scopes`) ``horizon`` days past the last
    complete day."""
    wanted = scopes if scopes is not None else default_scopes(workspace)
    every = scope_series(workspace, wanted, metric=metric)
    usage = scope_series(workspace, wanted, metric=metric, charges="usage")
    other = scope_series(workspace, wanted, metric=metric, charges="other")
    present = [s for s in wanted if s in every]
    aligned = [_aligned(usage.get(s), every[s]) for s in present]
    changes = _by_key(load_adjustments(workspace), present)
    forecasts = forecast_many(aligned, horizon, adjustments=changes)
    out = []
    for scope, fc in zip(present, forecasts, strict=True):
        extra = _recurring(other.get(scope), fc.timestamps)
        out.append(ScopeForecast(scope, every[scope], _plus(fc, extra), extra))
    return out


def _aligned(usage: Series | None, every: Series) -> Series:
    """The usage series on the calendar of the scope's full history (zeros where none)."""
    values = np.zeros(len(every))
    if usage is not None:
        offset = int((usage.start - every.start) // DAY)
        n = min(len(usage), len(every) - offset)
        values[offset : offset + n] = usage.values[:n]
    return Series(every.key, every.start, DAY, values)


def _recurring(other: Series | None, days: np.ndarray) -> np.ndarray:
    """Each future day: the median of the same day of the month over the last three months of
    ``other`` (a day past a short month's end takes that month's last day; 0 when none is
    known)."""
    if other is None or len(other) == 0:
        return np.zeros(len(days))
    first = other.start.astype("datetime64[D]")
    future = days.astype("datetime64[D]")
    month = future.astype("datetime64[M]")
    offset = future - month.astype("datetime64[D]")
    samples = np.full((3, len(days)), np.nan)
    for back in (1, 2, 3):
        earlier = month - back
        start = earlier.astype("datetime64[D]")
        length = (earlier + 1).astype("datetime64[D]") - start
        index = (start + np.minimum(offset, length - 1) - first).astype(np.int64)
        known = (index >= 0) & (index < len(other))
        samples[back - 1, known] = other.values[index[known]]
    found = ~np.isnan(samples).all(axis=0)
    out = np.zeros(len(days))
    out[found] = np.nanmedian(samples[:, found], axis=0)
    return out


def _plus(fc: Forecast, extra: np.ndarray) -> Forecast:
    if not extra.any():
        return fc
    return replace(fc, value=fc.value + extra, lo80=fc.lo80 + extra, hi80=fc.hi80 + extra,
                   lo95=fc.lo95 + extra, hi95=fc.hi95 + extra)  # fmt: skip


def _by_key(
    adjustments: dict[str, list[Adjustment]], present: list[Scope]
) -> dict[str, list[Adjustment]]:
    keys = {str(s) for s in present}
    return {k: v for k, v in adjustments.items() if k in keys}
