"""The dashboard's Budgets pages: the list (``/budgets``), one budget (``/budgets/{name}``) with
its projection and charts, and for the ``finance`` and ``admin`` roles the forms that add
(``/budgets/new``), change (``POST /budgets/{name}/edit``) and remove
(``POST /budgets/{name}/delete``) a budget.

Each page has its ``.json`` twin. A member sees only their teams' budgets: another team's budget
answers 404 exactly as ``GET /v1/budgets/{name}`` does. The forms post with the session's CSRF
token (field ``csrf``); from any other role they answer 403, and they are not shown to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from costcouncil.api.auth import Caller
from costcouncil.api.budgets_api import EDITORS
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.api.web import budget_charts, budget_forms, budget_view, charts
from costcouncil.api.web.panels import Panel
from costcouncil.api.web.templating import form_caller, render, signed_in
from costcouncil.budgets import METRICS
from costcouncil.workspace.budgets.service import BudgetService
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.figures.freshness import freshness

BudgetsOf = Callable[[], BudgetService]


def install(app: FastAPI, served: Served, budgets_of: BudgetsOf) -> None:
    """Add the budget pages, their twins and their forms to ``app``."""
    _install_forms(app, served, budgets_of)  # before /budgets/{name}: "new" is no budget
    _install_pages(app, served, budgets_of)


def _store(served: Served) -> BudgetStore:
    return BudgetStore(served.database())


def _twin(served: Served, caller: Caller, body: dict[str, Any]) -> Response:
    return json({**body, "freshness": freshness(served.store, served.today(), caller.teams)})


def _install_pages(app: FastAPI, served: Served, budgets_of: BudgetsOf) -> None:
    def listing(caller: Caller) -> dict[str, Any]:
        found = _store(served).budgets(caller.teams)
        return budget_view.listing(budgets_of(), found, caller.teams)

    def one(name: str, caller: Caller) -> dict[str, Any]:
        return budget_view.detail(budgets_of(), _store(served).budget(name, caller.teams))

    @app.get("/budgets.json", include_in_schema=False)
    def budgets_json(request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, listing(caller))

    @app.get("/budgets", include_in_schema=False)
    def budgets_page(request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        return render(request, served, caller, "budgets", listing(caller), {},
                      editor=_may_edit(caller))  # fmt: skip

    @app.get("/budgets/{name}.json", include_in_schema=False)
    def budget_json(name: str, request: Request) -> Response:
        caller = served.reader(request)
        return _twin(served, caller, one(name, caller))

    @app.get("/budgets/{name}", include_in_schema=False)
    def budget_page(name: str, request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        data = one(name, caller)
        return render(request, served, caller, "budgets", data, _charts(data), template="budget",
                      json_link=f"/budgets/{quote(name, safe='')}.json", editor=_may_edit(caller),
                      thresholds=budget_forms.thresholds_text(data["thresholds"]))  # fmt: skip


def _install_forms(app: FastAPI, served: Served, budgets_of: BudgetsOf) -> None:
    workspace = served.live.workspace

    @app.get("/budgets/new", include_in_schema=False)
    def new_page(request: Request) -> Response:
        caller = signed_in(served, request)
        if isinstance(caller, Response):
            return caller
        if not _may_edit(caller):
            raise HTTPException(403, "adding budgets needs the finance or admin role")
        return render(request, served, caller, "budgets", {}, {}, template="budget_new",
                      json_link=None, metrics=METRICS, periods=budget_forms.FORM_PERIODS,
                      currency=workspace.config.currency)  # fmt: skip

    @app.post("/budgets/new", include_in_schema=False)
    async def add(request: Request) -> Response:
        caller, form = await _posted(served, request)
        budget = budget_forms.new_budget(form, workspace.config.currency)
        _store(served).save(workspace, budget, actor=caller.principal.email)
        budgets_of().refresh()
        return RedirectResponse(_page(budget.name), 303)

    @app.post("/budgets/{name}/edit", include_in_schema=False)
    async def edit(name: str, request: Request) -> Response:
        caller, form = await _posted(served, request)
        store = _store(served)
        wanted = budget_forms.edited(store.budget(name, caller.teams), form)
        store.save(workspace, wanted, actor=caller.principal.email, create=False)
        budgets_of().refresh()
        return RedirectResponse(_page(name), 303)

    @app.post("/budgets/{name}/delete", include_in_schema=False)
    async def delete(name: str, request: Request) -> Response:
        caller, _ = await _posted(served, request)
        _store(served).remove(name, actor=caller.principal.email, visible=caller.teams)
        budgets_of().refresh()
        return RedirectResponse("/budgets", 303)


def _page(name: str) -> str:
    return f"/budgets/{quote(name, safe='')}"


def _may_edit(caller: Caller) -> bool:
    return caller.principal.role in EDITORS


async def _posted(served: Served, request: Request) -> tuple[Caller, dict[str, str]]:
    """The caller of a budget form and its fields: ``costs:read``, the finance or admin role
    and, from a session, the session's CSRF token in the form (an API token needs none)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    caller = form_caller(served, request, form.get("csrf", ""))
    if not _may_edit(caller):
        raise HTTPException(403, "changing budgets needs the finance or admin role")
    return caller, form


def _charts(data: dict[str, Any]) -> dict[str, Panel]:
    current, path = data.get("current"), data.get("path")
    if current is None or path is None:
        none = Panel(empty="No figures: the budget has no period now.")
        return {"history": none, "period": none}
    history = budget_charts.history(data.get("history", []), current, data["currency"])
    out = {"history": Panel(figure=charts.embed(history))}
    if not path["actual"] and not path["projection"]:
        out["period"] = Panel(empty=f"No spend for {data['scope']} in the lake this period yet.")
    else:
        figure = budget_charts.period(path, current, data["currency"])
        out["period"] = Panel(figure=charts.embed(figure))
    return out
