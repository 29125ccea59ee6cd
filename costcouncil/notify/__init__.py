"""Notifications: messages, channel payloads, signatures, thresholds, deduplication and retries
(docs/notifications.md). Pure: sending is done by ``costcouncil.workspace.notify``.

Modules: ``message`` (Alert, Digest), ``channels`` (channel configuration), ``payloads`` (Slack,
Teams, generic webhook JSON), ``mail`` (email), ``signing`` (webhook HMAC signatures),
``thresholds`` (threshold expressions), ``dedupe`` (what to send for an alert), ``retry`` (backoff
and transient vs terminal failures), ``redact`` (secrets out of logs and errors).
"""
