"""Forecasts of cost series: point forecasts with 80 % and 95 % prediction intervals, the method
chosen per series by a rolling-origin backtest (docs/forecast.md).

Modules: :mod:`.methods` (the candidate methods), :mod:`.backtest` (rolling origins, MASE,
choice), :mod:`.intervals` (conformal calibration from backtest errors), :mod:`.short`
(fallbacks for short histories), :mod:`.model` (:func:`forecast_many`), :mod:`.horizons`
(months, month-end, threshold crossings).
"""

from costcouncil.forecast.horizons import (
    Band,
    Crossing,
    Month,
    MonthEnd,
    crossing,
    month_end,
    monthly,
)
from costcouncil.forecast.methods import DEFAULT as DEFAULT_METHODS
from costcouncil.forecast.methods import NAMES as METHOD_NAMES
from costcouncil.forecast.model import forecast_many
from costcouncil.forecast.result import Adjustment, Forecast

__all__ = [
    "DEFAULT_METHODS",
    "METHOD_NAMES",
    "Adjustment",
    "Band",
    "Crossing",
    "Forecast",
    "Month",
    "MonthEnd",
    "crossing",
    "forecast_many",
    "month_end",
    "monthly",
]
