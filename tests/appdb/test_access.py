"""Users, roles, hashed scoped tokens and the audit log, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from costcouncil.appdb.credentials import split_token
from costcouncil.appdb.models import ApiToken, User
from costcouncil.documents import dump_workspace_config
from costcouncil.errors import ConfigError
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.core import CONFIG_NAME, Workspace


@pytest.fixture
def access(tmp_path: Path, database_url: str) -> Iterator[Access]:
    """Access over a workspace whose ``database:`` names the backend under test."""
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    config = ws.config.model_copy(update={"database": database_url})
    (ws.root / CONFIG_NAME).write_text(dump_workspace_config(config))
    opened = Access.open(Workspace.open(ws.root))
    yield opened
    opened.close()


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
        parts = split_token(token)  # the secret may hold "_" itself (token_urlsafe)
        assert row is not None and parts is not None and parts[1] not in row.secret_hash
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
    assert member is not None and member.team_scope() == frozenset({"search", "ads"})
    assert finance is not None and finance.team_scope() is None


def test_a_duplicate_email_is_a_config_error(access: Access) -> None:
    access.add_user("dup@acme.io", "viewer", [], None)
    with pytest.raises(ConfigError, match=r"'dup@acme\.io' exists already"):
        access.add_user("Dup@Acme.io", "admin", [], None)
    assert [u["email"] for u in access.users()] == ["dup@acme.io"]


def test_adding_one_user_concurrently_leaves_one_row_and_config_errors(access: Access) -> None:
    """Whoever loses the race meets the unique constraint, and hears a ConfigError too."""
    start, outcomes = threading.Barrier(4), list[str]()

    def add() -> None:
        start.wait()
        try:
            access.add_user("race@acme.io", "viewer", [], None)
            outcomes.append("added")
        except ConfigError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["user 'race@acme.io' exists already"] * 3
    assert [u["email"] for u in access.users()] == ["race@acme.io"]


def test_times_come_back_in_utc_on_every_backend(access: Access) -> None:
    """Aware UTC times, also when the PostgreSQL server's time zone is not UTC."""
    engine = access.db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"ALTER DATABASE \"{engine.url.database}\" SET timezone TO 'Asia/Kolkata'"
            )
        engine.dispose()  # new connections take the zone
    access.add_user("t@acme.io", "viewer", [], None)
    assert access.authenticate_token(access.create_token("t@acme.io", "x", expires_days=1))
    [token] = access.tokens()
    for moment in (token.created_at, token.expires_at, token.last_used_at):
        assert moment is not None and moment.utcoffset() == timedelta(0)
    assert all(event["at"].endswith("+00:00") for event in access.audit())
