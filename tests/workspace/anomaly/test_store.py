"""Monitors, anomalies, feedback and annotations in the app database, as each role sees them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from costcouncil.appdb.alerts import Anomaly
from costcouncil.errors import ConfigError
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace

T0 = datetime(2026, 3, 2, tzinfo=UTC)
VISION = frozenset({"vision"})


@pytest.fixture
def store(workspace: Workspace) -> Iterator[Monitoring]:
    opened = Monitoring.open(workspace)
    yield opened
    opened.close()


def _anomaly(store: Monitoring, monitor: str, day: int, impact: str = "120.00") -> int:
    info = next(m for m in store.monitors() if m.name == monitor)
    with store.session() as s:
        row = Anomaly(monitor_id=info.id, scope=info.scope, team=info.team, grain="day",
                      start=T0.replace(day=day), end=None, actual="200.00", expected="80.00",
                      impact=impact, impact_pct=150.0, score=9.5, direction="up", currency="USD",
                      causes=[], detected_at=T0, updated_at=T0)  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def test_monitors_are_added_once_and_listed_by_name(store: Monitoring) -> None:
    store.add_monitor("team=vision", Scope("team", "vision"), builtin=True)
    store.add_monitor("gpu spend", Scope("service_category", "Compute"), sensitivity=2.0)
    assert [m.name for m in store.monitors()] == ["gpu spend", "team=vision"]
    vision = store.monitors()[1]
    assert vision.team == "vision" and vision.builtin and vision.grain == "day"
    with pytest.raises(ConfigError, match="exists already"):
        store.add_monitor("gpu spend", Scope())
    with pytest.raises(ConfigError, match="choose one of day, hour"):
        store.add_monitor("weekly", Scope(), grain="week")
    with pytest.raises(ConfigError, match="sensitivity"):
        store.add_monitor("x", Scope(), sensitivity=0)


def test_a_builtin_monitor_is_disabled_not_removed(store: Monitoring) -> None:
    store.add_monitor("org", Scope(), builtin=True)
    store.add_monitor("mine", Scope("team", "a"))
    store.remove_monitor("org")
    store.remove_monitor("mine")
    assert [(m.name, m.enabled) for m in store.monitors()] == [("org", False)]
    assert store.monitors(enabled_only=True) == []
    store.enable_monitor("org")
    assert store.monitors(enabled_only=True)[0].name == "org"
    with pytest.raises(ConfigError, match="no monitor 'gone'"):
        store.remove_monitor("gone")


def test_a_member_sees_only_their_teams(store: Monitoring) -> None:
    for scope in (Scope(), Scope("team", "vision"), Scope("team", "search")):
        store.add_monitor(str(scope), scope)
    mine = _anomaly(store, "team=vision", 3)
    theirs = _anomaly(store, "team=search", 4)
    _anomaly(store, "org", 5)
    assert [m.name for m in store.monitors(VISION)] == ["team=vision"]
    assert [a.id for a in store.anomalies(VISION)] == [mine]
    assert len(store.anomalies()) == 3
    with pytest.raises(ConfigError, match=f"no anomaly {theirs}$"):
        store.anomaly(theirs, VISION)  # answered as if it did not exist
    with pytest.raises(ConfigError, match=f"no anomaly {theirs}$"):
        store.mark(theirs, "expected", visible=VISION)
    with pytest.raises(ConfigError, match="no monitor 'team=search'"):
        store.remove_monitor("team=search", visible=VISION)


def test_feedback_is_recorded_with_its_note(store: Monitoring) -> None:
    store.add_monitor("org", Scope())
    found = _anomaly(store, "org", 3)
    marked = store.mark(found, "expected", "quarterly retrain", actor="ana@example.com")
    assert (marked.feedback, marked.feedback_note, marked.feedback_by) == (
        "expected", "quarterly retrain", "ana@example.com")  # fmt: skip
    assert store.anomalies(open_only=True) == []
    assert marked.as_dict()["impact"] == "120.00" and marked.as_dict()["ongoing"] is True
    with pytest.raises(ConfigError, match="choose one of expected, not_anomaly, resolved"):
        store.mark(found, "fine")


def test_annotations_need_a_label_and_an_end_after_the_start(store: Monitoring) -> None:
    added = store.add_annotation(Scope("team", "vision"), T0, T0.replace(day=9), "launch of v2")
    assert store.annotations(VISION)[0].label == "launch of v2"
    assert store.annotations(frozenset({"search"})) == []
    with pytest.raises(ConfigError, match="not after its start"):
        store.add_annotation(Scope(), T0, T0, "x")
    with pytest.raises(ConfigError, match="needs a label"):
        store.add_annotation(Scope(), T0, None, "  ")
    store.remove_annotation(added.id)
    assert store.annotations() == []
