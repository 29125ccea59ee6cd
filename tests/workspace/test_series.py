"""Scope series: allocated cost per day or hour and scope, read from the rollups."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from costcouncil.errors import ConfigError
from costcouncil.schema.series import DAY, HOUR
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.allocate.series import Scope, all_values, parse_scope, scope_series
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.factories import Charge, write_focus
from tests.web.org import build_org


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_org(tmp_path_factory.mktemp("org"))


def test_the_org_series_has_every_day_and_adds_up_to_the_lake(org: Workspace) -> None:
    series = scope_series(org, [Scope()])[Scope()]
    assert series.step == DAY and series.start == np.datetime64("2026-09-01")
    assert len(series) == 33  # 2026-09-01 .. 2026-10-03, the last day daily-grained, so complete
    assert Decimal(str(round(series.values.sum(), 6))) == Decimal("423.00")
    days = series.timestamps.astype("datetime64[D]").astype(str)
    billed = {d for d, v in zip(days, series.values, strict=True) if v != 0}
    assert billed == {f"2026-{m}-0{d}" for m in ("09", "10") for d in (1, 2, 3)}


def test_a_team_series_is_its_allocated_cost(org: Workspace) -> None:
    search = Scope("team", "search")
    series = scope_series(org, [search, Scope("team", "nobody")])
    assert list(series) == [search]  # a scope without cost is left out
    values = series[search].values
    # storage 7 a day in September, 14 in October, plus its GPU, LLM and support shares
    assert values[0] > 7 and values[-1] > 14 and values[5] == 0


def test_values_of_a_dimension_come_by_descending_cost(org: Workspace) -> None:
    teams = all_values(org, "team")
    assert {"vision", "search"} <= set(teams)
    assert all_values(org, "provider")[0] == "AWS"


def test_a_scope_names_a_known_dimension(org: Workspace) -> None:
    assert parse_scope(org, "team=vision") == Scope("team", "vision")
    assert parse_scope(org, " org ") == Scope()
    with pytest.raises(ConfigError, match="did you mean 'team'"):
        parse_scope(org, "taem=vision")
    with pytest.raises(ConfigError, match="DIMENSION=VALUE"):
        parse_scope(org, "vision")
    with pytest.raises(ConfigError, match="unknown dimension 'service_category'"):
        parse_scope(org, "service_category=Compute", grain="hour")


def _hourly_bill(root: Path, last_hour: int) -> Workspace:
    ws = Workspace.init(root / "ws", name="hourly")
    charges = []
    for day, hours in ((1, range(24)), (2, range(24)), (3, range(last_hour + 1))):
        for h in hours:
            start = f"2026-10-{day:02d}T{h:02d}:00:00Z"
            end = f"2026-10-{day:02d}T{h + 1:02d}:00:00Z" if h < 23 else f"2026-10-{day + 1:02d}T00:00:00Z"
            charges.append(Charge(cost="1.00", day=day, tags={"team": "a"},
                                  names={"ChargePeriodStart": start, "ChargePeriodEnd": end}))  # fmt: skip
    write_focus(root / "bill.csv", charges)
    assert ingest(ws, [root / "bill.csv"], IngestOptions())[0].status == "ingested"
    (ws.root / "rules.yaml").write_text("version: 1\nrules:\n  - name: tags\n    kind: tag\n")
    allocate(ws, AllocateOptions())
    return ws


def test_a_day_still_being_billed_is_left_out(tmp_path: Path) -> None:
    ws = _hourly_bill(tmp_path / "partial", last_hour=10)
    daily = scope_series(ws, [Scope("team", "a")])[Scope("team", "a")]
    assert list(daily.values) == [24.0, 24.0]  # the 3rd has 11 of its 24 hours: not yet complete
    hourly = scope_series(ws, [Scope()], grain="hour")[Scope()]
    assert hourly.step == HOUR and len(hourly) == 48 + 11 and hourly.values.sum() == 59.0
    whole = _hourly_bill(tmp_path / "whole", last_hour=23)
    assert len(scope_series(whole, [Scope()])[Scope()]) == 3


def test_an_unknown_metric_is_refused(org: Workspace) -> None:
    with pytest.raises(ConfigError, match="choose one of EffectiveCost"):
        scope_series(org, [Scope()], metric="Cost")


def test_usage_charges_are_a_filter(org: Workspace) -> None:
    every = scope_series(org, [Scope()])[Scope()].values
    usage = scope_series(org, [Scope()], charges="usage")[Scope()]
    assert np.allclose(usage.values, every)  # the small organisation bills only usage
    assert scope_series(org, [Scope()], charges="other") == {}
    with pytest.raises(ConfigError, match="choose one of all, usage, other"):
        scope_series(org, [Scope()], charges="fees")
    with pytest.raises(ConfigError, match="no ChargeCategory"):
        scope_series(org, [Scope()], charges="usage", grain="hour")
