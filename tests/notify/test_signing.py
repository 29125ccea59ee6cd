"""Webhook signatures: round trip, tampering, replay and malformed headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.notify.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signed_headers,
    verify,
)
from tests.workspace.notify.factories import NOW, SECRET

BODY = b'{"version":1,"type":"anomaly.new"}'


def headers(body: bytes = BODY, *, at: timedelta = timedelta(0)) -> dict[str, str]:
    return signed_headers(SECRET, body, now=NOW + at, delivery_id="d-1")


def test_round_trip_returns_the_delivery_id() -> None:
    assert verify(SECRET, headers(), BODY, now=NOW) == "d-1"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # Equal to `printf '1741161600.{}' | openssl dgst -sha256 -hmac whsec-0123456789abcdef`.
    expected = "729c23e4ac652f89fc89957d9f70db1eafa5af268cb10b0f716a3a23185ba403"
    assert sign(SECRET, b"{}", timestamp=1741161600) == f"v1={expected}"
    assert headers()[TIMESTAMP_HEADER] == str(int(NOW.timestamp()))


def test_header_names_are_case_insensitive() -> None:
    lowered = {k.lower(): v for k, v in headers().items()}
    assert verify(SECRET, lowered, BODY, now=NOW) == "d-1"


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda h, b: (h, b + b" "), "does not match"),
        (
            lambda h, b: ({**h, TIMESTAMP_HEADER: str(int(h[TIMESTAMP_HEADER]) + 1)}, b),
            "does not match",
        ),
        (lambda h, b: ({**h, SIGNATURE_HEADER: "v1=" + "0" * 64}, b), "does not match"),
        (lambda h, b: ({**h, SIGNATURE_HEADER: "sha256=abc"}, b), "expected v1=<hex>"),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE_HEADER}, b),
            "missing X-CostCouncil-Signature",
        ),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != TIMESTAMP_HEADER}, b),
            "missing X-CostCouncil-Timestamp",
        ),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != DELIVERY_HEADER}, b),
            "missing X-CostCouncil-Delivery",
        ),
        (lambda h, b: ({**h, TIMESTAMP_HEADER: "yesterday"}, b), "expected Unix seconds"),
    ],
)
def test_tampering_is_rejected(tamper: object, message: str) -> None:
    tampered_headers, body = tamper(headers(), BODY)  # type: ignore[operator]
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, tampered_headers, body, now=NOW)


def test_another_secret_is_rejected() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify("not-the-secret-0123456789", headers(), BODY, now=NOW)


@pytest.mark.parametrize(
    "offset", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=1)]
)
def test_old_or_future_timestamps_are_rejected(offset: timedelta) -> None:
    with pytest.raises(SignatureError, match="tolerance 300 s"):
        verify(SECRET, headers(at=offset), BODY, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(seconds=-300), timedelta(seconds=300)])
def test_the_tolerance_is_inclusive(offset: timedelta) -> None:
    assert verify(SECRET, headers(at=offset), BODY, now=NOW) == "d-1"


def test_any_of_several_signatures_may_match() -> None:
    signed = headers()
    rotated = {**signed, SIGNATURE_HEADER: f"v1={'f' * 64}, {signed[SIGNATURE_HEADER]}"}
    assert verify(SECRET, rotated, BODY, now=NOW) == "d-1"


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_a_signature_verifies_only_its_own_body(body: bytes, other: bytes) -> None:
    signed = headers(body)
    assert verify(SECRET, signed, body, now=NOW) == "d-1"
    if other != body:
        with pytest.raises(SignatureError):
            verify(SECRET, signed, other, now=NOW)
