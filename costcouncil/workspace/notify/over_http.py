"""One attempt to POST a JSON body to a webhook, as an :class:`~costcouncil.notify.retry.Attempt`.

Redirects are not followed (a webhook that moved is a configuration error); the response body is
kept (first 200 characters) in the error, since Slack and Teams explain a rejection there. Nothing
here redacts: the caller redacts the error with the channel's redactor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import httpx

from costcouncil.notify.retry import Attempt, Verdict, classify_http, parse_retry_after

__all__ = ["USER_AGENT", "post_json"]

USER_AGENT = "CostCouncil-Notify/1"
#: Most characters of a failed response's body kept in the error.
BODY_SHOWN = 200


def post_json(
    client: httpx.Client, url: str, body: bytes, headers: Mapping[str, str], *, now: datetime
) -> Attempt:
    """POST ``body`` to ``url``; the verdict from the status code or the transport error."""
    sent = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **headers}
    try:
        response = client.post(url, content=body, headers=sent)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
        return Attempt("terminal", f"bad URL: {e}")
    except httpx.TransportError as e:
        return Attempt(_transport_verdict(e), f"{type(e).__name__}: {e}")
    return _from_response(response, now)


def _from_response(response: httpx.Response, now: datetime) -> Attempt:
    verdict = classify_http(response.status_code)
    if verdict == "ok":
        return Attempt("ok", http_status=response.status_code)
    text = " ".join(response.text[:BODY_SHOWN].split())
    error = f"HTTP {response.status_code} {response.reason_phrase}" + (f": {text}" if text else "")
    if 300 <= response.status_code < 400:
        error += " (redirects are not followed: configure the final URL)"
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
    return Attempt(verdict, error, http_status=response.status_code, retry_after=retry_after)


def _transport_verdict(error: httpx.TransportError) -> Verdict:
    """Certificate failures are terminal (retrying cannot fix them); the rest is transient."""
    return "terminal" if "CERTIFICATE_VERIFY_FAILED" in str(error) else "transient"
