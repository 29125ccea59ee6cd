"""Who is calling: an API token, the ingest service token, a browser session, or nobody.

Once the workspace has users (or an ingest token is set) every request must authenticate; a
server with neither is open, for a single user on loopback. A browser session authenticates the
dashboard and the API alike, and any state-changing request made with it must carry the
session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request

from costcouncil.appdb.models import SCOPES
from costcouncil.settings import Settings
from costcouncil.workspace.access import sessions as web_sessions
from costcouncil.workspace.access.accounts import Access, Principal

SESSION_COOKIE = "cc_session"
SERVICE = "ingest-token"
#: The scope of every route that answers with figures (pages, twins, downloads, ``/v1``).
READ = "costs:read"
OPEN = Principal("local", "admin", frozenset(), frozenset(SCOPES))
_SAFE = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Caller:
    principal: Principal
    via: str  # "token", "session" or "open"
    csrf: str | None = None

    @property
    def teams(self) -> frozenset[str] | None:
        return self.principal.team_scope()


class Guard:
    """Resolves callers; knows whether authentication is required (re-checked every 5 s)."""

    def __init__(self, settings: Settings, access: Access | None) -> None:
        self.settings = settings
        self.access = access
        self._required: tuple[float, bool] = (0.0, False)
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        with self._lock:
            at, value = self._required
            if time.monotonic() - at > 5.0:
                value = self.settings.ingest_token is not None or (
                    self.access is not None and self.access.has_users()
                )
                self._required = (time.monotonic(), value)
            return value

    def resolve(self, request: Request) -> Caller | None:
        """The caller, or None when nobody authenticated (raises 401 for a bad token)."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and given.strip():
            return Caller(self._token(given.strip()), "token")
        secret = request.cookies.get(SESSION_COOKIE, "")
        if secret and self.access is not None:
            found = web_sessions.find(self.access, secret)
            if found is not None:
                return Caller(found.principal, "session", found.csrf)
        if not self.required:
            return Caller(OPEN, "open")
        return None

    def _token(self, given: str) -> Principal:
        token = self.settings.ingest_token
        if token is not None and secrets.compare_digest(given, token):
            return Principal(SERVICE, "finance", frozenset(), frozenset(("events:write", READ)))
        principal = self.access.authenticate_token(given) if self.access is not None else None
        if principal is None:
            raise HTTPException(
                401, "wrong, revoked or expired token", {"WWW-Authenticate": "Bearer"}
            )
        return principal

    async def api(self, request: Request, scope: str) -> Caller:
        """The caller of an API request holding ``scope`` (401/403 otherwise)."""
        return self.require(request, scope)

    def require(self, request: Request, scope: str, caller: Caller | None = None) -> Caller:
        """The caller (``caller`` when already resolved) if it holds ``scope``; 401/403 otherwise.

        State-changing requests made with a browser session must carry its CSRF token.
        """
        caller = caller or self.resolve(request)
        if caller is None:
            raise HTTPException(
                401, "sign in or send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        if not caller.principal.may(scope):
            raise HTTPException(403, f"this caller lacks the {scope!r} scope")
        if caller.via == "session" and request.method not in _SAFE:
            sent = request.headers.get("x-csrf-token", "")
            if not caller.csrf or not secrets.compare_digest(sent, caller.csrf):
                raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token)")
        return caller


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
