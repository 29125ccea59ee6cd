"""Channel configuration: where a subscription's messages go, validated once.

::

    Channel = SlackChannel | TeamsChannel | WebhookChannel | EmailChannel   (by ``kind``)

Build one with :func:`parse_channel` from a mapping (a YAML/JSON/API body): every problem is
collected and raised once as a ``ConfigError`` naming the field and a *redacted* value, never a
secret. ``repr`` and ``str`` of a channel show only :attr:`target` (redacted); the URL, the
signing secret and the SMTP password are still plain fields for whoever stores the channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from costcouncil.errors import ConfigError
from costcouncil.notify.redact import MASK, Redactor, redact_url

__all__ = [
    "KINDS",
    "Channel",
    "EmailChannel",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
    "check_address",
    "check_url",
    "parse_channel",
]

#: The channel kinds, as written in ``kind``.
KINDS: tuple[str, ...] = ("slack", "teams", "webhook", "email")

#: Fields whose values are never shown in an error or a repr.
SECRET_FIELDS = frozenset({"url", "secret", "password"})

_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def check_url(url: str) -> str:
    """``url`` stripped, when it is an absolute http or https URL with a host."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ValueError(f"not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be an absolute URL with a host and no spaces")
    return url


def check_address(address: str) -> str:
    """``address`` stripped, when it looks like ``name@domain``."""
    address = address.strip()
    if not _ADDRESS.match(address):
        raise ValueError("not an email address (expected name@domain)")
    return address


class _Channel(BaseModel):
    """Shared behaviour: frozen, no unknown keys, a redacted repr."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    @property
    def target(self) -> str:
        """Where messages go, safe to log and to show back."""
        raise NotImplementedError

    def redactor(self) -> Redactor:
        """A redactor for this channel's secrets (for error messages)."""
        raise NotImplementedError

    def __repr_args__(self) -> list[tuple[str | None, Any]]:
        return [("kind", getattr(self, "kind", "")), ("target", self.target)]


class _UrlChannel(_Channel):
    url: str = Field(repr=False, description="The webhook URL (a secret: shown redacted).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @property
    def target(self) -> str:
        """The URL redacted: scheme, host and a short prefix of the path."""
        return redact_url(self.url)

    def redactor(self) -> Redactor:
        """Redacts the URL (and its path and query) wherever it appears."""
        return Redactor.of(urls=[self.url])


class SlackChannel(_UrlChannel):
    """A Slack incoming webhook (``https://hooks.slack.com/services/…``); Block Kit messages."""

    kind: Literal["slack"] = "slack"


class TeamsChannel(_UrlChannel):
    """A Microsoft Teams Workflows webhook ("Send webhook alerts to a channel"); Adaptive Cards."""

    kind: Literal["teams"] = "teams"


class WebhookChannel(_UrlChannel):
    """Any HTTP endpoint: a versioned JSON body signed with HMAC-SHA256 (``signing``)."""

    kind: Literal["webhook"] = "webhook"
    secret: str = Field(repr=False, min_length=16, description="The HMAC signing secret.")

    def redactor(self) -> Redactor:
        """Redacts the URL and the signing secret."""
        return Redactor.of(urls=[self.url], secrets=[self.secret])


class EmailChannel(_Channel):
    """An SMTP server and the addresses to mail; STARTTLS, implicit TLS (``tls``) and AUTH."""

    kind: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return check_address(value)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in values if not _ADDRESS.match(v.strip())]
        if bad:
            raise ValueError(f"not email addresses (expected name@domain): {', '.join(bad)}")
        return tuple(v.strip() for v in values)

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannel:
        if self.tls and self.starttls:
            raise ValueError("tls (implicit TLS, port 465) and starttls exclude each other")
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password are set together or not at all")
        return self

    @property
    def target(self) -> str:
        """``smtp://user@host:port → a@x, b@y`` (never the password)."""
        scheme = "smtps" if self.tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port} → {', '.join(self.recipients)}"

    def redactor(self) -> Redactor:
        """Redacts the SMTP password."""
        return Redactor.of(secrets=[self.password])


#: Any channel, told apart by ``kind``.
Channel: TypeAlias = Annotated[
    SlackChannel | TeamsChannel | WebhookChannel | EmailChannel, Field(discriminator="kind")
]
_CHANNEL: TypeAdapter[Channel] = TypeAdapter(Channel)


def parse_channel(data: Mapping[str, object], *, source: str = "channel") -> Channel:
    """A validated channel from ``data`` (``kind`` picks the model).

    Raises ``ConfigError`` listing every problem as ``source.field = value: reason``, with secret
    fields' values redacted.
    """
    kind = data.get("kind")
    if kind not in KINDS:
        choices = ", ".join(KINDS)
        raise ConfigError(f"{source}.kind = {kind!r}: expected one of {choices}")
    try:
        return _CHANNEL.validate_python(dict(data))
    except PydanticValidationError as e:
        lines = [_problem(source, data, err) for err in e.errors(include_input=False)]
        raise ConfigError(f"{source}: {len(lines)} problem(s):\n" + "\n".join(lines)) from None


def _problem(source: str, data: Mapping[str, object], err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in KINDS:
        loc = loc[1:]  # the discriminator's tag
    name = ".".join(loc)
    value = _value_at(data, loc)
    shown = "" if value is None else f" = {_shown(loc[0], value)!r}"
    reason = str(err["msg"]).removeprefix("Value error, ")
    return f"  - {source}.{name}{shown}: {reason}" if name else f"  - {source}: {reason}"


def _value_at(data: Mapping[str, object], loc: list[str]) -> object:
    value: object = data.get(loc[0]) if loc else None
    if len(loc) > 1 and isinstance(value, list | tuple) and loc[1].isdigit():
        index = int(loc[1])
        value = value[index] if index < len(value) else None
    return value


def _shown(field: str, value: object) -> str:
    if field == "url":
        return redact_url(str(value))
    return MASK if field in SECRET_FIELDS else str(value)
