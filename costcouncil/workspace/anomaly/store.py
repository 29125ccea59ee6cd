"""Monitors, anomalies, feedback and annotations in the app database.

Every read takes ``visible``: the teams the caller may see (None: every team, for admin, finance
and viewer). A member sees only monitors, anomalies and annotations of their own teams' scopes;
one of another team is answered exactly as one that does not exist, so its existence never leaks
through a list, a count or an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from costcouncil.anomaly.events import DIRECTIONS
from costcouncil.appdb.alerts import FEEDBACK, GRAINS, Annotation, Anomaly, Monitor
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.common.appstate import (
    AppStore,
    Visible,
    audit,
    aware,
    now,
    only_visible,
)

__all__ = ["AnnotationInfo", "AnomalyInfo", "MonitorInfo", "Monitoring", "Visible", "aware", "now"]


@dataclass(frozen=True)
class MonitorInfo:
    id: int
    name: str
    scope: str
    grain: str
    metric: str
    sensitivity: float | None
    builtin: bool
    team: str | None
    enabled: bool
    direction: str = "up"

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class AnomalyInfo:
    id: int
    monitor: str
    scope: str
    team: str | None
    grain: str
    start: datetime
    end: datetime | None
    actual: Decimal
    expected: Decimal
    impact: Decimal
    impact_pct: float | None
    score: float
    direction: str
    currency: str
    causes: list[dict[str, Any]]
    feedback: str | None
    feedback_note: str
    feedback_by: str
    detected_at: datetime
    updated_at: datetime

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def as_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        for k in ("start", "end", "detected_at", "updated_at"):
            out[k] = out[k].isoformat() if out[k] is not None else None
        for k in ("actual", "expected", "impact"):
            out[k] = str(out[k])
        out["ongoing"] = self.ongoing
        return out


@dataclass(frozen=True)
class AnnotationInfo:
    id: int
    scope: str
    team: str | None
    start: datetime
    end: datetime | None
    label: str
    created_by: str

    def as_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat() if self.end else None
        return out


class Monitoring(AppStore):
    """The monitoring tables of one workspace's app database."""

    # -- monitors ---------------------------------------------------------------------------

    def monitors(self, visible: Visible = None, *, enabled_only: bool = False) -> list[MonitorInfo]:
        with self.session() as s:
            query = only_visible(select(Monitor), Monitor.team, visible).order_by(Monitor.name)
            found = [_monitor(m) for m in s.scalars(query)]
        return [m for m in found if m.enabled or not enabled_only]

    def add_monitor(
        self,
        name: str,
        scope: Scope,
        *,
        grain: str = "day",
        sensitivity: float | None = None,
        direction: str = "up",
        builtin: bool = False,
        actor: str = "cli",
    ) -> MonitorInfo:
        if grain not in GRAINS:
            raise ConfigError(f"grain {grain!r}: choose one of {', '.join(GRAINS)}")
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction {direction!r}: choose one of {', '.join(DIRECTIONS)}")
        if sensitivity is not None and not 0 < sensitivity <= 10:
            raise ConfigError(f"sensitivity {sensitivity!r}: a number above 0 and at most 10")
        name = name.strip()
        if not name:
            raise ConfigError("a monitor needs a name")
        with self.session() as s:
            if s.scalar(select(Monitor).where(Monitor.name == name)) is not None:
                raise ConfigError(f"monitor {name!r} exists already")
            m = Monitor(name=name, scope=str(scope), grain=grain, metric="EffectiveCost",
                        sensitivity=sensitivity, direction=direction, builtin=builtin, team=scope.team,
                        created_at=now(), created_by=actor)  # fmt: skip
            s.add(m)
            s.flush()
            audit(s, actor, "monitor.add", name,
                  {"scope": str(scope), "grain": grain, "direction": direction})  # fmt: skip
            return _monitor(m)

    def remove_monitor(self, name: str, *, actor: str = "cli", visible: Visible = None) -> None:
        """Remove a monitor and its anomalies (a built-in one is disabled instead)."""
        with self.session() as s:
            m = _one(
                s, only_visible(select(Monitor), Monitor.team, visible).where(Monitor.name == name)
            )
            if m is None:
                raise NotFoundError(f"no monitor {name!r}")
            if m.builtin:
                m.disabled_at = now()
            else:
                s.delete(m)
            audit(s, actor, "monitor.remove", name, {})

    def enable_monitor(self, name: str, *, actor: str = "cli") -> None:
        with self.session() as s:
            m = s.scalar(select(Monitor).where(Monitor.name == name))
            if m is None:
                raise NotFoundError(f"no monitor {name!r}")
            m.disabled_at = None
            audit(s, actor, "monitor.enable", name, {})

    # -- anomalies --------------------------------------------------------------------------

    def anomalies(
        self,
        visible: Visible = None,
        *,
        monitor: str | None = None,
        open_only: bool = False,
        limit: int = 500,
    ) -> list[AnomalyInfo]:
        """Anomalies, newest first."""
        with self.session() as s:
            query = only_visible(select(Anomaly, Monitor.name).join(Monitor), Anomaly.team, visible)
            if monitor is not None:
                query = query.where(Monitor.name == monitor)
            if open_only:
                query = query.where(Anomaly.feedback.is_(None))
            query = query.order_by(Anomaly.start.desc(), Anomaly.id.desc()).limit(limit)
            return [_anomaly(a, name) for a, name in s.execute(query)]

    def anomaly(self, anomaly_id: int, visible: Visible = None) -> AnomalyInfo:
        with self.session() as s:
            query = select(Anomaly, Monitor.name).join(Monitor).where(Anomaly.id == anomaly_id)
            row = s.execute(only_visible(query, Anomaly.team, visible)).first()
            if row is None:
                raise NotFoundError(f"no anomaly {anomaly_id}")
            return _anomaly(row[0], row[1])

    def mark(
        self,
        anomaly_id: int,
        feedback: str,
        note: str = "",
        *,
        actor: str = "cli",
        visible: Visible = None,
    ) -> AnomalyInfo:
        """Record feedback: ``expected``, ``not_anomaly`` or ``resolved`` (with a note)."""
        if feedback not in FEEDBACK:
            raise ConfigError(f"feedback {feedback!r}: choose one of {', '.join(FEEDBACK)}")
        with self.session() as s:
            query = select(Anomaly).where(Anomaly.id == anomaly_id)
            a = _one(s, only_visible(query, Anomaly.team, visible))
            if a is None:
                raise NotFoundError(f"no anomaly {anomaly_id}")
            a.feedback, a.feedback_note, a.feedback_by, a.feedback_at = feedback, note, actor, now()
            audit(s, actor, "anomaly.mark", str(anomaly_id), {"feedback": feedback, "note": note})
        return self.anomaly(anomaly_id, visible)

    # -- annotations ------------------------------------------------------------------------

    def annotations(self, visible: Visible = None) -> list[AnnotationInfo]:
        with self.session() as s:
            query = only_visible(select(Annotation), Annotation.team, visible).order_by(
                Annotation.start
            )
            return [_annotation(a) for a in s.scalars(query)]

    def add_annotation(
        self, scope: Scope, start: datetime, end: datetime | None, label: str, *, actor: str = "cli"
    ) -> AnnotationInfo:
        if end is not None and end <= start:
            raise ConfigError(
                f"annotation end {end.isoformat()} is not after its start {start.isoformat()}"
            )
        if not label.strip():
            raise ConfigError("an annotation needs a label (what happened: a launch, a retrain)")
        with self.session() as s:
            a = Annotation(scope=str(scope), team=scope.team, start=start, end=end,
                           label=label.strip(), created_by=actor, created_at=now())  # fmt: skip
            s.add(a)
            s.flush()
            audit(s, actor, "annotation.add", str(a.id), {"scope": str(scope), "label": label})
            return _annotation(a)

    def remove_annotation(
        self, annotation_id: int, *, actor: str = "cli", visible: Visible = None
    ) -> None:
        with self.session() as s:
            query = select(Annotation).where(Annotation.id == annotation_id)
            a = _one(s, only_visible(query, Annotation.team, visible))
            if a is None:
                raise NotFoundError(f"no annotation {annotation_id}")
            s.delete(a)
            audit(s, actor, "annotation.remove", str(annotation_id), {})


def _one(s: Session, query: Select[Any]) -> Any:
    return s.scalars(query).first()


def _monitor(m: Monitor) -> MonitorInfo:
    return MonitorInfo(m.id, m.name, m.scope, m.grain, m.metric, m.sensitivity, m.builtin, m.team,
                       m.disabled_at is None, m.direction)  # fmt: skip


def _anomaly(a: Anomaly, monitor: str) -> AnomalyInfo:
    start = aware(a.start)
    assert start is not None
    return AnomalyInfo(
        a.id, monitor, a.scope, a.team, a.grain, start, aware(a.end), Decimal(a.actual),
        Decimal(a.expected), Decimal(a.impact), a.impact_pct, a.score, a.direction, a.currency,
        list(a.causes or []), a.feedback, a.feedback_note, a.feedback_by,
        aware(a.detected_at) or now(), aware(a.updated_at) or now(),
    )  # fmt: skip


def _annotation(a: Annotation) -> AnnotationInfo:
    start = aware(a.start)
    assert start is not None
    return AnnotationInfo(a.id, a.scope, a.team, start, aware(a.end), a.label, a.created_by)
