"""Fuzz the API from its own OpenAPI description against a real server: no 5xx, ever, and every
response of a documented status conforms to its schema.

Schemathesis generates the requests (valid and invalid parameters) for every operation; the
bodies of ``POST /v1/events`` and ``POST /v1/traces``, which the description leaves open, are
fuzzed with Hypothesis: junk must be answered with a 4xx, never a 5xx. The server has its own
organisation, since the fuzzer posts events into it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.web.conftest import token_for
from tests.web.org import build_org
from tests.web.routes import figure_routes


@schemathesis.check
def error_shape(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every refusal is the JSON error ``{"error": {"status", "code", "message"}}``."""
    if response.status_code < 400:
        return None
    error = response.json()["error"]
    assert error["status"] == response.status_code, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str), error
    return True


CHECKS = [not_a_server_error, response_schema_conformance, error_shape]
#: Every operation of the description (a new endpoint must be added here, and so fuzzed).
OPERATIONS = [
    ("GET", "/health"), ("POST", "/v1/events"), ("POST", "/v1/traces"), ("GET", "/v1/live/costs"),
    ("GET", "/v1/costs"), ("GET", "/v1/allocations"), ("GET", "/v1/unit-economics"),
    ("GET", "/v1/explain"), ("GET", "/v1/gpu"), ("GET", "/v1/overview"), ("GET", "/v1/ingest"),
    ("GET", "/v1/me"), ("GET", "/v1/audit"), ("GET", "/v1/dimensions"),
    ("GET", "/v1/forecasts"), ("GET", "/v1/forecasts/points"), ("GET", "/v1/anomalies"),
    ("GET", "/v1/anomalies/{anomaly_id}"), ("POST", "/v1/anomalies/{anomaly_id}/feedback"),
    ("GET", "/v1/monitors"), ("POST", "/v1/monitors"), ("DELETE", "/v1/monitors/{name}"),
    ("GET", "/v1/annotations"), ("POST", "/v1/annotations"),
    ("DELETE", "/v1/annotations/{annotation_id}"), ("GET", "/v1/subscriptions"),
    ("POST", "/v1/subscriptions"), ("DELETE", "/v1/subscriptions/{name}"),
    ("GET", "/v1/deliveries"), ("GET", "/v1/inbox"), ("POST", "/v1/inbox/{item_id}/read"),
    ("GET", "/v1/budgets"), ("POST", "/v1/budgets"), ("GET", "/v1/budgets/export"),
    ("POST", "/v1/budgets/import"), ("GET", "/v1/budgets/{name}"), ("PUT", "/v1/budgets/{name}"),
    ("DELETE", "/v1/budgets/{name}"), ("POST", "/v1/budgets/check"),
    ("POST", "/v1/budgets/reservations"), ("POST", "/v1/budgets/reservations/{hold}/settle"),
    ("POST", "/v1/budgets/reservations/{hold}/release"), ("GET", "/v1/policies"),
    ("GET", "/v1/violations"), ("GET", "/v1/violations/{violation_id}"),
    ("POST", "/v1/violations/{violation_id}/acknowledge"),
    ("POST", "/v1/violations/{violation_id}/exception"),
    ("POST", "/v1/violations/{violation_id}/resolve"), ("POST", "/v1/policy/check"),
]  # fmt: skip
#: Operations with query parameters, also fuzzed with values outside their schema.
WITH_QUERY = ["/v1/live/costs", "/v1/costs", "/v1/allocations", "/v1/unit-economics",
              "/v1/explain", "/v1/gpu", "/v1/overview", "/v1/audit", "/v1/forecasts",
              "/v1/forecasts/points", "/v1/anomalies", "/v1/deliveries"]  # fmt: skip
CASES = [
    *((m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS),
    *(("GET", p, GenerationMode.NEGATIVE) for p in WITH_QUERY),
]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzzed_org(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_org(tmp_path_factory.mktemp("fuzzed"))


@pytest.fixture(scope="module")
def fuzzed(fuzzed_org: Workspace) -> Iterator[Server]:
    running = Server(fuzzed_org.root).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def headers(fuzzed_org: Workspace) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(fuzzed_org, 'admin@example.com', 'fuzz')}"}


@pytest.fixture(scope="module")
def api_schema(fuzzed: Server) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")


def test_every_operation_is_fuzzed(fuzzed: Server) -> None:
    paths = httpx.get(f"{fuzzed.url}/openapi.json").json()["paths"]
    described = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert described == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_api_holds_to_its_description(
    api_schema: BaseSchema,
    fuzzed: Server,
    headers: dict[str, str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    strategy = api_schema[path][method].as_strategy(generation_mode=mode)

    @FUZZ
    @given(case=strategy)
    def call(case: Case[Any]) -> None:
        case.call_and_validate(base_url=fuzzed.url, headers=headers, checks=CHECKS, timeout=30)

    call()


# -- the dashboard's pages, twins and downloads ---------------------------------------------------

#: The filter parameters every dashboard route takes, as a user's URL may carry them.
_STRING = {"type": "string"}
_FILTERS = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "metric", "in": "query",
     "schema": {"type": "string", "enum": ["billed", "effective", "list", "contracted", "nope"]}},
    {"name": "level", "in": "query",
     "schema": {"type": "string", "enum": ["team", "project", "model", "model_version", "run",
                                           "resource", "provider", "region", "tags", "nope"]}},
    *({"name": key, "in": "query", "schema": {"type": "string", "enum": values}}
      for key, values in (("team", ["vision", "search", "(none)", "vision,search", "__idle__"]),
                          ("project", ["detector", "ranking", "(none)", "nope"]),
                          ("model", ["detector-v3", "ranker", "gpt-4o"]),
                          ("resource", ["i-gpu1", "i-web"]), ("provider", ["AWS", "OpenAI"]),
                          ("run", ["train-9-2", "serve-10-1", "nope"]),
                          ("page", ["1", "2", "0", "x", "\u00b2", "99999999999999999999"]))),
    *({"name": f"tag.{key}", "in": "query", "schema": _STRING}
      for key in ("team", "project", "cluster", "x/y~z")),
    {"name": "currency", "in": "query", "schema": _STRING},
]  # fmt: skip
DASHBOARD_PATHS = ["/", "/overview.json", "/explorer", "/explorer.json", "/explorer.csv",
                   "/explorer.parquet", "/models", "/models.json", "/gpu", "/gpu.json",
                   "/ingest", "/ingest.json", "/anomalies", "/anomalies.json", "/anomalies/1",
                   "/anomalies/1.json", "/anomalies/999999", "/anomalies/999999.json", "/inbox",
                   "/inbox.json", "/budgets", "/budgets.json", "/budgets/new", "/budgets/vision",
                   "/budgets/vision.json", "/budgets/no-such", "/budgets/no-such.json",
                   "/governance", "/governance.json", "/governance/1", "/governance/1.json",
                   "/governance/999999", "/governance/999999.json"]  # fmt: skip
#: The dashboard's routes described for the fuzzer (they are not part of the API's description).
DASHBOARD = {
    "openapi": "3.0.3",
    "info": {"title": "CostCouncil dashboard", "version": "1"},
    "paths": {
        path: {"get": {"parameters": _FILTERS, "responses": {"default": {"description": "any"}}}}
        for path in DASHBOARD_PATHS
    },
}


def test_every_dashboard_route_is_fuzzed(fuzzed_org: Workspace) -> None:
    walked = {p for p in figure_routes(fuzzed_org) if not p.startswith("/v1/")}
    assert walked == set(DASHBOARD_PATHS), walked ^ set(DASHBOARD_PATHS)


@pytest.mark.parametrize("path", DASHBOARD_PATHS)
def test_the_dashboard_never_fails_on_a_filter(
    fuzzed: Server, headers: dict[str, str], path: str
) -> None:
    strategy = schemathesis.openapi.from_dict(DASHBOARD)[path]["GET"].as_strategy()

    @FUZZ
    @given(case=strategy)
    def call(case: Case[Any]) -> None:
        checks = [not_a_server_error, error_shape]
        case.call_and_validate(base_url=fuzzed.url, headers=headers, checks=checks, timeout=30)

    call()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "time", "provider", "model", "input_tokens", "output_tokens", "request_count",
          "cost", "team", "job_id", "resource_id", "accelerator_count", "status", "attributes",
          "start", "gpu_utilization", "service_tier"]  # fmt: skip
#: Events of the real types with real field names, every value possibly junk.
EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(["llm_call", "job_start", "job_heartbeat", "job_stop", "nope"])},
    optional={name: JSON for name in FIELDS},
)
ATTRIBUTE_KEYS = ["gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model",
                  "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                  "gen_ai.operation.name", "service.name"]  # fmt: skip
VALUES = st.fixed_dictionaries(
    {}, optional={"stringValue": JSON, "intValue": JSON, "doubleValue": JSON, "arrayValue": JSON}
)
SPAN = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON, "traceId": JSON, "spanId": JSON, "startTimeUnixNano": JSON,
        "endTimeUnixNano": JSON,
        "attributes": st.lists(
            st.fixed_dictionaries({"key": st.sampled_from(ATTRIBUTE_KEYS), "value": VALUES | JSON}),
            max_size=5,
        ),
    },
)  # fmt: skip
#: OTLP exports shaped like the real thing down to the spans, with junk anywhere.
OTLP = st.fixed_dictionaries(
    {
        "resourceSpans": st.lists(
            st.fixed_dictionaries(
                {"scopeSpans": st.lists(st.fixed_dictionaries({"spans": st.lists(SPAN, max_size=3)}), max_size=2)},
                optional={"resource": JSON},
            ),
            max_size=2,
        )
    }
)  # fmt: skip
DOCUMENTS = JSON | EVENTS | st.lists(EVENTS, max_size=4) | OTLP
BODIES = st.one_of(
    st.binary(max_size=200),
    DOCUMENTS.map(lambda v: json.dumps(v).encode()),
    st.lists(EVENTS.map(json.dumps), max_size=4).map(lambda lines: "\n".join(lines).encode()),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-ndjson", "text/plain", "application/x-protobuf", ""]
)


@pytest.fixture(scope="module")
def poster(fuzzed: Server, headers: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzzed.url, headers=headers, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", ["/v1/events", "/v1/traces"])
def test_junk_bodies_get_a_4xx_not_a_5xx(poster: httpx.Client, path: str) -> None:
    @FUZZ
    @given(body=BODIES, content_type=CONTENT_TYPES)
    def post(body: bytes, content_type: str) -> None:
        answer = poster.post(path, content=body, headers={"Content-Type": content_type})
        assert answer.status_code < 500, (body, answer.text)
        if answer.status_code >= 400:
            assert answer.json()["error"]["status"] == answer.status_code

    post()
