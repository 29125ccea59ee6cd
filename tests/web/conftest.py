"""A real ``costcouncil serve`` over the small allocated organisation of :mod:`tests.web.org`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.web.lake import Lake, lake_rows
from tests.web.org import PASSWORD, build_org


@pytest.fixture(scope="session")
def org(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_org(tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="session")
def server(org: Workspace) -> Iterator[Server]:
    running = Server(org.root).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def lake(org: Workspace) -> Lake:
    """The organisation's figures straight from its lake (the oracle)."""
    return Lake(lake_rows(org.root))


def token_for(org: Workspace, email: str, name: str = "tests") -> str:
    """A new API token of ``email`` (its role's default scopes)."""
    access = Access.open(org)
    try:
        return access.create_token(email, name)
    finally:
        access.close()


def bearer(url: str, token: str) -> httpx.Client:
    """A client sending ``Authorization: Bearer <token>``."""
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=url, headers=headers, follow_redirects=False, timeout=30)


def sign_in(url: str, email: str, password: str = PASSWORD) -> httpx.Client:
    """A client holding the session cookie of ``email`` (asserts the sign-in worked)."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf": csrf[1], "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: httpx.Client) -> str:
    """The session's CSRF token, as the dashboard's sign-out form carries it."""
    page = client.get("/")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


def workspace_root(org: Workspace) -> Path:
    return org.root
