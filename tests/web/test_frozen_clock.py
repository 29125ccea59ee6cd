"""The dashboard with the server's clock moved: on the 1st after the bill, and a year on.

The dashboard's "today" is the last day with cost in the lake, never the wall clock, so a server
started on the 1st of the next month, or on the last evening of a month a year later, shows the
same month of cost as one started the day the bill closed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.figures.filters import Dimensions, parse_filter
from tests.api.server import Server
from tests.clock import frozen_clock_env
from tests.web.conftest import sign_in
from tests.web.lake import Lake, six

CLOCKS = ["2026-11-01 00:30:00", "2027-12-31 23:30:00"]


@pytest.fixture(scope="module", params=CLOCKS)
def finance(
    request: pytest.FixtureRequest, org: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    copy = tmp_path_factory.mktemp("frozen") / "ws"
    shutil.copytree(org.root, copy)
    server = Server(copy, env=frozen_clock_env(request.param)).start()
    client = sign_in(server.url, "finance@example.com")
    try:
        yield client
    finally:
        client.close()
        server.stop()


def test_the_overview_is_the_lakes_last_month_whatever_the_clock(
    finance: httpx.Client, lake: Lake
) -> None:
    body = finance.get("/overview.json").json()
    last = lake.last_day()
    assert (body["as_of"], body["month"]) == (last.isoformat(), last.strftime("%Y-%m"))
    month = lake.total(last.replace(day=1), last + timedelta(1))
    assert month > 0
    assert Decimal(body["month_to_date"]) == six(month)


def test_costs_default_to_the_lakes_last_month_whatever_the_clock(
    finance: httpx.Client, lake: Lake
) -> None:
    last = lake.last_day()
    answer = finance.get("/v1/costs", params={"by": "team"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    window = (last.replace(day=1).isoformat(), (last + timedelta(1)).isoformat())
    assert (body["from"], body["to"]) == window
    assert Decimal(body["total"]) == six(lake.total(last.replace(day=1), last + timedelta(1)))


def _window(last: date, **params: str) -> tuple[date, date]:
    flt = parse_filter(params, Dimensions.of(("team",)), "USD", last)
    return flt.start, flt.end


def test_when_the_last_day_is_a_first_the_finished_month_stays_in_view() -> None:
    assert _window(date(2026, 10, 31)) == (date(2026, 10, 1), date(2026, 11, 1))
    assert _window(date(2026, 10, 15)) == (date(2026, 10, 1), date(2026, 10, 16))
    assert _window(date(2026, 11, 1)) == (date(2026, 10, 1), date(2026, 11, 2))
    assert _window(date(2027, 1, 1)) == (date(2026, 12, 1), date(2027, 1, 2))
    assert _window(date(2026, 11, 1), to="2026-11-02") == (date(2026, 11, 1), date(2026, 11, 2))
    explicit = _window(date(2026, 11, 1), **{"from": "2026-09-01"})
    assert explicit == (date(2026, 9, 1), date(2026, 11, 2))


@pytest.mark.parametrize(
    ("clock", "late", "missing"),
    [("2026-10-05 09:00:00", False, []), ("2026-12-04 09:00:00", True, ["2026-11"])],
)
def test_freshness_says_when_the_newest_cost_is_late(
    org: Workspace,
    tmp_path_factory: pytest.TempPathFactory,
    clock: str,
    late: bool,
    missing: list[str],
) -> None:
    copy = tmp_path_factory.mktemp("fresh") / "ws"
    shutil.copytree(org.root, copy)
    server = Server(copy, env=frozen_clock_env(clock)).start()
    try:
        with closing(sign_in(server.url, "finance@example.com")) as client:
            fresh = client.get("/overview.json").json()["freshness"]
            assert fresh["today"] == clock[:10] and fresh["newest"] == "2026-10-03"
            assert bool(fresh["late"]) is late and fresh["providers"]
            assert all(p["missing_months"] == missing for p in fresh["providers"])
            gaps = client.get("/v1/ingest").json()["missing_months"]
            assert sorted({g["month"] for g in gaps}) == missing
            page = client.get("/")
            assert ("Late data" in page.text) is late
            assert "2026-10-03" in page.text
    finally:
        server.stop()
