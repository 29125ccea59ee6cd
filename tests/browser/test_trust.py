# ruff: noqa: F811 (pytest fixtures imported from tests.web.conftest are parameters here)
"""Figures a finance lead can trust, read off the rendered pages in Chromium: GPU-hours per model
equal the GPU page's, the three coverage parts add up to the month, idle capacity is a line (not
a team or a model), data freshness is on every page, a member is told idle is held centrally.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.api.server import Server
from tests.browser.conftest import Screenshot
from tests.web.conftest import org, server  # noqa: F401 (fixtures)
from tests.web.org import PASSWORD

pytestmark = pytest.mark.browser
SPAN = "from=2026-09-01&to=2026-11-01"


def _sign_in(page: Page, url: str, email: str, path: str = "/") -> None:
    page.goto(url + path)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_contain_text(email)


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("—", "0") or "0")


def test_gpu_hours_per_model_equal_the_gpu_page(
    page: Page, server: Server, screenshot: Screenshot
) -> None:
    _sign_in(page, server.url, "finance@example.com", f"/models?{SPAN}")
    hours = page.locator("#models tr td:nth-child(12)").all_inner_texts()
    on_models = sum((_number(h) for h in hours), Decimal(0))
    assert on_models > 0, hours
    screenshot("models")
    page.goto(f"{server.url}/gpu?{SPAN}")
    figure = json.loads(page.locator("#fig-heatmap").text_content() or "{}")
    on_gpu = sum(Decimal(str(v)) for row in figure["data"][0]["z"] for v in row)
    assert abs(on_models - on_gpu) < Decimal("0.1") * len(hours), (on_models, on_gpu)
    screenshot("gpu")


def test_the_coverage_parts_add_up_and_idle_is_no_team(
    page: Page, server: Server, screenshot: Screenshot
) -> None:
    _sign_in(page, server.url, "finance@example.com")
    shares = [
        Decimal(s or "0")
        for s in page.locator("#card-coverage [data-part]").evaluate_all(
            "els => els.map(e => e.dataset.share)"
        )
    ]
    assert len(shares) == 3 and abs(sum(shares) - 1) < Decimal("1e-9"), shares
    teams = page.locator("#by-team tr.team td:first-child").all_inner_texts()
    assert teams and "Idle capacity" not in teams and "Unallocated" not in teams
    lines = page.locator("#by-team [data-line]").all_inner_texts()
    team_costs = page.locator("#by-team tr.team td.n").all_inner_texts()
    total = sum((_number(c) for c in [*team_costs, *lines[:2]]), Decimal(0))
    assert abs(total - _number(lines[2].split()[0])) < Decimal("0.02"), (team_costs, lines)
    for chart in ("fig-teams", "fig-models"):
        names = json.loads(page.locator(f"#{chart}").text_content() or "{}")["data"][0]["y"]
        assert "Idle capacity" not in names and "Unallocated" not in names, (chart, names)
    movers = page.locator("#movers tr td:first-child").all_inner_texts()
    assert sum("Idle capacity" in m for m in movers) == 1
    screenshot("overview-parts")


@pytest.mark.parametrize("path", ["/", "/explorer", "/models", "/gpu", "/ingest"])
def test_every_page_shows_data_freshness(page: Page, server: Server, path: str) -> None:
    _sign_in(page, server.url, "finance@example.com", path)
    fresh = page.locator("#freshness")
    expect(fresh).to_be_visible()
    assert re.search(r"2026-10-03", fresh.inner_text()), fresh.inner_text()


def test_a_member_is_told_idle_is_held_centrally(
    page: Page, server: Server, screenshot: Screenshot
) -> None:
    _sign_in(page, server.url, "vision@example.com")
    expect(page.locator("#idle-central")).to_contain_text("held centrally")
    page.goto(f"{server.url}/gpu?{SPAN}")
    expect(page.locator("#idle-central")).to_be_visible()
    utilisation = page.locator("#nodes tr td:nth-child(5)").all_inner_texts()
    assert utilisation and all(u == "—" for u in utilisation), utilisation
    screenshot("member-gpu")


def test_the_explorer_controls_group_and_filter(
    page: Page, server: Server, screenshot: Screenshot
) -> None:
    _sign_in(page, server.url, "finance@example.com", f"/explorer?{SPAN}")
    page.select_option("#group-by select[name=level]", "model")
    page.click("#group-by button[type=submit]")
    expect(page.locator("h2", has_text="By model")).to_be_visible()
    page.wait_for_load_state("load")  # the page's script binds the filter form
    page.select_option("#add-filter [data-filter-key]", "team")
    page.fill("#add-filter [data-filter-value]", "search")
    page.click("#add-filter button[type=submit]")
    expect(page).to_have_url(re.compile(r"level=model&team=search"))
    shown = page.locator("#rows tr td:first-child").all_inner_texts()
    assert sorted(shown) == ["(none)", "gpt-4o", "ranker"]  # team search's models only
    page.wait_for_load_state("load")
    page.select_option("#add-filter [data-filter-key]", "tag.")
    page.fill("#add-filter [data-filter-value]", "project=ranking")
    page.click("#add-filter button[type=submit]")
    expect(page).to_have_url(re.compile(r"tag\.project=ranking"))
    expect(page.locator("#crumbs")).to_contain_text("tag project = ranking")
    screenshot("explorer-controls")
