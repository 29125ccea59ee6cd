"""Browser sessions: a random secret in an HttpOnly cookie, only its SHA-256 in the app database.

A session lasts :data:`SESSION_HOURS` and carries its own CSRF token, which every state-changing
form and request of the dashboard must send back. Sign-in and sign-out are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from costcouncil.appdb.models import User, WebSession
from costcouncil.workspace.access.accounts import DEFAULT_SCOPES, Access, Principal, as_utc

SESSION_HOURS = 12


@dataclass(frozen=True)
class SignedIn:
    """A valid session: who it is and the CSRF token its forms carry."""

    principal: Principal
    csrf: str


def start(access: Access, principal: Principal, address: str) -> tuple[str, str]:
    """A new session for ``principal``: (the cookie secret, the CSRF token)."""
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    with access.db.session() as s:
        user = s.scalar(select(User).where(User.email == principal.email))
        if user is None:
            raise LookupError(principal.email)
        s.add(WebSession(secret_hash=_digest(secret), csrf=csrf, user_id=user.id,
                         created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS),
                         address=address[:64]))  # fmt: skip
        access._audit(s, principal.email, "session.start", address[:64], {})
    return secret, csrf


def find(access: Access, secret: str) -> SignedIn | None:
    """The session of a cookie secret, if it is current and its user enabled."""
    if not secret:
        return None
    with access.db.session() as s:
        row = s.scalar(select(WebSession).where(WebSession.secret_hash == _digest(secret)))
        if row is None or row.ended_at is not None or as_utc(row.expires_at) <= datetime.now(UTC):
            return None
        user = row.user
        if user.disabled_at is not None:
            return None
        teams = frozenset(t.team for t in user.teams)
        principal = Principal(user.email, user.role, teams, frozenset(DEFAULT_SCOPES[user.role]))
        return SignedIn(principal, row.csrf)


def end(access: Access, secret: str) -> None:
    """Sign out: the session can no longer be used."""
    with access.db.session() as s:
        row = s.scalar(select(WebSession).where(WebSession.secret_hash == _digest(secret)))
        if row is not None and row.ended_at is None:
            row.ended_at = datetime.now(UTC)
            access._audit(s, row.user.email, "signout", "", {})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
