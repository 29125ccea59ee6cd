"""Every app-database test runs twice: on SQLite and on PostgreSQL, each time on a fresh database.

``database_url`` is the URL of an empty database: a SQLite file in the test's folder, or a
uniquely named PostgreSQL database created on the server that ``COSTCOUNCIL_TEST_POSTGRES_URL``
names and dropped after the test. ``make postgres`` (``scripts/postgres.sh``) starts a throwaway
cluster on loopback and writes its URL to ``.pg/url``; ``make test`` passes it on. Without the
variable the PostgreSQL cases skip, except in CI (``CI=true``), which promises both backends and
so fails instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

POSTGRES_ENV = "COSTCOUNCIL_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
    else:
        yield from fresh_postgres_database(postgres_server_url())


def postgres_server_url() -> str:
    """``COSTCOUNCIL_TEST_POSTGRES_URL``; skips without it (fails in CI)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url:
        return url
    why = (
        f"{POSTGRES_ENV} is not set: run `make postgres` (scripts/postgres.sh starts a test "
        f"cluster) and set {POSTGRES_ENV}=$(cat .pg/url)"
    )
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI runs the app-database tests on PostgreSQL too, but {why}", pytrace=False)
    pytest.skip(why)


def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, then drop it."""
    name = f"costcouncil_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:  # FORCE: a test that forgot to close is no leak
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
