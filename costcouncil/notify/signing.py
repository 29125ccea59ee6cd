"""Signatures of the generic webhook: HMAC-SHA256 over ``f"{timestamp}.{body}"``.

Every request carries three headers::

    X-CostCouncil-Timestamp: 1741096800            (Unix seconds when this attempt was sent)
    X-CostCouncil-Signature: v1=<hex HMAC-SHA256(secret, b"1741096800." + body)>
    X-CostCouncil-Delivery:  6f1c…-uuid             (the same on every retry of one delivery)

:func:`verify` is what a receiver runs: it recomputes the signature over the raw body bytes,
compares in constant time and rejects timestamps more than ``tolerance`` seconds from its clock, so
a captured request cannot be replayed later. Within the tolerance window a replay is still
possible: receivers should also remember the delivery ids they have processed (for at least the
tolerance) and answer a repeated one with 2xx without acting on it again — retries of one delivery
reuse its id on purpose. Several ``v1=`` values separated by commas are accepted (any may match).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from costcouncil.errors import CostCouncilError

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "sign",
    "signed_headers",
    "verify",
]

TIMESTAMP_HEADER = "X-CostCouncil-Timestamp"
SIGNATURE_HEADER = "X-CostCouncil-Signature"
DELIVERY_HEADER = "X-CostCouncil-Delivery"
SCHEME = "v1"


class SignatureError(CostCouncilError):
    """A webhook request's signature is missing, malformed, wrong or too old to trust."""


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """``v1=<hex>``: HMAC-SHA256 keyed by ``secret`` over ``b"<timestamp>." + body``."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signed_headers(secret: str, body: bytes, *, now: datetime, delivery_id: str) -> dict[str, str]:
    """The three signature headers for sending ``body`` at ``now``."""
    timestamp = int(now.timestamp())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, body, timestamp=timestamp),
        DELIVERY_HEADER: delivery_id,
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: int = 300,
) -> str:
    """The delivery id of a genuine request; raises :class:`SignatureError` otherwise.

    ``headers`` are matched case-insensitively; ``body`` must be the raw bytes received (not
    re-encoded JSON). A timestamp more than ``tolerance`` seconds before or after ``now`` is
    rejected, as is any signature that does not match.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = _timestamp(lowered.get(TIMESTAMP_HEADER.lower()))
    age = now.timestamp() - timestamp
    if abs(age) > tolerance:
        raise SignatureError(
            f"timestamp {timestamp} is {age:+.0f} s from now (tolerance {tolerance} s)"
        )
    expected = sign(secret, body, timestamp=timestamp)
    given = _signatures(lowered.get(SIGNATURE_HEADER.lower()))
    if not any(hmac.compare_digest(expected.encode(), g.encode()) for g in given):
        raise SignatureError("signature does not match the body and timestamp")
    delivery = lowered.get(DELIVERY_HEADER.lower(), "").strip()
    if not delivery:
        raise SignatureError(f"missing {DELIVERY_HEADER} header")
    return delivery


def _timestamp(value: str | None) -> int:
    if value is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not value.strip().isascii() or not value.strip().isdigit():
        raise SignatureError(f"{TIMESTAMP_HEADER} = {value[:40]!r}: expected Unix seconds")
    return int(value.strip())


def _signatures(value: str | None) -> list[str]:
    if value is None:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    found = [p.strip() for p in value.split(",") if p.strip().startswith(f"{SCHEME}=")]
    if not found:
        raise SignatureError(f"{SIGNATURE_HEADER}: expected {SCHEME}=<hex>")
    return found
