"""Notification subscriptions in the app database: who hears of which monitor's alerts, through
which channel, past which threshold and how often — and the delivery log of what was sent.

Every read takes ``visible``: the teams the caller may see (None: every team, for admin, finance
and viewer). A member may subscribe only to monitors of their teams, and their subscription is
tied to one of those teams (``team``): dispatch tells it only of that team's alerts. A
subscription of another team is answered exactly as one that does not exist.

Channel settings are validated with :func:`~costcouncil.notify.channels.parse_channel` and kept in
full (secrets included) in ``subscriptions.config``; everything shown back — :class:`SubscriptionInfo`,
the audit log, errors — carries only the redacted ``target``.
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from costcouncil.appdb.alerts import FREQUENCIES, Delivery, Monitor, Subscription
from costcouncil.appdb.budgets import BudgetRow
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.notify import thresholds
from costcouncil.notify.channels import Channel, parse_channel
from costcouncil.workspace.common import appstate
from costcouncil.workspace.common.appstate import AppStore, Visible, audit, aware, now, only_visible
from costcouncil.workspace.notify import inbox
from costcouncil.workspace.notify.inbox import InboxEntry

__all__ = ["DeliveryInfo", "SubscriptionInfo", "Subscriptions", "Visible", "aware"]


@dataclass(frozen=True)
class SubscriptionInfo:
    """A subscription as shown back: the channel's redacted target, never its secrets."""

    id: int
    name: str
    monitor: str | None
    channel: str
    target: str
    threshold: str
    frequency: str
    team: str | None
    enabled: bool
    created_by: str
    created_at: datetime
    budget: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        out = self.__dict__.copy()
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True)
class DeliveryInfo:
    """One row of the delivery log: a message (or a queued alert, or a digest) for a subscription.

    ``alert`` is the alert id, or ``digest.daily`` / ``digest.weekly`` for a digest message;
    ``status`` is ``sent``, ``failed``, ``gave_up`` or ``queued`` (waiting for a digest);
    ``detail`` says why it was sent, or the redacted error.
    """

    id: int
    subscription: str
    alert: str
    alert_status: str
    impact: str
    status: str
    attempts: int
    target: str
    detail: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        out = self.__dict__.copy()
        out["created_at"] = self.created_at.isoformat()
        return out


def channel_of(row: Subscription) -> Channel:
    """The stored channel settings of a subscription, validated again."""
    return parse_channel({**row.config, "kind": row.channel}, source=f"subscription {row.name!r}")


class Subscriptions(AppStore):
    """The subscriptions and delivery log of one workspace's app database."""

    def add(
        self,
        name: str,
        *,
        channel: Mapping[str, object],
        monitor: str | None = None,
        budget: str | None = None,
        threshold: str = "",
        frequency: str = "immediate",
        team: str | None = None,
        actor: str = "cli",
        visible: Visible = None,
    ) -> SubscriptionInfo:
        """Subscribe ``channel`` (``kind`` plus its settings) to ``monitor`` or ``budget`` (None:
        every monitor's and budget's alerts).

        Raises ``ConfigError`` naming the field for a bad channel, threshold, frequency, name,
        monitor, budget or team.
        """
        name, parsed, expression = _checked(name, channel, threshold, frequency)
        if monitor is not None and budget is not None:
            raise ConfigError("a subscription hears one monitor or one budget, not both")
        with self.session() as s:
            if s.scalar(select(Subscription.id).where(Subscription.name == name)) is not None:
                raise ConfigError(f"subscription {name!r} exists already")
            found = _monitor(s, monitor, visible)
            owned = _budget(s, budget, visible)
            team = _team(found, team or (owned.team if owned else None), visible)
            row = Subscription(name=name, monitor_id=found.id if found else None,
                               budget_id=owned.id if owned else None,
                               channel=parsed.kind, config=parsed.model_dump(mode="json"),
                               threshold=expression, frequency=frequency, team=team,
                               created_by=actor, created_at=now())  # fmt: skip
            s.add(row)
            s.flush()
            detail = _audit_detail(row, parsed, found) | {"budget": budget}
            audit(s, actor, "subscription.add", name, detail)
            return _info(row, parsed, found.name if found else None, budget)

    def list(self, visible: Visible = None) -> builtins.list[SubscriptionInfo]:
        """Every subscription the caller may see, by name, secrets redacted."""
        with self.session() as s:
            query = select(Subscription, Monitor.name, BudgetRow.name).outerjoin(Monitor)
            query = query.outerjoin(BudgetRow, BudgetRow.id == Subscription.budget_id)
            query = _visible(query, visible).order_by(Subscription.name)
            return [
                _info(row, channel_of(row), monitor, budget)
                for row, monitor, budget in s.execute(query)
            ]

    def get(self, name: str, visible: Visible = None) -> SubscriptionInfo:
        """One subscription by name (``ConfigError`` when there is none the caller may see)."""
        found = [x for x in self.list(visible) if x.name == name]
        if not found:
            raise NotFoundError(
                f"subscription {_missing(name, [x.name for x in self.list(visible)])}"
            )
        return found[0]

    def remove(self, name: str, *, actor: str = "cli", visible: Visible = None) -> None:
        """Delete a subscription and its delivery log."""
        with self.session() as s:
            s.delete(self._row(s, name, visible))
            audit(s, actor, "subscription.remove", name, {})

    def enable(self, name: str, *, actor: str = "cli", visible: Visible = None) -> None:
        """Let a disabled subscription hear of alerts again."""
        with self.session() as s:
            self._row(s, name, visible).disabled_at = None
            audit(s, actor, "subscription.enable", name, {})

    def disable(self, name: str, *, actor: str = "cli", visible: Visible = None) -> None:
        """Stop a subscription hearing of alerts (it is kept, with its delivery log)."""
        with self.session() as s:
            self._row(s, name, visible).disabled_at = now()
            audit(s, actor, "subscription.disable", name, {})

    def deliveries(
        self, subscription: str | None = None, *, limit: int = 50, visible: Visible = None
    ) -> builtins.list[DeliveryInfo]:
        """The delivery log, newest first (of one subscription, or of every one visible)."""
        with self.session() as s:
            query = _visible(select(Delivery, Subscription.name).join(Subscription), visible)
            if subscription is not None:
                query = query.where(Subscription.name == subscription)
            query = query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
            return [delivery_info(row, sub) for row, sub in s.execute(query)]

    def inbox(
        self, user_id: int, visible: Visible = None, *, limit: int = 100
    ) -> builtins.list[InboxEntry]:
        """The inbox items ``user_id`` may see, newest first, each marked read or unread."""
        return inbox.inbox(self.db, user_id, visible, limit=limit)

    def unread_count(self, user_id: int, visible: Visible = None) -> int:
        """How many inbox items ``user_id`` may see and has not read."""
        return inbox.unread_count(self.db, user_id, visible)

    def mark_read(
        self, user_id: int, item_id: int, *, now: datetime | None = None, visible: Visible = None
    ) -> None:
        """Record that ``user_id`` read inbox item ``item_id`` (``ConfigError`` if not visible)."""
        inbox.mark_read(self.db, user_id, item_id, now=now or appstate.now(), visible=visible)

    def _row(self, s: Session, name: str, visible: Visible) -> Subscription:
        query = _visible(select(Subscription), visible).where(Subscription.name == name)
        found: Subscription | None = s.scalars(query).first()
        if found is None:
            names = s.scalars(_visible(select(Subscription.name), visible)).all()
            raise NotFoundError(f"subscription {_missing(name, list(names))}")
        return found


def delivery_info(row: Delivery, subscription: str) -> DeliveryInfo:
    """A delivery-log row as shown back (its target and detail were stored redacted)."""
    return DeliveryInfo(row.id, subscription, row.alert, row.alert_status, row.impact, row.status,
                        row.attempts, row.target, row.detail, aware(row.created_at))  # fmt: skip


def _checked(
    name: str, channel: Mapping[str, object], threshold: str, frequency: str
) -> tuple[str, Channel, str]:
    """The name, channel and threshold, each validated (``ConfigError`` naming the field)."""
    name = name.strip()
    if not name:
        raise ConfigError("subscription name: must not be empty")
    if frequency not in FREQUENCIES:
        raise ConfigError(f"frequency {frequency!r}: expected one of {', '.join(FREQUENCIES)}")
    parsed = parse_channel(channel)
    expression = threshold.strip()
    thresholds.parse(expression)
    return name, parsed, expression


def _monitor(s: Session, name: str | None, visible: Visible) -> Monitor | None:
    """The monitor named ``name`` that the caller may see (None for every monitor)."""
    if name is None:
        return None
    query = select(Monitor)
    if visible is not None:
        query = query.where(Monitor.team.in_(sorted(visible)))
    monitors = {m.name: m for m in s.scalars(query)}
    if name not in monitors:
        raise ConfigError(f"monitor {_missing(name, builtins.list(monitors))}")
    return monitors[name]


def _team(monitor: Monitor | None, team: str | None, visible: Visible) -> str | None:
    """The team a subscription belongs to: given, the monitor's, or the member's only team."""
    team = team or (monitor.team if monitor else None)
    if team is None and visible is not None:
        if len(visible) != 1:
            raise ConfigError(f"team: choose one of your teams ({', '.join(sorted(visible))})")
        team = next(iter(visible))
    if visible is not None and team not in visible:
        raise ConfigError(f"team {team!r}: not one of your teams ({', '.join(sorted(visible))})")
    if monitor is not None and team is not None and monitor.team != team:
        scope = f"team {monitor.team!r}" if monitor.team else "several teams"
        raise ConfigError(
            f"team {team!r}: monitor {monitor.name!r} watches {scope}; "
            f"a subscription for team {team!r} would never hear of it"
        )
    return team


def _visible(query: Any, visible: Visible) -> Any:
    return only_visible(query, Subscription.team, visible)


def _missing(name: str, names: builtins.list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r} not found{hint}"


def _info(
    row: Subscription, channel: Channel, monitor: str | None, budget: str | None = None
) -> SubscriptionInfo:
    return SubscriptionInfo(row.id, row.name, monitor, row.channel, channel.target, row.threshold,
                            row.frequency, row.team, row.disabled_at is None, row.created_by,
                            aware(row.created_at), budget)  # fmt: skip


def _budget(s: Session, name: str | None, visible: Visible) -> BudgetRow | None:
    """The budget named ``name`` that the caller may see (None when none is named)."""
    if name is None:
        return None
    rows: list[BudgetRow] = list(
        s.scalars(only_visible(select(BudgetRow), BudgetRow.team, visible))
    )
    budgets = {b.name: b for b in rows}
    if name not in budgets:
        raise ConfigError(f"budget {_missing(name, builtins.list(budgets))}")
    return budgets[name]


def _audit_detail(
    row: Subscription, channel: Channel, monitor: Monitor | None
) -> dict[str, object]:
    """What the audit log keeps of a new subscription: the redacted target, never a secret."""
    return {
        "channel": channel.kind,
        "target": channel.target,
        "monitor": monitor.name if monitor else None,
        "threshold": row.threshold,
        "frequency": row.frequency,
        "team": row.team,
    }
