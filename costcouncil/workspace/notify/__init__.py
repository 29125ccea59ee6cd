"""Notification use cases: subscriptions, delivery over HTTP and SMTP, the delivery log."""
