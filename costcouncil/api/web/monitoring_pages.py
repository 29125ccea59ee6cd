"""The dashboard's monitoring pages: Anomalies (the list, one anomaly with its chart, root causes
and feedback buttons) and the Inbox (the caller's notifications, marked read one by one).

Each page has its ``.json`` twin (``/anomalies.json``, ``/anomalies/{id}.json``,
``/inbox.json``). A member sees only their teams' anomalies and notifications: another team's
anomaly answers 404 exactly as ``GET /v1/anomalies/{id}`` does. The forms post with the
session's CSRF token (field ``csrf``) and answer with a redirect back to the page.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from costcouncil.api.auth import Caller
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.api.web import anomaly_view, band_charts, charts
from costcouncil.api.web.panels import Panel
from costcouncil.api.web.templating import form_caller, render, signed_in
from costcouncil.workspace.anomaly.store import AnomalyInfo, Monitoring
from costcouncil.workspace.figures.freshness import freshness
from costcouncil.workspace.notify.subscriptions import Subscriptions


def install(app: FastAPI, served: Served) -> None:
    """Add the anomaly and inbox pages, their twins and their forms to ``app``."""
    _install_anomalies(app, served)
    _install_inbox(app, served)


def _twin(served: Served, caller: Caller, body: dict[str, Any]) -> Response:
    return json({**body, "freshness": freshness(served.store, served.today(), caller.teams)})


def _install_anomalies(app: FastAPI, served: Served) -> None:
    workspace = served.live.workspace

    def listing(request: Request, caller: Caller) -> dict[str, Any]:
        query = request.query_params
        open_only = query.get("open", "") in ("1", "true", "on", "yes")
        return anomaly_view.listing(Monitoring(served.database()), caller.teams,
                                    query.get("monitor") or None, open_only)  # fmt: skip

    def one(anomaly_id: str, caller: Caller) -> dict[str, Any]:
        store = Monitoring(served.database())
        info = _anomaly(store, anomaly_id, caller)
        return anomaly_view.detail(workspace, store, info, caller.teams)

    @app.get("/anomalies.json", include_in_schema=False)
    def anomalies_json(request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, listing(request, caller))

    @app.get("/anomalies", include_in_schema=False)
    def anomalies_page(request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        return render(request, served, caller, "anomalies", listing(request, caller), {},
                      cause_words=anomaly_view.cause_words)  # fmt: skip

    @app.get("/anomalies/{anomaly_id}.json", include_in_schema=False)
    def anomaly_json(anomaly_id: str, request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, one(anomaly_id, caller))

    @app.get("/anomalies/{anomaly_id}", include_in_schema=False)
    def anomaly_page(anomaly_id: str, request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        data = one(anomaly_id, caller)
        return render(request, served, caller, "anomalies", data, {"anomaly": _chart(data)},
                      template="anomaly", json_link=f"/anomalies/{anomaly_id}.json",
                      cause_words=anomaly_view.cause_words, choices=anomaly_view.FEEDBACK)  # fmt: skip

    @app.post("/anomalies/{anomaly_id}/feedback", include_in_schema=False)
    def feedback(
        anomaly_id: str,
        request: Request,
        feedback: str = Form(""),
        note: str = Form("", max_length=2000),
        csrf: str = Form(""),
    ) -> Response:
        caller = form_caller(served, request, csrf)
        store = Monitoring(served.database())
        info = _anomaly(store, anomaly_id, caller)
        store.mark(info.id, feedback, note.strip(), actor=caller.principal.email,
                   visible=caller.teams)  # fmt: skip
        return RedirectResponse(f"/anomalies/{info.id}#feedback", 303)


def _install_inbox(app: FastAPI, served: Served) -> None:
    def inbox(caller: Caller) -> dict[str, Any]:
        subs, user = Subscriptions(served.database()), served.user_id(caller)
        items = [{**i.as_dict(), "anomaly": _anomaly_link(i.alert)}
                 for i in subs.inbox(user or 0, caller.teams)]  # fmt: skip
        return {"unread": subs.unread_count(user or 0, caller.teams), "items": items,
                "per_user": user is not None}  # fmt: skip

    @app.get("/inbox.json", include_in_schema=False)
    def inbox_json(request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, inbox(caller))

    @app.get("/inbox", include_in_schema=False)
    def inbox_page(request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        return render(request, served, caller, "inbox", inbox(caller), {})

    @app.post("/inbox/{item_id}/read", include_in_schema=False)
    def read(item_id: str, request: Request, csrf: str = Form("")) -> Response:
        caller = form_caller(served, request, csrf)
        user = served.user_id(caller)
        if user is None:
            raise HTTPException(409, "read state is kept per user: sign in as a user")
        Subscriptions(served.database()).mark_read(user, _row_id(item_id, "inbox item"),
                                                   visible=caller.teams)  # fmt: skip
        return RedirectResponse("/inbox", 303)


def _anomaly(store: Monitoring, anomaly_id: str, caller: Caller) -> AnomalyInfo:
    """The anomaly the caller may see, or 404 as if it did not exist."""
    return store.anomaly(_row_id(anomaly_id, "anomaly"), caller.teams)


def _row_id(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) < 2**63:
        raise HTTPException(404, f"no {what} {text}")
    return int(text)


def _anomaly_link(alert: str) -> str | None:
    """The page of the anomaly an inbox item tells of (alert ids are ``anomaly-<id>``)."""
    kind, _, number = alert.partition("-")
    return f"/anomalies/{number}" if kind == "anomaly" and number.isdigit() else None


def _chart(data: dict[str, Any]) -> Panel:
    a = data["anomaly"]
    if not data["points"]:
        return Panel(empty=f"No cost series for {a['scope']} around this anomaly: the lake has "
                           "no usage cost for it any more (was it re-allocated?).")  # fmt: skip
    title = f"{a['monitor']}: actual against the expected range"
    window = (data["window"]["start"], data["window"]["end"])
    figure = band_charts.anomaly(data["points"], window, title, a["currency"])
    return Panel(figure=charts.embed(figure))
