"""Budgets and their holds in the app database (SQLite and PostgreSQL): saved and read back
exactly, members' visibility, budgets.yaml import with a dry run that changes nothing, holds
written and read back for a restart, settlements counted until allocation covers their day,
every change audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from costcouncil.appdb.db import Database
from costcouncil.appdb.models import AuditEvent
from costcouncil.budgets import Amount, Budget, Threshold, Window, parse_budgets
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.workspace.budgets.store import BudgetStore, known_keys
from costcouncil.workspace.core import Workspace
from tests.workspace.notify.org import database

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
PLAN = Budget(
    "vision-plan", "team=vision,environment=prod", Amount("plan", plan={"2026-03": Decimal("1234.56")}),
    thresholds=(Threshold(Decimal("80"), "actual"), Threshold(Decimal("100"), "forecast")),
    hard=True, owner="ana@example.com", team="vision",
)  # fmt: skip
LAUNCH = Budget(
    "launch", "org", Amount("auto", months=2, factor=Decimal("1.1")), period="custom",
    windows=(Window(date(2026, 3, 5), date(2026, 4, 1)),),
)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database(request.param, tmp_path)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws", name="budgets")


def test_budgets_round_trip_and_members_see_their_teams(db: Database, ws: Workspace) -> None:
    store = BudgetStore(db)
    store.save(ws, PLAN, actor="fin@example.com")
    store.save(ws, LAUNCH)
    assert store.budgets() == [LAUNCH, PLAN]  # by name, every field back exactly
    assert store.budgets(frozenset({"vision"})) == [PLAN]
    with pytest.raises(NotFoundError):
        store.budget("launch", frozenset({"vision"}))
    with pytest.raises(ConfigError, match="exists already"):
        store.save(ws, PLAN)
    with pytest.raises(ConfigError, match="did you mean 'team'"):
        store.save(ws, Budget("typo", "teem=vision", Amount("fixed", Decimal(1))))
    with db.session() as s:
        actions = [(e.action, e.target, e.actor) for e in s.scalars(select(AuditEvent))]
    assert actions[:2] == [("budget.add", "vision-plan", "fin@example.com"), ("budget.add", "launch", "cli")]


def test_import_dry_run_changes_nothing_then_applies(db: Database, ws: Workspace) -> None:
    store = BudgetStore(db)
    store.save(ws, PLAN)
    text = "version: 1\nbudgets:\n  - name: launch\n    scope: org\n    amount: 500\n"
    wanted = parse_budgets(text, "budgets.yaml", known_keys=known_keys(ws))
    dry = store.import_budgets(ws, wanted, dry_run=True)
    assert [(c.name, c.kind) for c in dry] == [("launch", "add"), ("vision-plan", "remove")]
    assert store.budgets() == [PLAN]
    store.import_budgets(ws, wanted, dry_run=False)
    assert [b.name for b in store.budgets()] == ["launch"]
    assert store.budget("launch").amount == Amount("fixed", Decimal(500))


def test_holds_survive_and_settlements_count_until_allocated(db: Database, ws: Workspace) -> None:
    store = BudgetStore(db)
    store.save(ws, PLAN)
    store.save(ws, LAUNCH)
    store.add_holds("h1", ["vision-plan", "launch"], Decimal("2.50"), T0, T0 + timedelta(minutes=5), "gw")
    store.add_holds("h2", ["vision-plan"], Decimal("1.25"), T0, T0 + timedelta(minutes=5), "gw")
    assert sorted((h.id, h.budget, h.amount) for h in store.open_holds()) == [
        ("h1", "launch", Decimal("2.50")), ("h1", "vision-plan", Decimal("2.50")),
        ("h2", "vision-plan", Decimal("1.25")),
    ]  # fmt: skip
    store.close_holds("h1", "settled", T0, actual=Decimal("2.40"), day=date(2026, 3, 2))
    store.close_holds("h1", "released", T0)  # closed already: nothing changes
    store.close_holds("h2", "settled", T0, actual=Decimal("1.00"), counted=True, day=date(2026, 3, 2))
    assert store.open_holds() == []
    assert store.settlements("vision-plan", date(2026, 3, 1)) == Decimal("2.40")  # h2 came as an event
    assert store.settlements("vision-plan", date(2026, 3, 2)) == 0  # the lake covers 2 March now
    assert store.purge_holds(T0 + timedelta(seconds=1)) == 3
