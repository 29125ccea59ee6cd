# ruff: noqa: F811 (pytest fixtures imported from tests.web are parameters here)
"""The Governance pages in a real browser: the list from the navigation with its tabs and the
policies in force, a violation's evidence and history, a finance user granting an exception
through the form, and a member who acknowledges their team's violation with no exception form —
with no dialog (the hostile evidence stays text) and no console error (a CSP violation is one)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshot, sign_in
from tests.web.org import HOSTILE
from tests.web.test_governance_pages import Governed, governed  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_list_and_a_violation_with_its_evidence(
    page: Page, governed: Governed, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    sign_in(page, governed.server.url, "finance@example.com", "/")
    page.click("#nav-governance")
    expect(page.locator("h1")).to_contain_text("Governance")
    expect(page.locator("#nav-governance")).to_have_class("on")
    expect(page.locator("#violations tr[data-violation]").first).to_contain_text("resource=i-web")
    expect(page.locator("#summary")).to_contain_text("at stake")
    expect(page.locator("#policies tr[data-policy]")).to_have_count(2)
    expect(page.locator("#policies tr[data-policy='tags']")).to_contain_text(HOSTILE)
    screenshot("list")
    page.click("#tabs a[data-tab='all']")
    expect(page.locator("#tabs [aria-current=page]")).to_have_text("all")
    page.click("#violations a:text-is('team=vision')")
    expect(page).to_have_url(re.compile(r"/governance/\d+$"))
    evidence = page.locator("#evidence")
    expect(evidence.locator("tr[data-evidence='missing'] dd")).to_have_text(HOSTILE)
    expect(evidence.locator("li")).to_contain_text([HOSTILE, "plain"])
    expect(page.locator("#changes tr[data-change='open']")).to_contain_text("evaluation")
    screenshot("detail")
    assert dialogs == [] and errors == []


def test_finance_grants_an_exception(
    page: Page, governed: Governed, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    vid = governed.ids["resource=i-browser"]
    sign_in(page, governed.server.url, "finance@example.com", f"/governance/{vid}")
    expect(page.locator("[data-figure=state]")).to_have_text("open")
    page.get_by_label("Justification").fill("load test agreed with platform")
    page.get_by_label("Until (last day, UTC)").fill("2026-10-31")
    page.click("#exception-form button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/governance/{vid}#history$"))
    expect(page.locator("[data-figure=state]")).to_have_text("exception")
    expect(page.locator("#state-note")).to_contain_text("load test agreed with platform")
    change = page.locator("#changes tr[data-change='exception']")
    expect(change).to_contain_text("finance@example.com")
    expect(change).to_contain_text("until 2026-11-01 00:00 UTC")
    screenshot("exception")
    page.click("#nav-governance")
    page.click("#tabs a[data-tab='exception']")
    row = page.locator(f"#violations tr[data-violation='{vid}']")
    expect(row).to_contain_text("approved by finance@example.com")
    assert dialogs == [] and errors == []


def test_a_member_acknowledges_without_an_exception_form(
    page: Page, governed: Governed, screenshot: Screenshot, dialogs: list[str], errors: list[str]
) -> None:
    sign_in(page, governed.server.url, "vision@example.com", "/governance")
    teams = page.locator("#violations tr[data-violation] td:nth-child(4)")
    expect(teams.first).to_have_text("vision")
    assert set(teams.all_inner_texts()) == {"vision"}
    page.click("#violations a:text-is('resource=i-web')")
    expect(page.locator("form#exception-form")).to_have_count(0)
    expect(page.locator("form#resolve-form")).to_have_count(1)
    page.get_by_label("Note").first.fill("moving it to p4d")
    page.click("#acknowledge-form button[type=submit]")
    expect(page.locator("[data-figure=state]")).to_have_text("acknowledged")
    expect(page.locator("#changes tr[data-change='acknowledge']")).to_contain_text(
        "moving it to p4d"
    )
    screenshot("member")
    other = governed.ids["resource=bucket-1"]
    answer = page.goto(f"{governed.server.url}/governance/{other}")
    assert answer is not None and answer.status == 404
    assert dialogs == []
    assert all("404" in e for e in errors), errors  # the browser logs the 404 itself
