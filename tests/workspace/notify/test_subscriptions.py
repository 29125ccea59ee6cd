"""Subscriptions: validated channels and thresholds, secrets never shown back or audited, members
limited to their teams' monitors (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from costcouncil.appdb.models import AuditEvent
from costcouncil.errors import ConfigError
from costcouncil.workspace.notify.subscriptions import Subscriptions
from tests.workspace.notify.factories import SECRET, TOKEN
from tests.workspace.notify.org import SEARCH, VISION, Org, database, seed

HOOK = f"https://hooks.example.com/services/T000/B000/{TOKEN}"
WEBHOOK = {"kind": "webhook", "url": HOOK, "secret": SECRET}
PASSWORD = "pw-0f9e8d7c6b5a"
EMAIL = {"kind": "email", "host": "smtp.example.com", "username": "bot", "password": PASSWORD,
         "sender": "costcouncil@example.com", "recipients": ["finops@example.com"]}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def org(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Org]:
    for db in database(request.param, tmp_path):
        yield seed(db)


@pytest.fixture
def subs(org: Org) -> Subscriptions:
    return Subscriptions(org.db)


def _audit(org: Org) -> list[AuditEvent]:
    with org.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("subscription.%"))))


def test_a_subscription_is_listed_with_its_target_redacted(subs: Subscriptions) -> None:
    added = subs.add("oncall", channel=WEBHOOK, monitor="team=vision", threshold="impact >= 500")
    email = subs.add("finance", channel=EMAIL, frequency="weekly")
    assert (added.monitor, added.team, added.frequency) == ("team=vision", "vision", "immediate")
    assert (email.monitor, email.team, email.target) == (
        None, None, "smtp://bot@smtp.example.com:587 → finops@example.com",
    )  # fmt: skip
    listed = json.dumps([x.as_dict() for x in subs.list()], ensure_ascii=False)
    assert "https://hooks.example.com/services/T0…" in listed
    assert TOKEN not in listed and SECRET not in listed and PASSWORD not in listed


def test_every_change_is_audited_without_secrets(org: Org, subs: Subscriptions) -> None:
    subs.add("oncall", channel=WEBHOOK, actor="ada@example.com")
    subs.add("mail", channel=EMAIL)
    subs.disable("oncall")
    subs.enable("oncall")
    subs.remove("mail")
    events = _audit(org)
    assert [e.action.split(".")[1] for e in events] == ["add", "add", "disable", "enable", "remove"]
    assert events[0].actor == "ada@example.com" and events[0].detail["channel"] == "webhook"
    stored = json.dumps([e.detail for e in events])
    assert TOKEN not in stored and SECRET not in stored and PASSWORD not in stored


def test_disable_and_enable_are_shown(subs: Subscriptions) -> None:
    subs.add("oncall", channel=WEBHOOK)
    subs.disable("oncall")
    assert not subs.get("oncall").enabled
    subs.enable("oncall")
    assert subs.get("oncall").enabled


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"channel": {**WEBHOOK, "url": "ftp://hooks.example.com/x"}}, "channel.url"),
        ({"channel": {**WEBHOOK, "secret": "short"}}, "channel.secret"),
        ({"channel": {"kind": "pager"}}, "channel.kind"),
        ({"threshold": "impcat >= 500"}, "did you mean 'impact'"),
        ({"frequency": "hourly"}, "frequency 'hourly'"),
        ({"monitor": "team=visoin"}, "did you mean 'team=vision'"),
        ({"monitor": "org", "team": "vision"}, "monitor 'org' watches several teams"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    subs: Subscriptions, changes: dict[str, object], named: str
) -> None:
    settings: dict[str, object] = {"channel": WEBHOOK, **changes}
    with pytest.raises(ConfigError) as e:
        subs.add("bad", **settings)  # type: ignore[arg-type]
    assert named in str(e.value) and SECRET not in str(e.value)
    assert subs.list() == []


def test_a_name_is_taken_once(subs: Subscriptions) -> None:
    subs.add("oncall", channel=WEBHOOK)
    with pytest.raises(ConfigError, match="exists already"):
        subs.add("oncall", channel=EMAIL)


def test_a_member_subscribes_only_to_their_teams_monitors(subs: Subscriptions) -> None:
    mine = subs.add("mine", channel=WEBHOOK, monitor="team=vision", visible=VISION)
    every = subs.add("every", channel=WEBHOOK, visible=VISION)
    assert (mine.team, every.team, every.monitor) == ("vision", "vision", None)
    answers = set()
    for monitor in ("team=search", "org", "team=nowhere"):
        with pytest.raises(ConfigError) as e:
            subs.add("theirs", channel=WEBHOOK, monitor=monitor, visible=VISION)
        answers.add(str(e.value).replace(repr(monitor), "M").split(";")[0])
    assert answers == {"monitor M not found"}  # another team's monitor as one that does not exist
    with pytest.raises(ConfigError, match="not one of your teams"):
        subs.add("theirs", channel=WEBHOOK, team="search", visible=VISION)


def test_a_member_sees_and_changes_only_their_teams_subscriptions(subs: Subscriptions) -> None:
    subs.add("search-oncall", channel=WEBHOOK, monitor="team=search")
    subs.add("vision-oncall", channel=WEBHOOK, monitor="team=vision")
    subs.add("org-wide", channel=WEBHOOK)
    assert [x.name for x in subs.list(VISION)] == ["vision-oncall"]
    assert [x.name for x in subs.list(SEARCH)] == ["search-oncall"]
    for change in (subs.remove, subs.disable, subs.get):
        with pytest.raises(ConfigError) as e:
            change("search-oncall", visible=VISION)
        assert "'search-oncall' not found" in str(e.value) and "org-wide" not in str(e.value)
    assert len(subs.list()) == 3 and subs.get("search-oncall").enabled


def test_removing_a_subscription_that_does_not_exist_suggests_one(subs: Subscriptions) -> None:
    subs.add("oncall", channel=WEBHOOK)
    with pytest.raises(ConfigError, match="did you mean 'oncall'"):
        subs.remove("oncal")
