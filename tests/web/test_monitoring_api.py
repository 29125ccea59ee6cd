"""``/v1`` monitoring on a real server: anomalies, feedback, forecasts, monitors, annotations,
subscriptions and the inbox — a member never learns of another team's anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from costcouncil.appdb.alerts import Anomaly
from costcouncil.notify.message import Alert
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import refresh_forecasts
from costcouncil.workspace.notify.dispatch import dispatch
from tests.api.server import Server
from tests.web.conftest import bearer, token_for
from tests.web.org import build_org

T0 = datetime(2026, 10, 2, tzinfo=UTC)


def _anomaly(store: Monitoring, monitor: str) -> int:
    info = next(m for m in store.monitors() if m.name == monitor)
    with store.session() as s:
        row = Anomaly(monitor_id=info.id, scope=info.scope, team=info.team, grain="day", start=T0,
                      end=None, actual="90.00", expected="40.00", impact="50.00", impact_pct=125.0,
                      score=8.0, direction="up", currency="USD",
                      causes=[{"cause": "new_resource", "contribution": 50.0, "share": 1.0,
                               "summary": "new resources: i-web +50/day", "evidence": {}}],
                      detected_at=T0, updated_at=T0)  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Workspace, dict[str, int]]]:
    ws = build_org(tmp_path_factory.mktemp("monitoring"))
    store = Monitoring.open(ws)
    for scope in (Scope("team", "vision"), Scope("team", "search"), Scope()):
        store.add_monitor(str(scope), scope)
    ids = {name: _anomaly(store, name) for name in ("team=vision", "team=search", "org")}
    store.close()
    refresh_forecasts(ws, [Scope(), Scope("team", "vision"), Scope("team", "search")])
    running = Server(ws.root).start()
    yield running, ws, ids
    running.stop()


def _clients(server: Server, ws: Workspace) -> tuple[httpx.Client, httpx.Client]:
    admin = bearer(server.url, token_for(ws, "admin@example.com", "monitoring-admin"))
    member = bearer(server.url, token_for(ws, "vision@example.com", "monitoring-member"))
    return admin, member


def test_members_see_only_their_teams_anomalies(setup: tuple[Server, Workspace, dict[str, int]]) -> None:
    server, ws, ids = setup
    admin, member = _clients(server, ws)
    assert {a["monitor"] for a in admin.get("/v1/anomalies").json()["anomalies"]} == {
        "team=vision", "team=search", "org"}  # fmt: skip
    assert [a["id"] for a in member.get("/v1/anomalies").json()["anomalies"]] == [ids["team=vision"]]
    shown = member.get(f"/v1/anomalies/{ids['team=vision']}").json()
    assert shown["causes"][0]["cause"] == "new_resource" and shown["impact"] == "50.00"
    for hidden in (ids["team=search"], ids["org"], 999_999):
        answer = member.get(f"/v1/anomalies/{hidden}")
        assert answer.status_code == 404 and answer.json()["error"]["message"] == f"no anomaly {hidden}"
        assert member.post(f"/v1/anomalies/{hidden}/feedback", json={"feedback": "expected"}).status_code == 404
    marked = member.post(f"/v1/anomalies/{ids['team=vision']}/feedback",
                         json={"feedback": "expected", "note": "retrain"})  # fmt: skip
    assert marked.status_code == 200 and marked.json()["feedback_by"] == "vision@example.com"
    bad = admin.post(f"/v1/anomalies/{ids['org']}/feedback", json={"feedback": "meh"})
    assert bad.status_code == 422 and "choose one of" in bad.json()["error"]["message"]


def test_forecasts_by_scope(setup: tuple[Server, Workspace, dict[str, int]]) -> None:
    server, ws, _ = setup
    admin, member = _clients(server, ws)
    assert set(admin.get("/v1/forecasts").json()["scopes"]) == {"org", "team=vision", "team=search"}
    assert set(member.get("/v1/forecasts").json()["scopes"]) == {"team=vision"}
    points = member.get("/v1/forecasts/points", params={"scope": "team=vision"}).json()["points"]
    assert len(points) == 366 and points[0].keys() >= {"date", "value", "lo80", "hi95"}
    assert member.get("/v1/forecasts/points", params={"scope": "team=search"}).status_code == 404


def test_monitors_and_annotations_a_member_may_add(setup: tuple[Server, Workspace, dict[str, int]]) -> None:
    server, ws, _ = setup
    admin, member = _clients(server, ws)
    mine = member.post("/v1/monitors", json={"name": "vision hourly", "scope": "team=vision", "grain": "hour"})
    assert mine.status_code == 201 and mine.json()["team"] == "vision"
    theirs = member.post("/v1/monitors", json={"name": "peek", "scope": "team=search"})
    assert theirs.status_code == 403
    assert admin.post("/v1/monitors", json={"name": "gpu", "scope": "service_category=Compute"}).status_code == 201
    assert {m["name"] for m in member.get("/v1/monitors").json()["monitors"]} == {"team=vision", "vision hourly"}
    assert member.delete("/v1/monitors/gpu").status_code == 404
    note = member.post("/v1/annotations", json={"scope": "team=vision", "start": "2026-10-05T00:00:00Z",
                                                "label": "launch"})  # fmt: skip
    assert note.status_code == 201
    assert member.post("/v1/annotations", json={"scope": "org", "start": "2026-10-05T00:00:00Z",
                                                "label": "x"}).status_code == 403  # fmt: skip
    assert admin.get("/v1/annotations").json()["annotations"][0]["label"] == "launch"


def test_subscriptions_hide_secrets_and_the_inbox_is_per_user(
    setup: tuple[Server, Workspace, dict[str, int]], tmp_path: Path
) -> None:
    server, ws, _ = setup
    admin, member = _clients(server, ws)
    secret = "s3cr3t-webhook-signing-key"
    added = member.post("/v1/subscriptions", json={"name": "vision hook", "monitor": "team=vision",
                        "channel": {"kind": "webhook", "url": "https://hooks.example.com/T0/abcdef",
                                    "secret": secret}})  # fmt: skip
    assert added.status_code == 201, added.text
    listed = admin.get("/v1/subscriptions").text
    assert "vision hook" in listed and secret not in listed and "abcdef" not in listed
    gone = admin.delete("/v1/subscriptions/no-such-hook")
    assert gone.status_code == 404 and "not found" in gone.json()["error"]["message"]
    nosy = member.post("/v1/subscriptions", json={"name": "peek", "monitor": "team=search",
                       "channel": {"kind": "webhook", "url": "https://x.example.com", "secret": secret}})  # fmt: skip
    assert nosy.status_code in (404, 422) and "team=search" not in nosy.text.replace("'team=search'", "")
    alert = Alert(id="anomaly-x", kind="anomaly", title="team=search: spend up", scope="team=search",
                  status="new", impact=Decimal("10"), currency="USD", start=T0, end=None,
                  link="http://127.0.0.1/anomalies/1")  # fmt: skip
    store = Monitoring.open(ws)
    dispatch(store.db, [(alert, "team=search", "search")], now=T0, send=lambda *a, **k: None)  # type: ignore[arg-type,return-value]
    store.close()
    assert member.get("/v1/inbox").json() == {"unread": 0, "items": []}
    seen = admin.get("/v1/inbox").json()
    assert seen["unread"] == 1 and seen["items"][0]["alert"] == "anomaly-x"
    item = seen["items"][0]["id"]
    assert member.post(f"/v1/inbox/{item}/read").status_code == 404
    assert admin.post(f"/v1/inbox/{item}/read").status_code == 200
    assert admin.get("/v1/inbox").json()["unread"] == 0
