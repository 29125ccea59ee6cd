"""Opening the app database: an engine, sessions, and the schema brought up to date by Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from costcouncil.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """One app database; :meth:`session` is a unit of work committed on success."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def resolve_url(url: str, root: Path) -> str:
    """A SQLite path relative to the workspace (``sqlite:///costcouncil.db``) made absolute."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            return str(parsed.set(database=str(root / path)))
    return url


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect to ``url`` and (by default) upgrade its schema to the newest migration.

    A missing driver or a server that cannot be reached is a :class:`ConfigError` naming the URL
    (without its password).
    """
    engine = _engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        try:
            upgrade(engine)
        except OperationalError as e:
            engine.dispose()
            raise ConfigError(f"cannot open the app database {_shown(url)}: {e.orig}") from e
    return Database(engine)


def _engine(url: str) -> Engine:
    try:
        return create_engine(url, future=True, pool_pre_ping=True)
    except ModuleNotFoundError as e:
        hint = ": pip install 'costcouncil[postgres]'" if e.name == "psycopg" else ""
        raise ConfigError(
            f"the app database {_shown(url)} needs the driver {e.name!r}, not installed{hint}"
        ) from e


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 5000")
    cursor.close()
