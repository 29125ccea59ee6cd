"""`costcouncil subscriptions` and `costcouncil notify` against real loopback peers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from costcouncil.notify.redact import redact_url
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.notify.dispatch import dispatch
from costcouncil.workspace.notify.subscriptions import Subscriptions
from tests.workspace.notify.factories import NOW, SECRET, TOKEN, alert
from tests.workspace.notify.org import receiver
from tests.workspace.notify.peers import Mailbox, Reply, Request, http_peer, smtp_peer

runner = CliRunner()


@pytest.fixture
def ws(workspace: Workspace) -> str:
    monitoring = Monitoring.open(workspace)
    monitoring.add_monitor("team=vision", Scope("team", "vision"))
    monitoring.close()
    return str(workspace.root)


def _run(*args: str, code: int = 0, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def _webhook(ws: str, name: str, url: str, *more: str) -> str:
    return _run("subscriptions", "add", ws, name, "--channel", "webhook", "--url", url,
                "--secret", SECRET, *more)  # fmt: skip


def test_a_webhook_subscription_is_tested_through_a_real_receiver(ws: str) -> None:
    with http_peer(receiver) as peer:
        url = f"{peer.url}/hooks/{TOKEN}"
        added = _webhook(
            ws, "oncall", url, "--monitor", "team=vision", "--threshold", "impact >= 500"
        )
        said = _run("notify", "test", ws, "oncall")
    assert "added subscription 'oncall'" in added and TOKEN not in added
    assert "sent after 1 attempt(s)" in said and TOKEN not in said
    body = json.loads(peer.received[0].body)
    assert (body["type"], body["alert"]["kind"]) == ("test.new", "test")
    [listed] = json.loads(_run("subscriptions", "list", ws, "--json"))
    assert (listed["monitor"], listed["team"], listed["threshold"]) == (
        "team=vision", "vision", "impact >= 500",
    )  # fmt: skip
    assert listed["target"] == redact_url(url) and SECRET not in json.dumps(listed)
    [logged] = json.loads(_run("subscriptions", "deliveries", ws, "--json", "--limit", "5"))
    assert (logged["subscription"], logged["status"], logged["attempts"]) == ("oncall", "sent", 1)


def _gone(request: Request) -> Reply:
    return 404, {}, f"no hook at {request.path}".encode()


def test_a_failed_test_exits_1_with_the_redacted_error(ws: str) -> None:
    with http_peer(_gone) as peer:
        _run("subscriptions", "add", ws, "chat", "--channel", "slack",
             "--url", f"{peer.url}/services/T000/B000/{TOKEN}")  # fmt: skip
        said = _run("notify", "test", ws, "chat", code=1)
    assert "failed after 1 attempt(s)" in said and "HTTP 404" in said
    assert TOKEN not in said and len(peer.received) == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--channel", "slack", "--url", "hooks.slack.com/services/x"], "channel.url (--url)"),
        (
            ["--channel", "webhook", "--url", "https://x.example/h", "--secret", "short"],
            "channel.secret (--secret)",
        ),
        (
            ["--channel", "slack", "--url", "https://x.example/h", "--threshold", "impcat > 1"],
            "did you mean 'impact'",
        ),
        (
            ["--channel", "slack", "--url", "https://x.example/h", "--monitor", "team=visoin"],
            "did you mean 'team=vision'",
        ),
        (
            ["--channel", "email", "--smtp-host", "smtp.example.com", "--sender", "me"],
            "channel.sender (--sender)",
        ),
        (
            ["--channel", "slack", "--url", "https://x.example/h", "--to", "a@example.com"],
            "channel.recipients (--to)",
        ),
    ],
)
def test_bad_settings_exit_1_naming_the_field(ws: str, args: list[str], named: str) -> None:
    said = _run("subscriptions", "add", ws, "bad", *args, code=1)
    assert named in " ".join(said.split()), said
    assert "no subscriptions" in _run("subscriptions", "list", ws)


def test_an_email_subscription_reads_its_password_from_stdin(ws: str) -> None:
    box = Mailbox()
    with smtp_peer(box) as server:
        _run("subscriptions", "add", ws, "mail", "--channel", "email", "--smtp-host", "127.0.0.1",
             "--smtp-port", str(server.port), "--smtp-security", "none", "--sender",
             "costcouncil@example.com", "--to", "finops@example.com", "--to", "lead@example.com",
             "--frequency", "weekly")  # fmt: skip
        said = _run("notify", "test", ws, "mail")
    assert "sent" in said and box.envelopes[0].rcpt_tos == [
        "finops@example.com",
        "lead@example.com",
    ]
    stored = _run("subscriptions", "add", ws, "auth", "--channel", "email", "--smtp-host", "h.example",
                  "--smtp-user", "bot", "--smtp-password-stdin", "--sender", "a@example.com",
                  "--to", "b@example.com", stdin="pw-0f9e8d7c6b5a\n")  # fmt: skip
    assert "smtp://bot@h.example:587" in stored
    assert "pw-0f9e8d7c6b5a" not in _run("subscriptions", "list", ws, "--json")


def test_digests_are_sent_and_subscriptions_removed(ws: str, workspace: Workspace) -> None:
    with http_peer(receiver) as peer:
        _webhook(ws, "daily", f"{peer.url}/daily", "--frequency", "daily")
        subs = Subscriptions.open(workspace)
        alerts = [
            (alert(id=f"an-{i}", scope="team=vision"), "team=vision", "vision") for i in (1, 2)
        ]
        dispatch(subs, alerts, now=NOW - timedelta(days=1))
        subs.close()
        weekly = _run("notify", "digests", ws, "--period", "weekly")
        daily = _run("notify", "digests", ws)
    assert "0 weekly digest(s)" in weekly and "1 daily digest(s)" in daily
    assert [len(json.loads(r.body)["digest"]["alerts"]) for r in peer.received] == [2]
    _run("subscriptions", "disable", ws, "daily")
    assert json.loads(_run("subscriptions", "list", ws, "--json"))[0]["enabled"] is False
    _run("subscriptions", "enable", ws, "daily")
    log = _run("subscriptions", "deliveries", ws, "--subscription", "daily", "--json")
    assert {r["alert"] for r in json.loads(log)} == {"an-1", "an-2", "digest.daily"}
    _run("subscriptions", "remove", ws, "daily")
    assert "no deliveries yet" in _run("subscriptions", "deliveries", ws)
    assert "'daily' not found" in _run("subscriptions", "remove", ws, "daily", code=1)
