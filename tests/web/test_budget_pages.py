"""The dashboard's Budgets pages on a real server whose clock stands at 2026-10-04 (the lake
holds 1–3 September and 1–3 October): the list against the lake, one budget's projection
sentence and charts against its own figures, the edit, add and delete forms of the finance role
(with the CSRF token), and members and viewers who never get a form — a post from them is 403 —
while a member never learns of another team's budget."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.api.web import budget_charts, budget_forms, budget_view
from costcouncil.budgets import Amount, Budget, Threshold
from costcouncil.errors import ConfigError
from costcouncil.workspace.budgets.store import BudgetStore, encode
from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.clock import frozen_clock_env
from tests.web.conftest import csrf_of, sign_in
from tests.web.lake import Lake, lake_rows
from tests.web.org import HOSTILE, build_org

NOW = "2026-10-04 12:00:00"
CENT = Decimal("0.01")
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
CHART = re.compile(r'<script type="application/json" id="fig-([^"]+)">(.*?)</script>', re.DOTALL)
FORM = re.compile(r'<form[^>]*action="/budgets/')
BUDGETS = [
    Budget("vision-monthly", "team=vision", Amount("fixed", Decimal(500)), team="vision",
           owner="ana@example.com"),
    Budget("search-monthly", "team=search", Amount("fixed", Decimal(60)), team="search",
           hard=True),
    Budget("org-quarterly", "org", Amount("fixed", Decimal(10000)), period="quarterly", hard=True,
           owner=HOSTILE),
    Budget("vision-edit", "team=vision", Amount("fixed", Decimal(300)), team="vision"),
    Budget("vision-browser", "team=vision", Amount("fixed", Decimal(400)), team="vision"),
]  # fmt: skip


@dataclass(frozen=True)
class Budgeted:
    server: Server
    ws: Workspace
    lake: Lake


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Budgeted]:
    ws = build_org(tmp_path_factory.mktemp("budget-pages"))
    store = BudgetStore.open(ws)
    for b in BUDGETS:
        store.save(ws, b, actor="tests")
    store.close()
    running = Server(ws.root, env=frozen_clock_env(NOW)).start()
    yield Budgeted(running, ws, Lake(lake_rows(ws.root)))
    running.stop()


@pytest.fixture(scope="module")
def finance(budgeted: Budgeted) -> Iterator[httpx.Client]:
    with closing(sign_in(budgeted.server.url, "finance@example.com")) as client:
        yield client


@pytest.fixture(scope="module")
def member(budgeted: Budgeted) -> Iterator[httpx.Client]:
    with closing(sign_in(budgeted.server.url, "vision@example.com")) as client:
        yield client


@pytest.fixture(scope="module")
def viewer(budgeted: Budgeted) -> Iterator[httpx.Client]:
    with closing(sign_in(budgeted.server.url, "viewer@example.com")) as client:
        yield client


def _html(client: httpx.Client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def _charts(page: str) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in CHART.findall(page)}


def _trace(figure: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in figure["data"] if t.get("name") == name)


def _team(lake: Lake, team: str) -> Decimal:
    return lake.total(*OCTOBER, keep=lambda r: r.team == team)


def _upto(lake: Lake, team: str, day: date) -> Decimal:
    """The team's spend from 1 October to the end of ``day``, in cents."""
    spent = lake.total(OCTOBER[0], day + timedelta(days=1), keep=lambda r: r.team == team)
    return spent.quantize(CENT)


def test_the_list_shows_this_periods_figures_from_the_lake(
    budgeted: Budgeted, finance: httpx.Client
) -> None:
    body = finance.get("/budgets.json").json()
    rows = {b["name"]: b for b in body["budgets"]}
    assert set(rows) == {b.name for b in BUDGETS}
    vision = rows["vision-monthly"]
    spent = _team(budgeted.lake, "vision")
    assert spent > 0 and Decimal(vision["current"]["spent"]) == spent.quantize(Decimal("0.01"))
    assert (vision["current"]["start"], vision["current"]["end"]) == ("2026-10-01", "2026-11-01")
    assert Decimal(vision["current"]["remaining"]) == 500 - Decimal(vision["current"]["spent"])
    assert vision["state"] == "ok"  # under 50 % of 500: no threshold on spend so far
    search = rows["search-monthly"]
    assert Decimal(search["current"]["spent"]) >= 60 and search["state"] == "over"
    assert rows["org-quarterly"]["current"]["start"] == "2026-10-01"
    page = _html(finance, "/budgets")
    row = re.search(r'<tr data-budget="vision-monthly" data-state="ok">(.*?)</tr>', page, re.S)
    assert row is not None
    assert f"{Decimal(vision['current']['spent']):,.2f} USD" in row[1]
    assert 'value="' + vision["current"]["used_pct"] + '"' in row[1]  # the used bar
    assert ">soft<" in row[1] and "ana@example.com" in row[1]
    assert 'id="nav-budgets" class="on"' in page and 'href="/budgets/new"' in page
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_budgets_page_projection_and_charts_agree_with_its_figures(
    budgeted: Budgeted, finance: httpx.Client
) -> None:
    body = finance.get("/budgets/vision-monthly.json").json()
    projection = body["status"]["projection"]
    assert projection is not None and projection["crosses_on"] is not None
    crosses = date.fromisoformat(projection["crosses_on"])
    assert OCTOBER[0] < crosses < OCTOBER[1]
    page = _html(finance, "/budgets/vision-monthly")
    said = re.search(r'<p id="projection">(.*?)</p>', page)
    assert said is not None
    assert f"crosses the amount on {crosses.day} October" in said[1]
    assert f"{Decimal(projection['total']):,.2f} USD" in said[1] and "80 %:" in said[1]
    figures = _charts(page)
    period = figures["period"]
    actual = _trace(period, "spent")
    lake = budgeted.lake
    days = [date(2026, 10, d) for d in (1, 2, 3)]
    cumulative = [float(_upto(lake, "vision", d)) for d in days]
    assert actual["x"] == [d.isoformat() for d in days] and actual["y"] == cumulative
    line = _trace(period, "projection")
    assert line["y"][0] == cumulative[-1]
    assert line["y"][-1] == pytest.approx(float(projection["total"]), abs=0.01)
    assert line["x"][-1] == "2026-10-31"
    reached = next(x for x, y in zip(line["x"], line["y"], strict=True) if y >= 500)
    assert reached == projection["crosses_on"]  # the line meets the amount on the named day
    assert _trace(period, "amount")["y"] == [500.0, 500.0]
    history = figures["history"]
    bars = _trace(history, "actual")
    assert bars["x"][-2:] == ["2026-09", "2026-10"]
    september = lake.total(date(2026, 9, 1), date(2026, 10, 1), keep=lambda r: r.team == "vision")
    assert bars["y"][-2] == float(september) and bars["y"][-1] == cumulative[-1]
    crossed = re.findall(r'data-threshold="([^"]+)" data-crossed="yes"', page)
    assert (
        crossed
        == ["100-forecast"]
        == [f"{c['percent']}-{c['basis']}" for c in body["status"]["crossed"]]
    )


def test_finance_edits_a_budget_through_the_form(budgeted: Budgeted, finance: httpx.Client) -> None:
    page = _html(finance, "/budgets/vision-edit")
    assert 'id="edit-form"' in page and 'id="delete-form"' in page
    csrf = csrf_of(finance)
    form = {"amount": "1,000", "enforcement": "hard", "owner": "bo@example.com",
            "thresholds": "80%, 120% forecast"}  # fmt: skip
    assert finance.post("/budgets/vision-edit/edit", data=form).status_code == 403  # no token
    done = finance.post("/budgets/vision-edit/edit", data=form | {"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/budgets/vision-edit"
    body = finance.get("/budgets/vision-edit.json").json()
    assert body["amount"] == {"kind": "fixed", "value": "1000"} and body["hard"] is True
    assert body["owner"] == "bo@example.com" and Decimal(body["current"]["amount"]) == 1000
    assert body["thresholds"] == [{"percent": "80", "basis": "actual"},
                                  {"percent": "120", "basis": "forecast"}]  # fmt: skip
    page = _html(finance, "/budgets/vision-edit")
    assert 'data-figure="amount">1,000.00 USD' in page
    assert 'value="80%, 120% forecast"' in page
    bad = finance.post("/budgets/vision-edit/edit", data=form | {"csrf": csrf, "amount": "-5"},
                       headers={"accept": "text/html"})  # fmt: skip
    assert bad.status_code == 422 and "must be a number above 0" in bad.text
    odd = finance.post("/budgets/vision-edit/edit",
                       data=form | {"csrf": csrf, "thresholds": "80%, lots"})  # fmt: skip
    assert odd.status_code == 422 and "'lots'" in odd.text


def test_finance_adds_and_deletes_a_budget(budgeted: Budgeted, finance: httpx.Client) -> None:
    assert 'id="new-form"' in _html(finance, "/budgets/new")
    csrf = csrf_of(finance)
    form = {"csrf": csrf, "name": "launch", "scope": "team=search", "team": "search",
            "period": "quarterly", "amount": "2500.50", "metric": "BilledCost",
            "enforcement": "soft", "owner": "", "thresholds": "90%", "currency": "USD"}  # fmt: skip
    added = finance.post("/budgets/new", data=form)
    assert added.status_code == 303 and added.headers["location"] == "/budgets/launch"
    body = finance.get("/budgets/launch.json").json()
    assert (body["period"], body["metric"], body["team"]) == ("quarterly", "BilledCost", "search")
    assert (
        Decimal(body["current"]["amount"]) == Decimal("2500.50")
        and body["current"]["end"] == "2027-01-01"
    )
    again = finance.post("/budgets/new", data=form)
    assert again.status_code == 422 and "exists already" in again.text
    typo = finance.post("/budgets/new", data=form | {"name": "x", "scope": "teem=search"})
    assert typo.status_code == 422 and "'teem'" in typo.text
    gone = finance.post("/budgets/launch/delete", data={"csrf": csrf})
    assert gone.status_code == 303 and gone.headers["location"] == "/budgets"
    assert finance.get("/budgets/launch.json").status_code == 404
    assert "launch" not in {b["name"] for b in finance.get("/budgets.json").json()["budgets"]}


def test_a_member_sees_their_teams_budgets_and_no_form(
    budgeted: Budgeted, member: httpx.Client
) -> None:
    names = [b["name"] for b in member.get("/budgets.json").json()["budgets"]]
    assert names == ["vision-browser", "vision-edit", "vision-monthly"]
    page = _html(member, "/budgets")
    assert "search-monthly" not in page and "org-quarterly" not in page
    assert 'href="/budgets/new"' not in page
    for name in ("search-monthly", "org-quarterly"):
        assert member.get(f"/budgets/{name}").status_code == 404
        assert member.get(f"/budgets/{name}.json").status_code == 404
    page = _html(member, "/budgets/vision-monthly")
    assert not FORM.search(page) and "edit-form" not in page
    csrf = csrf_of(member)
    edit = {"csrf": csrf, "amount": "1", "enforcement": "soft", "owner": "", "thresholds": ""}
    assert member.post("/budgets/vision-monthly/edit", data=edit).status_code == 403
    assert member.post("/budgets/vision-monthly/delete", data={"csrf": csrf}).status_code == 403
    assert member.post("/budgets/search-monthly/delete", data={"csrf": csrf}).status_code == 403
    assert member.get("/budgets/new").status_code == 403
    new = {"csrf": csrf, "name": "mine", "scope": "team=vision", "amount": "5"}
    assert member.post("/budgets/new", data=new).status_code == 403
    assert member.get("/budgets/vision-monthly.json").json()["amount"]["value"] == "500"


def test_a_viewer_sees_every_budget_and_no_form(viewer: httpx.Client) -> None:
    assert len(viewer.get("/budgets.json").json()["budgets"]) >= 4
    page = _html(viewer, "/budgets/org-quarterly")
    assert not FORM.search(page)
    csrf = csrf_of(viewer)
    assert viewer.post("/budgets/org-quarterly/delete", data={"csrf": csrf}).status_code == 403
    assert viewer.get("/budgets/org-quarterly.json").status_code == 200


def test_the_pages_ask_for_a_sign_in(budgeted: Budgeted) -> None:
    with httpx.Client(base_url=budgeted.server.url) as anonymous:
        assert anonymous.get("/budgets").status_code == 303
        assert anonymous.get("/budgets.json").status_code == 401
        assert anonymous.post("/budgets/vision-monthly/delete").status_code == 401


# -- the pieces, without a server ----------------------------------------------------------------

thresholds = st.lists(
    st.builds(
        Threshold,
        st.decimals(min_value=Decimal("0.1"), max_value=Decimal(500), places=1),
        st.sampled_from(["actual", "forecast"]),
    ),
    unique=True,
    max_size=6,
).map(tuple)


@given(thresholds)
def test_thresholds_read_back_as_the_form_shows_them(wanted: tuple[Threshold, ...]) -> None:
    budget = Budget("b", "org", Amount("fixed", Decimal(1)), thresholds=wanted)
    assert (
        budget_forms.read_thresholds(budget_forms.thresholds_text(encode(budget)["thresholds"]))
        == wanted
    )


@pytest.mark.parametrize("text", ["80", "80% forcast", "eighty%", "-5%"])
def test_a_threshold_that_does_not_read_is_named(text: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(text))):
        budget_forms.read_thresholds(f"50%, {text}")


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [("2026-09-01", "2026-10-01", "2026-09"), ("2026-12-01", "2027-01-01", "2026-12"),
     ("2026-10-01", "2027-01-01", "2026-10-01 – 2027-01-01"),
     ("2026-09-02", "2026-10-01", "2026-09-02 – 2026-10-01")],
)  # fmt: skip
def test_period_labels(start: str, end: str, label: str) -> None:
    assert budget_charts.period_label(start, end) == label


def _status(spent: str, amount: str | None, **projection: str | None) -> dict[str, Any]:
    shown = {"total": "900", "lo80": "700", "hi80": "1100", "lo95": "600", "hi95": "1300",
             "crosses_on": None, "earliest": None, "latest": None} | projection  # fmt: skip
    return {"spent": spent, "amount": amount, "projection": shown}


def test_the_projection_sentence() -> None:
    crossing = budget_view.sentence(
        _status("400", "800", crosses_on="2026-10-23", earliest="2026-10-20", latest=None), "EUR"
    )
    assert crossing == (
        "Expected by the period's end: 900.00 EUR (80 %: 700.00–1,100.00 EUR). At this rate it "
        "crosses the amount on 23 October (80 %: 20 October to after the period ends)."
    )
    assert budget_view.sentence(_status("800", "800"), "EUR").endswith(
        "Spend has reached the amount."
    )
    assert budget_view.sentence(_status("10", "5000"), "EUR").endswith(
        "within the amount this period."
    )
    assert budget_view.sentence(_status("10", None), "EUR").endswith("1,100.00 EUR).")
    assert budget_view.sentence(
        {"spent": "1", "amount": "2", "projection": None}, "EUR"
    ).startswith("No projection")
