# ruff: noqa: F811 (pytest fixtures imported from tests.web are parameters here)
"""The monitoring pages in a real browser: the anomalies list, a detail whose chart Plotly draws,
feedback recorded from its buttons; the overview's forecast panel; the inbox count going down
after "Mark read" — with no dialog and no console error (a CSP violation is one)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshot, sign_in
from tests.web.test_monitoring_pages import Org, monitored  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_an_anomaly_is_opened_and_marked(
    page: Page, monitored: Org, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    sign_in(page, monitored.server.url, "admin@example.com", "/anomalies")
    expect(page.locator("h1")).to_contain_text("Anomalies")
    rows = page.locator("#anomalies tr[data-anomaly]")
    expect(rows).to_have_count(3)
    screenshot("list")
    anomaly_id = monitored.ids["org"]
    page.click(f"#anomalies tr[data-anomaly='{anomaly_id}'] a")
    expect(page).to_have_url(re.compile(rf"/anomalies/{anomaly_id}$"))
    page.wait_for_selector("[data-chart=fig-anomaly] .main-svg")  # Plotly drew an SVG
    assert page.locator("[data-chart=fig-anomaly] .scatterlayer .trace").count() >= 3
    expect(page.locator("#causes tr[data-cause]")).to_have_count(1)
    expect(page.locator("#feedback-state")).to_contain_text("No feedback yet")
    page.fill("#feedback-form input[name=note]", "the quarterly batch")
    page.click("#feedback-form button[value=resolved]")
    expect(page).to_have_url(re.compile(rf"/anomalies/{anomaly_id}#feedback$"))
    expect(page.locator("#feedback-state")).to_contain_text(
        "Marked Resolved by admin@example.com: “the quarterly batch”"
    )
    screenshot("marked")
    page.goto(monitored.server.url + "/anomalies?open=1")
    expect(rows).to_have_count(2)
    assert dialogs == [] and errors == []


def test_the_overview_shows_the_forecast_panel(
    page: Page, monitored: Org, screenshot: Screenshot, errors: list[str]
) -> None:
    sign_in(page, monitored.server.url, "vision@example.com", "/")
    panel = page.locator(".forecast[data-scope='team=vision']")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-figure=forecast_month_end]")).to_contain_text("USD")
    expect(panel.locator("[data-figure=forecast_ranges]")).to_contain_text("80 %:")
    page.wait_for_selector("[data-chart=fig-forecast] .main-svg")
    expect(page.locator("[data-chart=fig-forecast] .legendtext")).to_contain_text(
        ["actual", "95 % range", "80 % range", "forecast"]
    )
    assert page.locator(".forecast[data-scope='org']").count() == 0
    screenshot("forecast")
    assert errors == []


def test_the_inbox_count_goes_down_when_read(
    page: Page, monitored: Org, screenshot: Screenshot, errors: list[str]
) -> None:
    sign_in(page, monitored.server.url, "vision@example.com", "/inbox")
    expect(page.locator("#unread-count")).to_have_text("1")
    item = page.locator("#inbox tr.unread")
    expect(item).to_have_count(1)
    expect(item.locator("a")).to_have_attribute(
        "href", f"/anomalies/{monitored.ids['team=vision']}"
    )
    screenshot("unread")
    item.locator("button:text-is('Mark read')").click()
    expect(page.locator("#inbox-unread")).to_have_text("0")
    expect(page.locator("#unread-count")).to_have_count(0)
    expect(page.locator("#inbox tr.read")).to_have_count(1)
    screenshot("read")
    assert errors == []
