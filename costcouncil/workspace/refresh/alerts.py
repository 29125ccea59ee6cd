"""Changed anomalies as notification alerts, handed to the subscriptions.

An anomaly found in this run is ``new``; one that grew (its impact up by a quarter) is
``updated``; one that ended is ``resolved``. Only anomalies whose window reaches into the last
``RECENT_DAYS`` days are told (a first detection over a year of history must not page anyone for
last spring); feedback silences one (a person has seen it). The alert's lines are the top root
causes in plain words.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from costcouncil.notify.message import Alert
from costcouncil.workspace.anomaly.run import Outcome
from costcouncil.workspace.anomaly.store import AnomalyInfo, Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.notify.dispatch import BASE_URL, dispatch

RECENT_DAYS = 7
_STATUS = {"new": "new", "grew": "updated", "ended": "resolved"}


def dispatch_changes(
    workspace: Workspace, store: Monitoring, found: Outcome, at: datetime, link: str
) -> int:
    """Dispatch the run's changed, recent anomalies; how many delivery-log rows were written."""
    alerts = []
    for change in found.changes:
        status = _STATUS.get(change.kind)
        if status is None:
            continue
        info = store.anomaly(change.anomaly_id)
        if info.feedback is None and _recent(info, at):
            alerts.append((as_alert(info, status, link or BASE_URL), info.monitor, info.team))
    if not alerts:
        return 0
    return len(dispatch(store.db, alerts, now=at))


def as_alert(info: AnomalyInfo, status: str, base: str) -> Alert:
    """The alert a subscriber reads about one anomaly."""
    pct = "" if info.impact_pct is None else f" {info.impact_pct:+.0f}%"
    word = "up" if info.direction == "up" else "down"
    return Alert(
        id=f"anomaly-{info.id}",
        kind="anomaly",
        title=f"{info.monitor}: spend {word}{pct}",
        scope=info.scope,
        status=status,  # type: ignore[arg-type]
        impact=info.impact,
        currency=info.currency,
        start=info.start,
        end=info.end,
        link=f"{base.rstrip('/')}/anomalies/{info.id}",
        impact_pct=info.impact_pct,
        score=info.score,
        lines=tuple(str(c["summary"]) for c in info.causes[:3]),
        severity="critical" if info.score >= 20 else "warning",
    )


def _recent(info: AnomalyInfo, at: datetime) -> bool:
    end = info.end or at
    return end >= at - timedelta(days=RECENT_DAYS)
