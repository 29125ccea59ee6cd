"""The whole browser chain against a real local HTTP server: form, cookie, screenshot, download.

Also the pattern the dashboard tests reuse for injection: user text that looks like a script is
rendered escaped, shows as text, and opens no dialog — with a positive control proving that the
``dialogs`` recorder does catch a script that runs.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshot
from tests.browser.live import serve_in_thread

pytestmark = pytest.mark.browser

PAYLOAD = "<script>alert(1)</script>"
SESSION = "cc_session"
REPORT = "team,BilledCost\nsearch,1.50\n"

FORM = """<!doctype html><html><head><title>Smoke</title></head><body>
<h1>Smoke test</h1>
<form method="post" action="/greet">
  <label>Name <input name="name"></label>
  <button type="submit">Greet</button>
</form></body></html>"""


def _greeting(name: str) -> str:
    return f"""<!doctype html><html><head><title>Hello</title></head><body>
<h1>Greeted</h1><p id="greeting">Hello, {html.escape(name)}</p>
<a href="/report.csv">Download report</a></body></html>"""


def smoke_app() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def form() -> str:
        return FORM

    @app.post("/greet")
    async def greet(request: Request) -> Response:
        name = parse_qs((await request.body()).decode()).get("name", [""])[0]
        response = HTMLResponse(_greeting(name))
        response.set_cookie(SESSION, "s3cret", httponly=True, samesite="lax")
        return response

    @app.get("/report.csv")
    def report(request: Request) -> Response:
        if request.cookies.get(SESSION) != "s3cret":
            return PlainTextResponse("no session", status_code=401)
        disposition = 'attachment; filename="report.csv"'
        return PlainTextResponse(REPORT, headers={"Content-Disposition": disposition})

    @app.get("/unsafe", response_class=HTMLResponse)
    def unsafe(name: str) -> str:  # deliberately unescaped: the dialog recorder's control
        return f"<!doctype html><html><body><p>Hello, {name}</p></body></html>"

    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(smoke_app()) as url:
        yield url


def _submit_name(page: Page, base_url: str, name: str) -> None:
    page.goto(base_url)
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Greet").click()
    expect(page.get_by_role("heading", name="Greeted")).to_be_visible()


def test_form_sets_an_httponly_cookie(page: Page, base_url: str, screenshot: Screenshot) -> None:
    page.goto(base_url)
    expect(page.get_by_role("heading", name="Smoke test")).to_be_visible()
    assert screenshot("form").stat().st_size > 0
    _submit_name(page, base_url, "Ada")
    expect(page.locator("#greeting")).to_have_text("Hello, Ada")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies[SESSION].get("httpOnly") is True
    assert SESSION not in page.evaluate("document.cookie")  # invisible to scripts
    screenshot("greeted")


def test_download_carries_the_session(page: Page, base_url: str, tmp_path: Path) -> None:
    _submit_name(page, base_url, "Ada")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download report").click()
    download = info.value
    assert download.suggested_filename == "report.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.read_text() == REPORT


def test_escaped_script_is_text_and_opens_no_dialog(
    page: Page, base_url: str, dialogs: list[str], screenshot: Screenshot
) -> None:
    _submit_name(page, base_url, PAYLOAD)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content()
    expect(page.locator("#greeting")).to_have_text(f"Hello, {PAYLOAD}")
    expect(page.get_by_text(PAYLOAD)).to_be_visible()
    assert page.locator("#greeting script").count() == 0
    screenshot("escaped")
    assert dialogs == []


def test_dialog_recorder_catches_a_script_that_runs(
    page: Page, base_url: str, dialogs: list[str]
) -> None:
    page.goto(f"{base_url}/unsafe?name={PAYLOAD}")
    expect(page.locator("p")).to_have_text("Hello, ")
    assert dialogs == ["alert: 1"]
