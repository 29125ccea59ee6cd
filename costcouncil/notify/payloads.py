"""JSON payloads for the HTTP channels: Slack Block Kit, a Teams Adaptive Card, the generic webhook.

* **Slack** (incoming webhook): ``text`` (the notification and fallback line) and ``blocks`` — a
  header, a section of fields (scope, impact, window, severity, score), the detail lines, a button
  to the alert's page and a context line. User text in ``mrkdwn`` is escaped (``& < >``).
* **Teams** (Workflows "Send webhook alerts to a channel"): a ``message`` whose one attachment has
  contentType ``application/vnd.microsoft.card.adaptive`` and an Adaptive Card 1.4: title, a
  FactSet, the detail lines and an ``Action.OpenUrl`` button.
* **Generic webhook**: ``{"version": 1, "type": "anomaly.new", "delivery_id": …, "created": …,
  "alert": {…}}`` (or ``"digest": {…}`` with ``type`` ``digest.daily`` / ``digest.weekly``),
  encoded by :func:`encode` as compact UTF-8 JSON — the exact bytes that are signed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from costcouncil.notify.message import Alert, Digest, Notice

__all__ = [
    "ADAPTIVE_CARD",
    "WEBHOOK_VERSION",
    "encode",
    "headline",
    "slack_payload",
    "teams_payload",
    "webhook_body",
]

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
WEBHOOK_VERSION = 1
#: Most alerts listed one by one in a digest (Slack allows 50 blocks in a message).
DIGEST_SHOWN = 20
_STATUS_WORD = {"new": "New", "updated": "Updated", "resolved": "Resolved"}


def headline(alert: Alert) -> str:
    """One line for a notification preview: ``New anomaly: GPU spend up — team=research``."""
    return f"{_STATUS_WORD[alert.status]} {alert.kind}: {alert.title} — {alert.scope}"


def slack_payload(notice: Notice) -> dict[str, object]:
    """A Slack incoming-webhook body (Block Kit with a ``text`` fallback)."""
    if isinstance(notice, Digest):
        return _slack_digest(notice)
    alert = notice
    blocks: list[dict[str, object]] = [
        _slack_header(f"{_STATUS_WORD[alert.status]} {alert.kind}: {alert.title}"),
        {
            "type": "section",
            "fields": [_mrkdwn(_cut(f"*{k}*\n{_esc(v)}", 2000)) for k, v in _facts(alert)],
        },
    ]
    if alert.lines:
        body = "\n".join(f"• {_esc(line)}" for line in alert.lines)
        blocks.append({"type": "section", "text": _mrkdwn(_cut(body, 3000))})
    blocks.append(_slack_button(alert.link, "Open in CostCouncil"))
    blocks.append(
        {"type": "context", "elements": [_mrkdwn(f"CostCouncil · {alert.kind} `{_esc(alert.id)}`")]}
    )
    return {"text": _esc(f"{headline(alert)}: {alert.impact_text}"), "blocks": blocks}


def teams_payload(notice: Notice) -> dict[str, object]:
    """A Teams Workflows webhook body: one Adaptive Card attachment."""
    if isinstance(notice, Digest):
        body = _teams_digest(notice)
        title, link = notice.title, notice.link
    else:
        body = _teams_alert(notice)
        title, link = headline(notice), notice.link
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "fallbackText": title,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in CostCouncil", "url": link}],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


def webhook_body(notice: Notice, *, delivery_id: str, now: datetime) -> dict[str, object]:
    """The generic webhook's versioned JSON body."""
    body: dict[str, object] = {
        "version": WEBHOOK_VERSION,
        "delivery_id": delivery_id,
        "created": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if isinstance(notice, Digest):
        body["type"] = f"digest.{notice.period}"
        body["digest"] = notice.to_json()
    else:
        body["type"] = f"{notice.kind}.{notice.status}"
        body["alert"] = notice.to_json()
    return body


def encode(payload: dict[str, object]) -> bytes:
    """Compact UTF-8 JSON: the bytes that are sent (and, for the generic webhook, signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _facts(alert: Alert) -> list[tuple[str, str]]:
    facts = [
        ("Scope", alert.scope),
        ("Impact", alert.impact_text),
        ("Window", alert.window_text),
        ("Severity", alert.severity),
    ]
    if alert.score is not None:
        facts.append(("Score", f"{alert.score:.2f}"))
    return facts


def _slack_digest(digest: Digest) -> dict[str, object]:
    blocks: list[dict[str, object]] = [_slack_header(digest.title)]
    for alert in digest.alerts[:DIGEST_SHOWN]:
        line = f"*<{alert.link}|{_esc(alert.title)}>* — {_esc(alert.scope)}"
        detail = f"{alert.impact_text} · {alert.window_text} · {alert.status}"
        blocks.append({"type": "section", "text": _mrkdwn(_cut(f"{line}\n{_esc(detail)}", 3000))})
    more = len(digest.alerts) - DIGEST_SHOWN
    if more > 0:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"… and {more} more")]})
    if not digest.alerts:
        blocks.append({"type": "section", "text": _mrkdwn("Nothing to report.")})
    blocks.append(_slack_button(digest.link, "Open in CostCouncil"))
    return {"text": _esc(digest.title), "blocks": blocks}


def _slack_header(text: str) -> dict[str, object]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _cut(text, 150), "emoji": True},
    }


def _slack_button(url: str, label: str) -> dict[str, object]:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "url": url,
        "action_id": "open",
    }
    return {"type": "actions", "elements": [button]}


def _teams_alert(alert: Alert) -> list[dict[str, object]]:
    body: list[dict[str, object]] = [
        _text(f"{alert.kind.capitalize()}: {alert.title}", size="Large", weight="Bolder"),
        _text(f"{_STATUS_WORD[alert.status]} · {alert.id}", isSubtle=True, spacing="None"),
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(alert)]},
    ]
    body += [_text(f"- {line}") for line in alert.lines]
    return body


def _teams_digest(digest: Digest) -> list[dict[str, object]]:
    body: list[dict[str, object]] = [_text(digest.title, size="Large", weight="Bolder")]
    for alert in digest.alerts[:DIGEST_SHOWN]:
        body.append(_text(f"[{alert.title}]({alert.link}) — {alert.scope}", weight="Bolder"))
        body.append(
            _text(f"{alert.impact_text} · {alert.window_text} · {alert.status}", spacing="None")
        )
    more = len(digest.alerts) - DIGEST_SHOWN
    body += [_text(f"… and {more} more", isSubtle=True)] if more > 0 else []
    body += [] if digest.alerts else [_text("Nothing to report.")]
    return body


def _text(text: str, **style: object) -> dict[str, object]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _esc(text: str) -> str:
    """Slack's mrkdwn escaping: only ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
