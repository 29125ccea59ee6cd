"""A hostile tag value is data, never markup: escaped in pages, encoded in chart JSON, exact in
the .json twin and the CSV download; pages forbid inline scripts with a Content-Security-Policy.

The organisation's vision team has a charge whose ``project`` tag is ``<script>alert(1)</script>``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.server import Server
from tests.web.conftest import sign_in
from tests.web.org import HOSTILE

VISION = {"team": "vision", "from": "2026-09-01", "to": "2026-11-01"}
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
RAW = re.compile(r"<script>alert\(1\)", re.IGNORECASE)
CHART = re.compile(r'<script type="application/json" id="([^"]+)">(.*?)</script>', re.DOTALL)
PAGES = ("/", "/explorer", "/models", "/gpu", "/ingest", "/login")


@pytest.fixture(scope="module")
def finance(server: Server) -> Iterator[httpx.Client]:
    client = sign_in(server.url, "finance@example.com")
    yield client
    client.close()


@pytest.fixture(scope="module")
def page(finance: httpx.Client) -> str:
    answer = finance.get("/explorer", params=VISION)
    assert answer.status_code == 200
    return answer.text


def _names(value: Any) -> list[str]:
    """Every string in a decoded JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _names(v)]
    if isinstance(value, list):
        return [s for v in value for s in _names(v)]
    return []


def test_the_explorer_shows_the_value_as_text(page: str) -> None:
    assert ESCAPED in page
    assert not RAW.search(page)


def test_chart_json_cannot_close_its_script_element(page: str) -> None:
    charts = CHART.findall(page)
    assert charts, "the explorer embeds its chart"
    for name, text in charts:
        assert "</script" not in text.lower() and "<script" not in text.lower(), name
        assert "<" not in text and ">" not in text, name
    decoded = [s for _, text in charts for s in _names(json.loads(text))]
    assert HOSTILE in decoded


def test_the_json_twin_returns_the_exact_value(finance: httpx.Client) -> None:
    answer = finance.get("/explorer.json", params=VISION)
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["x-content-type-options"] == "nosniff"
    body = answer.json()
    assert body["level"] == "project"
    assert HOSTILE in [r["project"] for r in body["rows"]]


def test_the_csv_download_holds_the_value_as_data(finance: httpx.Client) -> None:
    answer = finance.get("/explorer.csv", params=VISION)
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert HOSTILE in answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["cost"] for r in rows if r["project"] == HOSTILE] == ["24.000000"]


@pytest.mark.parametrize(
    "params",
    [
        {**VISION, "project": HOSTILE},
        {**VISION, "tag.project": HOSTILE},
        {**VISION, "level": "model", "model": HOSTILE},
    ],
)
def test_a_hostile_value_in_the_url_is_escaped(
    finance: httpx.Client, params: dict[str, str]
) -> None:
    answer = finance.get("/explorer", params=params)
    assert answer.status_code == 200
    assert ESCAPED in answer.text and not RAW.search(answer.text)


def test_a_hostile_key_in_an_error_page_is_escaped(finance: httpx.Client) -> None:
    answer = finance.get("/explorer", params={HOSTILE: "x"}, headers={"Accept": "text/html"})
    assert answer.status_code == 422
    assert ESCAPED in answer.text and not RAW.search(answer.text)


def test_a_hostile_next_on_the_sign_in_form_is_harmless(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.get("/login", params={"next": '/x"><script>alert(1)</script>'})
    assert answer.status_code == 200
    assert not RAW.search(answer.text)


@pytest.mark.parametrize("path", PAGES)
def test_pages_forbid_inline_scripts(finance: httpx.Client, path: str) -> None:
    answer = finance.get(path)
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert answer.headers["x-frame-options"] == "DENY"
