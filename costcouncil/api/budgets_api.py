"""``/v1/budgets``: budgets (read by anyone with ``costs:read``, members their teams' only;
changed by the ``finance`` and ``admin`` roles), ``budgets.yaml`` import and export, and the
enforcement calls a gateway makes — ``check``, and reservations that are settled or released.

The enforcement calls need the ``events:write`` scope (the gateway's token posts usage too). A
denial is an answer (200, ``"allow": false``), not an error; a reservation that is unknown is a
404, one that lapsed or was closed already a 409, and nothing is counted twice.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from costcouncil.api.auth import READ, Caller
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.appdb.db import Database
from costcouncil.budgets import (
    DEFAULT_THRESHOLDS,
    Amount,
    Budget,
    Threshold,
    Window,
    dump_budgets,
    parse_budgets,
)
from costcouncil.workspace.budgets.enforce import HoldError, Verdict
from costcouncil.workspace.budgets.service import BudgetService, live_query
from costcouncil.workspace.budgets.store import BudgetStore, encode, known_keys
from costcouncil.workspace.live.service import LiveIngest

WRITE = "events:write"
#: Seconds between the budget thread's rounds (lapsing holds, re-reading spend after a change).
BUDGET_TICK = 5.0
EDITORS = ("admin", "finance")
Name = Annotated[str, Path(min_length=1, max_length=200)]
Hold = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=10)]


class Spend(BaseModel):
    keys: dict[str, str] = Field(default_factory=dict, description="scope keys, e.g. team, model")
    cost: Money = Field(description="estimated cost in the workspace currency")


class Reserve(Spend):
    ttl: float | None = Field(default=None, gt=0, le=86_400, description="seconds (default 300)")


class AmountBody(BaseModel):
    kind: str = Field(description="fixed, plan or auto")
    value: Decimal | None = Field(default=None, description="fixed: the amount")
    plan: dict[str, Decimal] = Field(
        default_factory=dict, description='plan: {"2026-01": 4000, ...}'
    )
    months: int = Field(default=3, ge=1, le=120, description="auto: periods averaged")
    factor: Decimal = Field(default=Decimal(1), description="auto: times this")


class ThresholdBody(BaseModel):
    percent: Decimal = Field(gt=0, le=10_000)
    basis: str = Field(default="actual", description="actual or forecast")


class WindowBody(BaseModel):
    start: date
    end: date


class BudgetBody(BaseModel):
    """A budget (see docs/budgets.md)."""

    name: str = Field(min_length=1, max_length=200)
    scope: str = Field(max_length=400, description="org or KEY=VALUE[,KEY=VALUE]")
    amount: AmountBody
    period: str = Field(default="monthly", description="monthly, quarterly, annual or custom")
    windows: list[WindowBody] = Field(default_factory=list, description="custom periods")
    metric: str = "EffectiveCost"
    thresholds: list[ThresholdBody] | None = Field(
        default=None, description="default 50/80/100 % actual, 100 % forecast"
    )
    hard: bool = False
    owner: str = Field(default="", max_length=320)
    team: str | None = Field(default=None, max_length=200)
    currency: str = Field(default="USD", max_length=3)

    def budget(self) -> Budget:
        a = self.amount
        return Budget(
            name=self.name, scope=self.scope, period=self.period, metric=self.metric,
            amount=Amount(a.kind, a.value, dict(a.plan), a.months, a.factor),
            windows=tuple(Window(w.start, w.end) for w in self.windows),
            thresholds=DEFAULT_THRESHOLDS if self.thresholds is None
            else tuple(Threshold(t.percent, t.basis) for t in self.thresholds),
            hard=self.hard, owner=self.owner, team=self.team, currency=self.currency,
        )  # fmt: skip


class Settle(BaseModel):
    cost: Money = Field(description="the actual cost")
    event: dict[str, Any] | None = Field(
        default=None, description="the call's llm_call usage event: posted once, counted once"
    )


def router(served: Served, budgets_of: Callable[[], BudgetService]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["budgets"])
    workspace = served.live.workspace

    def store() -> BudgetStore:
        return BudgetStore(served.database())

    def service() -> BudgetService:
        return budgets_of()

    def editor(request: Request) -> Caller:
        caller = served.guard.require(request, READ)
        if caller.principal.role not in EDITORS:
            raise HTTPException(403, "changing budgets needs the finance or admin role")
        return caller

    def gateway(request: Request) -> Caller:
        return served.guard.require(request, WRITE)

    @api.get("/budgets", summary="Budgets with their current period's figures")
    def budgets(request: Request) -> Response:
        caller = served.reader(request)
        return json({"budgets": [service().current(b) for b in store().budgets(caller.teams)]})

    @api.get(
        "/budgets/export", summary="Every budget as budgets.yaml", response_class=PlainTextResponse
    )
    def export(request: Request) -> Response:
        caller = served.reader(request)
        return PlainTextResponse(
            dump_budgets(store().budgets(caller.teams)), media_type="application/yaml"
        )

    @api.post(
        "/budgets/import",
        summary="Make the budgets those of a budgets.yaml (dry_run: only the diff)",
    )
    async def import_yaml(request: Request, dry_run: Annotated[bool, Query()] = True) -> Response:
        caller = editor(request)
        text = (await request.body()).decode("utf-8", errors="replace")
        wanted = parse_budgets(text, "budgets.yaml", known_keys=known_keys(workspace))
        changes = store().import_budgets(
            workspace, wanted, dry_run=dry_run, actor=caller.principal.email
        )
        if not dry_run:
            service().refresh()
        return json({"dry_run": dry_run, "changes": [c.__dict__ for c in changes]})

    @api.get("/budgets/{name}", summary="One budget: its current period, status and history")
    def budget(name: Name, request: Request) -> Response:
        caller = served.reader(request)
        found = store().budget(name, caller.teams)
        return json(service().detail(found))

    @api.post("/budgets", summary="Add a budget", status_code=201)
    def add(body: BudgetBody, request: Request) -> Response:
        caller = editor(request)
        added = store().save(workspace, body.budget(), actor=caller.principal.email)
        service().refresh()
        return json(encode(added), 201)

    @api.put("/budgets/{name}", summary="Replace a budget")
    def change(name: Name, body: BudgetBody, request: Request) -> Response:
        caller = editor(request)
        wanted = body.budget()
        if wanted.name != name:
            raise HTTPException(422, f"the body names budget {wanted.name!r}, the path {name!r}")
        saved = store().save(workspace, wanted, actor=caller.principal.email, create=False)
        service().refresh()
        return json(encode(saved))

    @api.delete("/budgets/{name}", summary="Remove a budget")
    def remove(name: Name, caller: Caller = Depends(editor)) -> Response:  # noqa: B008
        store().remove(name, actor=caller.principal.email, visible=caller.teams)
        service().refresh()
        return Response(status_code=204)

    @api.post("/budgets/check", summary="Would this spend be allowed? (nothing is held)")
    async def check(body: Spend, request: Request) -> Response:
        # on the event loop: the ledgers answer from memory; only a denial's audit row waits
        # for the database, in the thread pool
        caller = served.guard.require(request, WRITE)
        verdict = service().enforcer.check(body.keys, body.cost)
        if not verdict.allow:
            await run_in_threadpool(service().audit_deny, verdict, "check", body.keys, body.cost,
                                    caller.principal.email)  # fmt: skip
        return json(_shown(verdict, caller))

    @api.post("/budgets/reservations", summary="Hold an estimated cost until settled or released")
    def reserve(body: Reserve, caller: Caller = Depends(gateway)) -> Response:  # noqa: B008
        verdict = service().enforcer.reserve(
            body.keys, body.cost, ttl=body.ttl, actor=caller.principal.email
        )
        service().audit_deny(verdict, "reserve", body.keys, body.cost, caller.principal.email)
        return json(_shown(verdict, caller), 201 if verdict.allow else 200)

    @api.post(
        "/budgets/reservations/{hold}/settle", summary="Settle a reservation with the actual cost"
    )
    def settle(hold: Hold, body: Settle, caller: Caller = Depends(gateway)) -> Response:  # noqa: B008
        with _closing():
            if body.event is not None:
                served.live.post_events(jsonlib.dumps([body.event]).encode(), "application/json")
            verdict = service().enforcer.settle(hold, body.cost, counted=body.event is not None)
        return json(_shown(verdict, caller))

    @api.post("/budgets/reservations/{hold}/release", summary="Give a reservation back unspent")
    def release(hold: Hold, caller: Caller = Depends(gateway)) -> Response:  # noqa: B008
        with _closing():
            verdict = service().enforcer.release(hold)
        return json(_shown(verdict, caller))

    return api


@contextmanager
def _closing() -> Iterator[None]:
    """Map a closed or lapsed reservation to 409 (an unknown one is the stores' 404)."""
    try:
        yield
    except HoldError as e:
        raise HTTPException(409, str(e)) from e


def _shown(verdict: Verdict, caller: Caller) -> dict[str, Any]:
    """The verdict, each budget's part shown only to who may see that budget."""
    out = verdict.as_dict()
    teams = caller.teams
    if teams is not None:
        out["budgets"] = [b for b in out["budgets"] if b.get("team") in teams]
        left = [Decimal(b["remaining"]) for b in out["budgets"] if b["remaining"] is not None]
        out["remaining"] = str(min(left)) if left else None
    return out


class Budgets:
    """The budget service, opened on first use; with :meth:`start`, a thread that lapses
    overdue holds and re-reads spend when the lake changes (every ``BUDGET_TICK`` seconds)."""

    def __init__(self, live: LiveIngest, database: Callable[[], Database]) -> None:
        self.live, self.database = live, database
        self._service: BudgetService | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self) -> BudgetService:
        with self._lock:
            if self._service is None:
                store = BudgetStore(self.database())
                self._service = BudgetService.open(
                    self.live.workspace, store, live_query(self.live.query)
                )
            return self._service

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="budgets", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(BUDGET_TICK):
            try:
                self.get().tick(self.live.lake_stamp())
            except Exception:
                logging.getLogger(__name__).exception("budget refresh failed")
