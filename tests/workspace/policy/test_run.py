"""Evaluation runs over hand-built input tables: violations recorded with their owner and $, a
second run resolving the one that was fixed, a real webhook peer hearing of a new violation once
(and of its resolution), ``policies.yaml`` read from the workspace root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from costcouncil.errors import ConfigError
from costcouncil.policy import BUDGETS_SCHEMA, LLM_SCHEMA, Inputs, parse_policies
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.notify.subscriptions import Subscriptions
from costcouncil.workspace.policy.run import (
    as_of_day,
    evaluate_inputs,
    evaluate_workspace,
    read_policies,
)
from costcouncil.workspace.policy.store import Violations
from costcouncil.workspace.refresh.run import refresh
from tests.web.org import build_org
from tests.workspace.notify.factories import SECRET
from tests.workspace.notify.org import receiver
from tests.workspace.notify.peers import HttpPeer, http_peer

AS_OF = date(2026, 3, 2)
AT = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
POLICIES = """\
version: 1
policies:
  - name: prod-models
    kind: allowed_models
    severity: critical
    params: {environments: {prod: [gpt-4o-mini]}}
  - name: overruns
    kind: budget_overrun
"""


def llm() -> pa.Table:
    row = {"day": AS_OF, "team": "vision", "project": "det", "feature": "chat", "model": "gpt-4o",
           "environment": "prod", "requests": 1000, "input_tokens": 10**6, "output_tokens": 10**5,
           "cost": Decimal("120.50")}  # fmt: skip
    return pa.Table.from_pylist([row], schema=LLM_SCHEMA)


def budgets(spent: str) -> pa.Table:
    row = {"name": "research", "team": "search", "owner": "sam@example.com",
           "amount": Decimal(100), "spent": Decimal(spent), "projected": None,
           "window_start": date(2026, 3, 1), "window_end": date(2026, 4, 1)}  # fmt: skip
    return pa.Table.from_pylist([row], schema=BUDGETS_SCHEMA)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws")


@pytest.fixture
def store(ws: Workspace) -> Iterator[Violations]:
    opened = Violations.open(ws)
    yield opened
    opened.close()


@pytest.fixture
def peer(store: Violations) -> Iterator[HttpPeer]:
    with http_peer(receiver) as running:
        channel = {"kind": "webhook", "url": f"{running.url}/hook", "secret": SECRET}
        Subscriptions(store.db).add("governance", channel=channel)
        yield running


def heard(peer: HttpPeer) -> list[tuple[str, str, str, str]]:
    """(type, scope, impact, link path) of every message the peer received."""
    out = []
    for r in peer.received:
        body = json.loads(r.body)
        alert = body["alert"]
        out.append((body["type"], alert["scope"], alert["impact"], alert["link"].split("/", 3)[3]))
    return out


def test_violations_are_recorded_told_once_and_the_fixed_one_resolved(
    ws: Workspace, store: Violations, peer: HttpPeer
) -> None:
    policies = parse_policies(POLICIES, "policies.yaml")
    first = evaluate_inputs(ws, store, policies, Inputs(llm=llm(), budgets=budgets("150")),
                            as_of=AS_OF, at=AT)  # fmt: skip
    assert (first.policies, first.count("new"), first.notified) == (2, 2, 2)
    shown = {v.policy: v for v in store.list()}
    model, budget = shown["prod-models"], shown["overruns"]
    assert (model.team, model.at_stake, model.severity, model.state) == (
        "vision",
        Decimal("120.50"),
        "critical",
        "open",
    )
    assert (budget.team, budget.at_stake, budget.subject) == (
        "search",
        Decimal("50.00"),
        "budget=research,window=2026-03-01",
    )
    assert sorted(heard(peer)) == sorted([
        ("policy.new", model.subject, "120.50", f"governance/{model.id}"),
        ("policy.new", budget.subject, "50.00", f"governance/{budget.id}"),
    ])  # fmt: skip
    again = evaluate_inputs(ws, store, policies, Inputs(llm=llm(), budgets=budgets("150")),
                            as_of=AS_OF, at=AT + timedelta(days=1))  # fmt: skip
    assert again.count("same") == 2 and len(peer.received) == 2  # heard once
    fixed = evaluate_inputs(ws, store, policies, Inputs(llm=llm(), budgets=budgets("90")),
                            as_of=AS_OF, at=AT + timedelta(days=2))  # fmt: skip
    assert [(c.key, c.kind) for c in fixed.changes if c.kind != "same"] == [
        (budget.key, "resolved")
    ]
    assert store.get(budget.id).state == "resolved" and store.get(model.id).state == "open"
    assert heard(peer)[-1][0] == "policy.resolved" and len(peer.received) == 3


def test_a_grown_violation_is_told_again(ws: Workspace, store: Violations, peer: HttpPeer) -> None:
    policies = parse_policies(POLICIES, "policies.yaml")
    evaluate_inputs(ws, store, policies, Inputs(budgets=budgets("150")), as_of=AS_OF, at=AT)
    grown = evaluate_inputs(ws, store, policies, Inputs(budgets=budgets("400")), as_of=AS_OF,
                            at=AT + timedelta(days=1))  # fmt: skip
    assert grown.count("grew") == 1
    assert [(t, impact) for t, _, impact, _ in heard(peer)] == [
        ("policy.new", "50.00"),
        ("policy.updated", "300.00"),
    ]
    body = json.loads(peer.received[-1].body)["alert"]
    assert body["kind"] == "policy" and body["title"] == "overruns (budget_overrun) breached"
    assert body["lines"][0] == "owner: search; severity warning; 2026-03-01 to 2026-03-02"


def test_policies_yaml_is_read_from_the_workspace_root(ws: Workspace, store: Violations) -> None:
    assert read_policies(ws) == []
    policies = parse_policies(POLICIES, "policies.yaml")
    evaluate_inputs(ws, store, policies, Inputs(budgets=budgets("150")), as_of=AS_OF, at=AT)
    gone = evaluate_workspace(ws, store, as_of=AS_OF, at=AT + timedelta(days=1))
    assert (gone.policies, gone.count("resolved")) == (0, 1)  # no policies.yaml: no policies
    (ws.root / "policies.yaml").write_text(
        POLICIES.replace("budget_overrun", "budget_overrun\n    severty: info")
    )
    with pytest.raises(
        ConfigError,
        match=r"policies.yaml:9: policies\[1\].severty: unknown key.*did you mean 'severity'",
    ):
        read_policies(ws)
    (ws.root / "policies.yaml").write_text(
        POLICIES.replace("kind: allowed_models", "kind: allowed_models\n    scope: teem=x")
    )
    with pytest.raises(ConfigError, match="teem"):
        read_policies(ws)


def test_the_default_day_is_the_clock_s_without_cost(ws: Workspace) -> None:
    assert as_of_day(ws, AT) == date(2026, 3, 3)


def test_the_refresh_after_allocate_evaluates_the_workspace_s_policies(tmp_path: Path) -> None:
    org = build_org(tmp_path)
    (org.root / "policies.yaml").write_text(
        "version: 1\npolicies:\n  - {name: tags, kind: required_tags}\n"
    )
    done = refresh(org, now=AT)
    assert "policies" not in done.failures and done.policies is not None
    assert done.policies.as_of == as_of_day(org, AT) and done.policies.found
    assert done.as_dict()["violations_new"] == len(done.policies.found)
    store = Violations.open(org)
    try:
        assert {v.policy for v in store.list(state="open")} == {"tags"}
    finally:
        store.close()
