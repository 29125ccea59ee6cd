"""The enforcer over a workspace: every deciding budget holds, a hold that lapses is recorded as
expired whichever call noticed it (even across a refresh), and a restart restores open holds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from costcouncil.appdb.budgets import BudgetHold
from costcouncil.budgets import Amount, Budget
from costcouncil.workspace.budgets.enforce import Enforcer, HoldError
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Workspace, BudgetStore, Clock]:
    ws = Workspace.init(tmp_path / "ws", name="enforce")
    store = BudgetStore.open(ws)
    store.save(ws, Budget("team-a", "team=a", Amount("fixed", Decimal("10")), hard=True, team="a"))
    store.save(ws, Budget("org", "org", Amount("fixed", Decimal("100"))))
    return ws, store, Clock()


def _states(store: BudgetStore) -> dict[tuple[str, int], str]:
    with store.session() as s:
        return {(h.id, h.budget_id): h.state for h in s.scalars(select(BudgetHold))}


def test_lapsed_holds_are_recorded_across_a_refresh(setup: tuple[Workspace, BudgetStore, Clock]) -> None:
    ws, store, clock = setup
    enforcer = Enforcer(ws, store, clock=clock).start()
    held = enforcer.reserve({"team": "a"}, Decimal("8"), ttl=30)
    assert held.allow and {r.budget for r in held.rulings} == {"team-a", "org"}
    assert not enforcer.check({"team": "a"}, Decimal("3")).allow  # 8 of 10 held
    clock.now += 31
    assert enforcer.check({"team": "a"}, Decimal("3")).allow  # the check noticed the lapse
    enforcer.refresh()  # new ledgers: what lapsed must still be recorded
    assert enforcer.expire() == 1
    assert set(_states(store).values()) == {"expired"}
    with pytest.raises(HoldError, match="expired"):
        enforcer.settle(str(held.reservation), Decimal("8"))


def test_a_restart_restores_open_holds(setup: tuple[Workspace, BudgetStore, Clock]) -> None:
    ws, store, clock = setup
    first = Enforcer(ws, store, clock=clock).start()
    held = first.reserve({"team": "a"}, Decimal("6"), ttl=300)
    again = Enforcer(ws, store, clock=clock).start()  # as after a restart
    assert not again.check({"team": "a"}, Decimal("5")).allow
    settled = again.settle(str(held.reservation), Decimal("5.5"))
    assert {r.budget: r.remaining for r in settled.rulings} == {
        "team-a": Decimal("4.5"), "org": Decimal("94.5")}  # fmt: skip
