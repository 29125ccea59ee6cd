# ruff: noqa: F811 (pytest fixtures imported from tests.web are parameters here)
"""The Budgets pages in a real browser: the list from the navigation, a budget whose two charts
Plotly draws, a finance user changing the amount through the form, and a member who sees their
team's budgets without any form — with no dialog and no console error (a CSP violation is one)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshot, sign_in
from tests.web.test_budget_pages import BUDGETS, Budgeted, budgeted  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_list_and_a_budget_with_its_charts(
    page: Page, budgeted: Budgeted, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    sign_in(page, budgeted.server.url, "finance@example.com", "/")
    page.click("#nav-budgets")
    expect(page.locator("h1")).to_contain_text("Budgets")
    expect(page.locator("#budgets tr[data-budget]")).to_have_count(len(BUDGETS))
    expect(page.locator("#budgets tr[data-budget='search-monthly']")).to_have_attribute(
        "data-state", "over"
    )
    expect(page.locator("#budgets tr[data-budget='vision-monthly'] meter")).to_have_count(1)
    screenshot("list")
    page.click("#budgets tr[data-budget='vision-monthly'] a")
    expect(page).to_have_url(re.compile(r"/budgets/vision-monthly$"))
    expect(page.locator("#projection")).to_contain_text("crosses the amount on")
    page.wait_for_selector("[data-chart=fig-period] .main-svg")  # Plotly drew an SVG
    page.wait_for_selector("[data-chart=fig-history] .main-svg")
    expect(page.locator("[data-chart=fig-period] .legendtext")).to_contain_text(
        ["spent", "95 % range", "80 % range", "projection", "amount"]
    )
    assert page.locator("[data-chart=fig-history] .bars .point").count() >= 2
    screenshot("detail")
    assert dialogs == [] and errors == []


def test_finance_changes_the_amount(
    page: Page, budgeted: Budgeted, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    sign_in(page, budgeted.server.url, "finance@example.com", "/budgets/vision-browser")
    expect(page.locator("[data-figure=amount]")).to_have_text("400.00 USD")
    page.get_by_label("Amount per period (USD)").fill("850")
    page.get_by_label("Hard or soft").select_option("hard")
    page.click("#edit-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/budgets/vision-browser$"))
    expect(page.locator("[data-figure=amount]")).to_have_text("850.00 USD")
    expect(page.locator("h1 .note")).to_contain_text("hard")
    screenshot("edited")
    page.click("#nav-budgets")
    row = page.locator("#budgets tr[data-budget='vision-browser']")
    expect(row.locator("[data-figure=amount]")).to_have_text("850.00 USD")
    assert dialogs == [] and errors == []


def test_a_member_sees_no_form(
    page: Page, budgeted: Budgeted, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    sign_in(page, budgeted.server.url, "vision@example.com", "/budgets")
    rows = page.locator("#budgets tr[data-budget]")
    expect(rows).to_have_count(3)
    expect(page.locator("#new-budget")).to_have_count(0)
    page.click("#budgets tr[data-budget='vision-monthly'] a")
    page.wait_for_selector("[data-chart=fig-period] .main-svg")
    expect(page.locator("form#edit-form")).to_have_count(0)
    expect(page.locator("form#delete-form")).to_have_count(0)
    screenshot("member")
    answer = page.goto(budgeted.server.url + "/budgets/search-monthly")
    assert answer is not None and answer.status == 404
    assert dialogs == []
    assert all("404" in e for e in errors), errors  # the browser logs the 404 itself
