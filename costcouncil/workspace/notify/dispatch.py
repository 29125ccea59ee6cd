"""Dispatch: alerts to the subscriptions that should hear of them, deduplicated against the
delivery log; daily and weekly digests; a test message; every alert into the inbox.

For each alert (with the name of the monitor that raised it and its team) and each enabled
subscription:

1. the subscription's monitor is the alert's (or the subscription is for every monitor);
2. its team is the alert's (a subscription with a team hears only that team's alerts; one without
   a team hears every team's);
3. :func:`~costcouncil.notify.dedupe.decide` compares the alert with the last delivery-log row of
   this subscription and alert id whose status is ``sent`` or ``queued`` (so a failed message is
   tried again at the next dispatch, and a queued one is not queued twice); the threshold gates the
   first message only;
4. ``immediate``: the message is delivered now through ``send`` (:func:`deliver` by default) and
   its outcome logged; ``daily`` / ``weekly``: a ``queued`` row is logged for the next digest.

:func:`send_digests` sends one :class:`~costcouncil.notify.message.Digest` per subscription of a
period with queued rows, holding each queued alert once (its latest values and queued status),
logs the digest as a row of its own (alert ``digest.daily`` / ``digest.weekly``) and gives the
queued rows the digest's outcome. Daily digests take everything queued at every call (run it once
a day); a weekly digest is due on Mondays (UTC) unless one was sent that day already, or whenever
seven days have passed since the last one (or, before the first, since the oldest queued alert).

Logged targets and details are redacted. Messages are sent outside database transactions; two
dispatches of the same alerts running at the same moment may both send.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from costcouncil.appdb.alerts import Delivery as Row
from costcouncil.appdb.alerts import InboxItem, Monitor, Subscription
from costcouncil.appdb.budgets import BudgetRow
from costcouncil.appdb.db import Database
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.notify import thresholds
from costcouncil.notify.channels import Channel
from costcouncil.notify.dedupe import Decision, Sent, decide
from costcouncil.notify.message import Alert, Digest, Notice
from costcouncil.workspace.notify import inbox
from costcouncil.workspace.notify.deliver import Delivery, deliver
from costcouncil.workspace.notify.subscriptions import (
    DeliveryInfo,
    Subscriptions,
    aware,
    channel_of,
    delivery_info,
)

#: The source name of a budget's alerts: ``budget:<name>`` (in place of a monitor's name).
BUDGET_SOURCE = "budget:"

__all__ = [
    "BASE_URL",
    "BUDGET_SOURCE",
    "WEEKLY_DAY",
    "Send",
    "dispatch",
    "send_digests",
    "send_test",
    "weekly_due",
]

log = logging.getLogger(__name__)

#: Where links in digests and test messages point when no other address is given.
BASE_URL = "http://127.0.0.1:8000"
#: The weekday weekly digests go out on (Monday; UTC).
WEEKLY_DAY = 0
WEEK = timedelta(days=7)
#: Longest target and detail kept (the columns' sizes).
_TARGET, _DETAIL = 400, 2000

#: One alert to dispatch: the alert, the name of its monitor (None for none), its team.
AlertIn = tuple[Alert, str | None, str | None]


class Send(Protocol):
    """Delivers a notice through a channel (``deliver`` and its partial applications)."""

    def __call__(self, channel: Channel, notice: Notice, *, now: datetime) -> Delivery: ...


@dataclass(frozen=True)
class _Sub:
    """An enabled subscription, its channel and threshold parsed."""

    id: int
    name: str
    monitor_id: int | None
    team: str | None
    frequency: str
    channel: Channel
    threshold: thresholds.Threshold
    budget_id: int | None = None

    def hears(self, source: tuple[int | None, int | None], team: str | None) -> bool:
        """Whether an alert of this source — (monitor id, budget id) — and team is for this
        subscription (one without a monitor or budget hears every one)."""
        monitor_id, budget_id = source
        if self.monitor_id is not None and self.monitor_id != monitor_id:
            return False
        if self.budget_id is not None and self.budget_id != budget_id:
            return False
        return self.team is None or self.team == team


def dispatch(
    target: Database | Subscriptions,
    alerts: Sequence[AlertIn],
    *,
    now: datetime,
    send: Send = deliver,
) -> list[DeliveryInfo]:
    """Tell every subscription what it should hear of ``alerts``; the delivery-log rows written.

    Every alert also becomes (or updates) its inbox item. For an alert id given twice, the last
    one counts.
    """
    db = _db(target)
    latest = {alert.id: (alert, monitor, team) for alert, monitor, team in alerts}
    with db.session() as s:
        subs, monitors, budgets = _enabled(s), _monitor_ids(s), _budget_ids(s)
        immediate: list[tuple[_Sub, Alert, Decision]] = []
        queued: list[tuple[Row, str]] = []
        for alert, monitor, team in latest.values():
            inbox.record(s, alert, monitor, team, now)
            source = (monitors.get(monitor or ""), budgets.get(monitor or ""))
            for sub, decision in _decided(s, subs, alert, source, team):
                if sub.frequency == "immediate":
                    immediate.append((sub, decision.apply(alert), decision))
                else:
                    queued.append((_queue(s, sub, decision.apply(alert), decision, now), sub.name))
        s.flush()
        written = [delivery_info(row, name) for row, name in queued]
    return written + [_send_one(db, sub, alert, d.reason, now, send) for sub, alert, d in immediate]


def _decided(
    s: Session,
    subs: list[_Sub],
    alert: Alert,
    source: tuple[int | None, int | None],
    team: str | None,
) -> list[tuple[_Sub, Decision]]:
    """The subscriptions that hear of ``alert`` and what dedup decided to send each."""
    out = []
    for sub in subs:
        if sub.hears(source, team):
            decision = decide(alert, _last_sent(s, sub.id, alert.id), threshold=sub.threshold)
            if decision.send is not None:
                out.append((sub, decision))
    return out


def _last_sent(s: Session, subscription_id: int, alert_id: str) -> Sent | None:
    """What the delivery log says was last sent (or queued) to a subscription for an alert."""
    query = (
        select(Row)
        .where(Row.subscription_id == subscription_id, Row.alert == alert_id)
        .where(Row.status.in_(("sent", "queued")))
        .order_by(Row.created_at.desc(), Row.id.desc())
        .limit(1)
    )
    row = s.scalars(query).first()
    if row is None:
        return None
    status: Literal["new", "updated", "resolved"] = row.alert_status  # type: ignore[assignment]
    return Sent(status, Decimal(row.impact), aware(row.created_at))


def _queue(s: Session, sub: _Sub, alert: Alert, decision: Decision, now: datetime) -> Row:
    row = _row(sub, alert.id, alert.status, alert.impact, now)
    row.status, row.detail = "queued", f"for the {sub.frequency} digest: {decision.reason}"
    s.add(row)
    return row


def _send_one(
    db: Database, sub: _Sub, alert: Alert, reason: str, now: datetime, send: Send
) -> DeliveryInfo:
    """Deliver one alert now and log the outcome."""
    delivery = send(sub.channel, alert, now=now)
    with db.session() as s:
        row = _row(sub, alert.id, alert.status, alert.impact, now)
        _outcome(row, sub.channel, delivery, reason)
        s.add(row)
        s.flush()
        return delivery_info(row, sub.name)


def send_test(
    target: Database | Subscriptions,
    name: str,
    *,
    now: datetime,
    currency: str = "USD",
    send: Send = deliver,
    base_url: str = BASE_URL,
) -> DeliveryInfo:
    """Send a test alert (kind ``test``) through subscription ``name``'s channel now; logged."""
    db = _db(target)
    with db.session() as s:
        row = s.scalars(select(Subscription).where(Subscription.name == name)).first()
        if row is None:
            raise NotFoundError(f"subscription {name!r} not found")
        sub = _sub(row, channel_of(row))
    alert = Alert(
        id=f"test-{now:%Y%m%dT%H%M%SZ}", kind="test", title="Test notification",
        scope=f"subscription {name}", status="new", impact=Decimal(0), currency=currency,
        start=now, end=None, link=f"{base_url}/", severity="info",
        lines=(f"If you read this, subscription {name!r} reaches this channel.",),
    )  # fmt: skip
    return _send_one(db, sub, alert, "test message", now, send)


def send_digests(
    target: Database | Subscriptions,
    period: Literal["daily", "weekly"],
    *,
    now: datetime,
    send: Send = deliver,
    base_url: str = BASE_URL,
) -> list[DeliveryInfo]:
    """Send the due digests of ``period`` (one per subscription with queued alerts); their rows."""
    db = _db(target)
    with db.session() as s:
        due = [batch for sub in _enabled(s) if sub.frequency == period
               for batch in [_batch(s, sub, period, now, base_url)] if batch]  # fmt: skip
    return [_send_digest(db, sub, ids, digest, now, send) for sub, ids, digest in due]


def weekly_due(last: datetime | None, oldest_queued: datetime, now: datetime) -> bool:
    """Whether a weekly digest goes out at ``now``: on :data:`WEEKLY_DAY` unless one went out
    that day already, or once seven days passed since the last (or the oldest queued alert)."""
    if now - (last or oldest_queued) >= WEEK:
        return True
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return now.weekday() == WEEKLY_DAY and (last is None or last < midnight)


def _batch(
    s: Session, sub: _Sub, period: Literal["daily", "weekly"], now: datetime, base_url: str
) -> tuple[_Sub, list[int], Digest] | None:
    """The queued rows of one subscription and their digest, when one is due."""
    query = select(Row).where(Row.subscription_id == sub.id, Row.status == "queued")
    rows = list(s.scalars(query.order_by(Row.created_at, Row.id)))
    if not rows:
        return None
    last = _last_digest(s, sub.id, period)
    oldest = aware(rows[0].created_at)
    if period == "weekly" and not weekly_due(last, oldest, now):
        return None
    digest = Digest(period, last or oldest, now, f"{base_url}/inbox", _digest_alerts(s, rows))
    return sub, [r.id for r in rows], digest


def _last_digest(s: Session, subscription_id: int, period: str) -> datetime | None:
    query = select(func.max(Row.created_at)).where(
        Row.subscription_id == subscription_id,
        Row.alert == f"digest.{period}",
        Row.status == "sent",
    )
    found = s.scalar(query)
    return None if found is None else aware(found)


def _digest_alerts(s: Session, rows: list[Row]) -> tuple[Alert, ...]:
    """Each queued alert once: its latest values (from the inbox) with its last queued status."""
    statuses = {row.alert: row.alert_status for row in rows}
    items = s.scalars(select(InboxItem).where(InboxItem.alert.in_(list(statuses))))
    bodies = {item.alert: item.body for item in items}
    return tuple(
        dataclasses.replace(inbox.stored_alert(bodies[alert_id]), status=status)  # type: ignore[arg-type]
        for alert_id, status in statuses.items()
        if alert_id in bodies
    )


def _send_digest(
    db: Database, sub: _Sub, ids: list[int], digest: Digest, now: datetime, send: Send
) -> DeliveryInfo:
    """Send one digest; log it and give its queued rows its outcome."""
    delivery = send(sub.channel, digest, now=now)
    total = sum((a.impact for a in digest.alerts), Decimal(0))
    with db.session() as s:
        row = _row(sub, f"digest.{digest.period}", digest.period, total, now)
        _outcome(row, sub.channel, delivery, f"{len(digest.alerts)} alert(s)")
        s.add(row)
        s.flush()
        for queued in s.scalars(select(Row).where(Row.id.in_(ids))):
            queued.status, queued.attempts = row.status, row.attempts
            queued.detail = f"{digest.period} digest {row.id}: {row.detail}"[:_DETAIL]
        return delivery_info(row, sub.name)


def _row(sub: _Sub, alert: str, status: str, impact: Decimal, now: datetime) -> Row:
    return Row(subscription_id=sub.id, alert=alert, alert_status=status, impact=str(impact),
               status="queued", attempts=0, target=sub.channel.target[:_TARGET], detail="",
               created_at=now)  # fmt: skip


def _outcome(row: Row, channel: Channel, delivery: Delivery, reason: str) -> None:
    """Copy a delivery's outcome onto its log row, the error redacted once more."""
    row.status, row.attempts = delivery.status, delivery.attempts
    detail = channel.redactor()(delivery.error) if delivery.error else reason
    row.detail = detail[:_DETAIL]
    log.info("subscription %s, %s: %s", row.subscription_id, row.alert, row.status)


def _enabled(s: Session) -> list[_Sub]:
    """The enabled subscriptions whose stored settings are still valid."""
    query = select(Subscription).where(Subscription.disabled_at.is_(None))
    out = []
    for row in s.scalars(query.order_by(Subscription.id)):
        try:
            out.append(_sub(row, channel_of(row)))
        except ConfigError as e:
            log.warning("subscription %r skipped: %s", row.name, e)
    return out


def _sub(row: Subscription, channel: Channel) -> _Sub:
    expression = thresholds.parse(row.threshold)
    return _Sub(row.id, row.name, row.monitor_id, row.team, row.frequency, channel, expression,
                row.budget_id)  # fmt: skip


def _monitor_ids(s: Session) -> dict[str, int]:
    return {name: id_ for id_, name in s.execute(select(Monitor.id, Monitor.name))}


def _budget_ids(s: Session) -> dict[str, int]:
    """Budgets by the source name their alerts carry: ``budget:<name>``."""
    return {
        f"{BUDGET_SOURCE}{name}": id_
        for id_, name in s.execute(select(BudgetRow.id, BudgetRow.name))
    }


def _db(target: Database | Subscriptions) -> Database:
    return target.db if isinstance(target, Subscriptions) else target
