"""The live event wire format: every event checked alone, every problem named."""

from __future__ import annotations

import pytest

from costcouncil.errors import FormatError
from costcouncil.usage.events import check, parse_body

NOW = 1_700_000_000_000_000


def test_bodies_array_object_and_ndjson() -> None:
    assert parse_body(b'[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert parse_body(b'{"a": 1}') == [{"a": 1}]
    assert parse_body(b'{"a": 1}\n\n{"b": 2}\n', "application/x-ndjson") == [{"a": 1}, {"b": 2}]
    assert parse_body(b"  ") == []
    with pytest.raises(FormatError, match="NDJSON"):
        parse_body(b'{"a": 1}\n{"b": ', "application/x-ndjson")
    with pytest.raises(FormatError, match="not JSON"):
        parse_body(b"[1, 2")


def test_a_good_llm_call_is_normalised() -> None:
    event, errors = check(
        {"type": "llm_call", "id": "e1", "time": "2023-11-14T22:13:20.5+00:00",
         "provider": "openai", "model": "gpt-4o", "input_tokens": 5, "cost": 0.25,
         "team": "search", "attributes": {"route": "/answer"}},
        NOW,
    )  # fmt: skip
    assert errors == []
    assert event == {
        "type": "llm_call", "id": "e1", "t": 1_700_000_000_500_000, "provider": "openai",
        "model": "gpt-4o", "input_tokens": 5, "cost": "0.250000000000", "team": "search",
        "attributes": '{"route":"/answer"}',
    }  # fmt: skip


def test_defaults_time_and_id() -> None:
    event, _ = check({"type": "llm_call", "provider": "p", "model": "m"}, NOW)
    assert event is not None
    assert event["t"] == NOW
    assert len(event["id"]) == 32


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"input_tokens": -1}, "input_tokens", "whole number >= 0"),
        ({"input_tokens": 1.5}, "input_tokens", "whole number >= 0"),
        ({"output_tokens": "12"}, "output_tokens", "whole number >= 0"),
        ({"time": "2026-11-23 10:00"}, "time", "no time zone"),
        ({"time": "yesterday"}, "time", "not an ISO 8601"),
        ({"team": 7}, "team", "must be a string"),
        ({"cost": "-1"}, "cost", ">= 0"),
        ({"cost": "abc"}, "cost", "finite number"),
        ({"cost": "1e30"}, "cost", "too large"),
        ({"attributes": [1]}, "attributes", "JSON object"),
        ({"input_token": 3}, "input_token", "did you mean 'input_tokens'"),
        ({"model": None}, "model", "required"),
        ({"id": ""}, "id", "non-empty"),
    ],
)
def test_each_problem_is_named(change: dict[str, object], field: str, message: str) -> None:
    event = {"type": "llm_call", "id": "e", "provider": "openai", "model": "gpt-4o", **change}
    checked, errors = check(event, NOW)
    assert checked is None
    assert [(e.field, message in e.message) for e in errors] == [(field, True)]


def test_job_events() -> None:
    ok, _ = check({"type": "job_stop", "job_id": "j", "status": "failed"}, NOW)
    assert ok is not None and ok["status"] == "failed"
    _, errors = check({"type": "job_start", "job_id": "j", "status": "failed"}, NOW)
    assert [e.field for e in errors] == ["status"]
    _, errors = check({"type": "job_heartbeat", "gpu_utilization": 1.5}, NOW)
    assert sorted(e.field for e in errors) == ["gpu_utilization", "job_id"]
    _, errors = check({"type": "job_begin"}, NOW)
    assert errors[0].field == "type"
    _, errors = check(["not", "an", "object"], NOW)
    assert errors[0].message == "an event is a JSON object"
