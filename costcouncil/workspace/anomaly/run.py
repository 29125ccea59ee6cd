"""Detection over every monitor of a workspace: series from the rollups, the detector, and the
anomalies it finds recorded (new ones added, ongoing ones grown, ended ones closed).

The default monitors (``org``, each team, each model, each provider at a daily grain) are
created on the first run and whenever a new team, model or provider appears. Feedback and
annotations feed back into detection: a window marked ``expected`` or annotated is learned as
normal, one marked ``not_anomaly`` is never flagged again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import select

from costcouncil.anomaly import Event, Known, detect, events
from costcouncil.appdb.alerts import Anomaly
from costcouncil.schema.series import Series
from costcouncil.workspace.allocate.series import ORG, parse_scope, scope_series
from costcouncil.workspace.anomaly.explain import explain_recent
from costcouncil.workspace.anomaly.monitors import sync_default_monitors
from costcouncil.workspace.anomaly.store import MonitorInfo, Monitoring, aware, now
from costcouncil.workspace.core import Workspace

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Change:
    """What a run did to one anomaly: ``new``, ``grew``, ``ended`` or ``same``."""

    anomaly_id: int
    monitor: str
    kind: str


@dataclass
class Outcome:
    monitors: int = 0
    series: int = 0
    explained: int = 0
    changes: list[Change] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)


def run_detection(
    workspace: Workspace, store: Monitoring, *, at: datetime | None = None
) -> Outcome:
    """Detect on every enabled daily monitor and record what changed."""
    sync_default_monitors(workspace, store)
    monitors = [m for m in store.monitors(enabled_only=True) if m.grain == "day"]
    scopes = {m.id: parse_scope(workspace, m.scope) for m in monitors}
    series = scope_series(workspace, list(set(scopes.values())), charges="usage")
    outcome = Outcome(monitors=len(monitors), series=len(series))
    for m in monitors:
        found = series.get(scopes[m.id])
        if found is not None and len(found) >= 2:
            known = known_windows(store, m)
            detection = detect(found, sensitivity=m.sensitivity or 1.0, known=known)
            found_events = events(detection, direction=m.direction)
            outcome.changes += _record(store, workspace, m, found, found_events, at or now())
    fresh = [c.anomaly_id for c in outcome.changes if c.kind in ("new", "grew")]
    outcome.explained = explain_recent(workspace, store, fresh)
    return outcome


def known_windows(store: Monitoring, monitor: MonitorInfo) -> list[Known]:
    """Annotations of the monitor's scope or the organisation's (the organisation's monitor takes
    every annotation: a team's launch moves its total too) and anomalies marked expected or not an
    anomaly; stored ends are exclusive, the engine's inclusive."""
    out = []
    for a in store.annotations():
        if a.scope in (monitor.scope, ORG) or monitor.scope == ORG:
            out.append(Known(_np(a.start), _last(a.end), "annotation"))
    for x in store.anomalies(monitor=monitor.name, limit=10_000):
        if x.feedback in ("expected", "not_anomaly"):
            out.append(Known(_np(x.start), _last(x.end), x.feedback))
    return out


def _last(end: datetime | None) -> np.datetime64 | None:
    return None if end is None else _np(end) - np.timedelta64(1, "s")


def _record(
    store: Monitoring,
    workspace: Workspace,
    monitor: MonitorInfo,
    series: Series,
    found: list[Event],
    at: datetime,
) -> list[Change]:
    changes = []
    step = timedelta(seconds=int(series.step / np.timedelta64(1, "s")))
    with store.session() as s:
        rows = list(s.scalars(select(Anomaly).where(Anomaly.monitor_id == monitor.id)))
        used: set[int] = set()
        for event in found:
            start = _dt(event.start)
            end = _dt(event.end) + step if event.end is not None else None
            hit = _overlapping(rows, start, end, used)
            if hit is None:
                hit = Anomaly(monitor_id=monitor.id, scope=monitor.scope, team=monitor.team,
                              grain=monitor.grain, start=start, detected_at=at, causes=[])  # fmt: skip
                s.add(hit)
                used.add(id(hit))
                kind = "new"
            else:
                kind = _kind(hit, end, event)
            _fill(hit, event, start, end, workspace.config.currency, at)
            s.flush()
            changes.append(Change(hit.id, monitor.name, kind))
    return changes


def _overlapping(
    rows: list[Anomaly], start: datetime, end: datetime | None, used: set[int]
) -> Anomaly | None:
    """The recorded anomaly this event continues: the first not yet matched in this run whose
    window overlaps the event's (ends exclusive; an ongoing one extends to the future)."""
    for row in rows:
        row_start, row_end = aware(row.start), aware(row.end)
        assert row_start is not None
        overlaps = (end is None or row_start < end) and (row_end is None or row_end > start)
        if overlaps and id(row) not in used:
            used.add(id(row))
            return row
    return None


def _kind(row: Anomaly, end: datetime | None, event: Event) -> str:
    if row.end is None and end is not None:
        return "ended"
    if abs(Decimal(str(event.impact))) > abs(Decimal(row.impact)) * Decimal("1.25"):
        return "grew"
    return "same"


def _fill(
    row: Anomaly, event: Event, start: datetime, end: datetime | None, currency: str, at: datetime
) -> None:
    row.start = start
    row.end = end
    row.actual = str(_money(event.actual))
    row.expected = str(_money(event.expected))
    row.impact = str(_money(event.impact))
    row.impact_pct = None if event.impact_pct is None else float(event.impact_pct) * 100
    row.score = float(event.score)
    row.direction = event.direction
    row.currency = currency
    row.updated_at = at


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(_CENT)


def _np(value: datetime) -> np.datetime64:
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "s")


def _dt(value: np.datetime64) -> datetime:
    seconds = int(value.astype("datetime64[s]").astype(np.int64))
    return datetime.fromtimestamp(seconds, UTC)
