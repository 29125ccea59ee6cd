"""A series' forecast before the interval multipliers of its call are known."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcouncil.forecast.intervals import Calibration, Spread
from costcouncil.forecast.result import Forecast


@dataclass(frozen=True, eq=False)
class Prepared:
    """Point forecast and error model of one series. ``spread`` (backtested) or the fixed
    half-widths ``half80``/``half95`` (fallbacks) give its intervals."""

    key: str
    season: int
    timestamps: np.ndarray
    step: np.timedelta64
    history: int
    method: str
    fallback: str | None
    point: np.ndarray | None = None
    spread: Spread | None = None
    half80: np.ndarray | None = None
    half95: np.ndarray | None = None
    mase: float | None = None
    mape: float | None = None
    baseline_mase: float | None = None

    def forecast(self, calibration: Calibration | None) -> Forecast:
        """The forecast with intervals: calibrated spread, else the fixed half-widths."""
        h = len(self.timestamps)
        point = self.point if self.point is not None else np.zeros(h)
        half80, half95, rho = self._halves(calibration, h)
        return Forecast(
            key=self.key,
            method=self.method,
            fallback=self.fallback,
            mase=self.mase,
            mape=self.mape,
            history=self.history,
            timestamps=self.timestamps,
            value=point,
            lo80=np.clip(point - half80, 0.0, None),
            hi80=point + half80,
            lo95=np.clip(point - half95, 0.0, None),
            hi95=point + half95,
            step=self.step,
            spread80=half80,
            spread95=half95,
            rho=rho,
            baseline_mase=self.baseline_mase,
        )

    def _halves(
        self, calibration: Calibration | None, h: int
    ) -> tuple[np.ndarray, np.ndarray, float]:
        if self.spread is not None and calibration is not None:
            sigma = self.spread.sigma(np.arange(1, h + 1, dtype=np.float64))
            return calibration.q80 * sigma, calibration.q95 * sigma, calibration.rho
        zero = np.zeros(h)
        a = self.half80 if self.half80 is not None else zero
        b = self.half95 if self.half95 is not None else zero
        return a, b, 1.0
