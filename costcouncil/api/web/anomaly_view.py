"""Anomalies as the dashboard shows them: the list with its filters, and one anomaly with its
ranked root causes and the monitor's series around it against the detector's band.

The band is the detector's verdict on the very series the monitor watches (the scope's usage
charges per day, with the monitor's sensitivity and its known windows: annotations and feedback),
so the chart shows what detection saw. Visibility is the store's: a member's reads name their
teams, and another team's anomaly is answered as one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from costcouncil.anomaly import detect
from costcouncil.workspace.allocate.series import parse_scope, scope_series
from costcouncil.workspace.anomaly.explain import ensure_causes
from costcouncil.workspace.anomaly.run import known_windows
from costcouncil.workspace.anomaly.store import AnomalyInfo, MonitorInfo, Monitoring, Visible
from costcouncil.workspace.core import Workspace

#: How much of the series the detail chart shows around the anomaly.
BEFORE, AFTER = timedelta(days=60), timedelta(days=14)
#: Anomalies the list shows at most.
LIMIT = 500
#: Feedback a person gives, as the buttons read.
FEEDBACK = {"expected": "Expected", "not_anomaly": "Not an anomaly", "resolved": "Resolved"}
#: Root causes in words (:mod:`costcouncil.anomaly.causes`).
CAUSES = {
    "model_mix_shift": "Model mix shifted", "requests_up": "More requests",
    "new_client": "A new or busier client", "tokens_per_request_up": "More input tokens per request",
    "output_tokens_up": "More output tokens per request", "cache_hit_down": "Fewer prompt-cache hits",
    "price_change": "Unit price changed", "idle_gpu_up": "More idle GPU capacity",
    "runaway_gpu_job": "A runaway GPU job", "training_failures": "Failed training runs",
    "untagged_spend": "Untagged spend", "new_resource": "New resources",
    "dimension": "Grew in one dimension",
}  # fmt: skip


def listing(
    store: Monitoring, visible: Visible, monitor: str | None, open_only: bool
) -> dict[str, Any]:
    """The list page's figures: anomalies newest first, the monitors to filter by, the filters."""
    found = store.anomalies(visible, monitor=monitor or None, open_only=open_only, limit=LIMIT)
    return {
        "anomalies": [a.as_dict() for a in found],
        "monitors": [m.name for m in store.monitors(visible)],
        "filters": {"monitor": monitor or None, "open": open_only},
        "limit": LIMIT,
        "empty": _why_empty(visible, bool(monitor) or open_only),
    }


def _why_empty(visible: Visible, filtered: bool) -> str:
    """Why the list is empty, in one sentence (decided without looking at other teams)."""
    if visible is not None and not visible:
        return "Nothing visible to this account: it belongs to no team."
    if filtered:
        return "No anomalies for these filters."
    if visible is not None:
        return f"No anomalies for your teams ({', '.join(sorted(visible))})."
    return (
        "No anomalies yet: detection runs over every monitor after `costcouncil allocate` "
        "(or `costcouncil anomalies detect`)."
    )


def detail(
    workspace: Workspace, store: Monitoring, info: AnomalyInfo, visible: Visible
) -> dict[str, Any]:
    """One anomaly with its causes (computed now if it has none yet) and its chart's points."""
    explained = ensure_causes(workspace, store, info)
    monitor = next((m for m in store.monitors(visible) if m.name == info.monitor), None)
    points = band(workspace, store, explained, monitor)
    end = explained.end or (points[-1]["time"] if points else explained.start)
    return {
        "anomaly": explained.as_dict(),
        "window": {"start": explained.start, "end": end},
        "points": points,
    }


def band(
    workspace: Workspace, store: Monitoring, info: AnomalyInfo, monitor: MonitorInfo | None
) -> list[dict[str, Any]]:
    """The monitor's series from 60 days before the anomaly to 14 after, each point with the
    detector's expected value, band and verdict."""
    scope = parse_scope(workspace, info.scope, info.grain)
    charges = "usage" if info.grain == "day" else "all"  # hourly rollups have no ChargeCategory
    series = scope_series(workspace, [scope], grain=info.grain, charges=charges).get(scope)
    if series is None or len(series) < 2:
        return []
    sensitivity = (monitor.sensitivity if monitor else None) or 1.0
    known = known_windows(store, monitor) if monitor is not None else []
    found = detect(series, sensitivity=sensitivity, known=known)
    stamps = found.timestamps
    last = info.end or info.start
    keep = (stamps >= _np(info.start - BEFORE)) & (stamps < _np(last + AFTER))
    return [
        {"time": _dt(t), "actual": _num(a), "expected": _num(e), "lower": _num(lo),
         "upper": _num(hi), "flagged": bool(f)}
        for t, a, e, lo, hi, f in zip(stamps[keep], found.actual[keep], found.expected[keep],
                                      found.lower[keep], found.upper[keep], found.flagged[keep],
                                      strict=True)
    ]  # fmt: skip


def cause_words(cause: str) -> str:
    """A root cause's code as a person reads it."""
    return CAUSES.get(cause, cause.replace("_", " ").capitalize())


def _num(value: Any) -> float | None:
    number = float(value)
    return round(number, 2) if np.isfinite(number) else None


def _np(value: datetime) -> np.datetime64:
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "s")


def _dt(value: np.datetime64) -> datetime:
    return datetime.fromtimestamp(int(value.astype("datetime64[s]").astype(np.int64)), UTC)
