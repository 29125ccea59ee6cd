"""What every dashboard page shares: the templates, links that keep the view, and the page context
(navigation, the inbox's unread count, data freshness, the charts to draw)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from costcouncil.api.auth import READ, Caller
from costcouncil.api.served import Served
from costcouncil.api.web.format import FILTERS, named
from costcouncil.api.web.panels import Panel
from costcouncil.workspace.figures.freshness import freshness
from costcouncil.workspace.notify.subscriptions import Subscriptions

HERE = Path(__file__).parent
#: The pages in the navigation, in order (the inbox is its own link, with its unread count).
PAGES = ("overview", "explorer", "models", "gpu", "ingest", "anomalies")

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(FILTERS)
templates.env.globals["named"] = named


def link(path: str, params: dict[str, str], **changes: str | None) -> str:
    """``path`` with ``params`` as its query, ``changes`` applied (None drops a parameter)."""
    merged = {**params, **changes}
    return path + "?" + urlencode({k: v for k, v in merged.items() if v is not None})


def signed_in(served: Served, request: Request) -> Caller | RedirectResponse:
    """The caller of a page (``costs:read`` checked), or the redirect to the sign-in form."""
    caller = served.guard.resolve(request)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), 303)
    return served.reader(request, caller)


def unread(served: Served, caller: Caller) -> int:
    """How many of the caller's inbox items are unread (the open server's are user 0's)."""
    return Subscriptions(served.database()).unread_count(served.user_id(caller) or 0, caller.teams)


def render(
    request: Request,
    served: Served,
    caller: Caller,
    page: str,
    data: dict[str, Any],
    charts: dict[str, Panel],
    *,
    template: str | None = None,
    **extra: Any,
) -> Response:
    """``<template or page>.html`` with the context every page has; ``extra`` adds to it or
    replaces a part (``json_link`` of a page whose twin is not ``/<page>.json``)."""
    context = {
        "data": data, "page": page, "caller": caller, "link": link, "charts": charts,
        "plotly": any(c.figure for c in charts.values()), "params": data.get("params", {}),
        "freshness": freshness(served.store, served.today(), caller.teams), "pages": PAGES,
        "unread": unread(served, caller), "json_link": f"/{page}.json?{request.url.query}",
    }  # fmt: skip
    return templates.TemplateResponse(request, f"{template or page}.html", {**context, **extra})


def form_caller(served: Served, request: Request, csrf: str) -> Caller:
    """The caller of a dashboard form post: it needs ``costs:read`` and, from a session, the
    session's CSRF token in the form (an API token is no cookie and needs none). Tokens are
    compared as bytes, so a token no session could hold is a 403, not an error."""
    caller = served.guard.resolve(request)
    if caller is None:
        raise HTTPException(401, "sign in or send Authorization: Bearer <token>")
    if not caller.principal.may(READ):
        raise HTTPException(403, f"this caller lacks the {READ!r} scope")
    sent, expected = csrf.encode(), (caller.csrf or "").encode()
    if caller.via == "session" and not (expected and secrets.compare_digest(sent, expected)):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return caller
