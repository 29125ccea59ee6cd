"""What is notified: an :class:`Alert` (one anomaly, budget, forecast or policy warning) or a
:class:`Digest` (several alerts gathered for a daily or weekly message).

Both are plain frozen values; the payload builders (``payloads``, ``mail``) turn them into what each
channel expects and :meth:`Alert.to_json` into the generic webhook's ``alert`` object. Times are
timezone-aware UTC datetimes; money is a ``Decimal`` in the workspace currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TypeAlias

__all__ = [
    "KINDS",
    "PERIODS",
    "SEVERITIES",
    "STATUSES",
    "Alert",
    "Digest",
    "Notice",
    "format_money",
    "format_time",
]

Kind: TypeAlias = Literal["anomaly", "budget", "forecast", "policy", "test"]
Status: TypeAlias = Literal["new", "updated", "resolved"]
Severity: TypeAlias = Literal["info", "warning", "critical"]

KINDS: tuple[str, ...] = ("anomaly", "budget", "forecast", "policy", "test")
STATUSES: tuple[str, ...] = ("new", "updated", "resolved")
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
PERIODS: tuple[str, ...] = ("daily", "weekly")


@dataclass(frozen=True)
class Alert:
    """One thing a subscriber is told about, identified by a stable ``id`` (e.g. the anomaly id).

    ``impact`` is the money at stake (actual minus expected for an anomaly, the overrun for a
    budget), ``impact_pct`` the same as a percentage of expected (None when expected is zero),
    ``end`` None while ongoing, ``link`` the absolute URL of its dashboard page and ``lines`` the
    details a person reads first (e.g. the ranked root causes).
    """

    id: str
    kind: Kind
    title: str
    scope: str
    status: Status
    impact: Decimal
    currency: str
    start: datetime
    end: datetime | None
    link: str
    impact_pct: float | None = None
    score: float | None = None
    lines: tuple[str, ...] = ()
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, KINDS)
        _check_choice("status", self.status, STATUSES)
        _check_choice("severity", self.severity, SEVERITIES)
        _check_aware("start", self.start)
        if self.end is not None:
            _check_aware("end", self.end)
        if not isinstance(self.lines, tuple):
            object.__setattr__(self, "lines", tuple(self.lines))

    @property
    def impact_text(self) -> str:
        """The impact as a person reads it: ``+1,234.50 USD (+38.2 %)``."""
        pct = "" if self.impact_pct is None else f" ({self.impact_pct:+.1f} %)"
        return f"{format_money(self.impact, self.currency, signed=True)}{pct}"

    @property
    def window_text(self) -> str:
        """``2025-03-04 → 2025-03-06``, or ``since 2025-03-04`` while ongoing."""
        if self.end is None:
            return f"since {format_time(self.start)}"
        return f"{format_time(self.start)} → {format_time(self.end)}"

    def to_json(self) -> dict[str, object]:
        """The alert as JSON-ready values (money as a decimal string, times in ISO 8601 UTC)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "scope": self.scope,
            "status": self.status,
            "severity": self.severity,
            "impact": str(self.impact),
            "impact_pct": self.impact_pct,
            "score": self.score,
            "currency": self.currency,
            "start": _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
            "link": self.link,
            "lines": list(self.lines),
        }


@dataclass(frozen=True)
class Digest:
    """Several alerts sent as one daily or weekly message covering ``[start, end)``."""

    period: Literal["daily", "weekly"]
    start: datetime
    end: datetime
    link: str
    alerts: tuple[Alert, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_choice("period", self.period, PERIODS)
        _check_aware("start", self.start)
        _check_aware("end", self.end)
        if not isinstance(self.alerts, tuple):
            object.__setattr__(self, "alerts", tuple(self.alerts))

    @property
    def title(self) -> str:
        """``Daily digest: 3 alerts (2025-03-04 → 2025-03-05)``."""
        count = len(self.alerts)
        noun = "alert" if count == 1 else "alerts"
        span = f"{format_time(self.start)} → {format_time(self.end)}"
        return f"{self.period.capitalize()} digest: {count} {noun} ({span})"

    def to_json(self) -> dict[str, object]:
        """The digest as JSON-ready values, its alerts as :meth:`Alert.to_json`."""
        return {
            "period": self.period,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "link": self.link,
            "alerts": [a.to_json() for a in self.alerts],
        }


#: Anything a channel can send.
Notice: TypeAlias = Alert | Digest


def format_money(amount: Decimal, currency: str, *, signed: bool = False) -> str:
    """``1,234.50 USD`` (two decimals, thousands separators; ``+`` shown when ``signed``)."""
    sign = "+" if signed else ""
    return f"{amount:{sign},.2f} {currency}"


def format_time(when: datetime) -> str:
    """A UTC date, with the time of day only when it is not midnight: ``2025-03-04 14:00 UTC``."""
    utc = when.astimezone(UTC)
    if (utc.hour, utc.minute, utc.second) == (0, 0, 0):
        return utc.strftime("%Y-%m-%d")
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} = {value!r}: expected one of {', '.join(choices)}")


def _check_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} = {value!r}: expected a timezone-aware datetime (UTC)")
