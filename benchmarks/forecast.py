"""Forecast accuracy, interval coverage and speed: CostCouncil's chosen method vs seasonal naive.

Run: ``.venv/bin/python benchmarks/forecast.py`` (``--help`` for the options). Three datasets:

* **Helios** (``--helios``, default ``../shared/data/gpu/helios``): the four virtual clusters'
  per-minute ``running_gpu_num`` as hourly GPU-hours priced at ``--rate`` $/GPU-hour (hourly
  series, daily season), and ``Earth_gpu_number.csv`` as the daily cost of each virtual cluster's
  allocated GPUs (all-zero clusters skipped). Skipped with a message when the folder is absent.
* **Demo scopes**: a demo workspace (``costcouncil demo DIR --rows N --no-serve``; ``--reuse``
  keeps one already there), its daily rollups read with DuckDB into daily ``EffectiveCost``
  series for the organisation and every team, project, model, provider and service category.
* **Speed**: ``--speed-series`` seeded synthetic daily series of 365 days (trend, weekly season,
  noise, level shifts, late starts): seconds for ``forecast_many`` vs seasonal naive (the same
  call with ``methods=["seasonal_naive"]``) in the same process.

Accuracy is measured on origins the method choice never saw: for each of the last ``--tests``
windows of ``H`` points, every series is cut before the window, ``forecast_many`` runs on the cut
history (its own backtest, choice and calibration use only earlier points) and is scored on the
window; seasonal naive is scored on the same windows. Printed per dataset: mean MASE of both,
the share of series where the chosen method's mean MASE beats seasonal naive's (goal ≥ 70 %), and
the share of actual points inside the 80 % / 95 % intervals (goal within 5 points of nominal).
Figures are in docs/forecast.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.csv as pacsv

from costcouncil.forecast import backtest as bt
from costcouncil.forecast import forecast_many, methods
from costcouncil.schema.series import DAY, HOUR, Series

ROOT = Path(__file__).resolve().parents[1]
DIMENSIONS = ("team", "project", "model", "provider", "service_category")


@dataclass
class Score:
    """Held-out scores of one dataset."""

    name: str
    series: int
    mase: float
    naive_mase: float
    beats: float
    ties: float
    cover80: float
    cover95: float
    chosen: dict[str, int]


def cut(s: Series, n: int) -> Series:
    return Series(s.key, s.start, s.step, s.values[:n])


def evaluate(name: str, series: Sequence[Series], h: int, tests: int, jobs: int | None) -> Score:
    """Score forecast_many and seasonal naive on the last ``tests`` windows of ``h`` points."""
    per: dict[str, list[tuple[float, float]]] = {s.key: [] for s in series}
    inside80 = inside95 = points = 0
    chosen: dict[str, int] = {}
    for j in range(tests, 0, -1):
        cuts = [cut(s, len(s) - j * h) for s in series]
        for s, c, f in zip(series, cuts, forecast_many(cuts, h, jobs=jobs), strict=True):
            actual = s.values[len(c) : len(c) + h]
            train = c.values[np.flatnonzero(c.values)[0] :] if c.values.any() else c.values
            season = methods.season_of(s.step)
            scale = bt.scale(train, season)
            naive = methods.seasonal_naive(c.values, h, season)
            mase = float(np.mean(np.abs(actual - f.value))) / scale
            per[s.key].append((mase, float(np.mean(np.abs(actual - naive))) / scale))
            inside80 += int(np.sum((actual >= f.lo80) & (actual <= f.hi80)))
            inside95 += int(np.sum((actual >= f.lo95) & (actual <= f.hi95)))
            points += h
            chosen[f.method] = chosen.get(f.method, 0) + 1
    pairs = np.array([np.mean(v, axis=0) for v in per.values()])
    return Score(
        name,
        len(series),
        float(np.mean(pairs[:, 0])),
        float(np.mean(pairs[:, 1])),
        float(np.mean(pairs[:, 0] < pairs[:, 1] - 1e-9)),
        float(np.mean(np.abs(pairs[:, 0] - pairs[:, 1]) <= 1e-9)),
        inside80 / points,
        inside95 / points,
        chosen,
    )


def print_scores(scores: Sequence[Score], h: dict[str, int], tests: int) -> None:
    print(f"\nHeld-out accuracy ({tests} windows per series, never seen by the choice)")
    head = f"{'dataset':34} {'series':>6} {'H':>4} {'MASE':>6} {'naive':>6} {'beats':>6} {'ties':>5} {'cov80':>6} {'cov95':>6}  chosen"
    print(head)
    print("-" * len(head))
    for s in scores:
        picked = ", ".join(f"{k} {v}" for k, v in sorted(s.chosen.items(), key=lambda kv: -kv[1]))
        print(
            f"{s.name:34} {s.series:6d} {h[s.name]:4d} {s.mase:6.3f} {s.naive_mase:6.3f} "
            f"{s.beats:6.0%} {s.ties:5.0%} {s.cover80:6.1%} {s.cover95:6.1%}  {picked}"
        )
    print("goals: beats >= 70 %; cov80 in 75-85 %; cov95 in 90-100 %")


def helios_hourly(folder: Path, rate: float) -> list[Series]:
    """Hourly GPU-hours of running GPUs per virtual cluster, priced at ``rate``."""
    out = []
    for path in sorted(folder.glob("vc*.csv")):
        table = pacsv.read_csv(path)
        names = {n.lower(): n for n in table.column_names}
        gpus = table.column(names["running_gpu_num"]).to_numpy(zero_copy_only=False).astype(float)
        start = np.datetime64(table.column(names["time"])[0].as_py(), "s")
        hours = len(gpus) // 60
        values = gpus[: hours * 60].reshape(hours, 60).mean(axis=1) * rate
        out.append(Series(f"helios/{path.stem}", start, HOUR, values))
    return out


def helios_daily(folder: Path, rate: float) -> list[Series]:
    """Daily cost of each virtual cluster's allocated GPUs (all-zero clusters skipped)."""
    table = pacsv.read_csv(folder / "Earth_gpu_number.csv")
    start = np.datetime64(table.column("date")[0].as_py(), "s")
    out = []
    for name in table.column_names:
        if name in ("date", "total"):
            continue
        values = table.column(name).to_numpy(zero_copy_only=False).astype(float) * 24 * rate
        if values.any():
            out.append(Series(f"helios/{name}", start, DAY, values))
    return out


def demo_lake(folder: Path, rows: int, reuse: bool) -> Path:
    """A demo workspace's folder, generated unless ``reuse`` finds one."""
    if not (reuse and (folder / "lake" / "rollups").exists()):
        cli = Path(sys.executable).with_name("costcouncil")
        cmd = [str(cli), "demo", str(folder), "--rows", str(rows), "--no-serve"]
        print("generating the demo:", " ".join(cmd))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return folder


def demo_series(folder: Path) -> dict[str, list[Series]]:
    """Daily EffectiveCost per organisation and per value of each dimension, zero-filled."""
    files = {}
    for path in sorted((folder / "lake" / "rollups").glob("period=*/*-daily.parquet")):
        files[path.parent.name] = str(path)  # the latest run of each period
    con = duckdb.connect()
    con.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet({list(files.values())})")
    first, last = con.execute("SELECT min(day), max(day) FROM d").fetchall()[0]
    days = (np.datetime64(last, "D") - np.datetime64(first, "D")).astype(int) + 1
    start = np.datetime64(first, "s")
    out: dict[str, list[Series]] = {}
    for dim in ("organisation", *DIMENSIONS):
        key = "'all'" if dim == "organisation" else f"coalesce({dim}, '(none)')"
        sql = f"""SELECT {key} AS k, (day - DATE '{first}')::INT AS i,
                  sum(EffectiveCost)::DOUBLE FROM d GROUP BY ALL"""
        grid: dict[str, np.ndarray] = {}
        for k, i, v in con.execute(sql).fetchall():
            grid.setdefault(k, np.zeros(days))[i] = v
        out[dim] = [Series(f"{dim}/{k}", start, DAY, np.clip(v, 0, None)) for k, v in grid.items()]
    return out


def synthetic(count: int, days: int, seed: int) -> list[Series]:
    """Seeded daily cost series: level, trend, weekly season, noise, level shifts, late starts."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    out = []
    for i in range(count):
        level = rng.lognormal(5, 1.5)
        week = 1 + rng.uniform(0, 0.4) * np.sin(2 * np.pi * (t + rng.integers(7)) / 7)
        trend = 1 + rng.normal(0, 0.5) * t / days
        shift = np.where(t >= rng.integers(days), rng.uniform(0.6, 1.6), 1.0)
        y = level * week * np.clip(trend, 0.1, None) * shift * rng.lognormal(0, 0.15, days)
        y[: rng.integers(days // 3) if rng.random() < 0.2 else 0] = 0.0
        out.append(Series.of(f"synthetic/{i}", "2025-01-01", DAY, y))
    return out


def speed(count: int, h: int, jobs: int | None) -> None:
    """Seconds for forecast_many vs seasonal naive on the same synthetic series."""
    series = synthetic(count, 365, seed=13)
    t0 = time.perf_counter()
    forecast_many(series, h, jobs=jobs)
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    forecast_many(series, h, methods=[methods.BASELINE], jobs=1)
    naive = time.perf_counter() - t0
    print(f"\nSpeed: {count} daily series of 365 days, horizon {h}, with backtest and intervals")
    print(f"  forecast_many (default methods): {full:6.1f} s   (goal <= 40 s on 2 cores)")
    print(f"  seasonal naive only:             {naive:6.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--helios", type=Path, default=ROOT.parent / "shared/data/gpu/helios")
    p.add_argument("--rate", type=float, default=2.50, help="$ per GPU-hour for Helios")
    p.add_argument("--demo", type=Path, default=Path("/tmp/costcouncil-forecast-demo"))
    p.add_argument("--rows", type=int, default=200_000, help="demo cost rows")
    p.add_argument("--reuse", action="store_true", help="reuse the demo workspace if present")
    p.add_argument("--daily-horizon", type=int, default=28)
    p.add_argument("--hourly-horizon", type=int, default=48)
    p.add_argument("--tests", type=int, default=2, help="held-out windows per series")
    p.add_argument("--speed-series", type=int, default=500)
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument("--skip", nargs="*", default=[], choices=["helios", "demo", "speed"])
    args = p.parse_args()
    datasets: list[tuple[str, list[Series], int]] = []
    if "helios" not in args.skip:
        if args.helios.is_dir():
            datasets.append(
                (
                    "helios hourly GPU cost",
                    helios_hourly(args.helios, args.rate),
                    args.hourly_horizon,
                )
            )
            datasets.append(
                (
                    "helios daily allocated GPU cost",
                    helios_daily(args.helios, args.rate),
                    args.daily_horizon,
                )
            )
        else:
            print(f"Helios: skipped, {args.helios} is absent (see ../shared/data/README.md)")
    if "demo" not in args.skip:
        scopes = demo_series(demo_lake(args.demo, args.rows, args.reuse))
        for dim, series in scopes.items():
            datasets.append((f"demo {dim}", series, args.daily_horizon))
        datasets.append(
            ("demo all scopes", [s for v in scopes.values() for s in v], args.daily_horizon)
        )
    scores = [evaluate(n, s, h, args.tests, args.jobs) for n, s, h in datasets]
    print_scores(scores, {n: h for n, _, h in datasets}, args.tests)
    if "speed" not in args.skip:
        speed(args.speed_series, args.daily_horizon, args.jobs)


if __name__ == "__main__":
    main()
