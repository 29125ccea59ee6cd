"""Retries: which failures are worth another attempt, and how long to wait before it.

A failed attempt is **transient** (try again) or **terminal** (give up now):

=================================  ==========================================================
transient                          HTTP 5xx, 408, 429 (its ``Retry-After`` honoured);
                                   connection refused / reset, timeouts; SMTP 4xx replies
terminal                           HTTP 3xx (redirects are not followed) and other 4xx;
                                   SMTP 5xx replies (bad auth, unknown mailbox); a bad URL,
                                   TLS certificate failures, STARTTLS not offered
=================================  ==========================================================

Waits use exponential backoff with *full jitter*: before retry ``n`` (1-based) the wait is uniform
in ``[0, min(cap, base · 2^(n-1))]``, drawn from an injectable ``random.Random``. A server's
``Retry-After`` replaces the drawn wait; one longer than ``max_retry_after`` ends the delivery
(``gave_up``) rather than holding it for hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeAlias

__all__ = [
    "Attempt",
    "RetryPolicy",
    "Verdict",
    "classify_http",
    "classify_smtp",
    "parse_retry_after",
]

Verdict: TypeAlias = Literal["ok", "transient", "terminal"]


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt to send: its verdict and what the peer said."""

    verdict: Verdict
    error: str = ""
    http_status: int | None = None
    smtp_code: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` attempts; waits as described in the module docstring (seconds)."""

    max_attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base < 0 or self.cap < 0 or self.max_retry_after < 0:
            raise ValueError(f"{self!r}: attempts must be ≥ 1 and waits ≥ 0")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The jittered wait before retry number ``retry`` (1 = the second attempt)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(retry - 1, 62))
        return rng.uniform(0.0, ceiling)

    def wait(self, retry: int, rng: random.Random, retry_after: float | None) -> float | None:
        """Seconds to wait before retry ``retry``; None when the server asks for too long."""
        if retry_after is None:
            return self.backoff(retry, rng)
        return retry_after if retry_after <= self.max_retry_after else None


def classify_http(status: int) -> Verdict:
    """``ok`` for 2xx, ``transient`` for 5xx, 408 and 429, ``terminal`` for the rest."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in (408, 429):
        return "transient"
    return "terminal"


def classify_smtp(code: int) -> Verdict:
    """``ok`` for 2xx/3xx replies, ``transient`` for 4xx, ``terminal`` for 5xx and anything else."""
    if 200 <= code < 400:
        return "ok"
    return "transient" if 400 <= code < 500 else "terminal"


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
