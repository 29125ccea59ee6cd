# ruff: noqa: F811 (pytest fixtures imported from tests.web.conftest are parameters here)
"""The dashboard in a real browser: sign in, overview, drill to a model version, CSV, sign out;
a member sees only their team; a hostile tag value stays text."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.server import Server
from tests.browser.conftest import Screenshot
from tests.web.conftest import org, server  # noqa: F401 (fixtures)
from tests.web.org import HOSTILE, PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page: Page, url: str, email: str, path: str = "/") -> None:
    page.goto(url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_sign_in_drill_download_sign_out(
    page: Page,
    server: Server,
    screenshot: Screenshot,
    dialogs: list[str],
) -> None:
    _sign_in(page, server.url, "finance@example.com")
    expect(page.locator("h1")).to_contain_text("Overview — 2026-10")
    expect(page.locator("#who")).to_contain_text("finance@example.com")
    page.wait_for_selector("[data-chart=fig-trend] .main-svg")  # Plotly drew, from our server
    screenshot("overview")

    page.click("#by-team a:text-is('vision')")
    expect(page.locator("#crumbs")).to_contain_text("team: vision")
    page.click("#rows a:text-is('detector')")
    page.click("#rows a:text-is('detector-v3')")
    page.click("#rows a:text-is('v2')")
    expect(page.locator("#crumbs")).to_contain_text("model version: v2")
    expect(page.locator("h2")).to_contain_text("By run")
    runs = page.locator("#rows tr td:first-child").all_inner_texts()
    assert sorted(runs) == ["train-10-1", "train-10-2", "train-10-3"]
    assert "model_version=v2" in page.url  # the drill path is in the URL: shareable
    screenshot("model-version")

    with page.expect_download() as info:
        page.click("#csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert {r["run"] for r in rows} == set(runs)
    assert all(r["model_version"] == "v2" and r["team"] == "vision" for r in rows)
    total = sum(Decimal(r["cost"]) for r in rows)
    assert f"{total:,.2f}" in page.locator("#total").inner_text()

    page.click("text=Sign out")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(server.url + "/explorer")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    screenshot("signed-out")
    assert dialogs == []


def test_member_sees_only_their_team(
    page: Page,
    server: Server,
    screenshot: Screenshot,
) -> None:
    _sign_in(page, server.url, "vision@example.com")
    teams = page.locator("#by-team tr.team td:first-child").all_inner_texts()
    assert teams == ["vision"]
    page.goto(server.url + "/explorer?team=search&from=2026-09-01&to=2026-11-01")
    assert page.locator("#rows tr td").count() == 0  # a crafted URL shows nothing of search
    expect(page.locator("#total")).to_contain_text("0.00")
    page.goto(server.url + "/explorer?from=2026-09-01&to=2026-11-01")
    assert page.locator("#rows tr td:first-child").all_inner_texts() == ["vision"]
    answer = page.request.get(server.url + "/v1/costs?by=team&team=search")
    assert answer.ok and answer.json()["rows"] == []
    screenshot("member")


def test_hostile_tag_value_is_text(
    page: Page,
    server: Server,
    dialogs: list[str],
    screenshot: Screenshot,
) -> None:
    _sign_in(page, server.url, "admin@example.com", "/explorer?team=vision")
    cell = page.locator("#rows a", has_text=HOSTILE)
    expect(cell).to_have_count(1)
    assert cell.inner_text() == HOSTILE
    page.wait_for_selector("[data-chart=fig-trend] .main-svg")
    screenshot("hostile")
    assert dialogs == []
