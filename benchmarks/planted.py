"""The demo organisation's planted truth, scored: detection F1 and top-1 root cause.

Used by ``benchmarks/anomalies.py --section demo``. A demo workspace (``--demo DIR``, generated
with ``costcouncil demo DIR --no-serve`` when absent; ``--rows``) is run through the real
detection of every default monitor (``costcouncil.workspace.anomaly.run``) on a fresh app database,
after entering the annotation the truth's planned launch carries (as a user would). Then:

* a planted anomaly is **found** when an anomaly of its monitor (``monitor`` in the truth)
  overlaps its window; **recall** = found / planted;
* every anomaly recorded on any monitor is a **true alarm** when it overlaps a planted anomaly
  whose ``scopes`` include that monitor's scope; else, when it overlaps the first two weeks of
  the organisation's unplanned **growth** on that scope (``growth`` in the truth: a resource or
  LLM use that starts during the year — a real step a detector may rightly flag), it is counted
  neither way; else it is a **false alarm**. **precision** = true / (true + false), printed
  beside the strict precision that counts growth alarms as false; F1 = 2PR / (P + R) (goal ≥ 0.8);
* **top-1 root cause**: the found anomaly's first cause is the planted ``cause`` (goal ≥ 80 %);
* false alarms on the planted normal events (the month-end batch, the annotated launch) are
  counted on their own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from costcouncil.appdb.db import open_database
from costcouncil.workspace.allocate.series import parse_scope
from costcouncil.workspace.anomaly.explain import ensure_causes
from costcouncil.workspace.anomaly.run import run_detection
from costcouncil.workspace.anomaly.store import AnomalyInfo, Monitoring
from costcouncil.workspace.core import Workspace

ROOT = Path(__file__).resolve().parents[1]
#: An alarm this soon after a resource or LLM use starts may be that step (counted neither way).
GROWTH_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        return start < self.end and (end is None or end > self.start)


def _span(item: dict[str, Any]) -> Span:
    return Span(_when(item["start"]), _when(item["end"]))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def workspace(args: argparse.Namespace) -> Workspace:
    folder = Path(args.demo)
    if not (folder / "ground_truth.json").exists():
        command = [
            str(ROOT / ".venv/bin/costcouncil"),
            "demo",
            str(folder),
            "--no-serve",
            "--rows",
            str(args.rows),
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return Workspace.open(folder)


def demo(args: argparse.Namespace) -> None:
    ws = workspace(args)
    truth = json.loads((ws.root / "ground_truth.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        store = Monitoring(open_database(f"sqlite:///{tmp}/bench.db"))
        _annotate(ws, store, truth)
        started = time.perf_counter()
        outcome = run_detection(ws, store)
        seconds = time.perf_counter() - started
        found = store.anomalies(limit=100_000)
        _report(ws, store, truth, found, outcome.monitors, seconds)
        store.close()


def _annotate(ws: Workspace, store: Monitoring, truth: dict[str, Any]) -> None:
    for note in [n for e in truth.get("normal_events", []) for n in e.get("annotations", [])]:
        store.add_annotation(parse_scope(ws, note["scope"]), _when(note["start"]),
                             _when(note["end"]) if note.get("end") else None, note["label"])  # fmt: skip


def _report(
    ws: Workspace,
    store: Monitoring,
    truth: dict[str, Any],
    found: list[AnomalyInfo],
    monitors: int,
    seconds: float,
) -> None:
    planted = truth["anomalies"]
    hits, causes = [], []
    print(f"\nDemo planted truth ({ws.root}): {len(planted)} planted anomalies, {monitors} monitors, "
          f"{len(found)} anomalies recorded, detection + root causes {seconds:.1f} s")  # fmt: skip
    print(f"{'planted':28} {'monitor':34} {'cause':22} {'found':6} {'top-1 cause':22}")
    for p in planted:
        span = _span(p)
        mine = [a for a in found if a.monitor == p["monitor"] and span.overlaps(a.start, a.end)]
        top = ""
        if mine:
            best = max(mine, key=lambda a: abs(a.impact))
            top = str((ensure_causes(ws, store, best).causes or [{"cause": "(none)"}])[0]["cause"])
            causes.append(top == p["cause"])
        hits.append(bool(mine))
        print(
            f"{p['id']:28} {p['monitor']:34} {p['cause']:22} {'yes' if mine else 'NO':6} {top:22}"
        )
    true, growth, normal = _alarms(truth, found)
    judged = len(found) - growth
    recall = sum(hits) / len(hits) if hits else 0.0
    precision = true / judged if judged else 0.0
    strict = true / len(found) if found else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    top1 = sum(causes) / len(causes) if causes else 0.0
    print(f"recall {recall:.3f} ({sum(hits)}/{len(hits)}), precision {precision:.3f} ({true}/{judged}), "
          f"F1 {f1:.3f} (goal ≥ 0.8); top-1 root cause {top1:.0%} of found ({sum(causes)}/{len(causes)}, "
          f"goal ≥ 80 %); alarms on planted normal events: {normal}")  # fmt: skip
    print(f"alarms on the first two weeks of unplanned growth (new resources and LLM uses, not counted): "
          f"{growth}; strict precision counting them as false {strict:.3f} ({true}/{len(found)})")  # fmt: skip


def _alarms(truth: dict[str, Any], found: list[AnomalyInfo]) -> tuple[int, int, int]:
    """True alarms, alarms on unplanned growth (counted neither way), alarms on normal events."""
    true = growth = 0
    for a in found:
        if any(a.scope in p["scopes"] and _span(p).overlaps(a.start, a.end) for p in truth["anomalies"]):
            true += 1
        elif any(a.scope in g["scopes"] and _growing(g).overlaps(a.start, a.end)
                 for g in truth.get("growth", [])):  # fmt: skip
            growth += 1
    normal = 0
    for event in truth.get("normal_events", []):
        windows = [_span(w) for w in event.get("windows", [])] or [_span(event)]
        normal += sum(1 for a in found if a.monitor == event["monitor"]
                      and any(w.overlaps(a.start, a.end) for w in windows))  # fmt: skip
    return true, growth, normal


def _growing(entry: dict[str, Any]) -> Span:
    start = _when(entry["start"])
    return Span(start, start + GROWTH_WINDOW)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", default="/tmp/costcouncil-anomalies-demo")
    parser.add_argument("--rows", type=int, default=200_000)
    demo(parser.parse_args())
    sys.exit(0)
