"""Forecast and detection for every scope: seconds on ~500 series, beside seasonal naive.

Run: ``.venv/bin/python benchmarks/monitoring.py [--series 500] [--days 365] [--demo DIR]``.

* **series** — ``--series`` seeded daily cost series of ``--days`` days (trend, weekly season,
  noise, level shifts, a monthly fee: the shapes a workspace's scopes have): the time of
  ``forecast_many`` (default methods, backtest included) plus ``detect`` on every series, printed
  beside seasonal naive alone (``methods=["seasonal_naive"]``) on the same series, in the same
  process. Goal: forecast and detection of ~500 series within 60 s on 2 cores.
* **demo** — with ``--demo DIR`` (a demo workspace, e.g. from ``costcouncil demo DIR --no-serve``):
  the time of the whole refresh ``allocate`` runs (forecasts of every scope saved, detection and
  root causes on every monitor, dispatch), and the number of scopes and monitors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from costcouncil.anomaly import detect
from costcouncil.forecast import forecast_many
from costcouncil.schema.series import DAY, Series


def synthetic(n: int, days: int, seed: int) -> list[Series]:
    rng = np.random.default_rng(seed)
    out = []
    t = np.arange(days)
    for i in range(n):
        base = rng.uniform(20, 5_000)
        trend = 1 + rng.uniform(-0.3, 0.8) * t / days
        week = 1 + rng.uniform(0, 0.3) * (t % 7 >= 5) * rng.choice([-1, 1])
        y = base * trend * week * rng.lognormal(0, rng.uniform(0.03, 0.2), days)
        shift = int(rng.integers(60, days - 30))
        y[shift:] *= rng.choice([1.0, 1.0, 1.4, 0.7])
        y[(t % 30) == 0] += base * rng.choice([0, 0.5])
        out.append(Series.of(f"s{i}", "2025-11-01", DAY, np.maximum(y, 0)))
    return out


def timed(label: str, work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"  {label:46} {seconds:7.2f} s")
    return seconds


def series_section(args: argparse.Namespace) -> None:
    items = synthetic(args.series, args.days, args.seed)
    print(f"{len(items)} daily series of {args.days} days, horizon {args.horizon} days, 2 cores:")
    naive = timed("seasonal naive (forecast_many, one method)",
                  lambda: forecast_many(items, args.horizon, methods=["seasonal_naive"]))  # fmt: skip
    fc = timed(
        "forecast (default methods, backtest included)", lambda: forecast_many(items, args.horizon)
    )
    dt = timed("detection (every series)", lambda: [detect(s) for s in items])
    total = fc + dt
    verdict = "met" if total <= 60 else "NOT met"
    print(f"  forecast + detection {total:.1f} s (goal ≤ 60 s: {verdict}); "
          f"{total / max(naive, 1e-9):.0f}x seasonal naive's {naive:.2f} s")  # fmt: skip


def demo_section(args: argparse.Namespace) -> None:
    from costcouncil.workspace.core import Workspace
    from costcouncil.workspace.refresh.run import refresh

    ws = Workspace.open(Path(args.demo))
    started = time.perf_counter()
    done = refresh(ws)
    seconds = time.perf_counter() - started
    monitors = done.detection.monitors if done.detection else 0
    print(f"\ndemo workspace {ws.root}: refresh {seconds:.1f} s — {done.forecast_scopes} forecast scopes, "
          f"{monitors} monitors; steps {done.as_dict()['seconds']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--horizon", type=int, default=366, help="days (the workspace forecasts a year)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--demo", default=None, help="a demo workspace to time the refresh of")
    args = parser.parse_args()
    series_section(args)
    if args.demo:
        demo_section(args)


if __name__ == "__main__":
    main()
