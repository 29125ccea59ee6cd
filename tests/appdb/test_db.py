"""Opening the app database: Alembic brings an empty SQLite or PostgreSQL database to head."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from costcouncil.appdb.db import MIGRATIONS, open_database, resolve_url, upgrade
from costcouncil.appdb.models import Base
from costcouncil.errors import ConfigError
from costcouncil.workspace.core import Workspace

APP_TABLES = set(Base.metadata.tables)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _head() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def test_the_default_database_is_sqlite_next_to_the_workspace(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    url = resolve_url(ws.config.database, ws.root)
    assert url == f"sqlite:///{ws.root / 'costcouncil.db'}"
    open_database(url).close()
    assert (ws.root / "costcouncil.db").is_file()


def test_an_empty_database_is_migrated_to_head(database_url: str) -> None:
    db = open_database(database_url)
    try:
        assert APP_TABLES | {"alembic_version"} == set(inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            version = connection.scalar(text("SELECT version_num FROM alembic_version"))
        assert version == _head()
    finally:
        db.close()


def test_opening_twice_finds_it_current(database_url: str) -> None:
    open_database(database_url).close()
    again = open_database(database_url)
    try:
        with again.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [_head()]
    finally:
        again.close()


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to add: models.py and migrations/ describe the same schema."""
    db = open_database(database_url)
    try:
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        db.close()


def test_every_migration_steps_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        for script in reversed(list(ScriptDirectory.from_config(_config()).walk_revisions())):
            upgrade(engine, script.revision)
        assert set(inspect(engine).get_table_names()) == APP_TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_a_missing_driver_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match="driver 'pg8000', not installed") as caught:
        open_database("postgresql+pg8000://app:s3cret@db.internal/costcouncil")
    assert "s3cret" not in str(caught.value) and "app:***@db.internal" in str(caught.value)


def test_an_unreachable_server_is_a_config_error_without_the_password() -> None:
    url = "postgresql+psycopg://app:s3cret@127.0.0.1:1/costcouncil?connect_timeout=5"
    with pytest.raises(ConfigError, match="cannot open the app database") as caught:
        open_database(url)
    assert "s3cret" not in str(caught.value)
