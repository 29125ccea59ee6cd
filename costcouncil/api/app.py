"""The HTTP API and web dashboard of ``costcouncil serve``, on one port.

=========================  ================================================================
``GET /health``             liveness; events accepted, pending compaction, compacted
``POST /v1/events``         usage events (JSON array or NDJSON), see docs/events.md
``POST /v1/traces``         OTLP/HTTP JSON traces; GenAI spans become ``llm_call`` events
``GET /v1/live/costs``      live LLM usage figures, grouped and filtered; allocated cost beside
``GET /v1/costs`` …         figures from the rollups (see :mod:`costcouncil.api.figures_api`)
``/v1/forecasts`` …         forecasts, anomalies, monitors, subscriptions, inbox (see
                            :mod:`costcouncil.api.monitoring_api`)
``/v1/budgets`` …           budgets, budgets.yaml, check and reservations (see
                            :mod:`costcouncil.api.budgets_api`)
``/v1/violations`` …        policies, violations and their lifecycle, the policy check (see
                            :mod:`costcouncil.api.policy_api`)
``/``, ``/explorer`` …      the dashboard (see :mod:`costcouncil.api.web`)
=========================  ================================================================

While it runs, a thread refreshes forecasts, detection and notifications whenever the lake
changes, and sends digests when due (:mod:`costcouncil.workspace.refresh.schedule`).
The OpenAPI description is at ``/openapi.json`` (interactive at ``/docs``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import Response

from costcouncil.api import budgets_api, errors, figures_api, monitoring_api, policy_api
from costcouncil.api.auth import Caller, Guard
from costcouncil.api.budgets_api import Budgets
from costcouncil.api.served import Served
from costcouncil.api.web import routes as web
from costcouncil.errors import FormatError
from costcouncil.settings import Settings
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.figures.rollup_store import RollupStore
from costcouncil.workspace.live.costs import CostQuery, live_costs
from costcouncil.workspace.live.service import LiveIngest
from costcouncil.workspace.live.traces import post_traces
from costcouncil.workspace.refresh.schedule import Scheduler


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(
    live: LiveIngest, settings: Settings, access: Access | None = None, *, manage: bool = True
) -> FastAPI:
    """The app serving ``live``; with ``manage`` it starts and closes the service itself.

    Callers authenticate with ``Authorization: Bearer <token>`` (an API token of ``access`` or
    the ``COSTCOUNCIL_INGEST_TOKEN`` service token) or a dashboard session. With no users and no
    ingest token the server is open, for one person on loopback.
    """

    scheduler = Scheduler(live.workspace, settings.refresh_seconds if manage else 0,
                          digest_hour=settings.digest_hour, link=settings.public_url)  # fmt: skip
    budgets = Budgets(live, lambda: served.database())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage:
            live.start()
            scheduler.start()
            budgets.start()
        try:
            yield
        finally:
            if manage:
                budgets.stop()
                scheduler.stop()
                live.close()

    app = FastAPI(title="CostCouncil", version="1", lifespan=lifespan)
    errors.install(app)
    served = Served(live, settings, access, RollupStore(live.workspace), Guard(settings, access))

    async def writer(request: Request) -> Caller:
        return await served.guard.api(request, "events:write")

    def reader(request: Request) -> Caller:
        return served.reader(request)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        return {"status": "ok", **live.stats, "pending": live.pending_events(),
                "runaway": dict(live.runaway.stats)}  # fmt: skip

    @app.post("/v1/events", dependencies=[Depends(writer)], tags=["live"])
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

    @app.post("/v1/traces", dependencies=[Depends(writer)], tags=["live"])
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

    @app.get("/v1/live/costs", tags=["live"])
    def costs(
        request: Request,
        caller: Caller = Depends(reader),  # noqa: B008 (FastAPI dependency)
        by: Annotated[str, Query(description="Comma-separated keys, e.g. team,model")] = "",
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        filters = {k: v for k, v in request.query_params.items() if k not in ("by", "from", "to")}
        query = CostQuery.make(by, filters, start, end, caller.teams)
        return _json(live_costs(live, query))

    app.include_router(figures_api.router(served))
    app.include_router(monitoring_api.router(served))
    app.include_router(budgets_api.router(served, budgets.get))
    app.include_router(policy_api.router(served))
    web.install(app, served, budgets.get)
    return app


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413, f"body over {limit} bytes: send smaller batches")
    body = await request.body()
    if len(body) > limit:
        raise HTTPException(413, f"body over {limit} bytes: send smaller batches")
    return body
