"""Budget thresholds to the subscriptions: crossed actual thresholds and a forecast one reach a
real webhook peer once, a member's team hears only its own budgets, and the refresh after
``allocate`` runs it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costcouncil.appdb.alerts import InboxItem
from costcouncil.budgets import Amount, Budget, Threshold
from costcouncil.workspace.budgets.alerts import budget_alerts, notify_budgets
from costcouncil.workspace.budgets.service import BudgetService
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.notify.subscriptions import Subscriptions
from costcouncil.workspace.refresh.run import refresh
from tests.workspace.anomaly.test_run import _org
from tests.workspace.notify.peers import http_peer

OCT_31 = datetime(2026, 10, 31, 12, tzinfo=UTC)
NOV_10 = datetime(2026, 11, 10, 12, tzinfo=UTC)
ACTUAL = (Threshold(Decimal(50), "actual"), Threshold(Decimal(80), "actual"), Threshold(Decimal(100), "actual"))


def _budget(name: str, scope: str, amount: str, *thresholds: Threshold, team: str | None = None) -> Budget:
    return Budget(name, scope, Amount("fixed", Decimal(amount)), thresholds=thresholds or ACTUAL, team=team,
                  owner="ana@example.com")  # fmt: skip


@pytest.fixture
def org(tmp_path: Path) -> Workspace:
    return _org(tmp_path)


def _service(ws: Workspace, at: datetime, *budgets: Budget) -> BudgetService:
    store = BudgetStore.open(ws)
    for b in budgets:
        store.save(ws, b)
    return BudgetService.open(ws, store, clock=at.timestamp)


def test_crossed_actual_thresholds_become_one_alert_each(org: Workspace) -> None:
    # October: team b spends 50 - (day % 3) a day = 1,519; team a 100 + (day % 3) + 3 x 400
    service = _service(org, OCT_31, _budget("b-oct", "team=b", "1600", team="b"),
                       _budget("a-oct", "team=a", "3000", team="a"))  # fmt: skip
    alerts = {a.id: (a, source, team) for a, source, team in budget_alerts(service)}
    assert set(alerts) == {
        "budget:b-oct:2026-10-01:actual:50", "budget:b-oct:2026-10-01:actual:80",
        "budget:a-oct:2026-10-01:actual:50", "budget:a-oct:2026-10-01:actual:80",
        "budget:a-oct:2026-10-01:actual:100",
    }  # fmt: skip
    over, source, team = alerts["budget:a-oct:2026-10-01:actual:100"]
    assert source == "budget:a-oct" and team == "a" and over.severity == "critical"
    assert over.impact == Decimal("4331.00") - Decimal("3000.00")
    assert "spent 4,331.00 USD of 3,000.00 USD" in over.lines[0]
    service.store.close()


def test_a_forecast_threshold_projects_the_period_end(org: Workspace) -> None:
    forecast = Threshold(Decimal(100), "forecast")
    service = _service(org, NOV_10, _budget("b-nov", "team=b", "1000", forecast, team="b"))
    [(alert, _, _)] = budget_alerts(service)
    assert alert.id == "budget:b-nov:2026-11-01:forecast:100" and "expected by the period's end" in alert.title
    projection = service.detail(service.store.budget("b-nov"))["status"]["projection"]
    assert Decimal("1300") < Decimal(projection["total"]) < Decimal("1700")  # about 50 a day for 30 days
    crosses = date.fromisoformat(projection["crosses_on"])
    assert date(2026, 11, 17) <= crosses <= date(2026, 11, 24)  # 1,000 at about 50 a day from the 1st
    assert any("reaches the amount on" in line for line in alert.lines)
    service.store.close()


def test_subscribers_hear_their_budgets_once_through_a_real_webhook(org: Workspace) -> None:
    service = _service(org, OCT_31, _budget("b-oct", "team=b", "1600", team="b"),
                       _budget("a-oct", "team=a", "3000", team="a"))  # fmt: skip
    subs = Subscriptions(service.store.db)
    with http_peer((200, {}, b"ok")) as peer:
        hook = {"kind": "webhook", "url": f"{peer.url}/hook", "secret": "s" * 24}
        subs.add("b only", channel=hook, budget="b-oct")
        subs.add("team a, anything", channel=hook | {"url": f"{peer.url}/a"}, team="a")
        with pytest.raises(Exception, match="budget 'c-oct' not found"):
            subs.add("nope", channel=hook, budget="c-oct")
        written = notify_budgets(service, at=OCT_31, link="https://cc.example.com")
        again = notify_budgets(service, at=OCT_31, link="https://cc.example.com")
        paths = sorted(r.path for r in peer.received)
    assert written == 5 and again == 0  # 2 for b's subscription, 3 for team a's; nothing twice
    assert paths == ["/a"] * 3 + ["/hook"] * 2
    bodies = [json.loads(r.body) for r in peer.received]
    assert all(b["alert"]["kind"] == "budget" for b in bodies)
    assert {b["alert"]["link"] for b in bodies} == {"https://cc.example.com/budgets/a-oct",
                                                   "https://cc.example.com/budgets/b-oct"}  # fmt: skip
    service.store.close()


def test_the_refresh_after_allocate_notifies_budgets(org: Workspace) -> None:
    store = BudgetStore.open(org)
    store.save(org, _budget("b-oct", "team=b", "1600", team="b"))
    store.close()
    done = refresh(org, now=OCT_31)
    assert "budgets" not in done.failures and done.budget_alerts == 0  # nobody subscribed: inbox only
    inbox = Subscriptions.open(org)
    with inbox.session() as s:
        items = {i.alert for i in s.query(InboxItem).all()}
    inbox.close()
    assert {"budget:b-oct:2026-10-01:actual:50", "budget:b-oct:2026-10-01:actual:80"} <= items
