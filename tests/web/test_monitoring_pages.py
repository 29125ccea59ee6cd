"""The dashboard's monitoring pages on a real server: the overview's month-end forecast, the
explorer's forecast band, the Anomalies list and detail (chart band from the detector, causes,
feedback through the form and its CSRF token), the Inbox and its unread count — and a member who
never learns of another team's anomaly or notification on any page or twin."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest

from costcouncil.anomaly import detect
from costcouncil.appdb.alerts import Anomaly
from costcouncil.notify.message import Alert
from costcouncil.workspace.allocate.series import Scope, scope_series
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import load, refresh_forecasts
from costcouncil.workspace.notify.dispatch import dispatch
from tests.api.server import Server
from tests.web.conftest import csrf_of, sign_in
from tests.web.org import build_org

T0 = datetime(2026, 10, 2, tzinfo=UTC)
#: Words only team search's anomaly and notification carry: a member must never see them.
SECRET = "bucket-of-search-secrets"
CHART = re.compile(r'<script type="application/json" id="fig-([^"]+)">(.*?)</script>', re.DOTALL)
EVIDENCE = {"models": {"gpt-4o": {"before": 1.5, "now": 3.25}}, "resources": ["i-web"]}


@dataclass(frozen=True)
class Org:
    server: Server
    ws: Workspace
    ids: dict[str, int]


def _anomaly(store: Monitoring, monitor: str, summary: str, end: datetime | None = None) -> int:
    info = next(m for m in store.monitors() if m.name == monitor)
    cause = {"cause": "new_resource", "contribution": 50.0, "share": 1.0, "summary": summary,
             "evidence": EVIDENCE}  # fmt: skip
    with store.session() as s:
        row = Anomaly(monitor_id=info.id, scope=info.scope, team=info.team, grain="day", start=T0,
                      end=end, actual="90.00", expected="40.00", impact="50.00", impact_pct=125.0,
                      score=8.0, direction="up", currency="USD", causes=[cause],
                      detected_at=T0, updated_at=T0)  # fmt: skip
        s.add(row)
        s.flush()
        return int(row.id)


def _alert(ids: dict[str, int], monitor: str, title: str) -> tuple[Alert, str, str | None]:
    team = monitor.removeprefix("team=") if monitor.startswith("team=") else None
    alert = Alert(id=f"anomaly-{ids[monitor]}", kind="anomaly", title=title, scope=monitor,
                  status="new", impact=Decimal("50"), currency="USD", start=T0, end=None,
                  link=f"http://127.0.0.1/anomalies/{ids[monitor]}")  # fmt: skip
    return alert, monitor, team


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    ws = build_org(tmp_path_factory.mktemp("monitoring-pages"))
    store = Monitoring.open(ws)
    for scope in (Scope("team", "vision"), Scope("team", "search"), Scope()):
        store.add_monitor(str(scope), scope)
    ids = {
        "team=vision": _anomaly(store, "team=vision", "new resources: i-web +50/day"),
        "team=search": _anomaly(store, "team=search", f"new resources: {SECRET} +50/day"),
        "org": _anomaly(store, "org", "new resources: org-wide", end=datetime(2026, 10, 3, tzinfo=UTC)),
    }  # fmt: skip
    alerts = [_alert(ids, "team=vision", "team=vision: spend up +125%"),
              _alert(ids, "team=search", f"team=search: {SECRET} up")]  # fmt: skip
    dispatch(store.db, alerts, now=T0, send=lambda *a, **k: None)  # type: ignore[arg-type]
    store.close()
    refresh_forecasts(ws, [Scope(), Scope("team", "vision"), Scope("team", "search")])
    running = Server(ws.root).start()
    yield Org(running, ws, ids)
    running.stop()


@pytest.fixture(scope="module")
def admin(monitored: Org) -> Iterator[httpx.Client]:
    with closing(sign_in(monitored.server.url, "admin@example.com")) as client:
        yield client


@pytest.fixture(scope="module")
def member(monitored: Org) -> Iterator[httpx.Client]:
    with closing(sign_in(monitored.server.url, "vision@example.com")) as client:
        yield client


def _html(client: httpx.Client, path: str, **params: str) -> str:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def _charts(page: str) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in CHART.findall(page)}


def _pages(monitored: Org) -> list[str]:
    ids = monitored.ids
    return ["/", "/explorer", "/anomalies", f"/anomalies/{ids['team=vision']}", "/inbox",
            "/overview.json", "/explorer.json", "/anomalies.json",
            f"/anomalies/{ids['team=vision']}.json", "/inbox.json"]  # fmt: skip


@pytest.mark.parametrize("who", ["admin", "member"])
def test_pages_and_twins_render(monitored: Org, who: str, request: pytest.FixtureRequest) -> None:
    client: httpx.Client = request.getfixturevalue(who)
    for path in _pages(monitored):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        if path.endswith(".json"):
            assert "freshness" in answer.json()
        else:
            assert 'href="/anomalies"' in answer.text and 'id="nav-inbox"' in answer.text


def test_a_member_never_sees_another_teams_anomaly(monitored: Org, member: httpx.Client) -> None:
    theirs = monitored.ids["team=search"]
    for hidden in (theirs, monitored.ids["org"], 999_999):
        for path in (f"/anomalies/{hidden}", f"/anomalies/{hidden}.json"):
            answer = member.get(path)
            assert answer.status_code == 404 and f"no anomaly {hidden}" in answer.text
        posted = member.post(f"/anomalies/{hidden}/feedback",
                             data={"feedback": "resolved", "csrf": csrf_of(member)})  # fmt: skip
        assert posted.status_code == 404
    for path in _pages(monitored):
        text = member.get(path).text
        assert SECRET not in text and f"/anomalies/{theirs}" not in text, path
        assert "team=search" not in text and "org-wide" not in text, path
    listed = member.get("/anomalies.json").json()
    assert [a["id"] for a in listed["anomalies"]] == [monitored.ids["team=vision"]]
    assert listed["monitors"] == ["team=vision"]


def test_the_list_shows_each_anomaly_and_filters(monitored: Org, admin: httpx.Client) -> None:
    page = _html(admin, "/anomalies")
    rows = re.findall(r'<tr data-anomaly="(\d+)">', page)
    assert sorted(map(int, rows)) == sorted(monitored.ids.values())
    assert (
        "ongoing" in page and "2026-10-03" in page and "+125 %" in page and "New resources" in page
    )
    only = admin.get("/anomalies.json", params={"monitor": "org"}).json()["anomalies"]
    assert [a["id"] for a in only] == [monitored.ids["org"]]
    nothing = _html(admin, "/anomalies", monitor="no such monitor")
    assert 'id="anomalies-empty" role="status">No anomalies for these filters.' in nothing


def test_the_detail_chart_is_the_detectors_band(monitored: Org, admin: httpx.Client) -> None:
    anomaly_id = monitored.ids["org"]  # no feedback on it: the detector has no known window
    body = admin.get(f"/anomalies/{anomaly_id}.json").json()
    series = scope_series(monitored.ws, [Scope()], charges="usage")[Scope()]
    found = detect(series)
    points = body["points"]
    assert len(points) == len(series)  # the whole series lies within 60 days before and 14 after
    for p, exp, lo, hi, actual in zip(points, found.expected, found.lower, found.upper,
                                      series.values, strict=True):  # fmt: skip
        assert p["actual"] == round(float(actual), 2) and p["expected"] == round(float(exp), 2)
        assert p["lower"] == round(float(lo), 2) and p["upper"] == round(float(hi), 2)
    assert body["window"]["start"].startswith("2026-10-02")
    figure = _charts(_html(admin, f"/anomalies/{anomaly_id}"))["anomaly"]
    names = [t["name"] for t in figure["data"]]
    assert {"expected range", "expected", "actual", "flagged"} <= set(names)
    assert figure["layout"]["shapes"][0]["x0"].startswith("2026-10-02")
    assert np.allclose(figure["data"][names.index("actual")]["y"], [p["actual"] for p in points])


def test_the_detail_shows_ranked_causes_with_evidence(monitored: Org, member: httpx.Client) -> None:
    page = _html(member, f"/anomalies/{monitored.ids['team=vision']}")
    assert '<tr data-cause="new_resource">' in page and "New resources" in page
    assert "50.00 USD" in page and "100.0 %" in page
    assert "models · gpt-4o: before 1.50, now 3.25" in page and "resources: i-web" in page


def test_feedback_through_the_form_needs_the_csrf_token(
    monitored: Org, member: httpx.Client
) -> None:
    anomaly_id = monitored.ids["team=vision"]
    target = f"/anomalies/{anomaly_id}/feedback"
    refused = member.post(target, data={"feedback": "expected", "note": "x"})
    assert refused.status_code == 403
    assert member.get(f"/anomalies/{anomaly_id}.json").json()["anomaly"]["feedback"] is None
    form = {"feedback": "not_anomaly", "note": "a planned load test", "csrf": csrf_of(member)}
    answer = member.post(target, data=form)
    assert answer.status_code == 303 and answer.headers["location"].startswith(
        f"/anomalies/{anomaly_id}"
    )
    page = _html(member, f"/anomalies/{anomaly_id}")
    assert "Marked <b>Not an anomaly</b> by vision@example.com: “a planned load test”" in page
    assert member.post(target, data={**form, "feedback": "meh"}).status_code == 422
    shown = member.get("/anomalies.json", params={"open": "1"}).json()
    assert shown["anomalies"] == [] and shown["filters"]["open"] is True


def test_the_overview_shows_the_month_end_forecast(
    monitored: Org, admin: httpx.Client, member: httpx.Client
) -> None:
    saved = load(monitored.ws)
    assert saved is not None
    page = _html(admin, "/")
    assert 'data-scope="org"' in page and 'data-scope="team=vision"' not in page
    org_end = saved.scopes["org"]["month_end"]
    assert f"{Decimal(str(org_end['value'])):,.2f} USD" in page
    assert (
        f"80 %: {Decimal(str(org_end['lo80'])):,.2f} – {Decimal(str(org_end['hi80'])):,.2f}" in page
    )
    figure = _charts(page)["forecast"]
    names = [t["name"] for t in figure["data"]]
    assert names == [
        "actual",
        "95 % range (upper)",
        "95 % range",
        "80 % range (upper)",
        "80 % range",
        "forecast",
    ]
    forecast = figure["data"][-1]
    assert forecast["x"][0] == saved.first_day and forecast["x"][-1] == "2026-10-31"
    assert figure["data"][0]["x"][-1] == "2026-10-03"  # history runs up to the forecast
    mine = member.get("/overview.json").json()["forecast"]
    assert [s["scope"] for s in mine["scopes"]] == ["team=vision"] and mine["note"] is None
    assert mine["scopes"][0]["month_end"] == saved.scopes["team=vision"]["month_end"]


@pytest.mark.parametrize(
    ("who", "params", "scope"),
    [("admin", {}, "org"), ("admin", {"team": "vision"}, "team=vision"),
     ("member", {"team": "vision"}, "team=vision"), ("admin", {"team": "vision,search"}, None),
     ("admin", {"metric": "billed"}, None), ("member", {}, None),
     ("admin", {"team": "vision", "project": "detector"}, None)],
)  # fmt: skip
def test_the_explorer_draws_the_forecast_of_its_scope(
    request: pytest.FixtureRequest, who: str, params: dict[str, str], scope: str | None
) -> None:
    client: httpx.Client = request.getfixturevalue(who)
    page = _html(client, "/explorer", **params)
    charts = _charts(page)
    if scope is None:
        assert "forecast" not in charts and 'id="forecast-note"' not in page
        return
    assert f"The forecast of {scope}:" in page
    assert charts["forecast"]["data"][-1]["name"] == "forecast"
    assert client.get("/explorer.json", params=params).json()["forecast"]["scope"] == scope


def test_the_inbox_counts_and_marks_read(
    monitored: Org, admin: httpx.Client, member: httpx.Client
) -> None:
    mine = member.get("/inbox.json").json()
    assert mine["unread"] == 1 and [i["anomaly"] for i in mine["items"]] == [
        f"/anomalies/{monitored.ids['team=vision']}"
    ]
    everything = admin.get("/inbox.json").json()
    assert everything["unread"] == 2
    page = _html(member, "/inbox")
    assert 'id="unread-count" title="1 unread">1<' in page and "team=vision: spend up +125%" in page
    theirs = f"anomaly-{monitored.ids['team=search']}"
    search_item = next(i["id"] for i in everything["items"] if i["alert"] == theirs)
    csrf = csrf_of(member)
    assert member.post(f"/inbox/{search_item}/read", data={"csrf": csrf}).status_code == 404
    item = mine["items"][0]["id"]
    assert member.post(f"/inbox/{item}/read").status_code == 403  # no CSRF token
    assert member.post(f"/inbox/{item}/read", data={"csrf": csrf}).status_code == 303
    after = _html(member, "/inbox")
    assert 'id="unread-count"' not in after and 'id="inbox-unread">0<' in after
    assert admin.get("/inbox.json").json()["unread"] == 2  # read state is per user


def test_empty_states_say_why(server: Server) -> None:
    """The shared organisation has no forecast, anomaly or notification yet."""
    with closing(sign_in(server.url, "finance@example.com")) as client:
        overview = _html(client, "/")
        assert (
            'id="forecast-none">No forecast saved yet: forecasts appear after `costcouncil allocate`'
            in overview
        )
        assert "forecast" not in _charts(overview)
        assert "No anomalies yet: detection runs over every monitor" in _html(client, "/anomalies")
        assert 'id="inbox-empty" role="status">No notifications' in _html(client, "/inbox")
        assert _charts(_html(client, "/explorer")).keys() == {"trend"}
    with closing(sign_in(server.url, "vision@example.com")) as client:
        assert "No anomalies for your teams (vision)." in _html(client, "/anomalies")
        assert client.get("/overview.json").json()["forecast"]["scopes"] == []
