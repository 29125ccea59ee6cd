"""Budget enforcement through the SDK against a real ``costcouncil serve``: check, the reservation
context manager settling and releasing, the usage event counted once, and fail-open / fail-closed
against a port nobody listens on.

Every budget's scope names a ``feature`` of its own, which no lake row has: what it has spent
is only what the test itself settles, whatever today's date.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.budgets import Amount, Budget
from costcouncil.sdk import BudgetDenied, BudgetError, CostCouncil
from costcouncil.sdk.budgets import money
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace
from tests.api.server import Server, free_port
from tests.web.conftest import bearer, token_for
from tests.web.org import build_org

FEATURES = ("check", "settle", "answer", "release", "spent-then-failed", "explicit", "lapse")
EVENT = {"provider": "openai", "input_tokens": 1000, "output_tokens": 100}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Workspace]]:
    ws = build_org(tmp_path_factory.mktemp("sdk-budgets"))
    store = BudgetStore.open(ws)
    for feature in FEATURES:
        budget = Budget(f"sdk-{feature}", f"team=vision,feature={feature}",
                        Amount("fixed", Decimal("10.00")), hard=True, team="vision")  # fmt: skip
        store.save(ws, budget, actor="tests")
    store.close()
    running = Server(ws.root).start()  # reads the budgets on start
    yield running, ws
    running.stop()


@pytest.fixture(scope="module")
def member(setup: tuple[Server, Workspace]) -> Iterator[CostCouncil]:
    server, ws = setup
    token = token_for(ws, "vision@example.com", "sdk-budgets")
    cc = CostCouncil(server.url, token, defaults={"team": "vision"}, flush_interval=0.05)
    yield cc
    cc.close()


def _current(setup: tuple[Server, Workspace], name: str) -> tuple[Decimal, Decimal, Decimal]:
    """The budget's spent, held and remaining this period, as the server shows them."""
    server, ws = setup
    with bearer(server.url, token_for(ws, "finance@example.com", "reader")) as finance:
        shown = finance.get(f"/v1/budgets/{name}").json()["current"]
    return Decimal(shown["spent"]), Decimal(shown["held"]), Decimal(shown["remaining"])


def _live(setup: tuple[Server, Workspace], feature: str) -> dict[str, Any]:
    server, ws = setup
    params = {"from": "2000-01-01", "to": "2100-01-01", "feature": feature}
    with bearer(server.url, token_for(ws, "finance@example.com", "reader")) as finance:
        totals: dict[str, Any] = finance.get("/v1/live/costs", params=params).json()["totals"]
    return totals


def test_check_allows_within_and_denies_past_a_hard_budget(member: CostCouncil) -> None:
    within = member.check("4", feature="check")  # team=vision comes from the defaults
    assert within.allow and within.reachable and within.remaining == Decimal("6.00")
    assert [b["budget"] for b in within.budgets] == ["sdk-check"]
    past = member.check(Decimal("10.01"), feature="check")
    assert not past.allow and past.budgets[0]["allow"] is False
    assert past.remaining == Decimal("10.00")  # a check holds nothing
    assert member.check("999", team="search", feature="check").budgets == []  # no budget matches
    with pytest.raises(ValueError, match="at least 0"):
        member.check("-1", feature="check")


def test_a_clean_exit_settles_the_actual_and_posts_the_event_once(
    setup: tuple[Server, Workspace], member: CostCouncil
) -> None:
    with member.reserve("3", feature="settle", model="gpt-4o") as r:
        assert r.id is not None and r.decision is not None
        assert r.decision.remaining == Decimal("7.00") and r.decision.expires
        assert _current(setup, "sdk-settle")[1] == 3
        r.actual = Decimal("2.50")
        r.event = EVENT
    assert r.state == "settled" and r.outcome is not None and r.outcome.overrun == 0
    assert _current(setup, "sdk-settle") == (Decimal("2.50"), 0, Decimal("7.50"))
    member.flush(timeout=5)
    live = _live(setup, "settle")
    assert (live["requests"], Decimal(live["usage_cost"])) == (1, Decimal("2.50"))
    assert member.stats.sent == 0  # the event went with the settle, not through the queue


def test_the_settle_answer_counts_the_posted_event(member: CostCouncil) -> None:
    with member.reserve("3", feature="answer", model="gpt-4o") as r:
        r.actual, r.event = Decimal("2.50"), EVENT
    assert r.outcome is not None and r.outcome.remaining == Decimal("7.50")


def test_an_exception_releases_unless_money_was_spent(
    setup: tuple[Server, Workspace], member: CostCouncil
) -> None:
    with (
        pytest.raises(RuntimeError, match="model failed"),
        member.reserve("4", feature="release") as r,
    ):
        raise RuntimeError("model failed")
    assert r.state == "released" and _current(setup, "sdk-release")[2] == 10
    with (
        pytest.raises(RuntimeError, match="after the call"),
        member.reserve("4", feature="spent-then-failed") as spent,
    ):
        spent.actual = "1.25"
        raise RuntimeError("after the call")
    assert spent.state == "settled"
    assert _current(setup, "sdk-spent-then-failed")[0] == Decimal("1.25")


def test_a_denied_reservation_raises_and_holds_nothing(
    setup: tuple[Server, Workspace], member: CostCouncil
) -> None:
    entered = False
    with (
        pytest.raises(BudgetDenied, match="sdk-explicit") as denied,
        member.reserve("10.01", feature="explicit"),
    ):
        entered = True
    assert not entered and denied.value.decision.reachable
    assert denied.value.decision.budgets[0]["budget"] == "sdk-explicit"
    r = member.reserve("6", feature="explicit").start()
    assert r.settle("6.50").overrun == Decimal("0.50")
    with pytest.raises(RuntimeError, match="settled"):
        r.release()
    assert _current(setup, "sdk-explicit")[2] == Decimal("3.50")


def test_a_lapsed_hold_raises_and_its_event_still_counts_once(
    setup: tuple[Server, Workspace], member: CostCouncil
) -> None:
    r = member.reserve("1", ttl=0.3, feature="lapse", model="gpt-4o").start()
    threading.Event().wait(1.0)
    with pytest.raises(BudgetError, match="expired") as lapsed:
        r.settle("0.75", event=EVENT)
    assert lapsed.value.status == 409
    assert member.flush(timeout=10)  # the event also went through the queue: a duplicate id
    assert member.stats.duplicates + member.stats.sent == 1
    assert _live(setup, "lapse")["requests"] == 1


def test_a_token_without_events_write_is_an_error(setup: tuple[Server, Workspace]) -> None:
    server, ws = setup
    viewer = CostCouncil(server.url, token_for(ws, "viewer@example.com", "viewer"))
    with viewer, pytest.raises(BudgetError) as refused:
        viewer.check("1", team="vision", feature="check")
    assert refused.value.status == 403


def test_unreachable_fails_closed_by_default() -> None:
    with CostCouncil(f"http://127.0.0.1:{free_port()}", budget_timeout=0.5) as cc:
        with pytest.raises(BudgetDenied, match="unreachable") as denied:
            cc.check("1", team="vision")
        assert denied.value.decision.reachable is False
        with pytest.raises(BudgetDenied), cc.reserve("1", team="vision"):
            pass
    with pytest.raises(ValueError, match="budget_failure"):
        CostCouncil("http://127.0.0.1:1", budget_failure="ajar")  # type: ignore[arg-type]


def test_unreachable_fails_open_with_one_warning_and_keeps_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "costcouncil.sdk")
    cc = CostCouncil(f"http://127.0.0.1:{free_port()}", budget_failure="open", budget_timeout=0.5)
    try:
        first, second = cc.check("1", team="vision"), cc.check("2", team="vision")
        assert first.allow and not first.reachable and second.allow and not second.reachable
        with cc.reserve("1", team="vision", model="gpt-4o") as r:
            r.event = EVENT
        assert r.id is None and r.outcome is not None and not r.outcome.reachable
        assert cc.stats.queued == 1  # the usage waits in the queue for the server
        unreachable = [m for m in caplog.messages if "unreachable" in m]
        assert len(unreachable) == 1 and "fails open" in unreachable[0]
    finally:
        cc.close(timeout=0)


def test_the_usage_event_takes_the_reservation_keys() -> None:
    cc = CostCouncil("http://127.0.0.1:1", defaults={"team": "vision", "region": "eu"})
    r = cc.reserve("1", model="gpt-4o", feature="answers")
    event = r.usage_event(EVENT, Decimal("0.42"))
    assert (event["type"], event["model"], event["team"], event["feature"]) == (
        "llm_call", "gpt-4o", "vision", "answers",
    )  # fmt: skip
    assert event["cost"] == "0.42" and event["attributes"] == {"region": "eu"}
    assert r.keys == {"team": "vision", "region": "eu", "model": "gpt-4o", "feature": "answers"}
    cc.close(timeout=0)


@given(st.decimals(allow_nan=True, allow_infinity=True, places=6) | st.floats())
def test_a_cost_is_read_exactly_or_refused(value: Decimal | float) -> None:
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite or value < 0:
        with pytest.raises(ValueError):
            money(value)
    else:
        expected = Decimal(repr(value)) if isinstance(value, float) else value
        assert money(value) == expected and money(str(expected)) == expected
