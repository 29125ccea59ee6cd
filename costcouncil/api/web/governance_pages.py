"""The dashboard's Governance pages: the caller's policy violations (``/governance``, a tab per
state, the open $ at stake by policy, the policies in force) and one violation
(``/governance/{id}``) with its evidence, its history and the forms that move its lifecycle:
acknowledge and resolve (anyone who may see it), grant an exception (``finance`` and ``admin``).

Each page has its ``.json`` twin. A member sees only the violations their teams own: another
team's answers 404 exactly as ``GET /v1/violations/{id}`` does. The forms post with the session's
CSRF token (field ``csrf``) and answer with a redirect back to the violation; an exception from
any other role answers 403, and its form is not shown to them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from costcouncil.api.auth import Caller
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.api.web import governance_view
from costcouncil.api.web.templating import form_caller, render, signed_in
from costcouncil.workspace.figures.freshness import freshness
from costcouncil.workspace.policy.store import APPROVERS, ViolationInfo, Violations, through

__all__ = ["install"]

_NOTE = 2000


def install(app: FastAPI, served: Served) -> None:
    """Add the governance pages, their twins and their forms to ``app``."""
    _install_list(app, served)
    _install_detail(app, served)
    _install_forms(app, served)


def _store(served: Served) -> Violations:
    return Violations(served.database())


def _twin(served: Served, caller: Caller, body: dict[str, Any]) -> Response:
    return json({**body, "freshness": freshness(served.store, served.today(), caller.teams)})


def _install_list(app: FastAPI, served: Served) -> None:
    workspace = served.live.workspace

    def listing(request: Request, caller: Caller) -> dict[str, Any]:
        shown = governance_view.Listed.read(dict(request.query_params))
        return governance_view.listing(_store(served), workspace, caller.teams, shown)

    @app.get("/governance.json", include_in_schema=False)
    def governance_json(request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, listing(request, caller))

    @app.get("/governance", include_in_schema=False)
    def governance_page(request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        return render(request, served, caller, "governance", listing(request, caller), {})


def _install_detail(app: FastAPI, served: Served) -> None:
    def one(violation_id: str, caller: Caller) -> dict[str, Any]:
        store = _store(served)
        return governance_view.detail(store, _violation(store, violation_id, caller))

    @app.get("/governance/{violation_id}.json", include_in_schema=False)
    def violation_json(violation_id: str, request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, one(violation_id, caller))

    @app.get("/governance/{violation_id}", include_in_schema=False)
    def violation_page(violation_id: str, request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        data = one(violation_id, caller)
        return render(request, served, caller, "governance", data, {}, template="violation",
                      json_link=f"/governance/{data['violation']['id']}.json",
                      approver=caller.principal.role in APPROVERS)  # fmt: skip


def _install_forms(app: FastAPI, served: Served) -> None:
    @app.post("/governance/{violation_id}/acknowledge", include_in_schema=False)
    def acknowledge(
        violation_id: str,
        request: Request,
        note: str = Form("", max_length=_NOTE),
        csrf: str = Form(""),
    ) -> Response:
        return _move(served, request, violation_id, csrf, "acknowledge", note)

    @app.post("/governance/{violation_id}/resolve", include_in_schema=False)
    def resolve(
        violation_id: str,
        request: Request,
        note: str = Form("", max_length=_NOTE),
        csrf: str = Form(""),
    ) -> Response:
        return _move(served, request, violation_id, csrf, "resolve", note)

    @app.post("/governance/{violation_id}/exception", include_in_schema=False)
    def exception(
        violation_id: str,
        request: Request,
        justification: str = Form("", max_length=_NOTE),
        until: str = Form("", max_length=40),
        csrf: str = Form(""),
    ) -> Response:
        caller = form_caller(served, request, csrf)
        role = caller.principal.role
        if role not in APPROVERS:
            raise HTTPException(403, f"an exception needs the {' or '.join(APPROVERS)} role")
        store = _store(served)
        info = _violation(store, violation_id, caller)
        last = through(governance_view.read_until(until))
        store.grant_exception(info.id, caller.principal.email, justification, last, role=role,
                              visible=caller.teams)  # fmt: skip
        return _back(info)


def _move(served: Served, request: Request, violation_id: str, csrf: str, action: str,
          note: str) -> Response:  # fmt: skip
    """Acknowledge or resolve the violation the caller may see, then back to its history."""
    caller = form_caller(served, request, csrf)
    store = _store(served)
    info = _violation(store, violation_id, caller)
    move = store.acknowledge if action == "acknowledge" else store.resolve
    move(info.id, caller.principal.email, note, visible=caller.teams)
    return _back(info)


def _back(info: ViolationInfo) -> Response:
    return RedirectResponse(f"/governance/{info.id}#history", 303)


def _violation(store: Violations, text: str, caller: Caller) -> ViolationInfo:
    """The violation the caller may see, or 404 as if it did not exist."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) < 2**63:
        raise HTTPException(404, f"no violation {text}")
    return store.get(int(text), caller.teams)
