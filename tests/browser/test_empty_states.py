# ruff: noqa: F811 (pytest fixtures imported from tests.web.conftest are parameters here)
"""Empty states in a real browser: a member filtering to another team reads "Nothing visible to
this account", an empty range reads "No cost between …", and no chart with Plotly's default
−1..6 axes (an empty figure) is drawn anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.api.server import Server
from tests.browser.conftest import Screenshot
from tests.browser.test_dashboard import _sign_in
from tests.web.conftest import org, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

HIDDEN = "Nothing visible to this account: your teams are vision."
NO_COST = "No cost between 2026-11-01 and 2026-12-01."
#: The axes Plotly gives a figure without data.
BARE = [[-1, 6], [-1, 4]]
AXES = """() => Array.from(document.querySelectorAll('[data-chart]'))
  .map(d => [d._fullLayout.xaxis.range, d._fullLayout.yaxis.range])"""


def _axes(page: Page) -> list[Any]:
    return list(page.evaluate(AXES))


def test_a_member_filtering_to_another_team_is_told_why(
    page: Page, server: Server, screenshot: Screenshot
) -> None:
    _sign_in(page, server.url, "vision@example.com")
    page.goto(server.url + "/explorer?team=search&from=2026-09-01&to=2026-11-01")
    expect(page.locator("#empty-trend")).to_have_text(HIDDEN)
    expect(page.locator("#rows-empty")).to_have_text(HIDDEN)
    expect(page.locator(".main-svg")).to_have_count(0)
    screenshot("member-other-team")
    for path in ("/models", "/gpu"):
        page.goto(server.url + path + "?team=search")
        expect(page.locator("[role=status]").first).to_have_text(HIDDEN)
        expect(page.locator(".main-svg")).to_have_count(0)


def test_an_empty_range_says_there_is_no_cost(
    page: Page, server: Server, screenshot: Screenshot
) -> None:
    _sign_in(page, server.url, "finance@example.com")
    page.goto(server.url + "/explorer?from=2026-11-01&to=2026-12-01")
    expect(page.locator("#empty-trend")).to_have_text(NO_COST)
    expect(page.locator(".main-svg")).to_have_count(0)
    screenshot("empty-range")
    page.goto(server.url + "/gpu?from=2026-11-01&to=2026-12-01")
    expect(page.locator("#empty-daily")).to_contain_text("No GPU cost between 2026-11-01")
    expect(page.locator(".main-svg")).to_have_count(0)


@pytest.mark.parametrize("path", ["/", "/explorer", "/models", "/gpu"])
def test_no_drawn_chart_has_the_empty_axes(page: Page, server: Server, path: str) -> None:
    _sign_in(page, server.url, "finance@example.com", path + "?from=2026-09-01&to=2026-11-01")
    page.wait_for_selector("[data-chart] .main-svg")
    drawn = _axes(page)
    assert drawn and BARE not in drawn
    # The control: an empty figure drawn on this page does get the bare axes this test detects.
    page.evaluate("""() => { const d = document.createElement('div');
      d.setAttribute('data-chart', 'control'); document.body.appendChild(d);
      return window.Plotly.newPlot(d, [], {}); }""")
    assert _axes(page)[-1] == BARE
