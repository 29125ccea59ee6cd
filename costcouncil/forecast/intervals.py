"""Prediction intervals calibrated on backtest errors (split-conformal, normalised by horizon).

statsforecast's model intervals assume the model is right and are often too narrow or too wide.
Instead, the chosen method's rolling-origin errors ``e[o, h]`` give

* a spread per step, ``sigma(h) = a + b * sqrt(h)`` with ``a, b >= 0``, fitted by non-negative
  least squares to the root mean square error of each step (so it grows with the horizon and
  extends past the backtested steps);
* normalised scores ``|e[o, h]| / sigma(h)``; the interval half-width at level ``p`` is
  ``q_p * sigma(h)`` where ``q_p`` is the conformal quantile (rank ``ceil((n + 1) p)``) of the
  scores. Scores are scale-free, so :func:`pool` takes them from every series of a call
  (of the same season), which steadies ``q`` when one series has few origins;
* ``rho``, how strongly a series' errors move together across steps, from the variance of each
  origin's summed error between "independent" (0) and "one common level error" (1); sums over
  many days (a month) use it (:func:`sum_spread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

LEVELS = (0.80, 0.95)


@dataclass(frozen=True)
class Spread:
    """One series' error model: ``sigma(h) = a + b * sqrt(h)``, its scores and ``rho``."""

    a: float
    b: float
    scores: np.ndarray
    rho: float

    def sigma(self, steps: np.ndarray) -> np.ndarray:
        """The error scale at steps ``1..H`` (``steps`` counts from 1)."""
        out: np.ndarray = self.a + self.b * np.sqrt(steps)
        return out


@dataclass(frozen=True)
class Calibration:
    """The multipliers ``q80``, ``q95`` and error correlation ``rho`` for a group of series."""

    q80: float
    q95: float
    rho: float


def fit(errors: np.ndarray) -> Spread:
    """The error model of backtest ``errors[o, h]`` (origins by steps)."""
    steps = np.arange(1, errors.shape[1] + 1, dtype=np.float64)
    rms = np.sqrt(np.mean(errors**2, axis=0))
    (a, b), _ = nnls(np.column_stack([np.ones_like(steps), np.sqrt(steps)]), rms)
    floor = max(float(np.mean(rms)) * 1e-3, 1e-9)
    spread = Spread(max(float(a), floor), float(b), np.empty(0), 0.0)
    scores = np.abs(errors) / spread.sigma(steps)
    return Spread(spread.a, spread.b, scores.ravel(), _rho(errors, spread.sigma(steps)))


def _rho(errors: np.ndarray, sigma: np.ndarray) -> float:
    """Correlation of errors across steps from the spread of each origin's summed error."""
    independent = float(np.sum(sigma**2))
    common = float(np.sum(sigma) ** 2)
    if common <= independent:
        return 0.0
    seen = float(np.mean(np.sum(errors, axis=1) ** 2))
    return float(np.clip((seen - independent) / (common - independent), 0.0, 1.0))


def conformal(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile of ``scores`` at ``level`` (the largest when too few)."""
    ordered = np.sort(scores)
    rank = int(np.ceil((len(ordered) + 1) * level))
    return float(ordered[min(rank, len(ordered)) - 1])


def pool(spreads: Sequence[Spread]) -> Calibration:
    """One calibration from the scores of several series (the mean of their ``rho``)."""
    scores = np.concatenate([s.scores for s in spreads])
    return Calibration(
        conformal(scores, LEVELS[0]),
        conformal(scores, LEVELS[1]),
        float(np.mean([s.rho for s in spreads])),
    )


def sum_spread(half: np.ndarray, rho: float) -> float:
    """Half-width of the interval of a sum of steps whose half-widths are ``half``.

    Between the root sum of squares (errors independent, ``rho = 0``) and the plain sum of the
    half-widths (one common error, ``rho = 1``): ``sqrt(rho (sum w)^2 + (1 - rho) sum w^2)``.
    """
    return float(np.sqrt(rho * np.sum(half) ** 2 + (1 - rho) * np.sum(half**2)))
