"""Governance over a real server: members see only their teams' violations, exceptions need the
finance or admin role, acknowledge and resolve move the lifecycle, ``policies.yaml`` is served
parsed, and ``POST /v1/policy/check`` allows or denies a job or route (denials audited; an
experiment's cap is judged with its spend from the lake)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from costcouncil.appdb.models import AuditEvent
from costcouncil.policy import Violation
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.policy.store import Violations
from tests.api.server import Server
from tests.web.conftest import bearer, token_for
from tests.web.org import build_org

POLICIES = """\
version: 1
policies:
  - name: prod-gpus
    kind: allowed_instances
    enforce: true
    params: {environments: {prod: ["p4d.*"]}}
  - name: tags
    kind: required_tags
    params: {keys: [team, project]}
  - name: experiments
    kind: experiment_cap
    enforce: true
    params: {key: project, experiments: [{match: detector, cap: 50}]}
"""
JOB = {"keys": {"team": "search", "project": "ranking"}, "environment": "prod",
       "instance_type": "p4d.24xlarge", "gpus": 8, "hours": 12}  # fmt: skip


def breach(subject: str, owner: str, at_stake: str) -> Violation:
    return Violation("prod-gpus", "allowed_instances", "critical", subject, owner,
                     Decimal(at_stake), {"jobs": ["j1"]}, date(2026, 10, 1), date(2026, 10, 3))  # fmt: skip


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Workspace, dict[str, int]]]:
    ws = build_org(tmp_path_factory.mktemp("policy"))
    (ws.root / "policies.yaml").write_text(POLICIES)
    store = Violations.open(ws)
    at = datetime.now(UTC) - timedelta(hours=1)
    changes = store.record([breach("resource=i-web", "vision", "60"), breach("resource=bucket-1", "search", "42")],
                           at=at, currency="USD")  # fmt: skip
    store.close()
    ids = {c.key.split("=")[1]: c.violation_id for c in changes}
    running = Server(ws.root, env={"COSTCOUNCIL_REFRESH_SECONDS": "0"}).start()  # no refresh
    yield running, ws, ids
    running.stop()


def clients(server: Server, ws: Workspace) -> dict[str, httpx.Client]:
    emails = {"finance": "finance@example.com", "member": "vision@example.com",
              "viewer": "viewer@example.com", "admin": "admin@example.com"}  # fmt: skip
    return {k: bearer(server.url, token_for(ws, e, f"policy-{k}")) for k, e in emails.items()}


def audit(ws: Workspace, prefix: str) -> list[AuditEvent]:
    store = Violations.open(ws)
    try:
        with store.session() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%"))))
    finally:
        store.close()


def test_members_see_only_their_teams_violations(
    setup: tuple[Server, Workspace, dict[str, int]],
) -> None:
    server, ws, ids = setup
    c = clients(server, ws)
    every = c["finance"].get("/v1/violations").json()["violations"]
    assert [(v["subject"], v["team"], v["at_stake"]) for v in every] == [
        ("resource=i-web", "vision", "60.00"), ("resource=bucket-1", "search", "42.00")]  # fmt: skip
    mine = c["member"].get("/v1/violations").json()["violations"]
    assert [v["id"] for v in mine] == [ids["i-web"]]
    assert c["member"].get(f"/v1/violations/{ids['bucket-1']}").status_code == 404
    assert (
        c["member"].post(f"/v1/violations/{ids['bucket-1']}/acknowledge", json={}).status_code
        == 404
    )
    shown = c["member"].get(f"/v1/violations/{ids['i-web']}").json()
    assert (shown["state"], shown["evidence"], shown["first_day"]) == (
        "open",
        {"jobs": ["j1"]},
        "2026-10-01",
    )
    assert c["viewer"].get("/v1/violations", params={"state": "closed"}).status_code == 422
    assert httpx.get(f"{server.url}/v1/violations").status_code == 401


def test_an_exception_needs_finance_or_admin(
    setup: tuple[Server, Workspace, dict[str, int]],
) -> None:
    server, ws, ids = setup
    c = clients(server, ws)
    vid, later = ids["i-web"], (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    body = {"justification": "benchmark on p5 agreed with platform", "until": later}
    assert (
        c["member"]
        .post(f"/v1/violations/{vid}/acknowledge", json={"note": "on it"})
        .json()["state"]
        == "acknowledged"
    )
    refused = c["member"].post(f"/v1/violations/{vid}/exception", json=body)
    assert refused.status_code == 403 and "finance or admin" in refused.json()["error"]["message"]
    past = c["finance"].post(f"/v1/violations/{vid}/exception", json=body | {"until": "2020-01-01"})
    assert past.status_code == 422 and "future" in past.text
    assert (
        c["finance"]
        .post(f"/v1/violations/{vid}/exception", json=body | {"justification": ""})
        .status_code
        == 422
    )
    granted = c["finance"].post(f"/v1/violations/{vid}/exception", json=body).json()
    assert (granted["state"], granted["state_by"], granted["exception_until"][:10]) == (
        "exception",
        "finance@example.com",
        (date.fromisoformat(later) + timedelta(days=1)).isoformat(),
    )
    resolved = (
        c["admin"].post(f"/v1/violations/{vid}/resolve", json={"note": "moved to p4d"}).json()
    )
    assert (resolved["state"], resolved["note"]) == ("resolved", "moved to p4d")
    again = c["admin"].post(f"/v1/violations/{vid}/resolve", json={})
    assert again.status_code == 422 and "is resolved" in again.text
    actions = [(e.actor, e.action) for e in audit(ws, "violation.")]
    assert actions[-3:] == [("vision@example.com", "violation.acknowledge"),
                            ("finance@example.com", "violation.exception"),
                            ("admin@example.com", "violation.resolve")]  # fmt: skip


def test_the_policies_are_served_parsed(setup: tuple[Server, Workspace, dict[str, int]]) -> None:
    server, ws, _ = setup
    shown = clients(server, ws)["viewer"].get("/v1/policies").json()["policies"]
    assert [(p["name"], p["kind"], p["enforce"]) for p in shown] == [
        ("prod-gpus", "allowed_instances", True), ("tags", "required_tags", False),
        ("experiments", "experiment_cap", True)]  # fmt: skip
    assert shown[0]["params"]["environments"] == {"prod": ["p4d.*"]}
    assert shown[2]["params"]["experiments"] == [{"match": "detector", "cap": "50", "ends": None}]


def test_check_allows_and_denies_jobs_and_routes(
    setup: tuple[Server, Workspace, dict[str, int]],
) -> None:
    server, ws, _ = setup
    c = clients(server, ws)
    ok = c["viewer"].post("/v1/policy/check", json={"job": JOB}).json()
    assert ok == {"allow": True, "findings": []}
    wrong = (
        c["member"]
        .post(
            "/v1/policy/check",
            json={"job": JOB | {"instance_type": "g5.48xlarge", "keys": {"team": "search"}}},
        )
        .json()
    )
    assert wrong["allow"] is False
    assert [(f["policy"], f["allow"]) for f in wrong["findings"]] == [
        ("prod-gpus", False),
        ("tags", True),
    ]
    assert "g5.48xlarge is not allowed in prod" in wrong["findings"][0]["reason"]
    assert "owner keys missing: project" in wrong["findings"][1]["reason"]
    capped = (
        c["member"]
        .post(
            "/v1/policy/check",
            json={"job": JOB | {"keys": {"team": "vision", "project": "detector"}}},
        )
        .json()
    )
    assert capped["allow"] is False and "passes its cap 50" in capped["findings"][0]["reason"]
    spent = Decimal(capped["findings"][0]["reason"].split("spent ")[1].split(" ")[0])
    assert spent > 50  # the detector project's lake spend, not 0
    route = {
        "keys": {"team": "search", "project": "ranking"},
        "environment": "prod",
        "model": "gpt-4o",
    }
    assert c["member"].post("/v1/policy/check", json={"route": route}).json()["allow"] is True
    both = c["member"].post("/v1/policy/check", json={"job": JOB, "route": route})
    assert both.status_code == 422 and "one of them" in both.text
    assert c["member"].post("/v1/policy/check", json={}).status_code == 422
    denials = audit(ws, "policy.deny.")
    assert [(d.actor, d.action, d.target) for d in denials] == [
        ("vision@example.com", "policy.deny.job", "prod-gpus"),
        ("vision@example.com", "policy.deny.job", "experiments")]  # fmt: skip
