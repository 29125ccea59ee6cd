"""Browser fixtures: Debian's Chromium driven by Playwright, a page per test, screenshots.

Playwright's own browser download is not used (CI reaches no CDN): ``scripts/browser.sh`` installs
Debian's ``chromium`` and the tests launch it through ``executable_path``. The executable is
``$COSTCOUNCIL_CHROMIUM`` when set, else ``chromium`` or ``chromium-browser`` on PATH. Without one
the tests skip with a message, except in CI (``CI=true``), where they fail.

Fixtures: ``browser`` (one per test process), ``page`` (a fresh context per test: 1400x900,
15 s default timeout), ``screenshot`` (``screenshot("step")`` writes
``test-artifacts/screenshots/<test-name>-<step>.png``) and ``dialogs`` (every ``alert``,
``confirm`` or ``prompt`` the page opens, dismissed and recorded as ``"<type>: <message>"``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.web.org import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ENV = "COSTCOUNCIL_CHROMIUM"
#: Chromium as root in a container: no user-namespace sandbox, and a small /dev/shm.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
TIMEOUT_MS = 15_000

Screenshot = Callable[[str], Path]


def chromium_executable() -> str | None:
    """``$COSTCOUNCIL_CHROMIUM`` when it names an executable, else Chromium on PATH, else None."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if os.access(override, os.X_OK) and Path(override).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _no_chromium() -> NoReturn:
    override = os.environ.get(CHROMIUM_ENV)
    found = f"{CHROMIUM_ENV}={override} is not an executable" if override else "no chromium on PATH"
    message = (
        f"browser tests need Chromium ({found}); run `bash scripts/browser.sh` "
        f"or set {CHROMIUM_ENV} to a Chromium executable"
    )
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test process (each xdist worker has its own)."""
    executable = chromium_executable()
    if executable is None:
        _no_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context (no cookies or storage shared between tests)."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Screenshot:
    """``screenshot("step")`` saves the full page as ``<test-name>-<step>.png``, returns the path."""

    def take(step: str) -> Path:
        path = SCREENSHOTS / f"{_slug(request.node.name)}-{_slug(step)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Dialogs the page opens from now on, dismissed at once; assert it stays empty."""
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", record)
    return opened


@pytest.fixture
def errors(page: Page) -> Iterator[list[str]]:
    """Console errors of the page (a blocked inline script or style shows here)."""
    seen: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.append(message.text)

    page.on("console", record)
    yield seen


def sign_in(page: Page, url: str, email: str, path: str) -> None:
    """Open ``path``, which sends to the sign-in form, and sign in as ``email``."""
    page.goto(url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
