"""Payload shapes: Slack Block Kit, Teams Adaptive Card, the generic webhook body, email."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from costcouncil.notify.mail import email_message, subject
from costcouncil.notify.message import Digest
from costcouncil.notify.payloads import (
    ADAPTIVE_CARD,
    DIGEST_SHOWN,
    encode,
    slack_payload,
    teams_payload,
    webhook_body,
)
from tests.workspace.notify.factories import NOW, alert

LINK = "https://costcouncil.example/anomalies/an-42"


def blocks_of(payload: dict[str, object], kind: str) -> list[dict[str, object]]:
    return [b for b in payload["blocks"] if b["type"] == kind]  # type: ignore[attr-defined,index]


def test_slack_alert_blocks() -> None:
    payload = slack_payload(alert(title="GPU <spend> & more"))
    assert (
        payload["text"]
        == "New anomaly: GPU &lt;spend&gt; &amp; more — team=research: +1,234.50 USD (+38.2 %)"
    )
    [header] = blocks_of(payload, "header")
    assert header["text"] == {
        "type": "plain_text",
        "text": "New anomaly: GPU <spend> & more",
        "emoji": True,
    }
    fields, lines = blocks_of(payload, "section")
    assert [f["text"].split("\n")[0] for f in fields["fields"]] == [
        "*Scope*",
        "*Impact*",
        "*Window*",
        "*Severity*",
        "*Score*",
    ]  # type: ignore[index]
    assert (
        lines["text"]["text"] == "• Model mix moved to gpt-5 (+900.00 USD)\n• Cache-hit ratio down"
    )  # type: ignore[index]
    [actions] = blocks_of(payload, "actions")
    assert actions["elements"][0]["url"] == LINK  # type: ignore[index]
    assert len(blocks_of(payload, "context")) == 1


def test_slack_header_is_cut_to_150_characters() -> None:
    header = blocks_of(slack_payload(alert(title="x" * 400)), "header")[0]
    assert len(header["text"]["text"]) == 150  # type: ignore[index]


def test_teams_adaptive_card() -> None:
    payload = teams_payload(alert(status="resolved"))
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]  # type: ignore[misc]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in CostCouncil", "url": LINK}
    ]
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Impact", "value": "+1,234.50 USD (+38.2 %)"} in facts
    assert card["body"][1]["text"].startswith("Resolved")


def test_webhook_body_is_versioned_and_exact() -> None:
    body = webhook_body(alert(status="updated"), delivery_id="d-9", now=NOW)
    decoded = json.loads(encode(body))
    assert decoded == {
        "version": 1,
        "type": "anomaly.updated",
        "delivery_id": "d-9",
        "created": "2025-03-05T08:00:00Z",
        "alert": {
            "id": "an-42",
            "kind": "anomaly",
            "title": "GPU spend up",
            "scope": "team=research",
            "status": "updated",
            "severity": "warning",
            "impact": "1234.50",
            "impact_pct": 38.2,
            "score": 7.5,
            "currency": "USD",
            "start": "2025-03-04T00:00:00Z",
            "end": None,
            "link": LINK,
            "lines": ["Model mix moved to gpt-5 (+900.00 USD)", "Cache-hit ratio down"],
        },
    }
    assert b" " not in encode({"a": [1, 2]})


def test_digests_list_at_most_twenty_alerts() -> None:
    alerts = tuple(alert(id=f"an-{i}", title=f"Alert {i}") for i in range(25))
    digest = Digest(
        "weekly",
        NOW,
        datetime(2025, 3, 12, tzinfo=UTC),
        "https://costcouncil.example/anomalies",
        alerts,
    )
    slack = slack_payload(digest)
    assert slack["text"] == "Weekly digest: 25 alerts (2025-03-05 08:00 UTC → 2025-03-12)"
    assert len(blocks_of(slack, "section")) == DIGEST_SHOWN
    assert blocks_of(slack, "context")[0]["elements"][0]["text"] == "… and 5 more"  # type: ignore[index]
    assert (
        json.loads(encode(webhook_body(digest, delivery_id="d", now=NOW)))["type"]
        == "digest.weekly"
    )
    assert teams_payload(digest)["attachments"][0]["content"]["body"][-1]["text"] == "… and 5 more"  # type: ignore[index]


def test_email_subject_is_one_line_and_html_is_escaped() -> None:
    notice = alert(title="Spend\r\nBcc: victim@example.com", lines=("<script>alert(1)</script>",))
    assert "\n" not in subject(notice) and "\r" not in subject(notice)
    message = email_message(notice, sender="cc@example.com", recipients=["a@example.com"], now=NOW)
    assert message["Bcc"] is None and message["Date"] == "Wed, 05 Mar 2025 08:00:00 +0000"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "&lt;script&gt;" in html and "<script>" not in html and "<script>" in text
