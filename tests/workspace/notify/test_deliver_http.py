"""Delivery over HTTP to real servers on loopback: signed webhooks, Slack, Teams, retries."""

from __future__ import annotations

import json
from datetime import timedelta

from costcouncil.notify.channels import SlackChannel, TeamsChannel, WebhookChannel
from costcouncil.notify.payloads import ADAPTIVE_CARD, slack_payload, teams_payload
from costcouncil.notify.retry import RetryPolicy
from costcouncil.notify.signing import DELIVERY_HEADER, SignatureError, verify
from costcouncil.workspace.notify.deliver import deliver
from tests.workspace.notify.factories import FAST, NOW, SECRET, TOKEN, Sleeps, alert, rng
from tests.workspace.notify.peers import Reply, Request, http_peer

OK: Reply = (200, {}, b"ok")


def receiver(secret: str, *, clock_offset: timedelta = timedelta(0)) -> object:
    """A webhook receiver that verifies every request with ``verify`` (401 when it fails)."""

    def answer(request: Request) -> Reply:
        try:
            verify(secret, request.headers, request.body, now=NOW + clock_offset)
        except SignatureError as e:
            return 401, {}, str(e).encode()
        return 200, {}, b"ok"

    return answer


def test_generic_webhook_is_signed_and_verified_by_the_receiver() -> None:
    with http_peer(receiver(SECRET)) as peer:  # type: ignore[arg-type]
        channel = WebhookChannel(url=f"{peer.url}/hook", secret=SECRET)
        delivery = deliver(channel, alert(), now=NOW, delivery_id="d-1")
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("sent", 1, 200)
    assert delivery.sent_at == NOW and delivery.error == ""
    body = json.loads(peer.received[0].body)
    assert (body["version"], body["type"], body["delivery_id"]) == (1, "anomaly.new", "d-1")
    assert body["alert"]["impact"] == "1234.50" and body["alert"]["scope"] == "team=research"


def test_a_receiver_with_another_secret_or_a_later_clock_rejects_it() -> None:
    for answer in (
        receiver("another-secret-0123456789"),
        receiver(SECRET, clock_offset=timedelta(minutes=6)),
    ):
        with http_peer(answer) as peer:  # type: ignore[arg-type]
            channel = WebhookChannel(url=f"{peer.url}/hook", secret=SECRET)
            delivery = deliver(channel, alert(), now=NOW, sleep=Sleeps())
        assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 401)
        assert delivery.sent_at is None


def test_500_twice_then_200_is_retried_with_the_same_delivery_id_and_fresh_signatures() -> None:
    sleeps = Sleeps()
    with http_peer(
        (500, {}, b"boom"), (500, {}, b"boom"), receiver(SECRET, clock_offset=timedelta(minutes=1))
    ) as peer:  # type: ignore[arg-type]
        channel = WebhookChannel(url=f"{peer.url}/hook", secret=SECRET)
        delivery = deliver(channel, alert(), now=NOW, policy=FAST, rng=rng(), sleep=sleeps)
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("sent", 3, 200)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0
    assert delivery.sent_at == NOW + timedelta(seconds=sum(sleeps))
    ids = {r.headers[DELIVERY_HEADER] for r in peer.received}
    assert ids == {delivery.id} and len({r.body for r in peer.received}) == 1
    stamps = [int(r.headers["X-CostCouncil-Timestamp"]) for r in peer.received]
    assert stamps == sorted(stamps) and stamps[0] == int(NOW.timestamp())


def test_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    with http_peer((429, {"Retry-After": "7"}, b"slow down"), OK) as peer:
        delivery = deliver(
            SlackChannel(url=f"{peer.url}/s"),
            alert(),
            now=NOW,
            policy=FAST,
            rng=rng(),
            sleep=sleeps,
        )
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert sleeps == [7.0] and delivery.sent_at == NOW + timedelta(seconds=7)


def test_a_retry_after_beyond_the_limit_gives_up_at_once() -> None:
    sleeps = Sleeps()
    with http_peer((429, {"Retry-After": "3600"}, b""), OK) as peer:
        delivery = deliver(
            SlackChannel(url=f"{peer.url}/s"), alert(), now=NOW, policy=FAST, sleep=sleeps
        )
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("gave_up", 1, 429)
    assert sleeps == [] and "3600" in delivery.error and len(peer.received) == 1


def test_400_is_terminal_and_its_error_names_the_reply_but_not_the_secret_url() -> None:
    path = f"/services/T000/B000/{TOKEN}"
    with http_peer((400, {}, f"invalid_payload for {path}".encode())) as peer:
        channel = SlackChannel(url=f"{peer.url}{path}")
        delivery = deliver(channel, alert(), now=NOW, policy=FAST, sleep=Sleeps())
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 400)
    assert "invalid_payload" in delivery.error and TOKEN not in delivery.error
    assert TOKEN not in delivery.target and delivery.target.startswith(peer.url)


def test_5xx_until_the_last_attempt_gives_up() -> None:
    sleeps = Sleeps()
    with http_peer((503, {}, b"")) as peer:
        delivery = deliver(
            TeamsChannel(url=f"{peer.url}/t"),
            alert(),
            now=NOW,
            policy=FAST,
            rng=rng(),
            sleep=sleeps,
        )
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("gave_up", 4, 503)
    assert len(peer.received) == 4 and len(sleeps) == 3


def test_a_redirect_is_not_followed() -> None:
    with http_peer((302, {"Location": "http://127.0.0.1:9/elsewhere"}, b"")) as peer:
        delivery = deliver(SlackChannel(url=f"{peer.url}/s"), alert(), now=NOW, sleep=Sleeps())
    assert (delivery.status, delivery.http_status) == (
        "failed",
        302,
    ) and "redirect" in delivery.error


def test_connection_refused_is_retried_then_given_up_without_the_secret() -> None:
    with http_peer(OK) as peer:
        url = f"{peer.url}/services/T000/B000/{TOKEN}"
    sleeps = Sleeps()  # the server is gone: nothing listens on its port now
    delivery = deliver(
        SlackChannel(url=url),
        alert(),
        now=NOW,
        policy=RetryPolicy(max_attempts=3),
        rng=rng(),
        sleep=sleeps,
    )
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("gave_up", 3, None)
    assert "ConnectError" in delivery.error and TOKEN not in delivery.error and len(sleeps) == 2


def test_slack_and_teams_bodies_are_posted_as_built() -> None:
    with http_peer(OK) as peer:
        deliver(SlackChannel(url=f"{peer.url}/slack"), alert(), now=NOW)
        deliver(TeamsChannel(url=f"{peer.url}/teams"), alert(), now=NOW)
    slack, teams = (json.loads(r.body) for r in peer.received)
    assert slack == slack_payload(alert()) and teams == teams_payload(alert())
    assert teams["attachments"][0]["contentType"] == ADAPTIVE_CARD
    assert peer.received[0].headers["Content-Type"].startswith("application/json")
