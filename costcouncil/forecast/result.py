"""What a forecast is: :class:`Forecast`, and :class:`Adjustment`, a known future change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcouncil.schema.series import DAY


@dataclass(frozen=True)
class Adjustment:
    """A known future change: from ``start`` to ``end`` (exclusive; None: open-ended) every
    forecast value (and its bounds) becomes ``value * factor + amount`` — a planned cluster
    (``amount``), a price change (``factor``)."""

    start: np.datetime64
    end: np.datetime64 | None = None
    amount: float = 0.0
    factor: float = 1.0
    label: str = ""


@dataclass(frozen=True, eq=False)
class Forecast:
    """One series' forecast: point and 80 %/95 % intervals per future step, and how it was made.

    ``fallback`` says in a plain sentence why no method was chosen by backtest and what was used
    instead (None when one was). ``mase``/``mape`` are the chosen method's backtest scores and
    ``baseline_mase`` seasonal naive's (None without a backtest). ``spread80``/``spread95`` are
    the half-widths before clipping at 0 and ``rho`` the error correlation across steps, which
    :mod:`costcouncil.forecast.horizons` uses for intervals of sums.
    """

    key: str
    method: str
    fallback: str | None
    mase: float | None
    mape: float | None
    history: int
    timestamps: np.ndarray
    value: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    step: np.timedelta64 = DAY
    spread80: np.ndarray | None = None
    spread95: np.ndarray | None = None
    rho: float = 1.0
    baseline_mase: float | None = None
    adjusted: tuple[str, ...] = ()
