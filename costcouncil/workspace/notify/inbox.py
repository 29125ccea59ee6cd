"""The in-app inbox: one item per alert id, whatever the subscriptions, read per user.

Every alert dispatch sees becomes an :class:`~costcouncil.appdb.alerts.InboxItem` carrying the
alert's team; a member sees only the items of their teams (one of another team, or one spanning
teams, is answered as one that does not exist). A later alert with the same id updates the item
rather than adding one: its body always holds the latest values, and when the change is worth a
message by the deduplication rules (docs/notifications.md) — it grew by 25 % and 50, it resolved,
it reopened — the item's shown status changes and it becomes unread again for everybody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from costcouncil.appdb.alerts import InboxItem, InboxRead
from costcouncil.appdb.db import Database
from costcouncil.errors import NotFoundError
from costcouncil.notify.dedupe import Sent, decide
from costcouncil.notify.message import Alert
from costcouncil.workspace.common.appstate import Visible, aware, only_visible

__all__ = [
    "InboxEntry",
    "Visible",
    "aware",
    "inbox",
    "mark_read",
    "record",
    "stored_alert",
    "unread_count",
]


#: Longest title and link kept (the columns' sizes).
_TITLE, _LINK = 400, 400


@dataclass(frozen=True)
class InboxEntry:
    """An inbox item as one user sees it: ``body`` is the alert's JSON (``Alert.to_json``) plus
    ``monitor`` and ``updated_at``; ``read`` is whether this user has read it since it changed."""

    id: int
    alert: str
    team: str | None
    title: str
    link: str
    body: dict[str, Any]
    created_at: datetime
    read: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        out = self.__dict__.copy()
        out["created_at"] = self.created_at.isoformat()
        return out


def record(s: Session, alert: Alert, monitor: str | None, team: str | None, now: datetime) -> None:
    """Add the inbox item of ``alert``, or update the one its id already has."""
    item = s.scalars(select(InboxItem).where(InboxItem.alert == alert.id)).first()
    if item is None:
        item = InboxItem(alert=alert.id, created_at=now)
        s.add(item)
        shown: str = alert.status
        announced = alert.impact
    else:
        shown, announced = _announce(s, item, alert)
    item.team, item.title, item.link = team, alert.title[:_TITLE], alert.link[:_LINK]
    item.body = {**alert.to_json(), "status": shown, "monitor": monitor,
                 "announced_impact": str(announced), "updated_at": now.isoformat()}  # fmt: skip


def _announce(s: Session, item: InboxItem, alert: Alert) -> tuple[str, Decimal]:
    """The status and impact the item shows: changed (and unread again) only when dedup would
    send a message about the change."""
    last = _last(item)
    send = decide(alert, last).send
    if send is None:
        return last.status, last.impact
    s.execute(delete(InboxRead).where(InboxRead.item_id == item.id))
    return send, alert.impact


def _last(item: InboxItem) -> Sent:
    body = item.body
    status = cast(Literal["new", "updated", "resolved"], body["status"])
    return Sent(status, Decimal(str(body["announced_impact"])), aware(item.created_at))


def inbox(db: Database, user_id: int, visible: Visible, *, limit: int = 100) -> list[InboxEntry]:
    """The items ``user_id`` may see, newest first, each marked read or unread."""
    with db.session() as s:
        query = _visible(select(InboxItem), visible)
        query = query.order_by(InboxItem.created_at.desc(), InboxItem.id.desc()).limit(limit)
        items = list(s.scalars(query))
        read = _read_ids(s, user_id, [i.id for i in items])
        return [_entry(i, i.id in read) for i in items]


def unread_count(db: Database, user_id: int, visible: Visible) -> int:
    """How many items ``user_id`` may see and has not read."""
    with db.session() as s:
        read = select(InboxRead.item_id).where(InboxRead.user_id == user_id)
        query = _visible(select(func.count(InboxItem.id)), visible)
        return int(s.scalar(query.where(InboxItem.id.not_in(read))) or 0)


def mark_read(
    db: Database, user_id: int, item_id: int, *, now: datetime, visible: Visible = None
) -> None:
    """Record that ``user_id`` read item ``item_id`` (again is harmless)."""
    with db.session() as s:
        query = _visible(select(InboxItem.id), visible).where(InboxItem.id == item_id)
        if s.scalar(query) is None:
            raise NotFoundError(f"no inbox item {item_id}")
        if not _read_ids(s, user_id, [item_id]):
            s.add(InboxRead(item_id=item_id, user_id=user_id, read_at=now))


def stored_alert(body: dict[str, Any]) -> Alert:
    """The alert an inbox item's body holds (its shown status)."""
    end = body.get("end")
    return Alert(
        id=str(body["id"]), kind=body["kind"], title=str(body["title"]), scope=str(body["scope"]),
        status=body["status"], impact=Decimal(str(body["impact"])), currency=str(body["currency"]),
        start=_time(str(body["start"])), end=None if end is None else _time(str(end)),
        link=str(body["link"]), impact_pct=body.get("impact_pct"), score=body.get("score"),
        lines=tuple(body.get("lines") or ()), severity=body.get("severity", "warning"),
    )  # fmt: skip


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _read_ids(s: Session, user_id: int, item_ids: list[int]) -> set[int]:
    query = select(InboxRead.item_id).where(
        InboxRead.user_id == user_id, InboxRead.item_id.in_(item_ids)
    )
    return set(s.scalars(query))


def _visible(query: Any, visible: Visible) -> Any:
    return only_visible(query, InboxItem.team, visible)


def _entry(item: InboxItem, read: bool) -> InboxEntry:
    return InboxEntry(item.id, item.alert, item.team, item.title, item.link, dict(item.body),
                      aware(item.created_at), read)  # fmt: skip
