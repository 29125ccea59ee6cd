"""Forecasts of a workspace's scopes: usage through the engine, monthly fees repeated by the
calendar, known changes from forecasts.yaml, saved for the dashboard and API."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from costcouncil.errors import ConfigError
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import load, refresh_forecasts
from costcouncil.workspace.forecast.scopes import default_scopes, forecast_scopes
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.factories import Charge, write_focus

TEAM = Scope("team", "a")


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Two months of team a at $100 a day (+$2 on weekdays), and a $300 support fee on the 1st."""
    root = tmp_path_factory.mktemp("fc")
    ws = Workspace.init(root / "ws", name="fc")
    charges = []
    for period, days in (("2026-09", 30), ("2026-10", 31)):
        for day in range(1, days + 1):
            cost = Decimal(100 + (2 if day % 7 not in (5, 6) else 0))
            charges.append(Charge(cost=str(cost), period=period, day=day, resource="i-1", tags={"team": "a"}))
        charges.append(Charge(cost="300.00", period=period, day=1, resource="support", service="AWS Support",
                              category="Other", tags={"team": "a"},
                              names={"ChargeCategory": "Purchase", "ChargeClass": ""}))  # fmt: skip
    write_focus(root / "bill.csv", charges)
    assert ingest(ws, [root / "bill.csv"], IngestOptions())[0].status == "ingested"
    (ws.root / "rules.yaml").write_text("version: 1\nrules:\n  - name: tags\n    kind: tag\n")
    allocate(ws, AllocateOptions())
    return ws


def test_usage_is_forecast_and_the_monthly_fee_recurs_on_the_first(org: Workspace) -> None:
    [made] = forecast_scopes(org, [TEAM], horizon=45)
    fc = made.forecast
    assert str(fc.timestamps[0].astype("datetime64[D]")) == "2026-11-01" and len(fc.value) == 45
    assert made.recurring[0] == pytest.approx(300) and made.recurring[1:30].sum() == 0
    assert made.recurring[30] == pytest.approx(300)  # 1 December
    assert 95 < fc.value[1] < 110 and fc.value[0] > 390
    assert np.all(fc.lo95 <= fc.lo80) and np.all(fc.lo80 <= fc.value) and np.all(fc.value <= fc.hi80)
    assert np.all(fc.hi80 <= fc.hi95) and np.all(fc.lo95 >= 0)


def test_default_scopes_cover_the_owner_keys_providers_and_categories(org: Workspace) -> None:
    scopes = {str(s) for s in default_scopes(org)}
    assert {"org", "team=a", "provider=AWS", "service_category=Compute"} <= scopes
    assert not any(s.startswith("run=") for s in scopes)


def test_a_known_change_moves_the_forecast(org: Workspace) -> None:
    [before] = forecast_scopes(org, [TEAM], horizon=20)
    (org.root / "forecasts.yaml").write_text(
        "version: 1\nadjustments:\n  - scope: team=a\n    start: 2026-11-10\n    amount: 50\n"
        "    label: second instance\n"
    )
    try:
        [after] = forecast_scopes(org, [TEAM], horizon=20)
    finally:
        (org.root / "forecasts.yaml").unlink()
    delta = after.forecast.value - before.forecast.value
    assert np.allclose(delta[:9], 0) and np.allclose(delta[9:], 50)


def test_a_bad_forecasts_yaml_names_the_entry(org: Workspace) -> None:
    (org.root / "forecasts.yaml").write_text("version: 1\nadjustments:\n  - scope: taem=a\n    start: 2026-11-10\n")
    try:
        with pytest.raises(ConfigError, match=r"adjustments\.0\.scope: .*did you mean 'team'"):
            forecast_scopes(org, [TEAM])
    finally:
        (org.root / "forecasts.yaml").unlink()


def test_saved_forecasts_have_the_month_end_and_twelve_months(org: Workspace) -> None:
    assert load(org) is None
    saved = refresh_forecasts(org, [Scope(), TEAM])
    assert saved is not None and load(org) is not None
    team = saved.scopes["team=a"]
    assert team["month"] == "2026-11" and team["month_actual"] == 0
    assert 3_000 < team["month_end"]["value"] < 3_500  # 30 days near $101 plus the fee
    assert team["last_month"] == 3_446  # 31 x 100, 23 weekdays x 2, the 300 fee
    assert len(team["months"]) == 12 and team["months"][0]["month"] == "2026-11"
    points = saved.points("team=a")
    assert points.num_rows == 366 and points.column("date")[0].as_py().isoformat() == "2026-11-01"
