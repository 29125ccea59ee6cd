"""A violation: one breach of one policy by one subject, with its owner, evidence and $ at stake."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Violation:
    """What breached a policy, who owns it, what shows it, and the money the breach is about.

    ``subject`` names what breached as ``key=value`` pairs (``resource=i-0abc``,
    ``team=vision``, ``feature=chat,model=gpt-4o``); ``owner`` is the team the rows were
    attributed to (``__unallocated__`` when nobody); ``evidence`` is JSON-ready (numbers and
    dates as text); ``first_day`` and ``last_day`` bound the rows behind the breach.
    """

    policy: str
    kind: str
    severity: str
    subject: str
    owner: str | None
    at_stake: Decimal
    evidence: Mapping[str, Any] = field(default_factory=dict)
    first_day: date | None = None
    last_day: date | None = None

    @property
    def key(self) -> str:
        """Stable across runs for the same breach: the policy and the subject."""
        return f"{self.policy}:{self.subject}"

    def as_dict(self) -> dict[str, Any]:
        """The violation as JSON-ready data, its key included."""
        return {
            "key": self.key,
            "policy": self.policy,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "owner": self.owner,
            "at_stake": str(self.at_stake),
            "evidence": dict(self.evidence),
            "first_day": plain(self.first_day),
            "last_day": plain(self.last_day),
        }


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: Decimals as text, dates as ISO days, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value
