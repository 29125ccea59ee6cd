"""Anomaly detection accuracy and speed: CostCouncil's detector beside a rolling robust z-score.

Run: ``.venv/bin/python benchmarks/anomalies.py [--nab DIR] [--seed 7] [--series 200]``.
Each section scores CostCouncil's detector (``costcouncil.anomaly.detect`` at its one default
sensitivity) and, in the same process, the baseline — the rolling robust z-score
``|x − median| / (1.4826 · MAD) > 6`` over the previous ``window`` points — with window recall,
point precision and F1 (``costcouncil.anomaly.score``), and prints the seconds each took.

* ``nab`` — the NAB series under ``--nab`` (default ``../shared/data/anomaly/nab``; labels in
  ``combined_windows.json``), per group and overall, baseline window 288 points. NAB files have a
  few missing or off-grid timestamps: the detector sees each file on its most common step (a
  point snapped to the nearest step, missing steps as NaN, which it neither judges nor learns);
  the baseline sees the raw points. Skipped with a message when the folder is absent.
* ``synthetic`` — seeded daily cost series (weekly season, trend, multiplicative noise) with
  planted spikes, level shifts, drops to zero and slow ramps; baseline window 28 days.

* ``demo`` — the demo organisation's planted truth through the workspace's real detection and
  root causes (``benchmarks/planted.py``; ``--demo DIR``, generated when absent, ``--rows``):
  recall, precision and F1 over every monitor, top-1 root cause, alarms on the normal events.

Documented with its last figures in docs/anomalies.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from costcouncil.anomaly.detect import detect
from costcouncil.anomaly.score import Score, Window, score, total
from costcouncil.schema.series import DAY, Series

sys.path.insert(0, str(Path(__file__).resolve().parent))
import planted

ROOT = Path(__file__).resolve().parents[1]
NAB = ROOT.parent / "shared" / "data" / "anomaly" / "nab"
NAB_GROUPS = ("artificialWithAnomaly", "realAdExchange", "realAWSCloudwatch", "realTraffic")


@dataclass(frozen=True)
class Labelled:
    """One series to score: raw points (for the baseline), the regular series, its windows."""

    group: str
    times: np.ndarray
    values: np.ndarray
    series: Series
    windows: list[Window]


# --------------------------------------------------------------------------------------------
# The two detectors
# --------------------------------------------------------------------------------------------


def baseline(values: np.ndarray, window: int, threshold: float = 6.0) -> np.ndarray:
    """Rolling robust z-score: flagged where |x − median| / (1.4826 · MAD) > threshold.

    Median and MAD over the previous ``window`` points; the first ``window`` points are not judged.
    """
    flagged = np.zeros(len(values), dtype=bool)
    if len(values) <= window:
        return flagged
    past = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    median = np.median(past, axis=1)
    mad = np.median(np.abs(past - median[:, None]), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(values[window:] - median) / (1.4826 * mad)
    flagged[window:] = np.nan_to_num(z, nan=0.0) > threshold
    return flagged


def costcouncil(item: Labelled) -> np.ndarray:
    """The timestamps CostCouncil's detector flags."""
    d = detect(item.series)
    return d.timestamps[d.flagged]


def compare(items: Sequence[Labelled], window: int) -> dict[str, dict[str, Score]]:
    """Per group and overall scores of both detectors; prints each detector's seconds."""
    found: dict[str, dict[str, Score]] = {"costcouncil": {}, "baseline": {}}
    runs: dict[str, Callable[[Labelled], np.ndarray]] = {
        "costcouncil": costcouncil,
        "baseline": lambda it: it.times[baseline(it.values, window)],
    }
    for name, run in runs.items():
        started = time.perf_counter()
        scores = [(it.group, score(run(it), it.windows)) for it in items]
        took = time.perf_counter() - started
        points = sum(len(it.values) for it in items)
        print(f"  {name:<12} {took:6.2f} s for {len(items)} series, {points:,} points")
        for group in sorted({g for g, _ in scores}):
            found[name][group] = total(s for g, s in scores if g == group)
        found[name]["overall"] = total(s for _, s in scores)
    return found


def report(found: dict[str, dict[str, Score]]) -> None:
    """One line per group and detector: windows found, flagged points, recall, precision, F1."""
    print(
        f"  {'group':<24}{'detector':<13}{'found':>9}{'flagged':>9}{'recall':>8}{'prec.':>8}{'F1':>7}"
    )
    for group in found["costcouncil"]:
        for name, scores in found.items():
            s = scores[group]
            print(
                f"  {group:<24}{name:<13}{s.found:>4}/{s.windows:<4}{s.flagged:>9}"
                f"{s.recall:>8.3f}{s.precision:>8.3f}{s.f1:>7.3f}"
            )


# --------------------------------------------------------------------------------------------
# NAB
# --------------------------------------------------------------------------------------------


def load_nab(root: Path) -> list[Labelled]:
    """The NAB files named in ``combined_windows.json``, each with its windows."""
    labels = json.loads((root / "combined_windows.json").read_text())
    return [_nab_file(root / "data" / name, name, spans) for name, spans in sorted(labels.items())]


def _nab_file(path: Path, name: str, spans: list[list[str]]) -> Labelled:
    table = pacsv.read_csv(path)
    times = table.column("timestamp").to_numpy().astype("datetime64[s]")
    values = table.column("value").to_numpy().astype(np.float64)
    windows = [(np.datetime64(a[:19], "s"), np.datetime64(b[:19], "s")) for a, b in spans]
    series = regular(name, times, values)
    return Labelled(name.split("/")[0], times, values, series, windows)


def regular(key: str, times: np.ndarray, values: np.ndarray) -> Series:
    """``values`` on their most common step: snapped to the nearest step, missing steps NaN."""
    steps, counts = np.unique(np.diff(times), return_counts=True)
    step = steps[int(np.argmax(counts))]
    slot = np.round((times - times[0]) / step).astype(np.int64)
    out = np.full(int(slot[-1]) + 1, np.nan)
    out[slot] = values
    return Series(key, times[0], step, out)


def nab(args: argparse.Namespace) -> None:
    """Section: NAB, per group and overall."""
    root = Path(args.nab)
    if not (root / "combined_windows.json").exists():
        print(f"nab: skipped ({root} has no combined_windows.json)")
        return
    items = load_nab(root)
    print(f"nab: {len(items)} series from {root}")
    report(compare(items, 288))


# --------------------------------------------------------------------------------------------
# Synthetic daily cost series
# --------------------------------------------------------------------------------------------

KINDS = ("spike", "shift", "drop", "ramp")


def synthetic_series(rng: np.random.Generator, key: str, days: int = 365) -> Labelled:
    """A daily cost series with weekly season, trend and noise, and 2–4 planted anomalies."""
    t = np.arange(days)
    base = rng.uniform(50, 5000) * np.exp(rng.uniform(-0.5, 1.0) * t / 365)
    week = np.where(t % 7 >= 5, rng.uniform(0.3, 0.9), 1.0)
    values = base * week * rng.lognormal(0.0, rng.uniform(0.03, 0.12), days)
    windows: list[tuple[int, int]] = []
    for start in np.sort(rng.choice(np.arange(60, days - 40, 35), rng.integers(2, 5), False)):
        windows.append(_plant(rng, values, int(start), KINDS[rng.integers(len(KINDS))]))
    start = np.datetime64("2025-01-01", "s")
    series = Series(key, start, DAY, values)
    stamps = series.timestamps
    spans = [(stamps[a], stamps[min(b, days - 1)]) for a, b in windows]
    return Labelled("synthetic", stamps, values, series, spans)


def _plant(rng: np.random.Generator, values: np.ndarray, start: int, kind: str) -> tuple[int, int]:
    """Plant one anomaly at ``start``; its labelled window (first and last day)."""
    if kind == "spike":
        days = int(rng.integers(1, 3))
        values[start : start + days] *= rng.uniform(2.0, 5.0)
        return start, start + days - 1
    if kind == "shift":
        values[start:] *= rng.choice([rng.uniform(0.3, 0.6), rng.uniform(1.6, 3.0)])
        return start, start + 6
    if kind == "drop":
        days = int(rng.integers(1, 5))
        values[start : start + days] = 0.0
        return start, start + days - 1
    days = int(rng.integers(10, 21))
    ramp = np.minimum(np.arange(len(values) - start) / days, 1.0) * rng.uniform(0.8, 2.0)
    values[start:] *= 1.0 + ramp
    return start, start + days + 6


def synthetic(args: argparse.Namespace) -> None:
    """Section: seeded synthetic daily cost series."""
    rng = np.random.default_rng(args.seed)
    items = [synthetic_series(rng, f"s{i}") for i in range(args.series)]
    print(f"synthetic: {len(items)} daily series of 365 days, seed {args.seed}")
    report(compare(items, 28))


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "nab": nab,
    "synthetic": synthetic,
    "demo": planted.demo,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", default=str(NAB), help="the NAB folder")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--series", type=int, default=200, help="synthetic series")
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--demo", default="/tmp/costcouncil-anomalies-demo", help="demo workspace")
    parser.add_argument("--rows", type=int, default=200_000, help="demo cost rows")
    args = parser.parse_args()
    for name in args.section or list(SECTIONS):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
