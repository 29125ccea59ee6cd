"""The defects a security probe of the running dashboard found, each against a real server.

- every route that answers with figures checks the ``costs:read`` scope: the routes are walked
  from the app itself, so a route added later is walked too;
- a tag filter on the GPU and Models figures picks the rollup that has tags (and the usage they
  cannot be narrowed by is unknown, not everyone's);
- the explorer's download with its level already in the drill path has one column for it;
- sign-out ends the session the cookie names, even with a bearer token beside it;
- an unhandled exception answers in the JSON error shape.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from costcouncil.api import errors
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.web.conftest import bearer, csrf_of, sign_in, token_for
from tests.web.lake import Lake, Row, six
from tests.web.routes import figure_routes

ALL = {"from": "2026-09-01", "to": "2026-11-01"}
SPAN = (date(2026, 9, 1), date(2026, 11, 1))


def _error(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    error = answer.json()["error"]
    assert error["status"] == status and isinstance(error["code"], str)
    message: str = error["message"]
    return message


@pytest.fixture(scope="module")
def writer(server: Server, org: Workspace) -> Iterator[httpx.Client]:
    """An ``events:write``-only token of an admin (who may read every team otherwise)."""
    access = Access.open(org)
    try:
        token = access.create_token("admin@example.com", "ingest-only", ["events:write"])
    finally:
        access.close()
    with closing(bearer(server.url, token)) as client:
        yield client


def test_the_walk_covers_pages_twins_downloads_and_the_api(org: Workspace) -> None:
    paths = set(figure_routes(org))
    expected = {"/", "/explorer", "/gpu.json", "/explorer.csv", "/explorer.parquet",
                "/v1/costs", "/v1/live/costs", "/v1/me"}  # fmt: skip
    assert expected <= paths, expected - paths


def test_every_figure_route_refuses_a_write_only_token(
    writer: httpx.Client, org: Workspace
) -> None:
    answered = {p: writer.get(p, params=ALL) for p in figure_routes(org)}
    wrong = {p: a.status_code for p, a in answered.items() if a.status_code != 403}
    assert not wrong, wrong
    for answer in answered.values():
        assert "scope" in _error(answer, 403)


def test_the_write_only_token_still_posts_events(writer: httpx.Client) -> None:
    answer = writer.post("/v1/events", content=b"[]")
    assert answer.status_code == 200, answer.text


# -- tag filters on the GPU and Models figures ----------------------------------------------------


@pytest.fixture(scope="module")
def finance(server: Server) -> Iterator[httpx.Client]:
    with closing(sign_in(server.url, "finance@example.com")) as client:
        yield client


def _gpu(row: Row) -> bool:
    return row.method == "idle" or (row.method or "").startswith("usage_split:gpu")


def _tagged(key: str, value: str) -> dict[str, str]:
    return {**ALL, f"tag.{key}": value}


@pytest.mark.parametrize(
    "path", ["/v1/gpu", "/gpu", "/gpu.json", "/v1/unit-economics", "/models", "/models.json"]
)
@pytest.mark.parametrize("tag", [("cluster", "a100-east"), ("team", "vision"), ("x", "y")])
def test_a_tag_filter_answers(finance: httpx.Client, path: str, tag: tuple[str, str]) -> None:
    answer = finance.get(path, params=_tagged(*tag))
    assert answer.status_code == 200, answer.text


def test_gpu_figures_narrowed_by_a_tag_are_the_lakes(finance: httpx.Client, lake: Lake) -> None:
    start, end = SPAN
    body = finance.get("/v1/gpu", params=_tagged("cluster", "a100-east")).json()
    expected = six(
        lake.total(start, end, lambda r: _gpu(r) and r.tags.get("cluster") == "a100-east")
    )
    assert expected > 0
    assert [n["resource"] for n in body["nodes"]] == ["i-gpu1"]
    assert Decimal(body["nodes"][0]["cost"]) == expected
    assert sum(Decimal(d["used"]) + Decimal(d["idle"]) for d in body["daily"]) == expected
    everyone = finance.get("/v1/gpu", params=ALL).json()
    assert body["usage"] == everyone["usage"] and body["usage"], "all GPU-hours ran on the node"
    untagged = finance.get("/v1/gpu", params=_tagged("cluster", "h100-west")).json()
    assert (untagged["nodes"], untagged["daily"], untagged["usage"]) == ([], [], [])


def test_unit_economics_narrowed_by_a_tag_leave_usage_unknown(
    finance: httpx.Client, lake: Lake
) -> None:
    start, end = SPAN
    params = {**_tagged("team", "vision"), "by": "model"}
    body = finance.get("/v1/unit-economics", params=params).json()
    expected = six(lake.total(start, end, lambda r: r.tags.get("team") == "vision"))
    assert sum(Decimal(r["cost"]) for r in body["rows"]) == expected > 0
    assert "tag.team" in body["usage_note"]
    for row in body["rows"]:
        assert (row["requests"], row["gpu_hours"], row["per_1m_tokens"]) == (None, None, None)
    owned = finance.get("/v1/unit-economics", params={**ALL, "team": "vision"}).json()
    assert owned["usage_note"] is None
    assert any(r["requests"] for r in owned["rows"]), "a team filter keeps the usage"
    page = finance.get("/models", params=params)
    assert "Usage is recorded per owner" in page.text


# -- the explorer's download with its level in the drill path -------------------------------------


@pytest.mark.parametrize("level", ["team", "project"])
def test_a_level_in_the_drill_path_is_one_column(finance: httpx.Client, level: str) -> None:
    params = {**ALL, "team": "vision", "project": "detector", "level": level}
    answer = finance.get("/explorer.csv", params=params)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    header = next(csv.reader(io.StringIO(answer.text)))
    assert header.count(level) == 1 and header[-3:] == ["cost", "share", "currency"], header
    assert [(r["team"], r["project"]) for r in rows] == [("vision", "detector")]
    parquet = finance.get("/explorer.parquet", params=params)
    assert parquet.status_code == 200, parquet.text
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == header


# -- sign-out ------------------------------------------------------------------------------------


def test_sign_out_with_a_bearer_token_beside_the_cookie_ends_the_session(
    server: Server, org: Workspace
) -> None:
    client = sign_in(server.url, "finance@example.com")
    secret, csrf = client.cookies["cc_session"], csrf_of(client)
    token = token_for(org, "finance@example.com", "beside-the-cookie")
    answer = client.post(
        "/logout", data={"csrf": csrf}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 303
    client.close()
    with httpx.Client(base_url=server.url, timeout=30) as stale:
        stale.cookies.set("cc_session", secret)
        _error(stale.get("/v1/me"), 401)


def test_sign_out_without_the_csrf_token_leaves_the_session(server: Server, org: Workspace) -> None:
    with closing(sign_in(server.url, "finance@example.com")) as client:
        token = token_for(org, "finance@example.com", "forged-sign-out")
        forged = client.post("/logout", data={}, headers={"Authorization": f"Bearer {token}"})
        _error(forged, 403)
        assert client.get("/v1/me").status_code == 200


# -- unhandled exceptions --------------------------------------------------------------------------


def test_an_unhandled_exception_answers_in_the_error_shape() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/v1/boom")
    def boom() -> Any:
        raise RuntimeError("a bug")

    @app.get("/page")
    def page() -> Any:
        raise KeyError("a bug")

    client = TestClient(app, raise_server_exceptions=False)
    message = _error(client.get("/v1/boom"), 500)
    assert "a bug" not in message, "internals stay in the log"
    html = client.get("/page", headers={"Accept": "text/html"})
    assert html.status_code == 500 and html.headers["content-type"].startswith("text/html")
