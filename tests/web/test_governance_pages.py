"""The dashboard's Governance pages on a real server whose clock stands at 2026-10-04 (no refresh,
so no evaluation moves the violations recorded here): the list with its state tabs, the open
summary and the policies in force; one violation with its evidence (a hostile key and value
escaped) and its history; the acknowledge, resolve and exception forms (CSRF token required,
exceptions only from finance and admin, whose form nobody else is shown); a member who sees only
their team's violations and gets 404 for another team's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.api.web import governance_view
from costcouncil.policy import Violation
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.policy.store import ViolationInfo, Violations
from tests.api.server import Server
from tests.clock import frozen_clock_env
from tests.web.conftest import csrf_of, sign_in
from tests.web.org import HOSTILE, build_org

NOW = "2026-10-04 12:00:00"
FOUND_AT = datetime(2026, 10, 3, 12, tzinfo=UTC)
POLICIES = f"""\
version: 1
policies:
  - name: prod-gpus
    kind: allowed_instances
    enforce: true
    severity: critical
    params: {{environments: {{prod: ["p4d.*"]}}}}
  - name: tags
    kind: required_tags
    scope: team=vision
    description: "{HOSTILE}"
    params: {{keys: [team, project]}}
"""
HOSTILE_KEY = "<img src=x onerror=alert(2)>"
#: Subject → (policy, owner, $ at stake, evidence).
BREACHES = {
    "resource=i-web": ("prod-gpus", "vision", "60",
                       {"resource_id": "i-web", "environment": "prod", "jobs": ["j1", "j2"],
                        "job_count": 2, "cost": "60.000000000000"}),
    "resource=bucket-1": ("prod-gpus", "search", "42", {"resource_id": "bucket-1", "jobs": []}),
    "team=vision": ("tags", "vision", "15.5",
                    {HOSTILE_KEY: [HOSTILE, "plain"], "missing": {"project": HOSTILE},
                     "coverage": 80.5}),
    "resource=i-ack": ("prod-gpus", "vision", "7", {"resource_id": "i-ack"}),
    "resource=i-exc": ("prod-gpus", "vision", "8", {"resource_id": "i-exc"}),
    "resource=i-browser": ("prod-gpus", "vision", "9", {"resource_id": "i-browser"}),
    "resource=i-grant": ("prod-gpus", "vision", "10", {"resource_id": "i-grant"}),
    "resource=i-csrf": ("prod-gpus", "vision", "3", {"resource_id": "i-csrf"}),
}  # fmt: skip
ROW = re.compile(r'<tr data-violation="(\d+)" data-state="(\w+)">')
FORMS = re.compile(r'<form[^>]*id="(\w+)-form"')


@dataclass(frozen=True)
class Governed:
    server: Server
    ws: Workspace
    ids: dict[str, int]


def breach(subject: str) -> Violation:
    policy, owner, at_stake, evidence = BREACHES[subject]
    kind = "required_tags" if policy == "tags" else "allowed_instances"
    return Violation(policy, kind, "critical", subject, owner, Decimal(at_stake), evidence,
                     date(2026, 10, 1), date(2026, 10, 3))  # fmt: skip


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    ws = build_org(tmp_path_factory.mktemp("governance-pages"))
    (ws.root / "policies.yaml").write_text(POLICIES)
    store = Violations.open(ws)
    changes = store.record([breach(s) for s in BREACHES], at=FOUND_AT, currency="USD")
    store.close()
    env = frozen_clock_env(NOW) | {"COSTCOUNCIL_REFRESH_SECONDS": "0"}  # nothing re-evaluates
    running = Server(ws.root, env=env).start()
    yield Governed(running, ws, {c.key.split(":", 1)[1]: c.violation_id for c in changes})
    running.stop()


@pytest.fixture(scope="module")
def finance(governed: Governed) -> Iterator[httpx.Client]:
    with closing(sign_in(governed.server.url, "finance@example.com")) as client:
        yield client


@pytest.fixture(scope="module")
def member(governed: Governed) -> Iterator[httpx.Client]:
    with closing(sign_in(governed.server.url, "vision@example.com")) as client:
        yield client


@pytest.fixture(scope="module")
def viewer(governed: Governed) -> Iterator[httpx.Client]:
    with closing(sign_in(governed.server.url, "viewer@example.com")) as client:
        yield client


def _html(client: httpx.Client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def _state(client: httpx.Client, vid: int) -> str:
    state: str = client.get(f"/governance/{vid}.json").json()["violation"]["state"]
    return state


def test_the_list_shows_the_open_violations_most_money_first(
    governed: Governed, finance: httpx.Client
) -> None:
    body = finance.get("/governance.json").json()
    shown = [(v["subject"], v["team"], v["at_stake"]) for v in body["violations"]]
    assert shown[:3] == [("resource=i-web", "vision", "60.00"),
                         ("resource=bucket-1", "search", "42.00"),
                         ("team=vision", "vision", "15.50")]  # fmt: skip
    assert body["state"] == "open" and {v["state"] for v in body["violations"]} == {"open"}
    page = _html(finance, "/governance")
    rows = ROW.findall(page)
    assert [int(i) for i, _ in rows] == [v["id"] for v in body["violations"]]
    assert 'id="nav-governance"' in page and 'href="/governance?state=resolved"' in page
    assert 'aria-current="page" data-tab="open"' in page


def test_the_summary_sums_the_open_money_by_policy(
    governed: Governed, viewer: httpx.Client
) -> None:
    body = viewer.get("/governance.json").json()
    open_ones = viewer.get("/governance.json", params={"state": "open"}).json()["violations"]
    summary = body["summary"]
    total = sum((Decimal(v["at_stake"]) for v in open_ones), Decimal(0))
    assert (summary["count"], Decimal(summary["at_stake"])) == (len(open_ones), total)
    by = {p["policy"]: Decimal(p["at_stake"]) for p in summary["by_policy"]}
    assert by["tags"] == Decimal("15.5")
    assert by["prod-gpus"] == total - Decimal("15.5")
    page = _html(viewer, "/governance")
    assert f'data-figure="open-at-stake">{total:,.2f} USD<' in page


def test_the_policies_in_force_are_listed_escaped(governed: Governed, viewer: httpx.Client) -> None:
    body = viewer.get("/governance.json").json()
    assert [(p["name"], p["kind"], p["scope"], p["severity"], p["enforce"])
            for p in body["policies"]] == [
        ("prod-gpus", "allowed_instances", "org", "critical", True),
        ("tags", "required_tags", "team=vision", "warning", False),
    ]  # fmt: skip
    page = _html(viewer, "/governance")
    assert '<tr data-policy="prod-gpus">' in page and "denies (enforce)" in page
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_member_sees_only_their_teams_violations(
    governed: Governed, member: httpx.Client
) -> None:
    every = member.get("/governance.json", params={"state": "all"}).json()["violations"]
    assert every and {v["team"] for v in every} == {"vision"}
    other = governed.ids["resource=bucket-1"]
    for path in (f"/governance/{other}", f"/governance/{other}.json"):
        assert member.get(path).status_code == 404
    csrf = csrf_of(member)
    for action in ("acknowledge", "resolve"):
        answer = member.post(f"/governance/{other}/{action}", data={"csrf": csrf})
        assert answer.status_code == 404, answer.text
    assert "bucket-1" not in _html(member, "/governance?state=all")


def test_evidence_is_shown_as_lists_and_escaped(governed: Governed, member: httpx.Client) -> None:
    vid = governed.ids["team=vision"]
    body = member.get(f"/governance/{vid}.json").json()
    assert body["violation"]["evidence"]["missing"] == {"project": HOSTILE}
    page = _html(member, f"/governance/{vid}")
    assert HOSTILE not in page and HOSTILE_KEY not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li><li>plain</li>" in page
    assert "<dt>project</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in page
    jobs = _html(member, f"/governance/{governed.ids['resource=i-web']}")
    assert '<ul class="evidence"><li>j1</li><li>j2</li></ul>' in jobs


def test_a_post_without_the_csrf_token_changes_nothing(
    governed: Governed, member: httpx.Client
) -> None:
    vid = governed.ids["resource=i-csrf"]
    for data in ({}, {"csrf": "forged"}, {"csrf": "é"}):
        answer = member.post(f"/governance/{vid}/acknowledge", data=data)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert _state(member, vid) == "open"


def test_a_member_acknowledges_then_resolves_with_history(
    governed: Governed, member: httpx.Client
) -> None:
    vid, csrf = governed.ids["resource=i-ack"], csrf_of(member)
    page = _html(member, f"/governance/{vid}")
    assert FORMS.findall(page) == ["acknowledge", "resolve"]  # no exception form
    done = member.post(f"/governance/{vid}/acknowledge", data={"csrf": csrf, "note": "on it"})
    assert done.status_code == 303 and done.headers["location"] == f"/governance/{vid}#history"
    assert _state(member, vid) == "acknowledged"
    assert FORMS.findall(_html(member, f"/governance/{vid}")) == ["resolve"]
    again = member.post(f"/governance/{vid}/acknowledge", data={"csrf": csrf})
    assert again.status_code == 422 and "is acknowledged" in again.text
    member.post(f"/governance/{vid}/resolve", data={"csrf": csrf, "note": "moved to p4d"})
    history = member.get(f"/governance/{vid}.json").json()["history"]
    assert [(h["state"], h["by"], h["note"]) for h in history] == [
        ("open", "evaluation", "found by an evaluation"),
        ("acknowledged", "vision@example.com", "on it"),
        ("resolved", "vision@example.com", "moved to p4d"),
    ]
    page = _html(member, f"/governance/{vid}")
    assert FORMS.findall(page) == [] and 'data-change="resolve"' in page
    assert "resolved" in _html(member, "/governance?state=resolved")


def test_finance_grants_an_exception_through_a_day(
    governed: Governed, finance: httpx.Client
) -> None:
    vid, csrf = governed.ids["resource=i-exc"], csrf_of(finance)
    assert FORMS.findall(_html(finance, f"/governance/{vid}")) == [
        "acknowledge", "resolve", "exception"]  # fmt: skip
    form = {"csrf": csrf, "justification": "benchmark agreed with platform"}
    past = finance.post(f"/governance/{vid}/exception", data=form | {"until": "2026-10-01"})
    assert past.status_code == 422 and "future" in past.text  # the server's clock: 2026-10-04
    bad = finance.post(f"/governance/{vid}/exception", data=form | {"until": "31/10/2026"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    empty = finance.post(f"/governance/{vid}/exception", data=form | {"justification": " ",
                                                                      "until": "2026-10-31"})  # fmt: skip
    assert empty.status_code == 422 and "justification" in empty.text
    done = finance.post(f"/governance/{vid}/exception", data=form | {"until": "2026-10-31"})
    assert done.status_code == 303
    shown = finance.get(f"/governance/{vid}.json").json()
    v = shown["violation"]
    assert (v["state"], v["state_by"], v["exception_until"]) == (
        "exception", "finance@example.com", "2026-11-01T00:00:00+00:00")  # fmt: skip
    assert shown["history"][-1]["until"] == "2026-11-01T00:00:00+00:00"
    row = _html(finance, "/governance?state=exception")
    assert "until 2026-11-01 00:00 UTC, approved by finance@example.com" in row


def test_only_finance_and_admin_see_or_post_the_exception_form(
    governed: Governed, member: httpx.Client, viewer: httpx.Client
) -> None:
    vid = governed.ids["resource=i-grant"]
    form = {"justification": "why not", "until": "2026-10-31"}
    for client in (member, viewer):
        assert "exception-form" not in _html(client, f"/governance/{vid}")
        answer = client.post(f"/governance/{vid}/exception", data=form | {"csrf": csrf_of(client)})
        assert answer.status_code == 403 and "finance or admin" in answer.text
    assert _state(viewer, vid) == "open"


def test_unknown_tabs_and_ids_answer_with_an_error(
    governed: Governed, viewer: httpx.Client
) -> None:
    wrong = viewer.get("/governance.json", params={"state": "closed"})
    assert wrong.status_code == 422 and "acknowledged" in wrong.text
    for path in ("/governance/999999", "/governance/0.json", "/governance/x", "/governance/²"):
        assert viewer.get(path).status_code == 404, path
    assert httpx.get(f"{governed.server.url}/governance.json").status_code == 401
    signed_out = httpx.get(f"{governed.server.url}/governance", follow_redirects=False)
    assert signed_out.status_code == 303 and "/login?next=%2Fgovernance" in signed_out.headers[
        "location"]  # fmt: skip


MONEY = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), MONEY), max_size=20))
def test_the_summary_adds_up(found: list[tuple[str, Decimal]]) -> None:
    infos = [_info(i, policy, at_stake) for i, (policy, at_stake) in enumerate(found)]
    out = governance_view.summary(infos, "USD")
    sums = [Decimal(r["at_stake"]) for r in out["by_policy"]]
    assert (
        sum(sums, Decimal(0)) == Decimal(out["at_stake"]) == sum((a for _, a in found), Decimal(0))
    )
    assert sum(r["count"] for r in out["by_policy"]) == out["count"] == len(found)
    assert sums == sorted(sums, reverse=True)
    assert {r["policy"] for r in out["by_policy"]} == {p for p, _ in found}


def _info(i: int, policy: str, at_stake: Decimal) -> ViolationInfo:
    return ViolationInfo(i + 1, f"{policy}:s{i}", policy, "idle_gpu", "warning", f"s{i}", "t",
                         at_stake, "USD", {}, None, None, "open", "", "evaluation", FOUND_AT,
                         None, FOUND_AT, FOUND_AT)  # fmt: skip


def test_a_broken_policies_yaml_is_shown_with_its_problems(
    governed: Governed, viewer: httpx.Client
) -> None:
    path = governed.ws.root / "policies.yaml"
    path.write_text(POLICIES.replace("kind: required_tags", "kind: required_tag"))
    try:
        body = viewer.get("/governance.json").json()
        page = _html(viewer, "/governance")
    finally:
        path.write_text(POLICIES)
    assert body["policies"] == [] and "did you mean 'required_tags'" in body["policies_error"]
    assert body["violations"] and 'id="policies-error"' in page
    assert "policies.yaml:" in page and "did you mean &#39;required_tags&#39;" in page
