"""The HTTP API of ``costcouncil serve``.

=====================  =====================================================================
``GET /health``         liveness; events accepted, pending compaction, compacted
``POST /v1/events``     usage events (JSON array or NDJSON), see docs/events.md
``POST /v1/traces``     OTLP/HTTP JSON traces; GenAI spans become ``llm_call`` events
``GET /v1/costs``       live LLM usage figures, grouped and filtered; allocated cost beside them
=====================  =====================================================================

The interactive OpenAPI description is at ``/docs`` (``/openapi.json``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import Response

from costcouncil.errors import CostCouncilError, FormatError
from costcouncil.settings import Settings
from costcouncil.workspace.access import Access, Principal
from costcouncil.workspace.live import LiveIngest
from costcouncil.workspace.live_costs import CostQuery, live_costs
from costcouncil.workspace.live_traces import post_traces


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(
    live: LiveIngest, settings: Settings, access: Access | None = None, *, manage: bool = True
) -> FastAPI:
    """The app serving ``live``; with ``manage`` it starts and closes the service itself.

    Callers authenticate with ``Authorization: Bearer <token>``: an API token of ``access``
    (scoped; a ``member`` sees only their teams' figures) or the ``COSTCOUNCIL_INGEST_TOKEN``
    service token. With neither configured (no users, no ingest token) the API is open, for a
    server on loopback.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage:
            live.start()
        try:
            yield
        finally:
            if manage:
                live.close()

    app = FastAPI(title="CostCouncil", version="1", lifespan=lifespan)
    required = settings.ingest_token is not None or (access is not None and access.has_users())
    writer = _auth(settings.ingest_token, access, required, "events:write")
    reader = _auth(settings.ingest_token, access, required, "costs:read")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", **live.stats, "pending": live.pending_events()}

    @app.post("/v1/events", dependencies=[Depends(writer)])
    async def events(
        request: Request, idempotency_key: Annotated[str | None, Header()] = None
    ) -> Response:
        body = await _body(request, settings.max_batch_bytes)
        try:
            answer = live.post_events(
                body, request.headers.get("content-type", ""), idempotency_key
            )
        except FormatError as e:
            raise HTTPException(400, str(e)) from None
        return _json(answer)

    @app.post("/v1/traces", dependencies=[Depends(writer)])
    async def traces(request: Request) -> Response:
        if "protobuf" in request.headers.get("content-type", ""):
            raise HTTPException(415, "send OTLP/HTTP as JSON (Content-Type: application/json)")
        body = await _body(request, settings.max_batch_bytes)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise HTTPException(400, f"body is not JSON: {e}") from None
        try:
            return _json(post_traces(live, payload))
        except FormatError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/v1/costs")
    def costs(
        request: Request,
        principal: Principal | None = Depends(reader),  # noqa: B008 (FastAPI dependency)
        by: Annotated[str, Query(description="Comma-separated keys, e.g. team,model")] = "",
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        filters = {k: v for k, v in request.query_params.items() if k not in ("by", "from", "to")}
        try:
            teams = principal.team_scope() if principal is not None else None
            query = CostQuery.make(by, filters, start, end, teams)
        except CostCouncilError as e:
            raise HTTPException(422, str(e)) from None
        return _json(live_costs(live, query))

    return app


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > limit:
        raise HTTPException(413, f"body over {limit} bytes: send smaller batches")
    body = await request.body()
    if len(body) > limit:
        raise HTTPException(413, f"body over {limit} bytes: send smaller batches")
    return body


SERVICE = "ingest-token"


def _auth(token: str | None, access: Access | None, required: bool, scope: str) -> Any:
    def check(authorization: Annotated[str | None, Header()] = None) -> Principal | None:
        scheme, _, given = (authorization or "").partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            if required:
                raise HTTPException(401, "missing token", {"WWW-Authenticate": "Bearer"})
            return None
        if token is not None and secrets.compare_digest(given, token):
            return Principal(
                SERVICE, "finance", frozenset(), frozenset(("events:write", "costs:read"))
            )
        principal = access.authenticate_token(given) if access is not None else None
        if principal is None:
            raise HTTPException(
                401, "wrong, revoked or expired token", {"WWW-Authenticate": "Bearer"}
            )
        if not principal.may(scope):
            raise HTTPException(403, f"this token lacks the {scope!r} scope")
        return principal

    return check
