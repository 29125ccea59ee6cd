"""The otel usage source: OTLP/JSON GenAI spans, from a file and through ``parse_otlp``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from costcouncil.errors import FormatError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources.otel import parse_otlp, read

START = 1730455200_000000000  # 2024-11-01T10:00:00Z
TRACE = "5b8efff798038103d269b633813fc60c"


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": value}


def _attrs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in attrs.items()]


def _span(span_id: str = "00f067aa0ba902b7", **attrs: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(START + 10**9),
        "attributes": _attrs({k.replace("__", "."): v for k, v in attrs.items()}),
        "status": {},
    }


def _chat(span_id: str = "00f067aa0ba902b7", **attrs: Any) -> dict[str, Any]:
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 10,
    }
    span = _span(span_id)
    span["attributes"] = _attrs({**base, **{k.replace("__", "."): v for k, v in attrs.items()}})
    return span


def _payload(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attrs(resource or {"service.name": "bot"})},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": list(spans)}],
            }
        ]
    }


def _rows(payload: dict[str, Any], options: SourceOptions | None = None) -> list[dict[str, Any]]:
    table, problems = parse_otlp(payload, "POST /v1/traces", options or SourceOptions())
    assert problems == []
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _one(
    attrs: dict[str, Any] | None = None, options: SourceOptions | None = None
) -> dict[str, Any]:
    (row,) = _rows(_payload(_chat(**(attrs or {}))), options)
    return row


def test_a_chat_span_becomes_one_request() -> None:
    row = _one()
    assert (row["provider"], row["model"], row["input_tokens"], row["output_tokens"]) == (
        "openai",
        "gpt-4o",
        100,
        10,
    )
    assert row["request_id"] == f"{TRACE}:00f067aa0ba902b7"
    assert row["time"].isoformat() == "2024-11-01T10:00:00+00:00"
    assert row["request_count"] == 1 and row["source"] == "otel"


def test_old_and_new_attribute_names_read_the_same() -> None:
    new = _one()
    old = _rows(
        _payload(
            _span(
                gen_ai__system="openai",
                gen_ai__request__model="gpt-4o",
                gen_ai__usage__prompt_tokens=100,
                gen_ai__usage__completion_tokens=10,
            )
        )
    )[0]
    columns = ("provider", "model", "input_tokens", "output_tokens", "time", "request_id")
    assert {c: old[c] for c in columns} == {c: new[c] for c in columns}


def test_response_model_wins_over_request_model() -> None:
    assert _one({"gen_ai.response.model": "gpt-4o-2024-08-06"})["model"] == "gpt-4o-2024-08-06"


@pytest.mark.parametrize(
    "cached_name", ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cached_tokens"]
)
def test_cached_tokens_come_out_of_input(cached_name: str) -> None:
    row = _one({cached_name: 60})
    assert (row["input_tokens"], row["cached_input_tokens"]) == (40, 60)


def test_cache_writes_and_reasoning_are_split_out() -> None:
    row = _one(
        {
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.cache_read.input_tokens": 30,
            "gen_ai.usage.cache_creation.input_tokens": 20,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.reasoning.output_tokens": 45,
        }
    )
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (
        50,
        30,
        20,
    )
    assert (row["output_tokens"], row["reasoning_tokens"]) == (5, 45)


def test_tokens_as_json_numbers_and_doubles_are_read() -> None:
    span = _chat()
    span["attributes"][3]["value"] = {"intValue": 100}
    span["attributes"][4]["value"] = {"doubleValue": 10.0}
    assert _rows(_payload(span))[0]["output_tokens"] == 10


@pytest.mark.parametrize(
    "attrs, tier",
    [
        ({"openai.response.service_tier": "default"}, "standard"),
        ({"openai.request.service_tier": "flex"}, "flex"),
        ({"gen_ai.openai.request.service_tier": "priority"}, "priority"),
        (
            {"openai.request.service_tier": "auto", "openai.response.service_tier": "scale"},
            "provisioned",
        ),
        ({"openai.request.service_tier": "auto"}, None),
    ],
)
def test_service_tier(attrs: dict[str, Any], tier: str | None) -> None:
    assert _one(attrs)["service_tier"] == tier


@pytest.mark.parametrize(
    "name, ours",
    [("aws.bedrock", "bedrock"), ("azure.ai.openai", "azure-openai"), ("groq", "groq")],
)
def test_provider_names_become_ours(name: str, ours: str) -> None:
    row = _one({"gen_ai.provider.name": name})
    assert row["provider"] == ours
    assert json.loads(row["attributes"])["gen_ai.provider.name"] == name


def test_only_model_call_spans_are_kept() -> None:
    spans = [
        _span("0000000000000001", http__request__method="GET"),
        _chat("0000000000000002", **{"gen_ai.operation.name": "invoke_agent"}),
        _chat("0000000000000003", **{"gen_ai.operation.name": "execute_tool"}),
        _chat("0000000000000004", **{"gen_ai.operation.name": "embeddings"}),
        _chat("0000000000000005"),
    ]
    ids = [r["request_id"][-1] for r in _rows(_payload(*spans))]
    assert ids == ["4", "5"]


def test_owner_keys_from_span_then_resource_then_semantic_conventions() -> None:
    resource = {
        "service.name": "support-bot",
        "deployment.environment.name": "prod",
        "costcouncil.team": "support",
        "costcouncil.project": "helpdesk",
    }
    span = _chat(**{"costcouncil.team": "risk", "enduser.id": "ann", "costcouncil.feature": "faq"})
    (row,) = _rows(_payload(span, resource=resource))
    assert (row["team"], row["project"], row["environment"]) == ("risk", "helpdesk", "prod")
    assert (row["user"], row["feature"]) == ("ann", "faq")


def test_service_name_is_the_project_when_nothing_else_names_one() -> None:
    assert _one()["project"] == "bot"


def test_labels_override() -> None:
    options = SourceOptions(labels={"team": ("service.namespace",), "project": ("app.name",)})
    span = _chat(**{"app.name": "search", "costcouncil.project": "other"})
    resource = {"service.name": "bot", "service.namespace": "ranking"}
    (row,) = _rows(_payload(span, resource=resource), options)
    assert (row["team"], row["project"]) == ("ranking", "search")


def test_message_content_is_never_kept() -> None:
    row = _one({"gen_ai.input.messages": "secret prompt", "gen_ai.prompt.0.content": "secret"})
    assert "secret" not in row["attributes"]
    kept = json.loads(row["attributes"])
    assert kept["trace_id"] == TRACE and kept["resource"] == {"service.name": "bot"}


def test_parse_otlp_keeps_good_spans_and_reports_bad_ones() -> None:
    spans = [
        _span("0000000000000001", http__request__method="GET"),
        _chat("0000000000000002"),
        _chat("0000000000000003", **{"gen_ai.usage.input_tokens": "many"}),
    ]
    table, problems = parse_otlp(_payload(*spans), "POST /v1/traces", SourceOptions())
    assert table.num_rows == 1
    (problem,) = problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "POST /v1/traces",
        3,
        "gen_ai.usage.input_tokens",
        "many",
    )


def test_missing_model_provider_and_time_are_named() -> None:
    span = _span("0000000000000001", gen_ai__operation__name="chat")
    del span["startTimeUnixNano"]
    no_id = _chat("")
    no_id["startTimeUnixNano"] = "yesterday"
    _, problems = parse_otlp(_payload(span, no_id), "t", SourceOptions())
    assert {(p.row, p.column) for p in problems} == {
        (1, "startTimeUnixNano"),
        (1, "gen_ai.provider.name"),
        (1, "gen_ai.request.model"),
        (2, "spanId"),
        (2, "startTimeUnixNano"),
    }


def test_the_file_reader_raises_naming_file_row_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "traces.json"
    bad = _chat("0000000000000002", **{"gen_ai.usage.output_tokens": -5})
    path.write_text(json.dumps(_payload(_chat(), bad)))
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    (problem,) = e.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        str(path),
        2,
        "gen_ai.usage.output_tokens",
        "-5",
    )


def test_jsonl_problems_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    bad = _chat(**{"gen_ai.usage.input_tokens": "x"})
    path.write_text(json.dumps(_payload(_chat())) + "\n" + json.dumps(_payload(bad)) + "\n")
    with pytest.raises(ValidationError, match=r"traces.jsonl, line 2, row 1, column gen_ai"):
        read(path, SourceOptions())


def test_a_json_file_and_its_jsonl_read_the_same(tmp_path: Path) -> None:
    one, two = _payload(_chat("0000000000000001")), _payload(_chat("0000000000000002"))
    merged = {"resourceSpans": one["resourceSpans"] + two["resourceSpans"]}
    (tmp_path / "a.json").write_text(json.dumps(merged))
    (tmp_path / "a.jsonl").write_text(json.dumps(one) + "\n" + json.dumps(two) + "\n")
    options = SourceOptions()
    assert read(tmp_path / "a.json", options).equals(read(tmp_path / "a.jsonl", options))


@pytest.mark.parametrize(
    "payload, message",
    [
        ([1, 2], "found a JSON list"),
        ({"data": []}, "found an object with keys data"),
        ({"resourceSpans": {}}, "expected OTLP/JSON"),
    ],
)
def test_not_otlp_is_a_format_error(payload: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_otlp(payload, "body", SourceOptions())


def test_an_empty_export_has_no_rows() -> None:
    table, problems = parse_otlp({}, "body", SourceOptions())
    assert table.num_rows == 0 and problems == []
