"""Errors as JSON with one stable shape: ``{"error": {"status", "code", "message"}}``.

Pages of the dashboard get the same message as a small HTML page instead. An unhandled exception
answers 500 in the same shape (never a plain-text body); its traceback goes to the server's log.
"""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from costcouncil.errors import CostCouncilError, NotFoundError

CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid_request", 429: "too_many_requests", 500: "internal_error",
}  # fmt: skip


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": CODES.get(status, "error"), "message": message}}


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/v1/") or path.endswith((".json", ".csv", ".parquet")):
        return False
    return "text/html" in request.headers.get("accept", "")


def respond(request: Request, status: int, message: str, headers: Any = None) -> Response:
    if _wants_html(request):
        title = f"{status} {HTTPStatus(status).phrase}"
        page = (
            f"<!doctype html><title>{title}</title><link rel=stylesheet href=/static/app.css>"
            f"<main class=error><h1>{title}</h1><p>{html.escape(message)}</p>"
            "<p><a href=/>Back to the overview</a></p></main>"
        )
        return HTMLResponse(page, status, headers=headers)
    return Response(
        orjson.dumps(error_body(status, message)), status, headers=headers,
        media_type="application/json",
    )  # fmt: skip


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return respond(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()))
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return respond(request, 422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # Starlette re-raises the exception after this answer, so the server logs its traceback.
        return respond(request, 500, "the server failed on this request; the error is logged")

    @app.exception_handler(CostCouncilError)
    async def ours(request: Request, exc: CostCouncilError) -> Response:
        return respond(request, 404 if isinstance(exc, NotFoundError) else 422, str(exc))
