"""Delivery over SMTP to a real server (aiosmtpd) on loopback: plain, STARTTLS + AUTH, failures."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from costcouncil.notify.channels import EmailChannel
from costcouncil.notify.message import Digest
from costcouncil.notify.retry import RetryPolicy
from costcouncil.workspace.notify.deliver import deliver
from tests.workspace.notify.factories import FAST, NOW, Sleeps, alert, rng
from tests.workspace.notify.peers import (
    Certificate,
    Mailbox,
    Passwords,
    free_port,
    self_signed,
    smtp_peer,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed(tmp_path)


def channel(port: int, **changes: object) -> EmailChannel:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "sender": "costcouncil@example.com",
        "recipients": ("finops@example.com", "lead@example.com"),
    }
    return EmailChannel(**{**values, **changes})  # type: ignore[arg-type]


def received(box: Mailbox) -> EmailMessage:
    message = message_from_bytes(box.envelopes[-1].original_content or b"", policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in message.iter_parts()}


def test_an_alert_arrives_with_text_and_escaped_html_parts() -> None:
    box = Mailbox()
    with smtp_peer(box) as server:
        delivery = deliver(channel(server.port), alert(title="<b>GPU</b> spend up"), now=NOW)
    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("sent", 1, 250)
    envelope = box.envelopes[0]
    assert envelope.mail_from == "costcouncil@example.com"
    assert envelope.rcpt_tos == ["finops@example.com", "lead@example.com"]
    message = received(box)
    assert message["Subject"].startswith("[CostCouncil] New anomaly: <b>GPU</b> spend up")
    assert message["References"] == "<anomaly-an-42@costcouncil>"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    assert (
        "+1,234.50 USD (+38.2 %)" in body["text/plain"]
        and "Cache-hit ratio down" in body["text/plain"]
    )
    assert "&lt;b&gt;GPU&lt;/b&gt;" in body["text/html"] and "<b>GPU" not in body["text/html"]
    assert 'href="https://costcouncil.example/anomalies/an-42"' in body["text/html"]


def test_a_digest_lists_its_alerts() -> None:
    box = Mailbox()
    digest = Digest(
        "daily",
        NOW,
        NOW.replace(day=6),
        "https://costcouncil.example/anomalies",
        (alert(), alert(id="an-43", title="Tokens up")),
    )
    with smtp_peer(box) as server:
        delivery = deliver(channel(server.port), digest, now=NOW)
    assert delivery.status == "sent"
    message = received(box)
    assert "Daily digest: 2 alerts" in message["Subject"]
    assert (
        "Tokens up" in parts(message)["text/plain"] and "Tokens up" in parts(message)["text/html"]
    )


def test_starttls_and_auth(certificate: Certificate) -> None:
    box, passwords = Mailbox(), Passwords("alerts", PASSWORD)
    tls = {
        "tls_context": certificate.server_context(),
        "require_starttls": True,
        "auth_require_tls": True,
        "authenticator": passwords,
    }
    with smtp_peer(box, **tls) as server:
        secure = channel(server.port, starttls=True, username="alerts", password=PASSWORD)
        delivery = deliver(secure, alert(), now=NOW, ssl_context=certificate.client_context())
        plain = deliver(channel(server.port), alert(), now=NOW, sleep=Sleeps())
    assert (delivery.status, delivery.smtp_code) == ("sent", 250)
    assert passwords.tried == ["alerts"] and box.sessions[0].authenticated
    assert (plain.status, plain.smtp_code) == ("failed", 530)  # the server requires STARTTLS
    assert len(box.envelopes) == 1


def test_a_wrong_password_is_terminal_and_never_shown(certificate: Certificate) -> None:
    tls = {
        "tls_context": certificate.server_context(),
        "require_starttls": True,
        "authenticator": Passwords("alerts", PASSWORD),
    }
    with smtp_peer(Mailbox(), **tls) as server:
        wrong = channel(server.port, starttls=True, username="alerts", password="hunter2-wrong")
        delivery = deliver(
            wrong, alert(), now=NOW, ssl_context=certificate.client_context(), sleep=Sleeps()
        )
    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("failed", 1, 535)
    assert "hunter2" not in delivery.error and "hunter2" not in repr(wrong)


def test_an_untrusted_certificate_is_terminal(certificate: Certificate) -> None:
    with smtp_peer(Mailbox(), tls_context=certificate.server_context()) as server:
        delivery = deliver(channel(server.port, starttls=True), alert(), now=NOW, sleep=Sleeps())
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.error


def test_a_4xx_reply_is_retried() -> None:
    box, sleeps = Mailbox(fail_first=("451 try again later",)), Sleeps()
    with smtp_peer(box) as server:
        delivery = deliver(
            channel(server.port), alert(), now=NOW, policy=FAST, rng=rng(), sleep=sleeps
        )
    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("sent", 2, 250)
    assert len(sleeps) == 1 and len(box.envelopes) == 1


def test_a_5xx_reply_is_terminal() -> None:
    box = Mailbox(fail_first=("554 message rejected",))
    with smtp_peer(box) as server:
        delivery = deliver(channel(server.port), alert(), now=NOW, policy=FAST, sleep=Sleeps())
    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("failed", 1, 554)
    assert "554" in delivery.error and box.envelopes == []


def test_no_server_is_retried_then_given_up() -> None:
    sleeps = Sleeps()
    delivery = deliver(
        channel(free_port()),
        alert(),
        now=NOW,
        policy=RetryPolicy(max_attempts=3),
        rng=rng(),
        sleep=sleeps,
    )
    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("gave_up", 3, None)
    assert "ConnectionRefused" in delivery.error and len(sleeps) == 2


def test_implicit_tls_with_auth(certificate: Certificate) -> None:
    box, passwords = Mailbox(), Passwords("alerts", PASSWORD)
    # aiosmtpd offers AUTH only after STARTTLS unless told otherwise; this session is TLS throughout.
    tls = {
        "ssl_context": certificate.server_context(),
        "authenticator": passwords,
        "auth_require_tls": False,
    }
    with smtp_peer(box, **tls) as server:
        secure = channel(server.port, tls=True, username="alerts", password=PASSWORD)
        delivery = deliver(secure, alert(), now=NOW, ssl_context=certificate.client_context())
    assert (delivery.status, delivery.smtp_code) == ("sent", 250), delivery.error
    assert passwords.tried == ["alerts"]
    assert (
        delivery.target
        == f"smtps://alerts@127.0.0.1:{server.port} → finops@example.com, lead@example.com"
    )
