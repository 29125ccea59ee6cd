"""Deduplication: one anomaly, one message, updated when it grows or resolves.

For one subscription and one alert id, :func:`decide` compares the alert with what was last sent
for that id (:class:`Sent`, or None when nothing was) and returns a :class:`Decision`:

====================================  ==============================================  =========
last sent                             alert now                                       send
====================================  ==============================================  =========
nothing                               new / updated, passes the threshold             ``new``
nothing                               new / updated, fails the threshold              —
nothing                               resolved                                        —
new / updated                         resolved                                        ``resolved``
new / updated                         |impact| grew by ≥ ``growth`` and ≥ ``min_step``  ``updated``
new / updated                         anything else (small changes, shrinking)        —
resolved                              resolved                                        —
resolved                              new / updated again (reopened)                  ``updated``
====================================  ==============================================  =========

The threshold gates only the first message: once a subscriber has heard of an alert, they hear of
its growth and resolution even if it later falls below their threshold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from costcouncil.notify.message import Alert
from costcouncil.notify.thresholds import Threshold

__all__ = ["Decision", "Sent", "decide"]

#: Relative growth of |impact| that makes an update worth a message.
GROWTH = 0.25
#: Absolute growth (workspace currency) below which an update is not worth a message.
MIN_STEP = Decimal("50")


@dataclass(frozen=True)
class Sent:
    """What was last sent to one subscription for one alert id (kept in the delivery log)."""

    status: Literal["new", "updated", "resolved"]
    impact: Decimal
    at: datetime


@dataclass(frozen=True)
class Decision:
    """Whether to send and as which status; ``reason`` says why, for the delivery log."""

    send: Literal["new", "updated", "resolved"] | None
    reason: str

    def apply(self, alert: Alert) -> Alert:
        """The alert to send: its status set to the decided one."""
        if self.send is None:
            raise ValueError(f"nothing to send for alert {alert.id!r}: {self.reason}")
        return dataclasses.replace(alert, status=self.send)

    def sent(self, alert: Alert, *, now: datetime) -> Sent:
        """The :class:`Sent` to remember once the message was delivered."""
        if self.send is None:
            raise ValueError(f"nothing was sent for alert {alert.id!r}: {self.reason}")
        return Sent(status=self.send, impact=alert.impact, at=now)


def decide(
    alert: Alert,
    last: Sent | None,
    *,
    threshold: Threshold | None = None,
    growth: float = GROWTH,
    min_step: Decimal = MIN_STEP,
) -> Decision:
    """What to send to one subscription for ``alert``, given what was ``last`` sent for its id."""
    if last is None:
        return _first(alert, threshold)
    if last.status == "resolved":
        if alert.status == "resolved":
            return Decision(None, "resolution already sent")
        return Decision("updated", "reopened after its resolution was sent")
    if alert.status == "resolved":
        return Decision("resolved", "resolved")
    return _growth(alert, last, growth, min_step)


def _first(alert: Alert, threshold: Threshold | None) -> Decision:
    if alert.status == "resolved":
        return Decision(None, "resolved before anything was sent")
    if threshold is not None and not threshold.matches(alert):
        return Decision(None, f"below the threshold {threshold.expression!r}")
    return Decision("new", "first message")


def _growth(alert: Alert, last: Sent, growth: float, min_step: Decimal) -> Decision:
    before, now = abs(last.impact), abs(alert.impact)
    step = max(min_step, before * Decimal(repr(growth)))
    if now - before >= step:
        return Decision("updated", f"impact grew from {before} to {now} (step {step})")
    return Decision(None, f"impact {now} is not {step} above the {before} already sent")
