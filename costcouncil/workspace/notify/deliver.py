"""Deliver one notice to one channel, with retries, and return what happened as a :class:`Delivery`.

``deliver`` never raises for a failed delivery: the outcome is the record (``sent``, ``failed`` on a
terminal error, ``gave_up`` when transient errors used up the attempts or a server asked to wait
too long). The record holds only redacted values: the target (``https://hooks.slack.com/services/
T0…``) and the error with every secret of the channel replaced.

Time is passed in: the first attempt happens at ``now`` and each retry at ``now`` plus the waits
slept so far, which is the time a webhook signature carries — re-signed on every attempt, so a
retry after minutes is still within the receiver's tolerance. Waits go through ``sleep``
(``time.sleep`` by default; tests pass a recorder) and are drawn from ``rng``.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal

import httpx

from costcouncil.notify.channels import (
    Channel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
)
from costcouncil.notify.mail import email_message
from costcouncil.notify.message import Notice
from costcouncil.notify.payloads import encode, slack_payload, teams_payload, webhook_body
from costcouncil.notify.retry import Attempt, RetryPolicy, Verdict
from costcouncil.notify.signing import signed_headers
from costcouncil.workspace.notify.over_http import post_json
from costcouncil.workspace.notify.over_smtp import send_mail

__all__ = ["Delivery", "deliver"]

log = logging.getLogger(__name__)

#: Seconds allowed for connecting, each read and each write of one attempt.
TIMEOUT = 10.0

Status = Literal["sent", "failed", "gave_up"]
_STATUS: dict[Verdict, Status] = {"ok": "sent", "terminal": "failed", "transient": "gave_up"}


@dataclass(frozen=True)
class Delivery:
    """One delivery of one notice to one channel, as the delivery log keeps it (no secrets)."""

    id: str
    channel: Literal["slack", "teams", "webhook", "email"]
    target: str
    status: Status
    attempts: int
    http_status: int | None
    smtp_code: int | None
    error: str
    sent_at: datetime | None


def deliver(
    channel: Channel,
    notice: Notice,
    *,
    now: datetime,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    delivery_id: str | None = None,
) -> Delivery:
    """Send ``notice`` through ``channel``, retrying transient failures per ``policy``.

    ``ssl_context`` verifies HTTPS and SMTP TLS peers (the system's trust store by default);
    ``delivery_id`` (a new UUID by default) is the generic webhook's ``X-CostCouncil-Delivery``.
    """
    delivery_id = delivery_id or str(uuid.uuid4())
    context = ssl_context or ssl.create_default_context()
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=context) as client:
        attempt = _attempt_fn(channel, notice, delivery_id, client, timeout, context)
        result, attempts, at = _with_retries(attempt, now, policy or RetryPolicy(), rng, sleep)
    delivery = _record(channel, delivery_id, result, attempts, at)
    log.info(
        "delivery %s to %s: %s after %d attempt(s)",
        delivery.id,
        delivery.target,
        delivery.status,
        attempts,
    )
    return delivery


def _attempt_fn(
    channel: Channel,
    notice: Notice,
    delivery_id: str,
    client: httpx.Client,
    timeout: float,
    context: ssl.SSLContext,
) -> Callable[[datetime], Attempt]:
    """A function making one attempt at a given time."""
    if isinstance(channel, EmailChannel):
        return lambda at: send_mail(
            channel, _mail(channel, notice, at), timeout=timeout, context=context
        )
    if isinstance(channel, WebhookChannel):
        return _webhook_fn(channel, notice, delivery_id, client)
    payload = slack_payload(notice) if isinstance(channel, SlackChannel) else teams_payload(notice)
    body = encode(payload)
    return lambda at: post_json(client, channel.url, body, {}, now=at)


def _webhook_fn(
    channel: WebhookChannel, notice: Notice, delivery_id: str, client: httpx.Client
) -> Callable[[datetime], Attempt]:
    """The body is built once (same delivery id on every retry) and signed at each attempt."""
    body: bytes | None = None

    def attempt(at: datetime) -> Attempt:
        nonlocal body
        body = body or encode(webhook_body(notice, delivery_id=delivery_id, now=at))
        headers = signed_headers(channel.secret, body, now=at, delivery_id=delivery_id)
        return post_json(client, channel.url, body, headers, now=at)

    return attempt


def _mail(channel: EmailChannel, notice: Notice, at: datetime) -> EmailMessage:
    return email_message(notice, sender=channel.sender, recipients=channel.recipients, now=at)


def _with_retries(
    attempt: Callable[[datetime], Attempt],
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None,
    sleep: Callable[[float], None],
) -> tuple[Attempt, int, datetime]:
    """The last attempt's outcome, how many attempts were made and when the last one was."""
    rng = rng or random.Random()
    elapsed = 0.0
    for number in range(1, policy.max_attempts + 1):
        at = now + timedelta(seconds=elapsed)
        result = attempt(at)
        if result.verdict != "transient" or number == policy.max_attempts:
            return result, number, at
        wait = policy.wait(number, rng, result.retry_after)
        if wait is None:
            asked = f"; the server asked to retry after {result.retry_after:.0f} s, more than {policy.max_retry_after:.0f} s"
            return replace(result, error=result.error + asked), number, at
        sleep(wait)
        elapsed += wait
    raise AssertionError("unreachable: max_attempts ≥ 1")


def _record(
    channel: Channel, delivery_id: str, result: Attempt, attempts: int, at: datetime
) -> Delivery:
    status = _STATUS[result.verdict]
    return Delivery(
        id=delivery_id,
        channel=channel.kind,
        target=channel.target,
        status=status,
        attempts=attempts,
        http_status=result.http_status,
        smtp_code=result.smtp_code,
        error=channel.redactor()(result.error),
        sent_at=at if status == "sent" else None,
    )
