"""``/v1`` monitoring: forecasts, anomalies with feedback, monitors, annotations, subscriptions,
the delivery log and the inbox.

A ``member`` sees and changes only what belongs to their teams: forecasts of ``team=<theirs>``,
anomalies, monitors, annotations and subscriptions of their teams' scopes, their inbox items.
Anything else answers exactly as if it did not exist (404, from the stores' ``NotFoundError``), so a list, a count or an error never
tells of another team's anomaly. Writes need the ``costs:read`` scope (and, from a browser
session, its CSRF token); subscriptions and monitors of other scopes than a team need a role that
sees every team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from costcouncil.api.auth import READ, Caller
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.workspace.allocate.series import Scope, parse_scope
from costcouncil.workspace.anomaly.explain import ensure_causes
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.forecast.saved import load
from costcouncil.workspace.notify.subscriptions import Subscriptions

#: A row id in a path (SQLite and PostgreSQL store 64-bit integers).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class Feedback(BaseModel):
    feedback: str = Field(description="expected, not_anomaly or resolved")
    note: str = Field(default="", max_length=2000)


class NewMonitor(BaseModel):
    name: str = Field(max_length=200)
    scope: str = Field(description="org or DIMENSION=VALUE", max_length=400)
    grain: str = "day"
    sensitivity: float | None = None
    direction: str = Field(default="up", description="up (spend above expected), down or both")


class NewAnnotation(BaseModel):
    scope: str = Field(max_length=400)
    start: datetime
    end: datetime | None = None
    label: str = Field(max_length=400)


class NewSubscription(BaseModel):
    name: str = Field(max_length=200)
    channel: dict[str, Any] = Field(description="kind (slack, teams, webhook, email) and settings")
    monitor: str | None = None
    budget: str | None = Field(default=None, description="a budget's threshold alerts instead")
    threshold: str = Field(default="", max_length=1000)
    frequency: str = "immediate"


def router(served: Served) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["monitoring"])
    workspace = served.live.workspace

    def reader(request: Request) -> Caller:
        return served.reader(request)

    def monitoring() -> Monitoring:
        return Monitoring(served.database())

    def subscriptions() -> Subscriptions:
        return Subscriptions(served.database())

    @api.get("/forecasts", summary="Saved forecasts per scope: month-end, 12 months, method")
    def forecasts(
        caller: Caller = Depends(reader),  # noqa: B008
        scope: Annotated[str | None, Query(description="Only this scope")] = None,
    ) -> Response:
        saved = load(workspace)
        if saved is None:
            return json({"created_at": None, "scopes": {}})
        shown = {k: v for k, v in saved.scopes.items() if _sees(caller, k) and scope in (None, k)}
        return json({"created_at": saved.created_at, "currency": saved.currency,
                     "first_day": saved.first_day, "scopes": shown})  # fmt: skip

    @api.get("/forecasts/points", summary="One scope's daily forecast with 80 %/95 % intervals")
    def forecast_points(
        caller: Caller = Depends(reader),  # noqa: B008
        scope: Annotated[str, Query(description="org or DIMENSION=VALUE")] = "org",
    ) -> Response:
        saved = load(workspace)
        if saved is None or scope not in saved.scopes or not _sees(caller, scope):
            raise HTTPException(404, f"no forecast for {scope!r}")
        return json({"scope": scope, "points": saved.points(scope).drop(["scope"]).to_pylist()})

    @api.get("/anomalies", summary="Anomalies, newest first")
    def anomalies(
        caller: Caller = Depends(reader),  # noqa: B008
        monitor: str | None = None,
        open_only: Annotated[bool, Query(alias="open")] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        found = monitoring().anomalies(
            caller.teams, monitor=monitor, open_only=open_only, limit=limit
        )
        return json({"anomalies": [a.as_dict() for a in found]})

    @api.get("/anomalies/{anomaly_id}", summary="One anomaly with its ranked root causes")
    def anomaly(anomaly_id: RowId, caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        store = monitoring()
        info = store.anomaly(anomaly_id, caller.teams)
        return json(ensure_causes(workspace, store, info).as_dict())

    @api.post("/anomalies/{anomaly_id}/feedback", summary="Mark expected, not_anomaly or resolved")
    def feedback(anomaly_id: RowId, body: Feedback, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        marked = monitoring().mark(anomaly_id, body.feedback, body.note, actor=caller.principal.email,
                            visible=caller.teams)  # fmt: skip
        return json(marked.as_dict())

    @api.get("/monitors", summary="Monitors: a scope watched at a grain")
    def monitors(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        return json({"monitors": [m.as_dict() for m in monitoring().monitors(caller.teams)]})

    @api.post("/monitors", summary="Add a monitor", status_code=201)
    def add_monitor(body: NewMonitor, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        scope = _owned(caller, parse_scope(workspace, body.scope, body.grain))
        added = monitoring().add_monitor(body.name, scope, grain=body.grain,
                                         sensitivity=body.sensitivity, direction=body.direction,
                                         actor=caller.principal.email)  # fmt: skip
        return json(added.as_dict(), 201)

    @api.delete("/monitors/{name}", summary="Remove a monitor (a default one is disabled)")
    def remove_monitor(name: str, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        monitoring().remove_monitor(name, actor=caller.principal.email, visible=caller.teams)
        return json({"removed": name})

    @api.get("/annotations", summary="Known events detection treats as normal")
    def annotations(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        return json({"annotations": [a.as_dict() for a in monitoring().annotations(caller.teams)]})

    @api.post("/annotations", summary="Annotate a known event", status_code=201)
    def add_annotation(body: NewAnnotation, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        scope = _owned(caller, parse_scope(workspace, body.scope))
        added = monitoring().add_annotation(scope, body.start, body.end, body.label,
                                            actor=caller.principal.email)  # fmt: skip
        return json(added.as_dict(), 201)

    @api.delete("/annotations/{annotation_id}", summary="Remove an annotation")
    def remove_annotation(annotation_id: RowId, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        monitoring().remove_annotation(annotation_id, actor=caller.principal.email,
                                       visible=caller.teams)  # fmt: skip
        return json({"removed": annotation_id})

    @api.get("/subscriptions", summary="Subscriptions (secrets never shown)")
    def list_subscriptions(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        return json({"subscriptions": [s.as_dict() for s in subscriptions().list(caller.teams)]})

    @api.post("/subscriptions", summary="Subscribe a channel to a monitor", status_code=201)
    def add_subscription(body: NewSubscription, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        team = _member_team(caller)
        added = subscriptions().add(body.name, channel=body.channel, monitor=body.monitor,
                                    budget=body.budget, threshold=body.threshold, frequency=body.frequency, team=team,
                                    actor=caller.principal.email, visible=caller.teams)  # fmt: skip
        return json(added.as_dict(), 201)

    @api.delete("/subscriptions/{name}", summary="Remove a subscription")
    def remove_subscription(name: str, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        subscriptions().remove(name, actor=caller.principal.email, visible=caller.teams)
        return json({"removed": name})

    @api.get("/deliveries", summary="The delivery log, newest first")
    def deliveries(
        caller: Caller = Depends(reader),  # noqa: B008
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        subs = subscriptions()
        names = {s.name for s in subs.list(caller.teams)}
        rows = [d.as_dict() for d in subs.deliveries(limit=limit) if d.subscription in names]
        return json({"deliveries": rows})

    @api.get("/inbox", summary="The caller's notifications, newest first")
    def inbox(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        subs, user = subscriptions(), served.user_id(caller)
        items = subs.inbox(user or 0, caller.teams)
        unread = subs.unread_count(user or 0, caller.teams)
        return json({"unread": unread, "items": [i.as_dict() for i in items]})

    @api.post("/inbox/{item_id}/read", summary="Mark an inbox item read")
    def read(item_id: RowId, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        user = served.user_id(caller)
        if user is None:
            raise HTTPException(409, "read state is kept per user: sign in as a user")
        subscriptions().mark_read(user, item_id, visible=caller.teams)
        return json({"read": item_id})

    return api


def _sees(caller: Caller, scope: str) -> bool:
    teams = caller.teams
    return teams is None or any(scope == f"team={t}" for t in teams)


def _owned(caller: Caller, scope: Scope) -> Scope:
    """``scope`` if the caller may watch it: a member only their own teams."""
    if caller.teams is not None and scope.team not in caller.teams:
        raise HTTPException(403, "a member may watch only their own teams (scope team=<yours>)")
    return scope


def _member_team(caller: Caller) -> str | None:
    """A member's subscriptions hear only their team (the first, when they have several)."""
    if caller.teams is None:
        return None
    if not caller.teams:
        raise HTTPException(403, "a member without a team cannot subscribe")
    return sorted(caller.teams)[0]
