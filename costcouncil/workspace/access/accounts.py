"""Who may do what: users, roles, teams and API tokens, with every change in the audit log.

A :class:`Principal` is the answer to "who is asking": an email, a role, the teams they belong to
and, for an API token, its scopes. ``member`` principals see only their teams' costs; the query
layer applies :meth:`Principal.team_scope` to every figure it returns, so the restriction does
not depend on the UI.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from costcouncil.appdb import credentials as cred
from costcouncil.appdb.db import Database, open_database, resolve_url
from costcouncil.appdb.models import ROLES, SCOPES, ApiToken, AuditEvent, User, UserTeam
from costcouncil.errors import ConfigError
from costcouncil.workspace.core import Workspace

#: Scopes a token gets when none are named, per role.
DEFAULT_SCOPES = {
    "admin": ("events:write", "costs:read", "admin"),
    "finance": ("events:write", "costs:read"),
    "member": ("events:write", "costs:read"),
    "viewer": ("costs:read",),
}
_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    email: str
    role: str
    teams: frozenset[str]
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def team_scope(self) -> frozenset[str] | None:
        """The teams whose costs this principal may see; None means every team."""
        return self.teams if self.role == "member" else None


@dataclass(frozen=True)
class TokenInfo:
    prefix: str
    name: str
    user: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class Access:
    """Access control over one workspace's app database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._tokens: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, workspace: Workspace) -> Access:
        return cls(open_database(resolve_url(workspace.config.database, workspace.root)))

    def close(self) -> None:
        self.db.close()

    # -- users ------------------------------------------------------------------------------

    def add_user(
        self, email: str, role: str, teams: list[str], password: str | None, actor: str = "cli"
    ) -> None:
        """Create a user (a password is optional: token-only users have none)."""
        _check_role(role)
        email = _email(email)
        with self.db.session() as s:
            if s.scalar(select(User).where(User.email == email)) is not None:
                raise ConfigError(f"user {email!r} exists already")
            user = User(email=email, name="", role=role, created_at=_now())
            user.password_hash = cred.hash_password(password) if password else None
            user.teams = [UserTeam(team=t) for t in dict.fromkeys(teams)]
            s.add(user)
            try:
                s.flush()  # one added at the same time by another process wins the race
            except IntegrityError as e:
                raise ConfigError(f"user {email!r} exists already") from e
            self._audit(s, actor, "user.add", email, {"role": role, "teams": list(teams)})

    def has_users(self) -> bool:
        with self.db.session() as s:
            return s.scalar(select(User.id).limit(1)) is not None

    def users(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [
                {"email": u.email, "role": u.role, "teams": sorted(t.team for t in u.teams),
                 "password": u.password_hash is not None, "disabled": u.disabled_at is not None}
                for u in s.scalars(select(User).order_by(User.email))
            ]  # fmt: skip

    def verify_password(self, email: str, password: str) -> Principal | None:
        """The principal for a correct password of an enabled user, else None (audited)."""
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.email == _email(email)))
            ok = cred.verify_password(user.password_hash if user else None, password)
            ok = ok and user is not None and user.disabled_at is None
            self._audit(s, _email(email), "signin.ok" if ok else "signin.failed", "", {})
            if not ok or user is None:
                return None
            return Principal(
                user.email, user.role, _teams(user), frozenset(DEFAULT_SCOPES[user.role])
            )

    # -- tokens -----------------------------------------------------------------------------

    def create_token(
        self,
        email: str,
        name: str,
        scopes: list[str] | None = None,
        expires_days: int | None = None,
        actor: str = "cli",
    ) -> str:
        """A new token for ``email`` (shown once; only its hash is kept)."""
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.email == _email(email)))
            if user is None:
                raise ConfigError(f"no user {email!r} (add one with `costcouncil users add`)")
            picked = _scopes(scopes, user.role)
            token, prefix, digest = cred.new_token()
            expires = _now() + timedelta(days=expires_days) if expires_days else None
            s.add(ApiToken(prefix=prefix, secret_hash=digest, user_id=user.id, name=name,
                           scopes=",".join(picked), created_at=_now(), expires_at=expires))  # fmt: skip
            self._audit(s, actor, "token.create", prefix, {"user": user.email, "scopes": picked})
            return token

    def tokens(self) -> list[TokenInfo]:
        with self.db.session() as s:
            return [
                TokenInfo(t.prefix, t.name, t.user.email, tuple(t.scopes.split(",")),
                          as_utc(t.created_at), _utc_or_none(t.expires_at),
                          _utc_or_none(t.revoked_at), _utc_or_none(t.last_used_at))
                for t in s.scalars(select(ApiToken).order_by(ApiToken.created_at))
            ]  # fmt: skip

    def revoke_token(self, prefix: str, actor: str = "cli") -> None:
        with self.db.session() as s:
            token = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
            if token is None:
                raise ConfigError(
                    f"no token with prefix {prefix!r} (see `costcouncil tokens list`)"
                )
            token.revoked_at = _now()
            self._audit(s, actor, "token.revoke", prefix, {"user": token.user.email})
        with self._lock:
            self._tokens.clear()

    def authenticate_token(self, token: str) -> Principal | None:
        """The principal of a valid token, else None.

        A verified token is remembered for 30 seconds, so revocation takes effect within that
        time on a running server; its use is audited at most once a minute.
        """
        parts = cred.split_token(token)
        if parts is None:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        principal = self._load_token(*parts)
        if principal is not None:
            with self._lock:
                self._tokens[key] = (time.monotonic(), principal)
        return principal

    def _load_token(self, prefix: str, secret: str) -> Principal | None:
        with self.db.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
            now = _now()
            if row is None or not cred.secret_matches(row.secret_hash, secret):
                self._audit(s, "unknown", "token.rejected", prefix, {})
                return None
            if row.revoked_at is not None or (row.expires_at and as_utc(row.expires_at) <= now):
                self._audit(
                    s, row.user.email, "token.rejected", prefix, {"why": "revoked or expired"}
                )
                return None
            if row.user.disabled_at is not None:
                return None
            if row.last_used_at is None or now - as_utc(row.last_used_at) > timedelta(minutes=1):
                row.last_used_at = now
                self._audit(s, row.user.email, "token.use", prefix, {})
            user = row.user
            return Principal(user.email, user.role, _teams(user), frozenset(row.scopes.split(",")))

    # -- audit ------------------------------------------------------------------------------

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
            return [
                {"at": as_utc(r.at).isoformat(), "actor": r.actor, "action": r.action,
                 "target": r.target, "detail": r.detail}
                for r in rows
            ]  # fmt: skip

    @staticmethod
    def _audit(s: Any, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        s.add(AuditEvent(at=_now(), actor=actor, action=action, target=target, detail=detail))


def _now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """UTC: SQLite gives naive UTC times, PostgreSQL aware ones in the session's time zone."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _teams(user: User) -> frozenset[str]:
    return frozenset(t.team for t in user.teams)


def account_key(email: str) -> str:
    """The one spelling of an account name: what is stored, looked up and rate-limited."""
    return email.strip().lower()


def _email(email: str) -> str:
    cleaned = account_key(email)
    if "@" not in cleaned or cleaned.startswith("@") or cleaned.endswith("@"):
        raise ConfigError(f"{email!r} is not an email address")
    return cleaned


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r} (choose one of {', '.join(ROLES)})")


def _scopes(scopes: list[str] | None, role: str) -> list[str]:
    picked = list(dict.fromkeys(scopes or DEFAULT_SCOPES[role]))
    for scope in picked:
        if scope not in SCOPES:
            raise ConfigError(f"unknown scope {scope!r} (choose from {', '.join(SCOPES)})")
        if scope not in DEFAULT_SCOPES[role]:
            raise ConfigError(f"a {role} may not hold scope {scope!r}")
    return picked


def user_id(database: Database, email: str) -> int | None:
    """The id of the user ``email`` (None when there is none, or ``email`` is not an address:
    the open server's caller, the ingest service)."""
    try:
        key = _email(email)
    except ConfigError:
        return None
    with database.session() as s:
        found = s.scalar(select(User.id).where(User.email == key))
        return int(found) if found is not None else None
