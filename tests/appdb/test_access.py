"""Users, roles, hashed scoped tokens and the audit log, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from costcouncil.appdb.db import open_database, resolve_url
from costcouncil.appdb.models import ApiToken, User
from costcouncil.errors import ConfigError
from costcouncil.workspace.access import Access
from costcouncil.workspace.core import Workspace


@pytest.fixture
def access(tmp_path: Path) -> Access:
    return Access.open(Workspace.init(tmp_path / "ws", None, "USD"))


def test_the_workspace_database_is_migrated_next_to_it(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    url = resolve_url(ws.config.database, ws.root)
    assert url == f"sqlite:///{ws.root / 'costcouncil.db'}"
    db = open_database(url)
    assert {"users", "user_teams", "api_tokens", "audit_events", "alembic_version"} <= set(
        inspect(db.engine).get_table_names()
    )
    open_database(url).close()  # a second open finds it current
    db.close()


def test_passwords_are_argon2_and_checked(access: Access) -> None:
    access.add_user("Ann@Acme.io", "member", ["search"], "correct horse")
    with access.db.session() as s:
        stored = s.scalar(select(User.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    ann = access.verify_password("ann@acme.io", "correct horse")
    assert ann is not None and ann.role == "member" and ann.teams == {"search"}
    assert access.verify_password("ann@acme.io", "wrong") is None
    assert access.verify_password("nobody@acme.io", "x") is None
    actions = [a["action"] for a in access.audit()]
    assert actions[:3] == ["signin.failed", "signin.failed", "signin.ok"]


def test_tokens_are_stored_hashed_scoped_and_revocable(access: Access) -> None:
    access.add_user("ops@acme.io", "viewer", [], None)
    with pytest.raises(ConfigError, match="may not hold scope 'events:write'"):
        access.create_token("ops@acme.io", "x", ["events:write"])
    token = access.create_token("ops@acme.io", "dash")
    with access.db.session() as s:
        row = s.scalar(select(ApiToken))
        assert row is not None and token.split("_")[2] not in row.secret_hash
    principal = access.authenticate_token(token)
    assert principal is not None and principal.scopes == {"costs:read"}
    assert not principal.may("events:write")
    assert access.authenticate_token(token[:-1] + "x") is None
    assert access.authenticate_token("garbage") is None
    access.revoke_token(token.split("_")[1])
    assert access.authenticate_token(token) is None
    actions = {a["action"] for a in access.audit()}
    assert {"user.add", "token.create", "token.use", "token.revoke", "token.rejected"} <= actions


def test_bad_input_is_named(access: Access) -> None:
    with pytest.raises(ConfigError, match="unknown role 'boss'"):
        access.add_user("a@b.c", "boss", [], None)
    with pytest.raises(ConfigError, match="not an email"):
        access.add_user("nobody", "admin", [], None)
    access.add_user("a@b.c", "admin", [], None)
    with pytest.raises(ConfigError, match="exists already"):
        access.add_user("A@b.c", "admin", [], None)
    with pytest.raises(ConfigError, match="no user"):
        access.create_token("z@b.c", "x")
    with pytest.raises(ConfigError, match="unknown scope"):
        access.create_token("a@b.c", "x", ["costs:write"])


def test_a_member_sees_only_their_teams(access: Access) -> None:
    access.add_user("m@acme.io", "member", ["search", "ads"], None)
    access.add_user("f@acme.io", "finance", [], None)
    member = access.authenticate_token(access.create_token("m@acme.io", "t"))
    finance = access.authenticate_token(access.create_token("f@acme.io", "t"))
    assert member is not None and member.team_scope() == {"search", "ads"}
    assert finance is not None and finance.team_scope() is None
