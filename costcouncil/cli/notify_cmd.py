"""``costcouncil subscriptions`` and ``costcouncil notify``: who is told of which alerts through
which channel, the delivery log, a test message and the digests (see docs/notifications.md)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer

from costcouncil.cli.common import JsonOpt, WorkspaceArg, fail, opened, out, table
from costcouncil.errors import ConfigError
from costcouncil.workspace.notify.dispatch import send_digests, send_test
from costcouncil.workspace.notify.subscriptions import DeliveryInfo, Subscriptions

subscriptions_app = typer.Typer(
    help="Notification subscriptions: a monitor's alerts to Slack, Teams, a webhook or email.",
    no_args_is_help=True,
)
notify_app = typer.Typer(help="Send a test notification or the due digests.", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="The subscription's name.")]
Kind = Literal["slack", "teams", "webhook", "email"]
Frequency = Literal["immediate", "daily", "weekly"]
Period = Literal["daily", "weekly"]
Security = Literal["starttls", "tls", "none"]
_LIST = [
    "name",
    "monitor",
    "budget",
    "channel",
    "target",
    "threshold",
    "frequency",
    "team",
    "enabled",
]
_SMTP_ONLY = ("host", "username", "password", "sender", "recipients")
#: The option that sets each channel field, named beside the field in errors.
_OPTIONS = {"kind": "--channel", "url": "--url", "secret": "--secret", "host": "--smtp-host",
            "port": "--smtp-port", "username": "--smtp-user", "password": "--smtp-password-stdin",
            "sender": "--sender", "recipients": "--to"}  # fmt: skip
_LOG = ["created_at", "subscription", "alert", "alert_status", "status", "attempts", "detail"]


def _channel(
    kind: Kind, url: str | None, secret: str | None, smtp: dict[str, Any]
) -> dict[str, Any]:
    """The channel settings from the options given; one that does not fit the kind is passed on
    so that the error names it."""
    fields = smtp if kind == "email" else {k: smtp[k] for k in _SMTP_ONLY}
    given = {"url": url, "secret": secret, **fields}
    return {"kind": kind, **{k: v for k, v in given.items() if v is not None}}


def _named(error: ConfigError) -> ConfigError:
    """The error with each channel field followed by the option that sets it."""
    text = str(error)
    for field, option in _OPTIONS.items():
        text = re.sub(rf"\bchannel\.{field}\b", f"channel.{field} ({option})", text)
    return ConfigError(text)


def _smtp(
    host: str | None,
    port: int,
    user: str | None,
    password_stdin: bool,
    sender: str | None,
    to: list[str],
    security: Security,
) -> dict[str, Any]:
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    return {"host": host, "port": port, "username": user, "password": password or None,
            "sender": sender, "recipients": tuple(to) or None,
            "starttls": security == "starttls", "tls": security == "tls"}  # fmt: skip


@subscriptions_app.command("add")
def subscriptions_add(
    directory: WorkspaceArg,
    name: NameArg,
    channel: Annotated[Kind, typer.Option(help="slack, teams, webhook or email.")],
    url: Annotated[str | None, typer.Option(help="The Slack, Teams or webhook URL.")] = None,
    secret: Annotated[
        str | None, typer.Option(help="The webhook's signing secret (16 characters or more).")
    ] = None,
    smtp_host: Annotated[str | None, typer.Option(help="Email: the SMTP server.")] = None,
    smtp_port: Annotated[int, typer.Option(help="Email: the SMTP port.")] = 587,
    smtp_user: Annotated[str | None, typer.Option(help="Email: the SMTP login.")] = None,
    smtp_password_stdin: Annotated[
        bool, typer.Option(help="Email: read the SMTP password from the first line of stdin.")
    ] = False,
    smtp_security: Annotated[
        Security, typer.Option(help="Email: starttls (port 587), tls (implicit, 465) or none.")
    ] = "starttls",
    sender: Annotated[str | None, typer.Option(help="Email: the From address.")] = None,
    to: Annotated[list[str] | None, typer.Option(help="Email: a recipient (repeatable).")] = None,
    monitor: Annotated[
        str | None, typer.Option(help="The monitor's name (every monitor if left out).")
    ] = None,
    budget: Annotated[
        str | None, typer.Option(help="A budget's name: its threshold alerts instead.")
    ] = None,
    threshold: Annotated[
        str, typer.Option(help="Who is told: e.g. 'impact >= 500 and impact_pct >= 20'.")
    ] = "",
    frequency: Annotated[
        Frequency, typer.Option(help="immediate, or a daily or weekly digest.")
    ] = "immediate",
    team: Annotated[
        str | None, typer.Option(help="Only this team's alerts (the monitor's team by default).")
    ] = None,
) -> None:
    """Subscribe a channel to a monitor's or a budget's alerts (secrets are stored, never shown
    back)."""
    smtp = _smtp(smtp_host, smtp_port, smtp_user, smtp_password_stdin, sender, to or [],
                 smtp_security)  # fmt: skip
    with opened(directory, Subscriptions) as (_, subs):
        try:
            added = subs.add(name, channel=_channel(channel, url, secret, smtp), monitor=monitor,
                             budget=budget, threshold=threshold, frequency=frequency, team=team)  # fmt: skip
        except ConfigError as e:
            raise _named(e) from None
    out.print(f"added subscription {added.name!r}: {added.channel} → {added.target}",
              highlight=False)  # fmt: skip


@subscriptions_app.command("list")
def subscriptions_list(directory: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """List subscriptions (channel targets redacted)."""
    with opened(directory, Subscriptions) as (_, subs):
        rows = [x.as_dict() for x in subs.list()]
    table(rows, _LIST, as_json, "no subscriptions: add one with `costcouncil subscriptions add`")


@subscriptions_app.command("remove")
def subscriptions_remove(directory: WorkspaceArg, name: NameArg) -> None:
    """Remove a subscription and its delivery log."""
    with opened(directory, Subscriptions) as (_, subs):
        subs.remove(name)
    out.print(f"removed subscription {name!r}")


@subscriptions_app.command("enable")
def subscriptions_enable(directory: WorkspaceArg, name: NameArg) -> None:
    """Let a disabled subscription hear of alerts again."""
    with opened(directory, Subscriptions) as (_, subs):
        subs.enable(name)
    out.print(f"enabled subscription {name!r}")


@subscriptions_app.command("disable")
def subscriptions_disable(directory: WorkspaceArg, name: NameArg) -> None:
    """Stop a subscription hearing of alerts (kept with its delivery log)."""
    with opened(directory, Subscriptions) as (_, subs):
        subs.disable(name)
    out.print(f"disabled subscription {name!r}")


@subscriptions_app.command("deliveries")
def subscriptions_deliveries(
    directory: WorkspaceArg,
    subscription: Annotated[
        str | None, typer.Option(help="Only this subscription's deliveries.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The delivery log: what was sent, queued or failed, newest first (redacted)."""
    with opened(directory, Subscriptions) as (_, subs):
        rows = [x.as_dict() for x in subs.deliveries(subscription, limit=limit)]
    table(rows, _LOG, as_json, "no deliveries yet")


@notify_app.command("test")
def notify_test(directory: WorkspaceArg, name: NameArg) -> None:
    """Send a test notification through a subscription's channel now; exit 1 if it fails."""
    with opened(directory, Subscriptions) as (workspace, subs):
        row = send_test(subs, name, now=datetime.now(UTC), currency=workspace.config.currency)
    if row.status != "sent":
        fail(_line(row))
    out.print(_line(row), highlight=False, soft_wrap=True)


@notify_app.command("digests")
def notify_digests(
    directory: WorkspaceArg,
    period: Annotated[
        Period, typer.Option(help="daily (all queued) or weekly (when due).")
    ] = "daily",
) -> None:
    """Send the due daily or weekly digests (one message per subscription with queued alerts)."""
    with opened(directory, Subscriptions) as (_, subs):
        rows = send_digests(subs, period, now=datetime.now(UTC))
    for row in rows:
        out.print(_line(row), highlight=False, soft_wrap=True)
    out.print(f"{len(rows)} {period} digest(s) sent or tried")
    if any(row.status != "sent" for row in rows):
        raise typer.Exit(1)


def _line(row: DeliveryInfo) -> str:
    """``name: alert → target: status after N attempt(s)[: the redacted error]``."""
    note = "" if row.status == "sent" else f": {row.detail}"
    where = f"{row.subscription}: {row.alert} → {row.target}"
    return f"{where}: {row.status} after {row.attempts} attempt(s){note}"
