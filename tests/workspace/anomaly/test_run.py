"""Detection over a workspace's monitors: a planted jump is found on its scope, explained, kept
once across runs, and silenced by feedback or an annotation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costcouncil.errors import ConfigError
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.anomaly.run import run_detection
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.factories import Charge, write_focus

RUN_AT = datetime(2026, 11, 1, 6, tzinfo=UTC)


def _org(root: Path, *, outage: bool = False) -> Workspace:
    """Sixty-one days of steady spend for teams a and b; on 20-22 October team a also pays for a
    new instance, $400 a day (with ``outage``, team b's bucket also costs nothing on 25-27
    October)."""
    ws = Workspace.init(root / "ws", name="planted")
    charges = []
    for period, days in (("2026-09", 30), ("2026-10", 31)):
        for day in range(1, days + 1):
            wobble = Decimal(day % 3)
            gone = outage and period == "2026-10" and 25 <= day <= 27
            charges += [
                Charge(cost=str(100 + wobble), period=period, day=day, resource="i-web", tags={"team": "a"}),
                Charge(cost="0" if gone else str(50 - wobble), period=period, day=day, resource="bucket", tags={"team": "b"},
                       service="Amazon Simple Storage Service", category="Storage"),
            ]  # fmt: skip
            if period == "2026-10" and 20 <= day <= 22:
                charges.append(Charge(cost="400.00", period=period, day=day, resource="i-new",
                                      tags={"team": "a"}))  # fmt: skip
    write_focus(root / "bill.csv", charges)
    assert ingest(ws, [root / "bill.csv"], IngestOptions())[0].status == "ingested"
    (ws.root / "rules.yaml").write_text("version: 1\nrules:\n  - name: tags\n    kind: tag\n")
    allocate(ws, AllocateOptions())
    return ws


@pytest.fixture
def org(tmp_path: Path) -> Workspace:
    return _org(tmp_path)


def test_the_planted_jump_is_found_on_its_scope_and_explained(org: Workspace) -> None:
    store = Monitoring.open(org)
    outcome = run_detection(org, store, at=RUN_AT)
    assert {m.name for m in store.monitors()} >= {"org", "team=a", "team=b", "provider=AWS"}
    mine = store.anomalies(monitor="team=a")
    assert len(mine) == 1, mine
    found = mine[0]
    assert (found.start, found.end) == (datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC))
    assert found.direction == "up" and found.impact > Decimal("1100") and found.impact_pct and found.impact_pct > 200
    assert found.causes[0]["cause"] == "new_resource"
    assert "i-new" in found.causes[0]["evidence"]["resources"]
    assert store.anomalies(monitor="team=b") == []
    assert [a.start.day for a in store.anomalies(monitor="org")] == [20]
    assert outcome.count("new") == len(store.anomalies()) and outcome.explained >= 2
    again = run_detection(org, store, at=RUN_AT)
    assert again.count("new") == again.count("grew") == again.count("ended") == 0
    assert len(store.anomalies()) == len(outcome.changes)
    store.close()


def test_feedback_not_an_anomaly_keeps_it_from_coming_back(org: Workspace) -> None:
    store = Monitoring.open(org)
    run_detection(org, store, at=RUN_AT)
    [found] = store.anomalies(monitor="team=a")
    store.mark(found.id, "not_anomaly", "a planned load test")
    rerun = run_detection(org, store, at=RUN_AT)
    assert [c for c in rerun.changes if c.monitor == "team=a" and c.kind == "new"] == []
    assert store.anomaly(found.id).feedback == "not_anomaly"
    store.close()


def test_an_annotated_window_is_not_flagged(org: Workspace) -> None:
    store = Monitoring.open(org)
    store.add_annotation(Scope("team", "a"), datetime(2026, 10, 20, tzinfo=UTC),
                         datetime(2026, 10, 23, tzinfo=UTC), "load test")  # fmt: skip
    run_detection(org, store, at=RUN_AT)
    assert store.anomalies(monitor="team=a") == []
    assert store.anomalies(monitor="org") == []  # a team's launch moves the total too
    assert store.anomalies(monitor="provider=AWS") != []  # other scopes still see it
    store.close()


def test_monitors_record_drops_only_when_asked(tmp_path: Path) -> None:
    ws = _org(tmp_path, outage=True)
    store = Monitoring.open(ws)
    store.add_monitor("b-both", Scope("team", "b"), direction="both")
    store.add_monitor("b-down", Scope("team", "b"), direction="down")
    with pytest.raises(ConfigError, match="direction 'sideways'"):
        store.add_monitor("b-bad", Scope("team", "b"), direction="sideways")
    run_detection(ws, store, at=RUN_AT)
    assert {m.name: m.direction for m in store.monitors()}["team=b"] == "up"
    assert store.anomalies(monitor="team=b") == []  # the default watches spend going up
    for name in ("b-both", "b-down"):
        [drop] = store.anomalies(monitor=name)
        assert drop.direction == "down" and drop.start == datetime(2026, 10, 25, tzinfo=UTC)
        assert drop.impact < Decimal("-140")
    assert [a.direction for a in store.anomalies(monitor="team=a")] == ["up"]
    store.close()
