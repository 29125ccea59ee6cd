"""``/v1`` figures: costs, allocations, unit economics, explain, GPU, ingest status, overview.

Every endpoint takes the same filter parameters: ``from`` / ``to`` (days, ``to`` exclusive;
default the month of the last day with cost), ``metric`` (billed, effective, list, contracted),
``currency``, any dimension as ``<dimension>=v1,v2`` (``(none)`` matches a missing value) and
``tag.<key>=<value>``. A ``member`` gets only their teams' figures.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from costcouncil.api.auth import Caller
from costcouncil.api.served import Served
from costcouncil.errors import ConfigError
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.allocate.explain import explain
from costcouncil.workspace.common.dates import EARLIEST, LATEST
from costcouncil.workspace.figures.filters import (
    GRAINS,
    Filter,
    check_key,
    cost_rows,
    jsonable,
)
from costcouncil.workspace.figures.gpu import gpu
from costcouncil.workspace.figures.ingest_status import ingest_status
from costcouncil.workspace.figures.models import unit_rows, usage_note
from costcouncil.workspace.figures.overview import overview

From = Annotated[date | None, Query(alias="from", description="First day (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="Day after the last (exclusive)")]
Metric = Annotated[
    str, Query(description="Cost metric", pattern="^(billed|effective|list|contracted)$")
]
Limit = Annotated[int, Query(ge=1, le=100_000, description="Rows at most")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
UNIT_KEYS = ("team", "project", "model", "model_version")


def json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(jsonable(body)), status, media_type="application/json")


def _by(by: str, choices: list[str]) -> list[str]:
    keys = [k.strip() for k in by.split(",") if k.strip()]
    for key in keys:
        check_key(key, choices)
    return list(dict.fromkeys(keys))


def _head(flt: Filter) -> dict[str, Any]:
    return {"from": flt.start, "to": flt.end, "metric": flt.metric, "currency": flt.currency,
            "filters": dict(flt.params())}  # fmt: skip


def router(served: Served) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["figures"])

    def reader(request: Request) -> Caller:
        return served.reader(request)

    async def admin(request: Request) -> Caller:
        return await served.guard.api(request, "admin")

    @api.get("/costs", summary="Cost grouped by any dimension, at a grain")
    def costs(
        request: Request, caller: Caller = Depends(reader),  # noqa: B008
        start: From = None, end: To = None,
        by: Annotated[str, Query(description="Comma-separated dimensions")] = "",
        grain: Annotated[str | None, Query(pattern="^(hour|day|week|month)$")] = None,
        metric: Metric = "effective", limit: Limit = 1000, offset: Offset = 0,
    ) -> Response:  # fmt: skip
        flt = served.filter(request.query_params, caller)
        keys = _by(by, served.dims.all)
        rows = cost_rows(served.store, flt, keys, grain, limit + 1, offset)
        total = cost_rows(served.store, flt, [])
        return json({**_head(flt), "by": keys, "grain": grain, "rows": rows[:limit],
                     "truncated": len(rows) > limit,
                     "total": total[0]["cost"] if total else 0})  # fmt: skip

    @api.get("/allocations", summary="Allocated cost per day, owner, resource and rule")
    def allocations(
        request: Request, caller: Caller = Depends(reader),  # noqa: B008
        start: From = None, end: To = None,
        metric: Metric = "effective", limit: Limit = 1000, offset: Offset = 0,
    ) -> Response:  # fmt: skip
        flt = served.filter(request.query_params, caller)
        keys = [d for d in served.dims.by_tier["resources"] if d not in ("tags",)]
        rows = cost_rows(served.store, flt, keys, "day", limit + 1, offset)
        return json({**_head(flt), "columns": ["period", *keys, "cost"], "rows": rows[:limit],
                     "truncated": len(rows) > limit})  # fmt: skip

    @api.get("/unit-economics", summary="Cost per 1k requests, 1M tokens, GPU-hour, run")
    def unit_economics(
        request: Request, caller: Caller = Depends(reader),  # noqa: B008
        start: From = None, end: To = None,
        by: Annotated[str, Query(description="Keys among team, project, model, model_version")] = "model",
        metric: Metric = "effective",
    ) -> Response:  # fmt: skip
        flt = served.filter(request.query_params, caller)
        keys = _by(by, list(UNIT_KEYS)) or ["model"]
        rows = unit_rows(served.store, flt, keys)
        return json({**_head(flt), "by": keys, "rows": rows, "usage_note": usage_note(flt)})

    @api.get("/explain", summary="The attribution trace of an owner's figure")
    def explain_owner(
        request: Request, caller: Caller = Depends(reader),  # noqa: B008

        period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
        metric: Metric = "effective",
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    ) -> Response:  # fmt: skip
        keys = served.live.workspace.config.tags.owner_keys
        owner = {k: v for k, v in request.query_params.items() if k in keys}
        unknown = [k for k in request.query_params if k not in (*keys, "period", "metric", "limit")]
        if unknown:
            raise ConfigError(
                f"unknown parameter {unknown[0]!r}: give owner keys ({', '.join(keys)})"
            )
        teams = caller.teams
        if teams is not None and owner.get("team") not in teams:
            raise HTTPException(403, "members may explain their own teams' figures: add team=")
        column = rollups.METRICS[metric]
        found = explain(served.live.workspace, owner, period, column, limit)
        return json(found.to_dict())

    @api.get("/gpu", summary="GPU clusters and nodes: used and idle cost, GPU-hours per team")
    def gpu_figures(
        request: Request, caller: Caller = Depends(reader),  # noqa: B008
        start: From = None, end: To = None,
        metric: Metric = "effective",
    ) -> Response:  # fmt: skip
        return json(gpu(served.store, served.filter(request.query_params, caller)))

    @api.get("/overview", summary="Month to date, run-rate, coverage, movers, idle GPU cost")
    def overview_figures(
        request: Request, caller: Caller = Depends(reader),  # noqa: B008
        metric: Metric = "effective",
        as_of: Annotated[date | None, Query(description="Day the month runs to")] = None,
    ) -> Response:  # fmt: skip
        flt = served.filter({"metric": metric}, caller)
        day = as_of or served.last_day()
        if not EARLIEST <= day <= LATEST:
            raise ConfigError(f"'as_of' must be between {EARLIEST} and {LATEST}, not {day}")
        return json(overview(served.store, flt, day))

    @api.get("/ingest", summary="Sources, last data, rejects and coverage gaps")
    def ingest(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        body = ingest_status(served.store, served.live.stats, served.today())
        if caller.teams is not None:
            body["unallocated"] = []
        return json(body)

    @api.get("/me", summary="Who the caller is")
    def me(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        p = caller.principal
        return json({"email": p.email, "role": p.role, "teams": sorted(p.teams),
                     "scopes": sorted(p.scopes), "via": caller.via})  # fmt: skip

    @api.get("/audit", summary="The audit log (admins)")
    def audit(
        caller: Caller = Depends(admin),  # noqa: B008
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> Response:
        return json({"events": served.access.audit(limit) if served.access else []})

    @api.get("/dimensions", summary="The dimensions figures can be grouped and filtered by")
    def dimensions(caller: Caller = Depends(reader)) -> Response:  # noqa: B008
        d = served.dims
        return json({"dimensions": d.all, "hourly": d.by_tier["hourly"],
                     "grains": list(GRAINS), "metrics": list(rollups.METRICS)})  # fmt: skip

    return api
