"""An app database with monitors and users for the subscription and dispatch tests.

Two teams (``vision``, ``search``) with a monitor each, an ``org`` monitor spanning teams, an
admin and a member of each team. The database is a SQLite file, or a fresh PostgreSQL database
when ``COSTCOUNCIL_TEST_POSTGRES_URL`` names a server (``make postgres``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from costcouncil.appdb.db import Database, open_database
from costcouncil.appdb.models import User
from costcouncil.notify.signing import TIMESTAMP_HEADER, SignatureError, verify
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.anomaly.store import Monitoring
from tests.appdb.conftest import fresh_postgres_database, postgres_server_url
from tests.workspace.notify.factories import SECRET
from tests.workspace.notify.peers import Reply, Request, header_map

VISION = frozenset({"vision"})
SEARCH = frozenset({"search"})


@dataclass(frozen=True)
class Org:
    """The seeded database and the ids of its users."""

    db: Database
    admin: int
    vision_member: int
    search_member: int


def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated app database on ``backend`` (``sqlite`` or ``postgresql``)."""
    if backend == "sqlite":
        db = open_database(f"sqlite:///{tmp_path / 'app.db'}")
        yield db
        db.close()
        return
    for url in fresh_postgres_database(postgres_server_url()):
        db = open_database(url)
        yield db
        db.close()


def seed(db: Database) -> Org:
    """Monitors ``org``, ``team=vision``, ``team=search``; an admin and one member per team."""
    monitoring = Monitoring(db)
    for scope in (Scope(), Scope("team", "vision"), Scope("team", "search")):
        monitoring.add_monitor(str(scope), scope)
    access = Access(db)
    access.add_user("admin@example.com", "admin", [], None)
    access.add_user("vi@example.com", "member", ["vision"], None)
    access.add_user("se@example.com", "member", ["search"], None)
    with db.session() as s:
        ids = {u.email: u.id for u in s.scalars(select(User))}
    return Org(db, ids["admin@example.com"], ids["vi@example.com"], ids["se@example.com"])


def receiver(request: Request) -> Reply:
    """A webhook receiver verifying every request's signature (401 when it fails).

    Its clock is the request's own timestamp: the tests dispatch at many ``now`` (the freshness
    check itself is tested with ``deliver``)."""
    stamp = header_map(request.headers).get(TIMESTAMP_HEADER.lower(), "0")
    clock = datetime.fromtimestamp(int(stamp) if stamp.isdigit() else 0, UTC)
    try:
        verify(SECRET, request.headers, request.body, now=clock)
    except SignatureError as e:
        return 401, {}, str(e).encode()
    return 200, {}, b"ok"
