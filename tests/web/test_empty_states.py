"""Empty states explain themselves: a chart or table without data is replaced by one sentence
saying what is empty and why, and no chart without data is embedded (Plotly would draw bare
axes from −1 to 6).

"Not visible" is decided from the filter alone: a member whose filter names only other teams.
Everything else that is empty is "no cost between … and …" (the range, ``to`` exclusive).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.web.conftest import sign_in

CHART = re.compile(r'<script type="application/json" id="fig-([^"]+)">(.*?)</script>', re.DOTALL)
EMPTY = re.compile(r'id="(?:empty-)?([a-z-]+?)(?:-empty)?" role="status">([^<]*)<')
HIDDEN = "Nothing visible to this account: your teams are vision."
NOVEMBER = {"from": "2026-11-01", "to": "2026-12-01"}
NO_COST = "No cost between 2026-11-01 and 2026-12-01."
CHART_PAGES = {"/": ["trend", "teams", "models"], "/explorer": ["trend"], "/models": ["trend"],
               "/gpu": ["daily", "heatmap"]}  # fmt: skip


@pytest.fixture(scope="module")
def finance(server: Server) -> Iterator[httpx.Client]:
    client = sign_in(server.url, "finance@example.com")
    yield client
    client.close()


@pytest.fixture(scope="module")
def member(server: Server) -> Iterator[httpx.Client]:
    client = sign_in(server.url, "vision@example.com")
    yield client
    client.close()


def _html(client: httpx.Client, path: str, **params: str) -> str:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.text


def _notes(page: str) -> dict[str, str]:
    """Each empty chart or table's sentence by its id."""
    return {name: text for name, text in EMPTY.findall(page)}


def _nothing_drawn(page: str) -> None:
    assert CHART.findall(page) == []
    assert "data-chart=" not in page and "/static/plotly.min.js" not in page


@pytest.mark.parametrize("path", ["/explorer", "/models", "/gpu"])
def test_a_member_filtering_to_another_team_is_told_it_is_not_visible(
    member: httpx.Client, path: str
) -> None:
    page = _html(member, path, team="search", **{"from": "2026-09-01", "to": "2026-11-01"})
    notes = _notes(page)
    assert notes and set(notes.values()) == {HIDDEN}, notes
    _nothing_drawn(page)


def test_the_explorer_table_says_why_it_is_empty(member: httpx.Client) -> None:
    page = _html(member, "/explorer", team="search")
    assert _notes(page)["rows"] == HIDDEN
    assert 'id="rows"' not in page


@pytest.mark.parametrize("path", ["/explorer", "/models"])
def test_an_empty_range_says_there_is_no_cost(finance: httpx.Client, path: str) -> None:
    page = _html(finance, path, **NOVEMBER)
    assert set(_notes(page).values()) == {NO_COST}
    _nothing_drawn(page)


def test_an_empty_range_on_the_gpu_page_names_what_is_missing(finance: httpx.Client) -> None:
    notes = _notes(_html(finance, "/gpu", **NOVEMBER))
    gpu_cost = "No GPU cost between 2026-11-01 and 2026-12-01."
    assert [notes["daily"], notes["clusters"], notes["nodes"]] == [gpu_cost] * 3
    assert notes["heatmap"] == "No GPU-hours from jobs between 2026-11-01 and 2026-12-01."


def test_filters_are_named_when_they_narrow_the_view(finance: httpx.Client) -> None:
    notes = _notes(_html(finance, "/explorer", team="vision", **NOVEMBER))
    assert notes["trend"] == "No cost between 2026-11-01 and 2026-12-01 for these filters."


def test_a_member_without_filters_is_told_it_is_their_teams(member: httpx.Client) -> None:
    notes = _notes(_html(member, "/explorer", **NOVEMBER))
    assert notes["trend"] == "No cost between 2026-11-01 and 2026-12-01 for your teams (vision)."


def test_a_member_asking_for_their_own_team_is_not_told_it_is_hidden(
    member: httpx.Client,
) -> None:
    page = _html(member, "/explorer", team="vision,search", **NOVEMBER)
    assert HIDDEN not in page
    assert _notes(page)["trend"].startswith("No cost between 2026-11-01 and 2026-12-01")


@pytest.mark.parametrize("path", sorted(CHART_PAGES))
def test_views_with_data_draw_every_chart_and_no_empty_one(
    finance: httpx.Client, path: str
) -> None:
    page = _html(finance, path, **{"from": "2026-09-01", "to": "2026-11-01"})
    charts = dict(CHART.findall(page))
    assert sorted(charts) == sorted(CHART_PAGES[path])
    for name, text in charts.items():
        traces = json.loads(text)["data"]
        assert traces and any(t.get("x") or t.get("y") for t in traces), name
    assert 'role="status"' not in page
    assert "/static/plotly.min.js" in page


def test_the_json_twin_carries_the_scope(member: httpx.Client) -> None:
    body = member.get("/explorer.json", params={"team": "search"}).json()
    assert body["scope"] == {"teams": ["vision"], "hidden": True, "filtered": True}
    assert body["rows"] == [] and body["trend"] == []


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A workspace with nothing ingested, served open on loopback."""
    ws = Workspace.init(tmp_path_factory.mktemp("bare") / "empty", name="empty")
    server = Server(ws.root).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/", "/explorer", "/models", "/gpu"])
def test_a_workspace_without_cost_draws_no_chart(bare: httpx.Client, path: str) -> None:
    page = _html(bare, path)
    notes = _notes(page)
    assert notes and all(n.startswith(("No cost between", "No GPU")) for n in notes.values())
    _nothing_drawn(page)


def test_the_ingest_page_of_an_empty_workspace_says_what_to_do(bare: httpx.Client) -> None:
    notes = _notes(_html(bare, "/ingest"))
    assert notes["sources"].startswith("Nothing ingested yet")
    assert notes["providers"].startswith("No cost in the lake yet")
