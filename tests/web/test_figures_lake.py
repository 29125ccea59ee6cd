"""Every figure the server shows equals the same figure computed straight from the lake.

The oracle (:mod:`tests.web.lake`) joins the allocation Parquet files to the cost files with
DuckDB and sums in Python; the server answers from its rollups. They must agree on the overview
(``/overview.json`` and the numbers on the HTML page) and on ``/v1/costs`` at every grain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.server import Server
from tests.web.conftest import sign_in
from tests.web.lake import Lake, overview, six
from tests.web.org import HOSTILE

FIGURES = ("month_to_date", "last_month_same_days", "last_month", "run_rate", "unallocated",
           "idle_gpu", "coverage", "idle_share_of_compute")  # fmt: skip
MONEY_ON_PAGE = ("month_to_date", "last_month", "run_rate", "idle_gpu")
RANGES = [("2026-09-01", "2026-11-01"), ("2026-09-02", "2026-10-03"), ("2026-10-02", "2026-10-03")]


@pytest.fixture(scope="module")
def finance(server: Server) -> Iterator[httpx.Client]:
    client = sign_in(server.url, "finance@example.com")
    yield client
    client.close()


@pytest.fixture(scope="module")
def expected(lake: Lake) -> dict[str, Any]:
    return overview(lake, lake.last_day())


@pytest.fixture(scope="module")
def shown(finance: httpx.Client) -> dict[str, Any]:
    answer = finance.get("/overview.json")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _money(value: Decimal, currency: str = "") -> str:
    return f"{value:,.2f} {currency}".strip()


def test_the_overview_is_the_month_of_the_last_day_with_cost(
    shown: dict[str, Any], lake: Lake
) -> None:
    assert shown["as_of"] == lake.last_day().isoformat()
    assert shown["month"] == lake.last_day().strftime("%Y-%m")


@pytest.mark.parametrize("figure", FIGURES)
def test_overview_figure_equals_the_lake(
    figure: str, shown: dict[str, Any], expected: dict[str, Any]
) -> None:
    want = expected[figure]
    assert want is not None and want != 0, f"{figure} is zero in the lake: a weak check"
    assert abs(Decimal(shown[figure]) - six(want)) <= Decimal("0.000001"), figure


def test_change_is_month_to_date_against_the_same_days(
    shown: dict[str, Any], expected: dict[str, Any]
) -> None:
    change = expected["month_to_date"] - expected["last_month_same_days"]
    assert Decimal(shown["change"]) == six(change) != 0


def test_cost_by_team_and_by_model_equal_the_lake(
    shown: dict[str, Any], expected: dict[str, Any]
) -> None:
    teams = {r["team"]: Decimal(r["cost"]) for r in shown["by_team"]}
    models = {r["model"]: Decimal(r["cost"]) for r in shown["by_model"]}
    assert teams == {k: six(v) for k, v in expected["by_team"].items()}
    assert models == {k: six(v) for k, v in expected["by_model"].items()}
    costs = [Decimal(r["cost"]) for r in shown["by_team"]]
    assert costs == sorted(costs, reverse=True)
    assert not {"__idle__", "__unallocated__"} & (set(teams) | set(models)), "lines, not owners"


def test_the_three_coverage_parts_add_up_to_the_month(
    shown: dict[str, Any], expected: dict[str, Any]
) -> None:
    parts = {k: Decimal(v["cost"]) for k, v in shown["parts"].items()}
    assert parts == {k: six(v) for k, v in expected["parts"].items()}
    assert all(parts.values()), "each part is non-zero in the test organisation"
    assert sum(parts.values()) == Decimal(shown["month_to_date"])
    shares = sum(Decimal(str(v["share"])) for v in shown["parts"].values())
    assert abs(shares - 1) < Decimal("1e-9")
    assert Decimal(str(shown["coverage"])) == Decimal(str(shown["parts"]["allocated"]["share"]))


def test_idle_capacity_moves_once(shown: dict[str, Any]) -> None:
    # October's inference jobs use one GPU instead of two: the node's idle capacity grows.
    idle = [m for m in shown["movers"] if m["name"] == "__idle__"]
    assert [m["key"] for m in idle] == ["line"] and Decimal(idle[0]["change"]) > 0


def test_movers_equal_the_lake(shown: dict[str, Any], expected: dict[str, Any]) -> None:
    want = [{k: six(v) if isinstance(v, Decimal) else v for k, v in m.items()}
            for m in expected["movers"]]  # fmt: skip
    got = [{k: Decimal(v) if k in ("now", "before", "change") else v for k, v in m.items()}
           for m in shown["movers"]]  # fmt: skip
    assert want and got == want


def test_daily_trend_by_category_equals_the_lake(
    shown: dict[str, Any], expected: dict[str, Any]
) -> None:
    got = {(r["period"], r["category"]): Decimal(r["cost"]) for r in shown["trend"]}
    assert got == {k: six(v) for k, v in expected["trend"].items()}
    assert {c for _, c in got} >= {"compute", "storage", "support"}


def test_the_page_shows_the_lake_figures(finance: httpx.Client, expected: dict[str, Any]) -> None:
    page = finance.get("/")
    assert page.status_code == 200
    cards = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page.text))
    for figure in MONEY_ON_PAGE:
        assert cards[figure] == _money(expected[figure], "USD"), figure
    assert cards["coverage"] == f"{float(expected['coverage']) * 100:.1f} %"
    cells = dict(re.findall(r'data-team="([^"]*)">([^<]*)<', page.text))
    assert cells == {team: _money(cost) for team, cost in expected["by_team"].items()}


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_costs_by_team_total_the_lake(
    finance: httpx.Client, lake: Lake, start: str, end: str
) -> None:
    span = (date.fromisoformat(start), date.fromisoformat(end))
    body = _costs(finance, {"by": "team", "from": start, "to": end})
    want = lake.by(*span, lambda r: r.team)
    assert {r["team"]: Decimal(r["cost"]) for r in body["rows"]} == {
        k: six(v) for k, v in want.items()
    }
    assert Decimal(body["total"]) == six(lake.total(*span)) != 0


@pytest.mark.parametrize("grain", ["hour", "day", "week", "month"])
@pytest.mark.parametrize(("start", "end"), RANGES)
def test_costs_at_every_grain_sum_to_the_lake(
    finance: httpx.Client, lake: Lake, grain: str, start: str, end: str
) -> None:
    span = (date.fromisoformat(start), date.fromisoformat(end))
    body = _costs(finance, {"grain": grain, "from": start, "to": end})
    assert not body["truncated"]
    assert sum(Decimal(r["cost"]) for r in body["rows"]) == six(lake.total(*span))
    if grain == "day":
        per_day = lake.by(*span, lambda r: r.day.isoformat())
        assert {r["period"]: Decimal(r["cost"]) for r in body["rows"]} == {
            k: six(v) for k, v in per_day.items()
        }


def test_costs_default_to_the_month_of_the_last_day(finance: httpx.Client, lake: Lake) -> None:
    last = lake.last_day()
    body = _costs(finance, {})
    assert body["from"] == last.replace(day=1).isoformat()
    assert Decimal(body["total"]) == six(lake.total(last.replace(day=1), last + timedelta(1)))


@pytest.mark.parametrize(
    ("key", "value"),
    [("project", "detector"), ("project", HOSTILE), ("team", "search"), ("model", "detector-v3"),
     ("*", "detector"), ("", "x"), ('"', "x"), ("project.x", "x"), ("a[0]", "x"), ("~1", "x")],
)  # fmt: skip
def test_tag_filters_match_one_key_exactly(
    finance: httpx.Client, lake: Lake, key: str, value: str
) -> None:
    start, end = RANGES[0]
    span = (date.fromisoformat(start), date.fromisoformat(end))
    body = _costs(finance, {"from": start, "to": end, f"tag.{key}": value})
    assert Decimal(body["total"]) == six(lake.total(*span, lambda r: r.tags.get(key) == value))


def _costs(client: httpx.Client, params: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/v1/costs", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
