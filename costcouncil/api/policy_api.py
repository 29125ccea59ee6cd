"""``/v1`` governance: the policies of ``policies.yaml``, their violations and their lifecycle, and
the shift-left check.

Anyone with ``costs:read`` reads the policies and the violations; a ``member`` sees only the
violations their teams own (another team's answers 404, as one that does not exist).
Acknowledging and resolving need ``costs:read`` (and, from a browser session, its CSRF token); an
exception is approved only by the ``finance`` and ``admin`` roles (403 otherwise).
``POST /v1/policy/check`` takes a planned job or LLM route (``events:write`` or ``costs:read``)
and answers ``{"allow", "findings"}``; a denial is an answer (200), and it is audited.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from costcouncil.api.auth import READ, Caller
from costcouncil.api.figures_api import json
from costcouncil.api.served import Served
from costcouncil.appdb.policies import VIOLATION_STATES
from costcouncil.policy import CheckResult, PlannedJob, PlannedRoute
from costcouncil.policy.violation import plain
from costcouncil.workspace.policy.run import check_plan, read_policies
from costcouncil.workspace.policy.store import APPROVERS, Violations, through

__all__ = ["CheckBody", "JobBody", "RouteBody", "check_answer", "router"]

WRITE = "events:write"
ViolationId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Keys = Annotated[
    dict[str, Annotated[str, Field(max_length=400)]],
    Field(default_factory=dict, description="owner keys: team, project, feature, …"),
]
Price = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=10)]


class JobBody(BaseModel):
    """A GPU job about to run."""

    keys: Keys
    environment: str = Field(max_length=200)
    instance_type: str = Field(max_length=200)
    gpus: int = Field(ge=0, le=100_000)
    hours: float = Field(ge=0, le=1_000_000, allow_inf_nan=False)
    hourly_price: Price | None = Field(default=None, description="per GPU-hour")

    def planned(self) -> PlannedJob:
        return PlannedJob(dict(self.keys), self.environment, self.instance_type, self.gpus,
                          self.hours, self.hourly_price)  # fmt: skip


class RouteBody(BaseModel):
    """An LLM route about to go live."""

    keys: Keys
    environment: str = Field(max_length=200)
    model: str = Field(max_length=200)
    expected_requests: int | None = Field(default=None, ge=0, le=10**15)
    expected_tokens: int | None = Field(default=None, ge=0, le=10**15)
    cost_per_1m_tokens: Price | None = None

    def planned(self) -> PlannedRoute:
        return PlannedRoute(dict(self.keys), self.environment, self.model, self.expected_requests,
                            self.expected_tokens, self.cost_per_1m_tokens)  # fmt: skip


class CheckBody(BaseModel):
    """A plan to check: a ``job`` or a ``route``, not both."""

    job: JobBody | None = None
    route: RouteBody | None = None

    @model_validator(mode="after")
    def _one(self) -> CheckBody:
        if (self.job is None) == (self.route is None):
            raise ValueError("give a job or a route (one of them)")
        return self

    def planned(self) -> PlannedJob | PlannedRoute:
        if self.job is not None:
            return self.job.planned()
        assert self.route is not None  # the validator saw one of them
        return self.route.planned()


class Note(BaseModel):
    note: str = Field(default="", max_length=2000)


class ExceptionBody(BaseModel):
    justification: str = Field(min_length=1, max_length=2000, description="why it is accepted")
    until: date = Field(description="the last day the exception holds (UTC)")


def check_answer(result: CheckResult) -> dict[str, Any]:
    """The answer to a check as JSON-ready data."""
    return {"allow": result.allow, "findings": [asdict(f) for f in result.findings]}


def router(served: Served) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["governance"])
    workspace = served.live.workspace

    def violations() -> Violations:
        return Violations(served.database())

    def checker(request: Request) -> Caller:
        caller = served.guard.resolve(request)
        scope = WRITE if caller is not None and caller.principal.may(WRITE) else READ
        return served.guard.require(request, scope, caller)

    @api.get("/policies", summary="The policies of policies.yaml")
    def policies(request: Request) -> Response:
        served.reader(request)
        return json({"policies": [plain(asdict(p)) for p in read_policies(workspace)]})

    @api.get("/violations", summary="Policy violations, the most money at stake first")
    def listed(
        request: Request,
        state: Annotated[str | None, Query(description=", ".join(VIOLATION_STATES))] = None,
        policy: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        caller = served.reader(request)
        found = violations().list(caller.teams, state=state, policy=policy, limit=limit)
        return json({"violations": [v.as_dict() for v in found]})

    @api.get("/violations/{violation_id}", summary="One violation with its evidence")
    def one(violation_id: ViolationId, request: Request) -> Response:
        caller = served.reader(request)
        return json(violations().get(violation_id, caller.teams).as_dict())

    @api.post("/violations/{violation_id}/acknowledge", summary="Acknowledge an open violation")
    def acknowledge(violation_id: ViolationId, body: Note, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        done = violations().acknowledge(violation_id, caller.principal.email, body.note,
                                        visible=caller.teams)  # fmt: skip
        return json(done.as_dict())

    @api.post("/violations/{violation_id}/exception", summary="Accept a violation until a day")
    def exception(violation_id: ViolationId, body: ExceptionBody, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        role = caller.principal.role
        if role not in APPROVERS:
            raise HTTPException(403, f"an exception needs the {' or '.join(APPROVERS)} role")
        done = violations().grant_exception(
            violation_id, caller.principal.email, body.justification, through(body.until),
            role=role, visible=caller.teams, at=datetime.now(UTC),
        )  # fmt: skip
        return json(done.as_dict())

    @api.post("/violations/{violation_id}/resolve", summary="Resolve a violation")
    def resolve(violation_id: ViolationId, body: Note, request: Request) -> Response:
        caller = served.guard.require(request, READ)
        done = violations().resolve(violation_id, caller.principal.email, body.note,
                                    visible=caller.teams)  # fmt: skip
        return json(done.as_dict())

    @api.post("/policy/check", summary="Would the policies allow this job or route?")
    def check(body: CheckBody, request: Request) -> Response:
        caller = checker(request)
        result = check_plan(workspace, violations(), body.planned(), today=served.today(),
                            actor=caller.principal.email)  # fmt: skip
        return json(check_answer(result))

    return api
