"""Notifications: messages, channel payloads, signatures, thresholds, deduplication and retries
(docs/notifications.md). Pure: sending is done by ``costcouncil.workspace.notify``."""
