"""Who sees what, by UI, API and crafted URL; sessions, sign-in, CSRF, audit and error shapes.

The member ``vision@example.com`` must never see team search's costs, whichever page, twin,
download or endpoint is asked and however the URL is crafted — with a session or an API token;
every number they get must equal vision's own total in the lake.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.web.conftest import bearer, csrf_of, sign_in, token_for
from tests.web.lake import Lake, six
from tests.web.org import PASSWORD

ALL = {"from": "2026-09-01", "to": "2026-11-01"}
SPAN = (date(2026, 9, 1), date(2026, 11, 1))
PAGES = ("/", "/explorer", "/models", "/gpu", "/ingest")
TWINS = ("/overview.json", "/explorer.json", "/models.json", "/gpu.json", "/ingest.json")
API = ("/v1/costs", "/v1/allocations", "/v1/unit-economics", "/v1/explain", "/v1/gpu",
       "/v1/overview", "/v1/ingest", "/v1/me", "/v1/audit", "/v1/dimensions", "/v1/live/costs")  # fmt: skip
SEARCH = re.compile(r"search|ranker|ranking")  # team search's name, model and project


def _post_login(client: httpx.Client, email: str, password: str, **extra: str) -> httpx.Response:
    """Fill in and send the sign-in form, returning its ``cc_login`` cookie explicitly (a client
    over http would not send back a cookie marked Secure)."""
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    cookie = form.cookies["cc_login"]
    client.cookies.delete("cc_login")
    data = {"email": email, "password": password, "csrf": csrf[1], "next": "/", **extra}
    return client.post("/login", data=data, headers={"Cookie": f"cc_login={cookie}"})


def _json(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    return answer.json()


def _error(answer: httpx.Response, status: int) -> str:
    error = _json(answer, status)["error"]
    assert error["status"] == status and isinstance(error["code"], str)
    message: str = error["message"]
    return message


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=30)


# -- a member sees their teams only -------------------------------------------------------------


@pytest.fixture(scope="module")
def vision_lake(lake: Lake) -> Lake:
    return lake.scoped({"vision"})


@pytest.fixture(scope="module", params=["session", "token"])
def member(
    request: pytest.FixtureRequest, server: Server, org: Workspace
) -> Iterator[httpx.Client]:
    if request.param == "session":
        client = sign_in(server.url, "vision@example.com")
    else:
        client = bearer(server.url, token_for(org, "vision@example.com", "member-tests"))
    yield client
    client.close()


def _vision_total(vision_lake: Lake) -> Decimal:
    total = six(vision_lake.total(*SPAN))
    assert total > 0
    return total


@pytest.mark.parametrize("path", PAGES)
def test_member_pages_show_no_other_team(member: httpx.Client, path: str) -> None:
    page = member.get(path, params=ALL if path != "/" else {})
    assert page.status_code == 200, page.text
    assert "vision" in page.text
    assert not SEARCH.findall(page.text)


@pytest.mark.parametrize("twin", TWINS)
def test_member_twins_show_no_other_team(member: httpx.Client, twin: str) -> None:
    answer = member.get(twin, params=ALL if twin != "/overview.json" else {})
    assert not SEARCH.findall(answer.text)
    assert _json(answer) is not None


def test_member_overview_is_their_team(member: httpx.Client, vision_lake: Lake) -> None:
    body = _json(member.get("/overview.json"))
    last = date.fromisoformat(body["as_of"])
    mtd = vision_lake.total(last.replace(day=1), last + timedelta(days=1))
    assert Decimal(body["month_to_date"]) == six(mtd) != 0
    assert [r["team"] for r in body["by_team"]] == ["vision"]


def test_member_explorer_totals_their_team(member: httpx.Client, vision_lake: Lake) -> None:
    body = _json(member.get("/explorer.json", params=ALL))
    assert Decimal(body["total"]) == _vision_total(vision_lake)
    assert [r["team"] for r in body["rows"]] == ["vision"]


@pytest.mark.parametrize("team", ["search", "vision,search", "search,(none)", "__idle__"])
def test_member_crafted_team_filter_adds_nothing(
    member: httpx.Client, vision_lake: Lake, team: str
) -> None:
    body = _json(member.get("/explorer.json", params={**ALL, "team": team}))
    want = _vision_total(vision_lake) if "vision" in team else Decimal(0)
    assert Decimal(body["total"]) == want
    assert sum((Decimal(r["cost"]) for r in body["rows"]), Decimal(0)) == want
    costs = _json(member.get("/v1/costs", params={**ALL, "team": team, "by": "team"}))
    assert Decimal(costs["total"]) == want
    assert {r["team"] for r in costs["rows"]} <= {"vision"}


def test_member_csv_of_another_team_is_empty(member: httpx.Client, vision_lake: Lake) -> None:
    answer = member.get("/explorer.csv", params={**ALL, "team": "search"})
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert rows == [] and not SEARCH.findall(answer.text.split("\n", 1)[1])
    own = list(csv.DictReader(io.StringIO(member.get("/explorer.csv", params=ALL).text)))
    assert [(r["team"], Decimal(r["cost"])) for r in own] == [
        ("vision", _vision_total(vision_lake))
    ]


def test_member_costs_api_is_their_team(member: httpx.Client, vision_lake: Lake) -> None:
    body = _json(member.get("/v1/costs", params={**ALL, "by": "team"}))
    assert [(r["team"], Decimal(r["cost"])) for r in body["rows"]] == [
        ("vision", _vision_total(vision_lake))
    ]
    assert Decimal(body["total"]) == _vision_total(vision_lake)
    other = _json(member.get("/v1/costs", params={**ALL, "team": "search"}))
    assert Decimal(other["total"]) == 0
    assert all(Decimal(r["cost"]) == 0 for r in other["rows"])


def test_member_allocations_are_their_team(member: httpx.Client, vision_lake: Lake) -> None:
    body = _json(member.get("/v1/allocations", params=ALL))
    assert not body["truncated"] and body["rows"]
    assert {r["team"] for r in body["rows"]} == {"vision"}
    assert sum(Decimal(r["cost"]) for r in body["rows"]) == _vision_total(vision_lake)
    assert not SEARCH.findall(json.dumps(body["rows"]))


@pytest.mark.parametrize("by", ["team", "model", "project,model_version"])
def test_member_unit_economics_are_their_team(
    member: httpx.Client, vision_lake: Lake, by: str
) -> None:
    answer = member.get("/v1/unit-economics", params={**ALL, "by": by})
    body = _json(answer)
    assert not SEARCH.findall(answer.text)
    assert sum(Decimal(r["cost"]) for r in body["rows"]) == _vision_total(vision_lake)


def test_member_may_not_explain_another_team(member: httpx.Client) -> None:
    assert "members may explain" in _error(
        member.get("/v1/explain", params={"team": "search"}), 403
    )
    _error(member.get("/v1/explain"), 403)
    assert member.get("/v1/explain", params={"team": "vision"}).status_code == 200


@pytest.mark.parametrize("path", ["/v1/gpu", "/gpu.json"])
def test_member_gpu_is_their_team(member: httpx.Client, vision_lake: Lake, path: str) -> None:
    answer = member.get(path, params=ALL)
    body = _json(answer)
    assert not SEARCH.findall(answer.text)
    gpu = vision_lake.total(*SPAN, lambda r: (r.method or "").startswith("usage_split:gpu"))
    assert sum(Decimal(n["cost"]) for n in body["nodes"]) == six(gpu) != 0
    assert {u["team"] for u in body["usage"]} == {"vision"}


# -- finance, admin and viewer see everything ----------------------------------------------------


@pytest.mark.parametrize(
    "email", ["finance@example.com", "admin@example.com", "viewer@example.com"]
)
def test_other_roles_see_every_team(server: Server, lake: Lake, email: str) -> None:
    with closing(sign_in(server.url, email)) as client:
        body = _json(client.get("/v1/costs", params={**ALL, "by": "team"}))
        assert {r["team"] for r in body["rows"]} == {"vision", "search", "__idle__",
                                                     "__unallocated__"}  # fmt: skip
        assert Decimal(body["total"]) == six(lake.total(*SPAN))
        explorer = _json(client.get("/explorer.json", params={**ALL, "team": "search"}))
        assert Decimal(explorer["total"]) == six(lake.scoped({"search"}).total(*SPAN)) != 0


def test_viewer_cannot_post_events(server: Server, org: Workspace) -> None:
    with closing(sign_in(server.url, "viewer@example.com")) as client:
        headers = {"X-CSRF-Token": csrf_of(client)}
        _error(client.post("/v1/events", content=b"[]", headers=headers), 403)
    with bearer(server.url, token_for(org, "viewer@example.com")) as client:
        assert "events:write" in _error(client.post("/v1/events", content=b"[]"), 403)


# -- nobody signed in ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/explorer?team=vision&from=2026-09-01"])
def test_pages_send_strangers_to_sign_in(server: Server, path: str) -> None:
    with _client(server.url) as client:
        answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + quote(path, safe="")


@pytest.mark.parametrize("path", [*TWINS, *API, "/explorer.csv", "/explorer.parquet"])
def test_data_refuses_strangers_with_json(server: Server, path: str) -> None:
    with _client(server.url) as client:
        _error(client.get(path), 401)
        _error(client.get(path, headers={"Accept": "text/html"}), 401)


@pytest.mark.parametrize("token", ["nope", "cc_000000000000_wrong", "cc_"])
def test_a_wrong_token_is_refused(server: Server, token: str) -> None:
    with bearer(server.url, token) as client:
        assert "token" in _error(client.get("/v1/costs"), 401)
        _error(client.get("/overview.json"), 401)


def test_a_revoked_token_is_refused(server: Server, org: Workspace) -> None:
    token = token_for(org, "finance@example.com", "to-revoke")
    access = Access.open(org)
    try:
        access.revoke_token(token.split("_")[1])
    finally:
        access.close()
    with bearer(server.url, token) as client:
        _error(client.get("/v1/costs"), 401)


# -- sessions ------------------------------------------------------------------------------------


def _cookie(answer: httpx.Response, name: str) -> list[str]:
    """The attributes of the Set-Cookie header for ``name``, lower-cased."""
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return [part.strip().lower() for part in header.split(";")[1:]]
    raise AssertionError(f"no {name} cookie in {answer.headers}")


def test_session_cookie_flags_over_http(server: Server) -> None:
    with _client(server.url) as client:
        form = client.get("/login")
        answer = _post_login(client, "finance@example.com", PASSWORD)
    assert answer.status_code == 303
    for flags in (_cookie(form, "cc_login"), _cookie(answer, "cc_session")):
        assert {"httponly", "samesite=lax", "path=/"} <= set(flags)
        assert "secure" not in flags


@pytest.fixture(scope="module")
def secure_server(org: Workspace) -> Iterator[Server]:
    """A second server over the same workspace, marking cookies Secure (behind a TLS proxy)."""
    running = Server(org.root, env={"COSTCOUNCIL_COOKIE_SECURE": "true"}).start()
    yield running
    running.stop()


def test_session_cookie_is_secure_when_configured(secure_server: Server) -> None:
    with _client(secure_server.url) as client:
        answer = _post_login(client, "finance@example.com", PASSWORD)
    assert answer.status_code == 303
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(_cookie(answer, "cc_session"))


def test_sign_in_with_a_wrong_csrf_is_refused(server: Server) -> None:
    with _client(server.url) as client:
        answer = _post_login(client, "finance@example.com", PASSWORD, csrf="forged")
        assert answer.status_code == 403
        assert "cc_session" not in client.cookies


def test_a_wrong_password_answers_401_with_the_form(server: Server) -> None:
    with _client(server.url) as client:
        answer = _post_login(client, "viewer@example.com", "wrong")
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text and 'name="password"' in answer.text
    assert "cc_session" not in answer.headers.get("set-cookie", "")


def test_failed_sign_ins_are_rate_limited(secure_server: Server, org: Workspace) -> None:
    access = Access.open(org)
    try:
        access.add_user("locked@example.com", "viewer", [], PASSWORD)
    finally:
        access.close()
    with _client(secure_server.url) as client:
        for _ in range(5):
            assert _post_login(client, "locked@example.com", "wrong").status_code == 401
        refused = _post_login(client, "locked@example.com", "wrong")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        right = _post_login(client, "locked@example.com", PASSWORD)
        assert right.status_code == 429 and "cc_session" not in client.cookies
        assert _post_login(client, "viewer@example.com", PASSWORD).status_code == 303


def test_spellings_of_one_account_share_its_sign_in_limit(
    secure_server: Server, org: Workspace
) -> None:
    access = Access.open(org)
    try:
        access.add_user("spaced@example.com", "viewer", [], PASSWORD)
    finally:
        access.close()
    spellings = ["spaced@example.com ", "  spaced@example.com", "SPACED@example.com",
                 "\tspaced@example.com", " Spaced@Example.com "]  # fmt: skip
    with _client(secure_server.url) as client:
        for email in spellings:
            assert _post_login(client, email, "wrong").status_code == 401
        for email in ["spaced@example.com", "spaced@example.com  ", " SPACED@EXAMPLE.COM"]:
            refused = _post_login(client, email, PASSWORD)
            assert refused.status_code == 429, (email, refused.text)


def test_sign_out_needs_the_csrf_token_and_ends_the_session(server: Server) -> None:
    client = sign_in(server.url, "finance@example.com")
    secret = client.cookies["cc_session"]
    csrf = csrf_of(client)
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/overview.json").status_code == 200
    answer = client.post("/logout", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    client.close()
    with _client(server.url) as stale:
        stale.cookies.set("cc_session", secret)
        _error(stale.get("/overview.json"), 401)
        assert stale.get("/").status_code == 303


def test_session_api_posts_need_the_csrf_header(server: Server) -> None:
    with closing(sign_in(server.url, "finance@example.com")) as client:
        assert "CSRF" in _error(client.post("/v1/events", content=b"[]"), 403)
        forged = {"X-CSRF-Token": "forged"}
        _error(client.post("/v1/events", content=b"[]", headers=forged), 403)
        headers = {"X-CSRF-Token": csrf_of(client)}
        answer = client.post("/v1/events", content=b"[]", headers=headers)
        assert _json(answer) == {"accepted": 0, "duplicates": 0, "rejected": []}


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(server: Server, target: str) -> None:
    with _client(server.url) as client:
        form = client.get("/login", params={"next": target})
        assert 'name="next" value="/"' in form.text
        answer = _post_login(client, "finance@example.com", PASSWORD, next=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(server: Server) -> None:
    with _client(server.url) as client:
        answer = _post_login(client, "finance@example.com", PASSWORD, next="/gpu?from=2026-09-01")
    assert answer.headers["location"] == "/gpu?from=2026-09-01"


# -- audit ---------------------------------------------------------------------------------------


def test_the_audit_log_records_sign_ins_sessions_and_token_use(
    server: Server, org: Workspace
) -> None:
    with closing(sign_in(server.url, "viewer@example.com")) as client:
        client.post("/logout", data={"csrf": csrf_of(client)})
    with _client(server.url) as client:
        assert _post_login(client, "viewer@example.com", "wrong").status_code == 401
    with bearer(server.url, token_for(org, "admin@example.com", "audit")) as admin:
        events = _json(admin.get("/v1/audit", params={"limit": 10_000}))["events"]
    actions = {e["action"] for e in events}
    assert {"signin.ok", "signin.failed", "session.start", "signout", "token.use"} <= actions


@pytest.mark.parametrize("email", ["finance@example.com", "vision@example.com"])
def test_only_admins_read_the_audit_log(server: Server, org: Workspace, email: str) -> None:
    with bearer(server.url, token_for(org, email)) as client:
        _error(client.get("/v1/audit"), 403)
    with closing(sign_in(server.url, email)) as client:
        _error(client.get("/v1/audit"), 403)


# -- error shapes --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finance(server: Server) -> Iterator[httpx.Client]:
    client = sign_in(server.url, "finance@example.com")
    yield client
    client.close()


def test_an_unknown_dimension_suggests_the_right_one(finance: httpx.Client) -> None:
    assert "did you mean 'team'" in _error(finance.get("/v1/costs", params={"by": "tema"}), 422)
    assert "did you mean 'team'" in _error(finance.get("/v1/costs", params={"tema": "x"}), 422)


@pytest.mark.parametrize("day", ["2026-02-30", "yesterday", "2026-13-01"])
def test_a_bad_date_is_422(finance: httpx.Client, day: str) -> None:
    _error(finance.get("/v1/costs", params={"from": day}), 422)
    _error(finance.get("/explorer.json", params={"from": day}), 422)


def test_to_before_from_is_422(finance: httpx.Client) -> None:
    params = {"from": "2026-10-05", "to": "2026-10-01"}
    assert "must be after" in _error(finance.get("/v1/costs", params=params), 422)
    _error(finance.get("/gpu.json", params=params), 422)


@pytest.mark.parametrize("path", ["/v1/nope", "/nope.json", "/v1/costs/extra"])
def test_an_unknown_route_is_404_json(finance: httpx.Client, path: str) -> None:
    _error(finance.get(path), 404)
