"""What every store over the app database shares: opening it for a workspace, units of work,
UTC times read back from SQLite, the team filter of a member, and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self, overload

from sqlalchemy.orm import Session

from costcouncil.appdb.db import Database, open_database, resolve_url
from costcouncil.appdb.models import AuditEvent
from costcouncil.workspace.core import Workspace

#: The teams a caller may see; None for every team.
Visible = frozenset[str] | None


class AppStore:
    """A store over one workspace's app database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    @classmethod
    def open(cls, workspace: Workspace) -> Self:
        """The store of ``workspace`` (its app database migrated to the newest schema)."""
        return cls(open_database(resolve_url(workspace.config.database, workspace.root)))

    def close(self) -> None:
        """Release the database connections."""
        self.db.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work, committed when the block ends without an error."""
        with self.db.session() as s:
            yield s


def now() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands timezone-aware columns back naive; they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def only_visible(query: Any, column: Any, visible: Visible) -> Any:
    """``query`` narrowed to the rows whose ``column`` (a team) the caller may see."""
    return query if visible is None else query.where(column.in_(sorted(visible)))


def audit(s: Session, actor: str, action: str, target: str, detail: dict[str, object]) -> None:
    """Record a change in the audit log."""
    s.add(AuditEvent(at=now(), actor=actor, action=action, target=target, detail=detail))
