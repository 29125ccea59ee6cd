"""The ledger of a hard budget never admits past its limit, whatever the order of calls; every
settlement is counted once; lapsed and closed holds are refused with the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from costcouncil.budgets.ledger import Ledger, LedgerError

CENTS = st.integers(min_value=0, max_value=5_000).map(lambda c: Decimal(c) / 100)


class HardBudget(RuleBasedStateMachine):
    """Random reserves, settles (at most the hold), releases and time passing."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(Decimal("100.00"), hard=True, spent=Decimal("12.34"))
        self.now = 0.0
        self.next = 0
        self.settled = Decimal(0)
        self.open: dict[str, Decimal] = {}

    @rule(cost=CENTS, ttl=st.integers(1, 30))
    def reserve(self, cost: Decimal, ttl: int) -> None:
        self.next += 1
        hold = f"h{self.next}"
        before = self.ledger.remaining(self.now)
        assert before is not None
        decision = self.ledger.reserve(hold, cost, self.now, ttl)
        assert decision.allow == (cost <= before)
        if decision.allow:
            self.open[hold] = cost

    @precondition(lambda self: self.open)
    @rule(data=st.data(), share=st.integers(0, 100))
    def settle(self, data: st.DataObject, share: int) -> None:
        hold = data.draw(st.sampled_from(sorted(self.open)))
        actual = (self.open[hold] * share / 100).quantize(Decimal("0.01"))
        lapsed = hold not in self.ledger.holds or self.ledger.holds[hold].expires <= self.now
        try:
            self.ledger.settle(hold, actual, self.now)
        except LedgerError as e:
            assert lapsed and e.reason == "expired"
        else:
            assert not lapsed
            self.settled += actual
        del self.open[hold]

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(sorted(self.open)))
        try:
            self.ledger.release(hold, self.now)
        except LedgerError as e:
            assert e.reason == "expired"
        del self.open[hold]

    @rule(seconds=st.integers(0, 20))
    def wait(self, seconds: int) -> None:
        self.now += seconds

    @invariant()
    def never_past_the_limit(self) -> None:
        left = self.ledger.remaining(self.now)
        assert left is not None and left >= 0
        assert self.ledger.settled == self.settled  # each settlement counted once
        assert self.ledger.used() == Decimal("12.34") + self.settled + self.ledger.held


TestHardBudget = HardBudget.TestCase
TestHardBudget.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_a_late_or_second_settle_is_refused_with_its_reason() -> None:
    ledger = Ledger(Decimal(10), hard=True)
    assert ledger.reserve("a", Decimal(4), 0.0, 5).allow
    assert ledger.reserve("b", Decimal(4), 0.0, 50).allow
    assert not ledger.reserve("c", Decimal(3), 1.0, 5).allow  # 8 held, 2 left
    assert ledger.check(Decimal(2), 1.0).allow and not ledger.check(Decimal("2.01"), 1.0).allow
    with pytest.raises(LedgerError, match="expired"):
        ledger.settle("a", Decimal(4), 6.0)
    assert ledger.reserve("c", Decimal(6), 6.0, 5).allow  # a's hold lapsed: 4 held, 6 left
    assert ledger.settle("b", Decimal(5), 7.0).overrun == Decimal(1)
    with pytest.raises(LedgerError, match="closed"):
        ledger.settle("b", Decimal(5), 7.0)
    with pytest.raises(LedgerError, match="unknown"):
        ledger.release("zzz", 7.0)
    assert ledger.used() == Decimal(11) and ledger.remaining(7.0) == Decimal(-1)


def test_soft_and_unlimited_budgets_admit_everything_and_still_count() -> None:
    soft = Ledger(Decimal(1), hard=False)
    assert soft.reserve("a", Decimal(50), 0.0, 10).allow
    assert soft.settle("a", Decimal(40), 1.0, counted=False).remaining == Decimal(-39)
    unlimited = Ledger(None, hard=True)
    assert unlimited.reserve("a", Decimal(10**9), 0.0, 10).remaining is None
    assert unlimited.settle("a", Decimal(3), 1.0, counted=True).allow
    assert unlimited.settled == 0  # counted by its usage event, not again here
