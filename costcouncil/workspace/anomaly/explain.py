"""Root causes of recorded anomalies: the evidence of the anomaly's window and the baseline
before it, ranked by the engine, stored on the anomaly.

A detection run explains the anomalies it found or that grew, most recent first, up to
``EAGER`` of them; any other is explained the first time it is shown (:func:`ensure_causes`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from costcouncil.anomaly.causes import explain
from costcouncil.appdb.alerts import Anomaly
from costcouncil.workspace.allocate.series import parse_scope
from costcouncil.workspace.anomaly.evidence import frames
from costcouncil.workspace.anomaly.store import AnomalyInfo, Monitoring, aware
from costcouncil.workspace.core import Workspace

#: Anomalies a detection run explains at once (the rest when first shown).
EAGER = 40


def explain_anomaly(
    workspace: Workspace, store: Monitoring, anomaly_id: int
) -> list[dict[str, object]]:
    """Compute, store and return the ranked causes of one anomaly."""
    with store.session() as s:
        row = s.scalar(select(Anomaly).where(Anomaly.id == anomaly_id))
        if row is None:
            return []
        start = aware(row.start)
        end = aware(row.end) or (start + timedelta(days=1) if start else None)
        scope_text, grain, impact = row.scope, row.grain, float(row.impact)
    assert start is not None and end is not None
    baseline, window = frames(workspace, parse_scope(workspace, scope_text, grain), start, end)
    causes = [c.as_dict() for c in explain(baseline, window, excess=impact)]
    with store.session() as s:
        found = s.scalar(select(Anomaly).where(Anomaly.id == anomaly_id))
        if found is not None:
            found.causes = causes
    return causes


def explain_recent(workspace: Workspace, store: Monitoring, anomaly_ids: list[int]) -> int:
    """Explain up to ``EAGER`` of ``anomaly_ids`` (the newest first); how many were explained."""
    done = 0
    for anomaly_id in sorted(set(anomaly_ids), reverse=True)[:EAGER]:
        explain_anomaly(workspace, store, anomaly_id)
        done += 1
    return done


def ensure_causes(workspace: Workspace, store: Monitoring, info: AnomalyInfo) -> AnomalyInfo:
    """``info`` with its causes, computed now if it has none yet."""
    if info.causes:
        return info
    explain_anomaly(workspace, store, info.id)
    return store.anomaly(info.id)
