"""The app-state tables of monitoring: monitors, anomalies with feedback, annotations,
notification subscriptions, their delivery log and the in-app inbox.

Money is stored as decimal text (exact on SQLite and PostgreSQL alike); scores and percentages
are floats (statistics). ``team`` columns hold the one team an anomaly or notification belongs to
(NULL when it spans teams) so that a member's queries filter on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from costcouncil.appdb.models import Base

_TZ = DateTime(timezone=True)
#: Feedback a user gives an anomaly.
FEEDBACK = ("expected", "not_anomaly", "resolved")
#: Grains a monitor watches at.
GRAINS = ("day", "hour")
#: Notification channels.
CHANNELS = ("slack", "teams", "webhook", "email", "inbox")
#: How often a subscription sends.
FREQUENCIES = ("immediate", "daily", "weekly")


class Monitor(Base):
    """A scope (``org``, ``team=research``, ``provider=aws`` …) watched at a grain."""

    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scope: Mapped[str] = mapped_column(String(400))
    grain: Mapped[str] = mapped_column(String(10), default="day")
    metric: Mapped[str] = mapped_column(String(40), default="EffectiveCost")
    sensitivity: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Which anomalies it records: ``up`` (spend above expected), ``down`` or ``both``.
    direction: Mapped[str] = mapped_column(String(10), default="up", server_default="up")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(_TZ)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    disabled_at: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)


class Anomaly(Base):
    """One anomaly a monitor found: a window of flagged points, with its feedback."""

    __tablename__ = "anomalies"
    __table_args__ = (UniqueConstraint("monitor_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(400))
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    grain: Mapped[str] = mapped_column(String(10))
    start: Mapped[datetime] = mapped_column(_TZ, index=True)
    end: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)
    actual: Mapped[str] = mapped_column(String(64))
    expected: Mapped[str] = mapped_column(String(64))
    impact: Mapped[str] = mapped_column(String(64))
    impact_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(8))
    causes: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    feedback: Mapped[str | None] = mapped_column(String(20), nullable=True)
    feedback_note: Mapped[str] = mapped_column(String(2000), default="")
    feedback_by: Mapped[str] = mapped_column(String(320), default="")
    feedback_at: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)
    detected_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ)


class Annotation(Base):
    """A known event (a planned launch, a retrain) on a scope: detection treats it as normal."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(400))
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    start: Mapped[datetime] = mapped_column(_TZ)
    end: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)
    label: Mapped[str] = mapped_column(String(400))
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(_TZ)


class Subscription(Base):
    """Who hears of what: a monitor or a budget (or every one), a channel, a threshold and a
    frequency."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    monitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), nullable=True
    )
    #: A budget's threshold alerts instead of a monitor's (see ``costcouncil.appdb.budgets``).
    budget_id: Mapped[int | None] = mapped_column(
        ForeignKey("budgets.id", ondelete="CASCADE", name="fk_subscriptions_budget_id_budgets"),
        nullable=True,
    )
    channel: Mapped[str] = mapped_column(String(20))
    #: The channel's settings, secrets included (never shown back in full).
    config: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    threshold: Mapped[str] = mapped_column(String(1000), default="")
    frequency: Mapped[str] = mapped_column(String(20), default="immediate")
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(_TZ)
    disabled_at: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)


class Delivery(Base):
    """One message to one subscription about one alert (or digest): the delivery log."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    alert: Mapped[str] = mapped_column(String(200), index=True)
    alert_status: Mapped[str] = mapped_column(String(20))
    impact: Mapped[str] = mapped_column(String(64), default="0")
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[str] = mapped_column(String(400), default="")
    detail: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(_TZ, index=True)


class InboxItem(Base):
    """A notification in the dashboard's inbox; ``team`` decides who may see it."""

    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert: Mapped[str] = mapped_column(String(200), index=True)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(400))
    body: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(_TZ, index=True)


class InboxRead(Base):
    """That a user has read an inbox item."""

    __tablename__ = "inbox_reads"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    read_at: Mapped[datetime] = mapped_column(_TZ)
