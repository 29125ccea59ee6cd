"""OpenAI-compatible responses to ``llm_call`` fields; bodies written by hand from OpenAI's docs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from costcouncil.sdk import CostCouncil, openai_usage
from tests.sdk.peer import Peer

# A Chat Completions body (POST /v1/chat/completions): cached tokens are part of prompt_tokens,
# reasoning tokens part of completion_tokens.
CHAT = {
    "id": "chatcmpl-7Qx1",
    "object": "chat.completion",
    "created": 1767225600,  # 2026-01-01T00:00:00Z
    "model": "o4-mini-2025-04-16",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 256,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_a1b2",
}

# A Responses API body (POST /v1/responses).
RESPONSES = {
    "id": "resp_68a9",
    "object": "response",
    "created_at": 1767225660,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [],
    "usage": {
        "input_tokens": 500,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens": 80,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 580,
    },
    "service_tier": "flex",
}


def objects(value: Any) -> Any:
    """The same body as attribute-access objects, the way the ``openai`` client returns it."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: objects(v) for k, v in value.items()})
    return value


@pytest.mark.parametrize("shape", [dict, objects], ids=["dict", "object"])
def test_chat_completion_usage(shape: Any) -> None:
    assert openai_usage(shape(CHAT)) == {
        "model": "o4-mini-2025-04-16",
        "input_tokens": 176,
        "cached_input_tokens": 1024,
        "output_tokens": 44,
        "reasoning_tokens": 256,
        "service_tier": "standard",
        "time": datetime(2026, 1, 1, tzinfo=UTC),
        "attributes": {"response_id": "chatcmpl-7Qx1"},
    }


@pytest.mark.parametrize("shape", [dict, objects], ids=["dict", "object"])
def test_responses_api_usage(shape: Any) -> None:
    usage = openai_usage(shape(RESPONSES))
    assert usage is not None
    assert (usage["input_tokens"], usage["cached_input_tokens"]) == (400, 100)
    assert (usage["output_tokens"], usage["reasoning_tokens"]) == (80, 0)
    assert usage["service_tier"] == "flex" and usage["time"] == datetime(
        2026, 1, 1, 0, 1, tzinfo=UTC
    )


def test_minimal_and_missing_usage() -> None:
    bare = {"model": "llama-3.1-8b", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    assert openai_usage(bare) == {
        "model": "llama-3.1-8b",
        "input_tokens": 10,
        "cached_input_tokens": 0,
        "output_tokens": 2,
        "reasoning_tokens": 0,
    }
    assert openai_usage({"model": "gpt-4o", "usage": None}) is None  # a stream without usage
    assert openai_usage({"usage": {"prompt_tokens": 1}}) is None


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer().start()
    yield server
    server.stop()


def test_record_openai_sends_one_llm_call(peer: Peer) -> None:
    cc = CostCouncil(peer.url, flush_interval=30, defaults={"environment": "prod"})
    event_id = cc.record_openai(CHAT, team="search", feature="answers", attributes={"k": 1})
    assert cc.record_openai({"model": "gpt-4o"}) is None
    assert cc.flush(timeout=5)
    (event,) = peer.requests[0].events
    assert event["id"] == event_id and event["type"] == "llm_call"
    assert event["provider"] == "openai" and event["model"] == "o4-mini-2025-04-16"
    assert event["time"] == "2026-01-01T00:00:00.000000Z"
    assert (event["team"], event["feature"], event["environment"]) == ("search", "answers", "prod")
    assert event["attributes"] == {"response_id": "chatcmpl-7Qx1", "k": 1}
    assert event["input_tokens"] + event["cached_input_tokens"] == 1200
    cc.close()
