"""Dispatch against real peers on loopback (a signature-verifying HTTP server, aiosmtpd): one
anomaly, one message, updated when it grows and resolves; thresholds, monitors and teams; digests;
failures logged redacted; the inbox (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.errors import ConfigError
from costcouncil.notify.message import Alert
from costcouncil.workspace.notify import inbox
from costcouncil.workspace.notify.deliver import deliver
from costcouncil.workspace.notify.dispatch import (
    WEEKLY_DAY,
    dispatch,
    send_digests,
    send_test,
    weekly_due,
)
from costcouncil.workspace.notify.subscriptions import Subscriptions
from tests.workspace.notify.factories import FAST, NOW, SECRET, TOKEN, Sleeps, alert, rng
from tests.workspace.notify.org import SEARCH, VISION, Org, database, receiver, seed
from tests.workspace.notify.peers import HttpPeer, Mailbox, Reply, Request, http_peer, smtp_peer

HOUR = timedelta(hours=1)
#: A ``send`` that retries quickly: the real ``deliver`` with a short policy and recorded sleeps.
QUICK = partial(deliver, policy=FAST, sleep=Sleeps(), rng=rng())


@pytest.fixture(params=["sqlite", "postgresql"])
def org(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Org]:
    for db in database(request.param, tmp_path):
        yield seed(db)


@pytest.fixture
def subs(org: Org) -> Subscriptions:
    return Subscriptions(org.db)


@pytest.fixture
def peer() -> Iterator[HttpPeer]:
    with http_peer(receiver) as running:
        yield running


def webhook(peer: HttpPeer, path: str = "/hook") -> dict[str, object]:
    return {"kind": "webhook", "url": f"{peer.url}{path}", "secret": SECRET}


def vision(**changes: object) -> tuple[Alert, str, str]:
    """An anomaly of team vision from its monitor (1,234.50 USD unless changed)."""
    values: dict[str, object] = {"id": "an-1", "scope": "team=vision", **changes}
    return alert(**values), "team=vision", "vision"


def search(**changes: object) -> tuple[Alert, str, str]:
    values: dict[str, object] = {"id": "an-2", "scope": "team=search", "title": "Search up"}
    return alert(**{**values, **changes}), "team=search", "search"


def types(peer: HttpPeer) -> list[str]:
    return [json.loads(r.body)["type"] for r in peer.received]


def test_one_anomaly_one_message_updated_when_it_grows_and_resolves(
    subs: Subscriptions, peer: HttpPeer
) -> None:
    subs.add("oncall", channel=webhook(peer), monitor="team=vision")
    steps = [
        (vision(), "new"),
        (vision(), None),  # the same again
        (vision(status="updated", impact=Decimal("1400")), None),  # +13 %: not worth a message
        (vision(status="updated", impact=Decimal("1600")), "updated"),  # +30 % of what was sent
        (vision(status="updated", impact=Decimal("1700")), None),
        (vision(status="resolved", impact=Decimal("1700"), end=NOW), "resolved"),
        (vision(status="resolved", impact=Decimal("1700"), end=NOW), None),
    ]
    for hour, (item, sent) in enumerate(steps):
        rows = dispatch(subs, [item], now=NOW + hour * HOUR)
        assert [r.alert_status for r in rows] == ([sent] if sent else []), hour
    assert types(peer) == ["anomaly.new", "anomaly.updated", "anomaly.resolved"]
    log = subs.deliveries()
    assert [(r.alert_status, r.status, r.attempts) for r in log] == [
        ("resolved", "sent", 1), ("updated", "sent", 1), ("new", "sent", 1),
    ]  # fmt: skip
    assert log[1].impact == "1600" and log[0].created_at == NOW + 5 * HOUR


def test_the_threshold_gates_the_first_message(subs: Subscriptions, peer: HttpPeer) -> None:
    subs.add("big", channel=webhook(peer, "/big"), threshold="impact >= 5000")
    subs.add("all", channel=webhook(peer, "/all"))
    dispatch(subs, [vision()], now=NOW)
    dispatch(subs, [vision(impact=Decimal("6000"), status="updated")], now=NOW + HOUR)
    assert [r.path for r in peer.received] == ["/all", "/big", "/all"]
    assert [r.alert_status for r in subs.deliveries("big")] == ["new"]


def test_a_subscription_hears_only_its_monitor(subs: Subscriptions, peer: HttpPeer) -> None:
    subs.add("search", channel=webhook(peer, "/search"), monitor="team=search")
    subs.add("every", channel=webhook(peer, "/every"))
    dispatch(subs, [vision(), (alert(id="b-1", kind="budget"), None, None)], now=NOW)
    assert sorted(r.path for r in peer.received) == ["/every", "/every"]
    assert subs.deliveries("search") == []


def test_a_member_subscription_never_hears_of_another_teams_alerts(
    subs: Subscriptions, peer: HttpPeer
) -> None:
    subs.add("mine", channel=webhook(peer, "/now"), visible=VISION)
    subs.add("mine-daily", channel=webhook(peer, "/daily"), frequency="daily", visible=VISION)
    org_wide = (alert(id="an-3", scope="org"), "org", None)
    dispatch(subs, [search(), org_wide, search(id="an-4")], now=NOW)
    assert send_digests(subs, "daily", now=NOW + HOUR) == [] and peer.received == []
    dispatch(subs, [vision(), search(impact=Decimal("9000"), status="updated")], now=NOW + HOUR)
    send_digests(subs, "daily", now=NOW + 2 * HOUR)
    bodies = {r.path: json.loads(r.body) for r in peer.received}
    assert bodies["/now"]["alert"]["id"] == "an-1"
    assert [a["id"] for a in bodies["/daily"]["digest"]["alerts"]] == ["an-1"]
    assert {r.alert for r in subs.deliveries(visible=VISION)} == {"an-1", "digest.daily"}
    assert subs.deliveries(visible=SEARCH) == []


def test_a_disabled_subscription_hears_nothing(subs: Subscriptions, peer: HttpPeer) -> None:
    subs.add("oncall", channel=webhook(peer))
    subs.disable("oncall")
    assert dispatch(subs, [vision()], now=NOW) == [] and peer.received == []
    subs.enable("oncall")
    assert [r.status for r in dispatch(subs, [vision()], now=NOW + HOUR)] == ["sent"]


def test_a_daily_digest_sends_one_message_for_several_alerts(subs: Subscriptions) -> None:
    box = Mailbox()
    with smtp_peer(box) as server:
        subs.add("finance", frequency="daily", channel={
            "kind": "email", "host": "127.0.0.1", "port": server.port, "starttls": False,
            "sender": "costcouncil@example.com", "recipients": ["finops@example.com"]})  # fmt: skip
        alerts = [vision(), search(), vision(id="an-5", title="Training restarts")]
        queued = dispatch(subs, alerts, now=NOW)
        assert [r.status for r in queued] == ["queued"] * 3
        assert dispatch(subs, alerts, now=NOW + HOUR) == []  # queued once
        assert dispatch(subs, [vision(status="resolved", end=NOW)], now=NOW + HOUR)
        [digest] = send_digests(subs, "daily", now=NOW + 2 * HOUR)
        assert send_digests(subs, "daily", now=NOW + 3 * HOUR) == []
    assert (digest.alert, digest.status, digest.detail) == ("digest.daily", "sent", "3 alert(s)")
    assert len(box.envelopes) == 1
    message = message_from_bytes(box.envelopes[0].original_content or b"", policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "GPU spend up" in text and "Search up" in text and "Training restarts" in text
    statuses = {(r.alert, r.alert_status, r.status) for r in subs.deliveries()}
    assert ("an-1", "resolved", "sent") in statuses and ("an-2", "new", "sent") in statuses
    assert not any(status == "queued" for *_, status in statuses)


def test_a_weekly_digest_waits_for_monday(subs: Subscriptions, peer: HttpPeer) -> None:
    subs.add("weekly", channel=webhook(peer), frequency="weekly")
    dispatch(subs, [vision()], now=NOW)  # a Wednesday
    assert NOW.weekday() == 2
    assert send_digests(subs, "weekly", now=NOW + timedelta(days=1)) == []
    monday = datetime(2025, 3, 10, 6, 0, tzinfo=NOW.tzinfo)
    [sent] = send_digests(subs, "weekly", now=monday)
    dispatch(subs, [search()], now=monday + HOUR)
    assert send_digests(subs, "weekly", now=monday + 2 * HOUR) == []  # one digest a Monday
    assert sent.status == "sent" and types(peer) == ["digest.weekly"]
    assert json.loads(peer.received[0].body)["digest"]["start"] == "2025-03-05T08:00:00Z"


@settings(max_examples=50, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    hours=st.lists(st.integers(1, 30), min_size=30, max_size=60),
)
def test_weekly_digests_go_out_on_mondays_or_after_a_week(
    start: datetime, hours: list[int]
) -> None:
    """Whatever the times of the calls (at most 30 h apart), with alerts always waiting: never two
    digests on one day, never a week without one, each on a Monday or a week after
    the last."""
    last: datetime | None = None
    sent: list[datetime] = []
    now = start
    for step in hours:
        now += timedelta(hours=step)
        if weekly_due(last, start, now):
            assert last is None or (now.date() != last.date() and (
                now.weekday() == WEEKLY_DAY or now - last >= timedelta(days=7)))  # fmt: skip
            last = now
            sent.append(now)
        assert now - (last or start) < timedelta(days=7)


def _echo_path(request: Request) -> Reply:
    return 404, {}, f"no hook at {request.path}".encode()


def test_a_failing_peer_is_logged_redacted_and_tried_again(subs: Subscriptions) -> None:
    with http_peer((500, {}, b"busy")) as busy, http_peer(_echo_path) as gone:
        subs.add("busy", channel=webhook(busy))
        hook = f"{gone.url}/services/T000/B000/{TOKEN}"
        subs.add("gone", channel={"kind": "slack", "url": hook})
        rows = {r.subscription: r for r in dispatch(subs, [vision()], now=NOW, send=QUICK)}
        again = dispatch(subs, [vision()], now=NOW + HOUR, send=QUICK)
    assert (rows["busy"].status, rows["busy"].attempts) == ("gave_up", FAST.max_attempts)
    assert "HTTP 500" in rows["busy"].detail
    assert (rows["gone"].status, rows["gone"].attempts) == ("failed", 1)
    assert "HTTP 404" in rows["gone"].detail and "/services/T0…" in rows["gone"].detail
    logged = json.dumps([r.as_dict() for r in subs.deliveries()])
    assert TOKEN not in logged and SECRET not in logged
    assert len(gone.received) == 2 and TOKEN in gone.received[0].path  # really sent there
    assert [r.status for r in again] == ["gave_up", "failed"]  # nothing was sent: tried again


def test_the_test_message_goes_through_the_channel(subs: Subscriptions, peer: HttpPeer) -> None:
    subs.add("oncall", channel=webhook(peer))
    row = send_test(subs, "oncall", now=NOW, currency="EUR")
    body = json.loads(peer.received[0].body)
    assert (row.status, body["type"], body["alert"]["currency"]) == ("sent", "test.new", "EUR")
    assert subs.deliveries()[0].alert == row.alert
    with pytest.raises(ConfigError, match="'nobody' not found"):
        send_test(subs, "nobody", now=NOW)


def test_every_alert_is_one_inbox_item_seen_per_team_and_read_per_user(org: Org) -> None:
    org_wide = (alert(id="an-3", scope="org"), "org", None)
    dispatch(org.db, [vision(), search(), org_wide], now=NOW)
    assert len(inbox.inbox(org.db, org.admin, None)) == 3
    [mine] = inbox.inbox(org.db, org.vision_member, VISION)
    assert (mine.alert, mine.team, mine.read) == ("an-1", "vision", False)
    assert inbox.unread_count(org.db, org.vision_member, VISION) == 1
    inbox.mark_read(org.db, org.vision_member, mine.id, now=NOW, visible=VISION)
    inbox.mark_read(org.db, org.vision_member, mine.id, now=NOW, visible=VISION)
    assert inbox.unread_count(org.db, org.vision_member, VISION) == 0
    assert inbox.unread_count(org.db, org.admin, None) == 3
    theirs = next(i for i in inbox.inbox(org.db, org.admin, None) if i.alert == "an-2")
    with pytest.raises(ConfigError, match=f"no inbox item {theirs.id}"):
        inbox.mark_read(org.db, org.vision_member, theirs.id, now=NOW, visible=VISION)
    assert inbox.unread_count(org.db, org.search_member, SEARCH) == 1


def test_an_inbox_item_is_updated_not_duplicated(org: Org) -> None:
    def seen(item: tuple[Alert, str, str], hour: int) -> tuple[str, str, bool]:
        dispatch(org.db, [item], now=NOW + hour * HOUR)
        [entry] = inbox.inbox(org.db, org.vision_member, VISION)
        inbox.mark_read(org.db, org.vision_member, entry.id, now=NOW, visible=VISION)
        return entry.body["status"], entry.body["impact"], entry.read

    assert seen(vision(), 0) == ("new", "1234.50", False)
    assert seen(vision(status="updated", impact=Decimal("1300")), 1) == ("new", "1300", True)
    assert seen(vision(status="updated", impact=Decimal("1600")), 2) == ("updated", "1600", False)
    assert seen(vision(status="resolved", end=NOW), 3) == ("resolved", "1234.50", False)
    assert seen(vision(status="resolved", end=NOW), 4) == ("resolved", "1234.50", True)


def test_the_inbox_is_also_reached_through_subscriptions(org: Org, subs: Subscriptions) -> None:
    dispatch(subs, [vision(), search()], now=NOW)
    assert subs.unread_count(org.search_member, SEARCH) == 1
    [item] = subs.inbox(org.search_member, SEARCH)
    subs.mark_read(org.search_member, item.id, visible=SEARCH)
    assert subs.unread_count(org.search_member, SEARCH) == 0 and subs.unread_count(org.admin) == 2
