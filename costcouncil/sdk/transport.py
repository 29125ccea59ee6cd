"""One HTTP attempt at delivering a batch, and what its answer means.

::

    Outcome.kind   when                                   the sender then
    ok             2xx; counts and per-event rejections   settles the batch
    retry          429, 408, 5xx, connection/timeout      waits (Retry-After or backoff), resends
    split          413                                    halves the batch size, resends
    refused        400 or another 4xx                     settles the batch as rejected
    auth           401, 403                               settles the batch as dropped

``httpx`` is imported when the first batch is sent, so that importing the SDK stays light.
"""

from __future__ import annotations

import email.utils
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    import httpx

Kind = Literal["ok", "retry", "split", "refused", "auth"]
USER_AGENT = "costcouncil-sdk/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    kind: Kind
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    retry_after: float | None = None
    message: str = ""


class Transport:
    """Posts NDJSON batches to ``{base_url}/v1/events``; one ``httpx.Client``, made lazily."""

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/v1/events"
        self._headers = {"Content-Type": "application/x-ndjson", "User-Agent": USER_AGENT}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def post(self, lines: list[bytes], key: str) -> Outcome:
        """Send one batch under the idempotency ``key``; never raises for network trouble."""
        import httpx

        body = b"\n".join(lines) + b"\n"
        try:
            response = self._http().post(
                self.url, content=body, headers={**self._headers, "Idempotency-Key": key}
            )
        except httpx.TransportError as e:
            return Outcome("retry", message=f"{type(e).__name__}: {e}")
        return classify(response.status_code, response.headers.get("retry-after"), response.content)

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout)
            return self._client


def classify(status: int, retry_after: str | None, content: bytes) -> Outcome:
    """The :class:`Outcome` of an HTTP answer (see the module table)."""
    if 200 <= status < 300:
        return _accepted(content)
    text = content[:300].decode("utf-8", "replace").strip()
    message = f"HTTP {status}" + (f": {text}" if text else "")
    if status in (401, 403):
        return Outcome("auth", message=message)
    if status == 413:
        return Outcome("split", message=message)
    if status in (408, 429) or status >= 500:
        return Outcome("retry", retry_after=parse_retry_after(retry_after), message=message)
    return Outcome("refused", message=message)


def _accepted(content: bytes) -> Outcome:
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError:
        return Outcome("ok", message="answer was not JSON")
    if not isinstance(answer, dict):
        return Outcome("ok", message="answer was not a JSON object")
    rejected = answer.get("rejected")
    return Outcome(
        "ok",
        accepted=_int(answer.get("accepted")),
        duplicates=_int(answer.get("duplicates")),
        rejected=[r for r in rejected if isinstance(r, dict)] if isinstance(rejected, list) else [],
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
