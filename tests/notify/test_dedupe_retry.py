"""Deduplication decisions and the retry schedule."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.notify.dedupe import Decision, Sent, decide
from costcouncil.notify.retry import RetryPolicy, classify_http, classify_smtp, parse_retry_after
from costcouncil.notify.thresholds import parse
from tests.workspace.notify.factories import NOW, alert


def sent(status: str = "new", impact: str = "1000") -> Sent:
    return Sent(status=status, impact=Decimal(impact), at=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("last", "status", "impact", "expected"),
    [
        (None, "new", "1000", "new"),
        (None, "updated", "1000", "new"),
        (None, "resolved", "1000", None),
        (sent(), "updated", "1249.99", None),  # +25 % not reached
        (sent(), "updated", "1250", "updated"),
        (sent(), "new", "1250", "updated"),
        (sent(impact="100"), "updated", "149.99", None),  # +25 % but under the 50 step
        (sent(impact="100"), "updated", "150", "updated"),
        (sent(), "updated", "400", None),  # shrinking
        (sent(impact="-1000"), "updated", "-1300", "updated"),  # a drop that deepens
        (sent(), "resolved", "10", "resolved"),
        (sent("updated"), "resolved", "10", "resolved"),
        (sent("resolved"), "resolved", "10", None),
        (sent("resolved"), "new", "10", "updated"),  # reopened
    ],
)
def test_decisions(last: Sent | None, status: str, impact: str, expected: str | None) -> None:
    decision = decide(alert(status=status, impact=Decimal(impact)), last)
    assert decision.send == expected, decision.reason


def test_the_threshold_gates_only_the_first_message() -> None:
    threshold = parse("impact >= 5000")
    assert decide(alert(impact=Decimal("1000")), None, threshold=threshold).send is None
    assert decide(alert(impact=Decimal("6000")), None, threshold=threshold).send == "new"
    assert (
        decide(
            alert(status="resolved", impact=Decimal("1")), sent(impact="6000"), threshold=threshold
        ).send
        == "resolved"
    )


def test_apply_and_sent() -> None:
    decision = decide(alert(status="updated"), None)
    assert decision.apply(alert(status="updated")).status == "new"
    assert decision.sent(alert(), now=NOW) == Sent("new", Decimal("1234.50"), NOW)
    with pytest.raises(ValueError, match="nothing to send"):
        Decision(None, "below").apply(alert())


@given(st.lists(st.decimals(min_value=0, max_value=10**6, places=2), min_size=1, max_size=30))
def test_a_growing_alert_sends_at_most_one_message_per_material_step(
    impacts: list[Decimal],
) -> None:
    last: Sent | None = None
    messages = 0
    for impact in sorted(impacts):
        current = alert(status="updated", impact=impact)
        decision = decide(current, last)
        if decision.send is not None:
            assert last is None or impact - last.impact >= max(Decimal(50), last.impact / 4)
            last, messages = decision.sent(current, now=NOW), messages + 1
    assert messages >= 1 and messages <= len(impacts)


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base=2.0, cap=30.0)
    rng = random.Random(1)
    for retry, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (9, 30.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits) and max(waits) > ceiling * 0.8


def test_seeded_schedules_repeat_and_retry_after_wins() -> None:
    policy = RetryPolicy()
    first = [policy.wait(n, random.Random(3), None) for n in (1, 2, 3)]
    assert first == [policy.wait(n, random.Random(3), None) for n in (1, 2, 3)]
    assert policy.wait(1, random.Random(3), 12.0) == 12.0
    assert policy.wait(1, random.Random(3), 301.0) is None


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "ok"),
        (202, "ok"),
        (204, "ok"),
        (301, "terminal"),
        (400, "terminal"),
        (401, "terminal"),
        (404, "terminal"),
        (408, "transient"),
        (429, "transient"),
        (500, "transient"),
        (503, "transient"),
    ],
)
def test_http_classification(status: int, verdict: str) -> None:
    assert classify_http(status) == verdict


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (250, "ok"),
        (354, "ok"),
        (421, "transient"),
        (451, "transient"),
        (535, "terminal"),
        (550, "terminal"),
    ],
)
def test_smtp_classification(code: int, verdict: str) -> None:
    assert classify_smtp(code) == verdict


def test_retry_after_seconds_or_http_date() -> None:
    assert parse_retry_after("120", now=NOW) == 120.0
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=NOW) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2020 00:00:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("soon", now=NOW) is None and parse_retry_after(None, now=NOW) is None
