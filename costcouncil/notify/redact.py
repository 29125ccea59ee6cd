"""Redaction of notification secrets for logs, errors and for showing configuration back.

A webhook URL *is* a credential (whoever has a Slack or Teams webhook URL can post to the channel),
so it is shown as scheme, host and a short prefix of the path only:
``https://hooks.slack.com/services/T0…``. Passwords and signing secrets are shown as ``••••``.
:class:`Redactor` removes every known secret (and its URL-encoded form, its path and its query)
from an arbitrary text such as an exception message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

__all__ = ["MASK", "Redactor", "redact_secret", "redact_url"]

#: What a password or signing secret is shown as.
MASK = "••••"

#: The most characters of a URL's path that are shown.
PATH_SHOWN = 12


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` and at most half (and at most 12 characters) of the path, then ``…``.

    User info, the rest of the path, the query and the fragment are never shown. A value that does
    not parse as a URL is shown as :data:`MASK`.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return MASK
    host = parts.hostname or ""
    if not parts.scheme or not host:
        return MASK
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port is not None else ""
    path = parts.path[: min(PATH_SHOWN, len(parts.path) // 2)]
    return f"{parts.scheme}://{netloc}{path}…"


def redact_secret(secret: str | None) -> str:
    """:data:`MASK` for any set secret, ``""`` for none."""
    return MASK if secret else ""


@dataclass(frozen=True)
class Redactor:
    """Replaces known secrets inside any text; build it with :meth:`of`."""

    replacements: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, *, urls: Iterable[str] = (), secrets: Iterable[str | None] = ()) -> Redactor:
        """A redactor for secret URLs (shown redacted) and plain secrets (shown as ``••••``)."""
        pairs: dict[str, str] = {}
        for url in urls:
            for form in _url_forms(url):
                pairs.setdefault(form, redact_url(url))
        for secret in secrets:
            for form in _plain_forms(secret):
                pairs.setdefault(form, MASK)
        ordered = sorted(pairs.items(), key=lambda p: len(p[0]), reverse=True)
        return cls(tuple(ordered))

    def __call__(self, text: str) -> str:
        """``text`` with every known secret replaced, longest first."""
        for secret, shown in self.replacements:
            text = text.replace(secret, shown)
        return text


def _plain_forms(secret: str | None) -> list[str]:
    if not secret:
        return []
    return [secret, quote(secret, safe="")]


def _url_forms(url: str) -> list[str]:
    """The URL, its encoded form, and the parts of it that may appear alone in an error."""
    forms = [url, url.strip(), quote(url, safe="")]
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return forms
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    path_secret = len(parts.path) > PATH_SHOWN // 2
    forms += [tail, parts.path] if path_secret else []
    forms += [parts.query] if parts.query else []
    forms += [parts.password] if parts.password else []
    return [f for f in forms if f]
