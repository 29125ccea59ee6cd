"""Alerts and channels for the delivery tests, at a fixed time."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from costcouncil.notify.message import Alert
from costcouncil.notify.retry import RetryPolicy

NOW = datetime(2025, 3, 5, 8, 0, tzinfo=UTC)
SECRET = "whsec-0123456789abcdef"
#: The secret part of a Slack-like webhook path.
TOKEN = "XXsecretTOKENzz"


def alert(**changes: object) -> Alert:
    """A new anomaly on team=research, +1,234.50 USD."""
    values: dict[str, object] = {
        "id": "an-42",
        "kind": "anomaly",
        "title": "GPU spend up",
        "scope": "team=research",
        "status": "new",
        "impact": Decimal("1234.50"),
        "currency": "USD",
        "start": datetime(2025, 3, 4, tzinfo=UTC),
        "end": None,
        "link": "https://costcouncil.example/anomalies/an-42",
        "impact_pct": 38.2,
        "score": 7.5,
        "lines": ("Model mix moved to gpt-5 (+900.00 USD)", "Cache-hit ratio down"),
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


class Sleeps(list[float]):
    """A ``sleep`` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


FAST = RetryPolicy(max_attempts=4, base=1.0, cap=8.0)


def rng() -> random.Random:
    return random.Random(7)
