"""What every route of ``costcouncil serve`` shares: the workspace's services and the caller's
filter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fastapi import Request

from costcouncil.api.auth import READ, Caller, Guard
from costcouncil.api.ratelimit import LoginLimiter
from costcouncil.appdb.db import Database
from costcouncil.settings import Settings
from costcouncil.workspace.access.accounts import Access, user_id
from costcouncil.workspace.figures.filters import Dimensions, Filter, last_day, parse_filter
from costcouncil.workspace.figures.rollup_store import RollupStore
from costcouncil.workspace.live.service import LiveIngest


@dataclass
class Served:
    live: LiveIngest
    settings: Settings
    access: Access | None
    store: RollupStore
    guard: Guard
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    _database: Database | None = None

    @property
    def dims(self) -> Dimensions:
        return Dimensions.of(self.live.workspace.config.tags.owner_keys)

    def reader(self, request: Request, caller: Caller | None = None) -> Caller:
        """The caller of a route that answers with figures: every such route checks the
        ``costs:read`` scope here (401 for nobody, 403 without the scope)."""
        return self.guard.require(request, READ, caller)

    def today(self) -> date:
        """The server's date (UTC): what data freshness is measured against."""
        return datetime.now(UTC).date()

    def last_day(self) -> date:
        """The last day with cost (today when the lake has none)."""
        return last_day(self.store) or datetime.now(UTC).date()

    def database(self) -> Database:
        """The workspace's app database (the access layer's, or one opened on first use)."""
        if self.access is not None:
            return self.access.db
        if self._database is None:
            self._database = Access.open(self.live.workspace).db
        return self._database

    def user_id(self, caller: Caller) -> int | None:
        """The app-database id of the caller's user (None for the open server or a service)."""
        return user_id(self.database(), caller.principal.email)

    def filter(self, params: Mapping[str, str], caller: Caller) -> Filter:
        """The caller's filter from URL parameters (a member's teams always applied)."""
        currency = self.live.workspace.config.currency
        return parse_filter(params, self.dims, currency, self.last_day(), caller.teams)
