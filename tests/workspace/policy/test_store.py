"""The violations' lifecycle in the app database: opened, updated, grown, resolved when no longer
found and reopened when found again, exceptions approved by finance or admin only and reopened
once they expire, every state change audited, members seeing only their teams' violations
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from costcouncil.appdb.db import Database
from costcouncil.appdb.models import AuditEvent
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.policy import Violation
from costcouncil.workspace.policy.store import Violations
from tests.workspace.notify.org import database

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
VISION = frozenset({"vision"})


def breach(
    subject: str = "resource=i-gpu1", owner: str = "vision", at_stake: str = "100"
) -> Violation:
    return Violation(
        policy="prod-gpus", kind="allowed_instances", severity="critical", subject=subject,
        owner=owner, at_stake=Decimal(at_stake), evidence={"jobs": ["j1"], "cost": at_stake},
        first_day=date(2026, 3, 1), last_day=date(2026, 3, 1),
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database(request.param, tmp_path)


@pytest.fixture
def store(db: Database) -> Violations:
    return Violations(db)


def kinds(changes: list[object]) -> dict[str, str]:
    return {c.key: c.kind for c in changes}  # type: ignore[attr-defined]


def audited(db: Database) -> list[tuple[str, str, str]]:
    """(actor, action, to) of every violation audit event, in order."""
    with db.session() as s:
        query = select(AuditEvent).where(AuditEvent.action.like("violation.%"))
        rows = s.scalars(query.order_by(AuditEvent.id))
        return [(e.actor, e.action, str(e.detail.get("to", "open"))) for e in rows]


def test_a_new_key_opens_one_seen_again_updates_it(store: Violations) -> None:
    first = store.record([breach()], at=T0, currency="USD")
    assert [(c.kind, c.key) for c in first] == [("new", "prod-gpus:resource=i-gpu1")]
    again = store.record([breach(at_stake="110.004")], at=T0 + DAY, currency="USD")
    assert [c.kind for c in again] == ["same"] and again[0].violation_id == first[0].violation_id
    shown = store.get(first[0].violation_id)
    assert (shown.state, shown.at_stake, shown.team, shown.currency) == (
        "open",
        Decimal("110.00"),
        "vision",
        "USD",
    )
    assert (shown.detected_at, shown.seen_at, shown.evidence["jobs"]) == (T0, T0 + DAY, ["j1"])
    grew = store.record([breach(at_stake="140")], at=T0 + 2 * DAY, currency="USD")
    assert [c.kind for c in grew] == ["grew"]


def test_not_found_resolves_and_found_again_reopens(store: Violations, db: Database) -> None:
    store.record([breach(), breach("resource=i-other")], at=T0, currency="USD")
    changes = store.record([breach()], at=T0 + DAY, currency="USD")
    assert kinds(changes) == {
        "prod-gpus:resource=i-gpu1": "same",
        "prod-gpus:resource=i-other": "resolved",
    }
    other = store.list(state="resolved")
    assert [(v.subject, v.state_by) for v in other] == [("resource=i-other", "evaluation")]
    reopened = store.record([breach(), breach("resource=i-other")], at=T0 + 2 * DAY, currency="USD")
    assert kinds(reopened)["prod-gpus:resource=i-other"] == "reopened"
    assert store.get(other[0].id).state == "open"
    assert [a for _, a, _ in audited(db)] == [
        "violation.open",
        "violation.open",
        "violation.resolve",
        "violation.reopen",
    ]


def test_people_acknowledge_and_resolve_and_each_change_is_audited(
    store: Violations, db: Database
) -> None:
    vid = store.record([breach()], at=T0, currency="USD")[0].violation_id
    acked = store.acknowledge(vid, "ana@example.com", "on it")
    assert (acked.state, acked.note, acked.state_by) == ("acknowledged", "on it", "ana@example.com")
    with pytest.raises(ConfigError, match="is acknowledged: only one that is open"):
        store.acknowledge(vid, "ana@example.com")
    assert store.record([breach()], at=T0 + DAY, currency="USD")[0].kind == "same"
    assert store.get(vid).state == "acknowledged"  # still found: stays acknowledged
    done = store.resolve(vid, "ana@example.com", "moved to g5")
    assert done.state == "resolved"
    with pytest.raises(ConfigError, match="is resolved"):
        store.resolve(vid, "ana@example.com")
    assert audited(db)[1:] == [("ana@example.com", "violation.acknowledge", "acknowledged"),
                               ("ana@example.com", "violation.resolve", "resolved")]  # fmt: skip


def test_an_exception_needs_finance_or_admin_a_justification_and_a_future_expiry(
    store: Violations,
) -> None:
    vid = store.record([breach()], at=T0, currency="USD")[0].violation_id
    with pytest.raises(
        ConfigError, match="role 'member': an exception needs the approval of a finance or admin"
    ):
        store.grant_exception(vid, "vi@example.com", "needed", T0 + DAY, role="member", at=T0)
    with pytest.raises(ConfigError, match="justification"):
        store.grant_exception(vid, "fin@example.com", "  ", T0 + DAY, role="finance", at=T0)
    with pytest.raises(ConfigError, match="in the future"):
        store.grant_exception(vid, "fin@example.com", "ok", T0 - DAY, role="finance", at=T0)
    assert store.get(vid).state == "open"
    granted = store.grant_exception(
        vid, "fin@example.com", "benchmark", T0 + 3 * DAY, role="finance", at=T0
    )
    assert (granted.state, granted.exception_until, granted.note) == (
        "exception",
        T0 + 3 * DAY,
        "benchmark",
    )


def test_an_exception_holds_until_it_expires_then_reopens(store: Violations, db: Database) -> None:
    vid = store.record([breach()], at=T0, currency="USD")[0].violation_id
    store.grant_exception(vid, "boss@example.com", "load test", T0 + 2 * DAY, role="admin", at=T0)
    held = store.record([breach(at_stake="900")], at=T0 + DAY, currency="USD")
    assert held[0].kind == "same" and store.get(vid).state == "exception"  # not "grew": accepted
    assert (
        store.record([], at=T0 + DAY, currency="USD") == []
    )  # an exception is not resolved by absence
    expired = store.record([breach()], at=T0 + 2 * DAY, currency="USD")
    assert expired[0].kind == "reopened"
    shown = store.get(vid)
    assert (shown.state, shown.exception_until, shown.state_by) == ("open", None, "evaluation")
    assert audited(db)[-1] == ("evaluation", "violation.reopen", "open")


def test_members_see_only_their_teams_violations(store: Violations) -> None:
    store.record([breach(), breach("team=search", owner="search"),
                  breach("resource=i-x", owner="__unallocated__")], at=T0, currency="USD")  # fmt: skip
    assert {v.team for v in store.list()} == {"vision", "search", "__unallocated__"}
    mine = store.list(VISION)
    assert [v.team for v in mine] == ["vision"]
    theirs = next(v for v in store.list() if v.team == "search")
    for call in (
        lambda: store.get(theirs.id, VISION),
        lambda: store.acknowledge(theirs.id, "vi@example.com", visible=VISION),
        lambda: store.resolve(theirs.id, "vi@example.com", visible=VISION),
    ):
        with pytest.raises(NotFoundError, match=f"no violation {theirs.id}"):
            call()
    assert store.get(theirs.id).state == "open"


def test_filters_order_and_unknown_state(store: Violations) -> None:
    found = [breach(at_stake="5"), breach("resource=i-2", at_stake="50"),
             replace(breach("team=vision", at_stake="20"), policy="tags")]  # fmt: skip
    store.record(found, at=T0, currency="EUR")
    assert [v.at_stake for v in store.list()] == [
        Decimal("50.00"),
        Decimal("20.00"),
        Decimal("5.00"),
    ]
    assert [v.subject for v in store.list(policy="tags")] == ["team=vision"]
    assert len(store.list(limit=2)) == 2
    with pytest.raises(ConfigError, match="choose one of open, acknowledged, exception, resolved"):
        store.list(state="closed")
    with pytest.raises(NotFoundError):
        store.get(999_999)


@settings(max_examples=25, deadline=None)
@given(rounds=st.lists(st.sets(st.sampled_from(["a", "b", "c", "d"])), min_size=1, max_size=6))
def test_after_each_run_exactly_the_found_keys_are_open(
    tmp_path_factory: pytest.TempPathFactory, rounds: list[set[str]]
) -> None:
    """Whatever the sequence of evaluations, the open violations are those the last one found."""
    db = next(database("sqlite", tmp_path_factory.mktemp("lifecycle")))
    store = Violations(db)
    try:
        for i, subjects in enumerate(rounds):
            changes = store.record(
                [breach(f"resource={x}") for x in subjects], at=T0 + i * DAY, currency="USD"
            )
            opened = {v.subject for v in store.list(state="open")}
            assert opened == {f"resource={x}" for x in subjects}
            assert len(changes) == len(subjects) + sum(1 for c in changes if c.kind == "resolved")
    finally:
        db.close()
