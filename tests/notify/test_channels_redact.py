"""Channel configuration and redaction: clear errors, no secret in reprs, errors or targets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.errors import ConfigError
from costcouncil.notify.channels import EmailChannel, SlackChannel, WebhookChannel, parse_channel
from costcouncil.notify.redact import MASK, Redactor, redact_url

SLACK = "https://hooks.slack.com/services/T0123/B0456/s3cretTOKEN789"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (SLACK, "https://hooks.slack.com/services/T0…"),
        ("https://user:pw@example.com:8443/hook?token=abc", "https://example.com:8443/h…"),
        ("http://127.0.0.1:9000/h", "http://127.0.0.1:9000/…"),
        ("not a url", MASK),
        ("https://[::1]:99999/x", MASK),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_redactor_removes_urls_their_paths_queries_and_passwords() -> None:
    redact = Redactor.of(urls=[SLACK + "?k=querysecret"], secrets=["pa ss/word"])
    text = f"POST {SLACK}?k=querysecret failed; path /services/T0123/B0456/s3cretTOKEN789 k=querysecret pa%20ss%2Fword pa ss/word"
    cleaned = redact(text)
    assert (
        "s3cretTOKEN789" not in cleaned
        and "querysecret" not in cleaned
        and "ss/word" not in cleaned
    )
    assert "ss%2Fword" not in cleaned and cleaned.count(MASK) == 2


@given(st.text(min_size=4, max_size=30), st.text(max_size=60), st.text(max_size=60))
def test_a_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    cleaned = Redactor.of(secrets=[secret])(before + secret + after)
    assert secret not in cleaned or secret in MASK


def test_channels_repr_shows_only_the_redacted_target() -> None:
    slack = SlackChannel(url=SLACK)
    hook = WebhookChannel(url=SLACK, secret="whsec-0123456789abcdef")
    mail = EmailChannel(
        host="smtp.example.com",
        username="u",
        password="hunter2hunter2",
        sender="a@example.com",
        recipients=("b@example.com",),
    )
    for channel in (slack, hook, mail):
        for text in (repr(channel), str(channel)):
            assert "s3cretTOKEN789" not in text and "whsec" not in text and "hunter2" not in text
    assert (
        repr(slack) == "SlackChannel(kind='slack', target='https://hooks.slack.com/services/T0…')"
    )
    assert mail.target == "smtp://u@smtp.example.com:587 → b@example.com"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"kind": "slack", "url": "ftp://hooks.slack.com/services/T0123/B0456/s3cretTOKEN789"},
            "channel.url = 'ftp://hooks.slack.com/services/T0…': must be an http:// or https:// URL",
        ),
        (
            {"kind": "teams", "url": "/relative/path/s3cretTOKEN789"},
            "channel.url = '••••': must be an http:// or https:// URL",
        ),
        (
            {"kind": "webhook", "url": "https://x.example/h", "secret": "s3cretTOKEN"},
            "channel.secret = '••••': String should have at least 16 characters",
        ),
        (
            {
                "kind": "email",
                "host": "smtp.x",
                "sender": "nobody",
                "recipients": ["a@example.com"],
            },
            "channel.sender = 'nobody': not an email address (expected name@domain)",
        ),
        (
            {
                "kind": "email",
                "host": "smtp.x",
                "sender": "a@example.com",
                "recipients": ["a@example.com", "b@@x"],
            },
            "not email addresses (expected name@domain): b@@x",
        ),
        (
            {"kind": "email", "host": "smtp.x", "sender": "a@example.com", "recipients": []},
            "channel.recipients",
        ),
        (
            {
                "kind": "email",
                "host": "smtp.x",
                "sender": "a@example.com",
                "recipients": ["a@example.com"],
                "password": "s3cretTOKEN",
            },
            "username and password are set together",
        ),
        (
            {
                "kind": "email",
                "host": "smtp.x",
                "sender": "a@example.com",
                "recipients": ["a@example.com"],
                "tls": True,
            },
            "exclude each other",
        ),
        (
            {"kind": "slack", "url": SLACK, "colour": "red"},
            "channel.colour = 'red': Extra inputs are not permitted",
        ),
        (
            {"kind": "pigeon"},
            "channel.kind = 'pigeon': expected one of slack, teams, webhook, email",
        ),
    ],
)
def test_bad_channels_name_the_field_and_never_the_secret(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_channel(data)
    assert message in str(caught.value)
    assert "s3cretTOKEN" not in str(caught.value)


def test_several_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError, match=r"2 problem\(s\)"):
        parse_channel(
            {
                "kind": "email",
                "host": "",
                "port": 0,
                "starttls": False,
                "sender": "a@example.com",
                "recipients": ["a@example.com"],
            }
        )


def test_a_channel_round_trips_through_its_stored_form() -> None:
    channel = parse_channel({"kind": "webhook", "url": SLACK, "secret": "whsec-0123456789abcdef"})
    assert parse_channel(channel.model_dump()) == channel
