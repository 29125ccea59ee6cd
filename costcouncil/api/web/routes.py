"""The dashboard's pages: Overview, Explorer, Models, GPU, Ingest, and signing in and out.

Every page ``/<name>`` has a twin ``/<name>.json`` with exactly the figures the page shows;
the explorer also downloads what is on screen as ``/explorer.csv`` (string cells made safe for
spreadsheets, :mod:`costcouncil.workspace.common.csvsafe`) and ``/explorer.parquet`` (exact).
Filters and the date range live in the URL, so a link shows the same view to whoever may see it.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from costcouncil.api.auth import SESSION_COOKIE, Caller, address
from costcouncil.api.errors import respond
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.api.web import (
    budget_pages,
    forecast_view,
    governance_pages,
    monitoring_pages,
    panels,
)
from costcouncil.api.web.templating import HERE, render, signed_in, templates
from costcouncil.errors import ConfigError
from costcouncil.workspace.access import sessions as web_sessions
from costcouncil.workspace.common import csvsafe
from costcouncil.workspace.figures.explorer import explore
from costcouncil.workspace.figures.filters import jsonable
from costcouncil.workspace.figures.freshness import freshness
from costcouncil.workspace.figures.gpu import gpu
from costcouncil.workspace.figures.ingest_status import ingest_status
from costcouncil.workspace.figures.models import models
from costcouncil.workspace.figures.overview import overview

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
LOGIN_COOKIE = "cc_login"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


class SecurityHeaders:
    """Security headers on every answer (pages also get CSP, no framing, no caching): a plain
    ASGI middleware, so the API's hot paths pay no per-request task of their own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = CSP
                    headers["X-Frame-Options"] = "DENY"
                    headers["Referrer-Policy"] = "same-origin"
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, served: Served, budgets: budget_pages.BudgetsOf) -> None:
    """Add the dashboard's routes, static files and security headers to ``app``; ``budgets``
    gives the server's budget service (opened on first use)."""

    app.add_middleware(SecurityHeaders)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        # 4.8 MB that changes only with the installed plotly: cached a day, revalidated by ETag.
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        path = HERE / "static" / name
        if name not in ("app.css", "app.js") or not path.exists():
            raise HTTPException(404, f"no static file {name!r}")
        return FileResponse(path)

    def page(name: str, build: Callable[[Request, Caller], dict[str, Any]]) -> None:
        path = "/" if name == "overview" else f"/{name}"

        @app.get(path, include_in_schema=False, name=name)
        def html_page(request: Request) -> Response:
            caller = signed_in(served, request)
            if isinstance(caller, RedirectResponse):
                return caller
            data = build(request, caller)
            return render(request, served, caller, name, data, panels.panels(name, data),
                          empty=panels.page_note(name, data))  # fmt: skip

        @app.get(f"/{name}.json", include_in_schema=False, name=f"{name}_json")
        def json_twin(request: Request) -> Response:
            caller = served.reader(request)
            body = build(request, caller)
            return json(
                {**body, "freshness": freshness(served.store, served.today(), caller.teams)}
            )

    workspace = served.live.workspace

    def build_overview(request: Request, caller: Caller) -> dict[str, Any]:
        flt = served.filter({"metric": request.query_params.get("metric", "effective")}, caller)
        data = overview(served.store, flt, served.last_day())
        return {**data, "forecast": forecast_view.overview_forecast(workspace, caller.teams)}

    def build_explorer(request: Request, caller: Caller, every: bool = False) -> dict[str, Any]:
        params = {k: v for k, v in request.query_params.items() if k != "level"}
        level = request.query_params.get("level") or None
        raw = request.query_params.get("page") or "1"
        if not (raw.isascii() and raw.isdigit()):
            raise ConfigError(f"'page' must be a page number, not {raw!r}")
        flt = served.filter(params, caller)
        data = explore(served.store, flt, level, None if every else int(raw))
        band = None if every else forecast_view.explorer_forecast(workspace, flt)
        return {**data, "dimensions": served.dims.all, "chosen_level": level, "forecast": band}

    def build_models(request: Request, caller: Caller) -> dict[str, Any]:
        return models(served.store, served.filter(request.query_params, caller))

    def build_gpu(request: Request, caller: Caller) -> dict[str, Any]:
        return gpu(served.store, served.filter(request.query_params, caller))

    def build_ingest(request: Request, caller: Caller) -> dict[str, Any]:
        body = ingest_status(served.store, served.live.stats, served.today())
        if caller.teams is not None:
            body["unallocated"] = []
        return body

    for name, build in (("overview", build_overview), ("explorer", build_explorer),
                        ("models", build_models), ("gpu", build_gpu),
                        ("ingest", build_ingest)):  # fmt: skip
        page(name, build)

    @app.get("/explorer.{kind}", include_in_schema=False)
    def download(request: Request, kind: str) -> Response:
        if kind not in ("csv", "parquet"):
            raise HTTPException(404, f"no download as {kind!r} (csv or parquet)")
        data = build_explorer(request, served.reader(request), every=True)
        table = _table(data)
        sink = io.BytesIO()
        if kind == "csv":
            csvsafe.write_csv(table, sink)
            media = "text/csv"
        else:
            pq.write_table(table, sink)
            media = "application/vnd.apache.parquet"
        name = f"costcouncil-{data['level']}-{data['from']}-{data['to']}.{kind}"
        disposition = f'attachment; filename="{name}"'
        return Response(sink.getvalue(), media_type=media,
                        headers={"Content-Disposition": disposition})  # fmt: skip

    monitoring_pages.install(app, served)
    budget_pages.install(app, served, budgets)
    governance_pages.install(app, served)
    _install_login(app, served)


def _table(data: dict[str, Any]) -> pa.Table:
    """The explorer's rows as on screen, with the drill path as leading columns."""
    level = data["level"]
    # A level already in the drill path (``?team=vision&level=team``) is one column: the row's.
    path = {p["key"]: p["value"] for p in data["path"] if p["key"] != level}
    columns: dict[str, list[Any]] = {k: [] for k in path}
    columns.update({level: [], "cost": [], "share": [], "currency": []})
    for row in data["rows"]:
        for k, v in path.items():
            columns[k].append(v)
        columns[level].append(str(row[level]))
        columns["cost"].append(jsonable(row["cost"]))
        columns["share"].append(None if row["share"] is None else float(row["share"]))
        columns["currency"].append(data["currency"])
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    cost = pa.array(columns["cost"], pa.string()).cast(pa.decimal128(38, 6))
    return table.set_column(table.schema.get_field_index("cost"), "cost", cost)


def _install_login(app: FastAPI, served: Served) -> None:
    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        context = {"next": _safe_next(next), "csrf": token, "error": None, "page": "login"}
        response = templates.TemplateResponse(request, "login.html", context)
        _cookie(response, request, served, LOGIN_COOKIE, token, 600)
        return response

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        email: str = Form(""),
        password: str = Form(""),
        csrf: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(csrf, expected):
            return respond(request, 403, "the sign-in form expired: reload the page and try again")
        who = address(request)
        wait = served.limiter.retry_after(email, who)
        if wait or served.access is None:
            message = f"too many failed sign-ins: try again in {wait} s" if wait else "no users"
            return respond(request, 429 if wait else 403, message, {"Retry-After": str(wait)})
        principal = served.access.verify_password(email, password)
        if principal is None:
            served.limiter.failed(email, who)
            context = {"next": _safe_next(next), "csrf": expected, "page": "login",
                       "error": "Wrong email or password.", "email": email}  # fmt: skip
            return templates.TemplateResponse(request, "login.html", context, status_code=401)
        served.limiter.succeeded(email)
        secret, _ = web_sessions.start(served.access, principal, who)
        response = RedirectResponse(_safe_next(next), 303)
        _cookie(
            response, request, served, SESSION_COOKIE, secret, web_sessions.SESSION_HOURS * 3600
        )
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")) -> Response:
        # The session the cookie names ends, whatever else the request carries (a bearer
        # token beside the cookie must not leave it alive).
        secret = request.cookies.get(SESSION_COOKIE, "")
        found = web_sessions.find(served.access, secret) if secret and served.access else None
        if found is not None and served.access is not None:
            sent = csrf or request.headers.get("x-csrf-token", "")
            if not found.csrf or not secrets.compare_digest(sent, found.csrf):
                return respond(request, 403, "missing or wrong CSRF token")
            web_sessions.end(served.access, secret)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _safe_next(target: str) -> str:
    """Only a path on this server (never ``//host`` or a scheme)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"


def _cookie(
    response: Response, request: Request, served: Served, name: str, value: str, age: int
) -> None:
    secure = served.settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=age, path="/", httponly=True, samesite="lax", secure=secure
    )
