"""Token usage from an OpenAI-compatible response, as ``llm_call`` fields.

Works on the ``openai`` client's response objects and on plain dicts (``response.model_dump()``,
a JSON body from any OpenAI-compatible server), without importing ``openai``.

===========================  ==============================================  ==========================
``llm_call`` field           Chat Completions (``usage.``)                    Responses API (``usage.``)
===========================  ==============================================  ==========================
``input_tokens``             ``prompt_tokens`` − cached                      ``input_tokens`` − cached
``cached_input_tokens``      ``prompt_tokens_details.cached_tokens``          ``input_tokens_details.cached_tokens``
``output_tokens``            ``completion_tokens`` − reasoning               ``output_tokens`` − reasoning
``reasoning_tokens``         ``completion_tokens_details.reasoning_tokens``   ``output_tokens_details.reasoning_tokens``
``model``                    ``model``                                        ``model``
``service_tier``             ``service_tier`` (see :data:`TIERS`)            ``service_tier``
``time``                     ``created`` (Unix seconds)                       ``created_at``
``attributes.response_id``   ``id``                                           ``id``
===========================  ==============================================  ==========================

OpenAI counts cached tokens inside the prompt tokens and reasoning tokens inside the completion
tokens; CostCouncil's token kinds are disjoint, so those are subtracted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: OpenAI's names for the tier that served a call -> ours; other names are kept as they are.
TIERS = {"default": "standard", "auto": "standard", "scale": "provisioned"}


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise; ``None`` when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def openai_usage(response: Any) -> dict[str, Any] | None:
    """``llm_call`` fields for ``response``; ``None`` when it carries no model or no usage."""
    model, usage = field(response, "model"), field(response, "usage")
    if not model or usage is None:
        return None
    chat = field(usage, "prompt_tokens") is not None
    names = ("prompt", "completion") if chat else ("input", "output")
    given_in = _count(field(usage, f"{names[0]}_tokens"))
    given_out = _count(field(usage, f"{names[1]}_tokens"))
    cached = _count(field(field(usage, f"{names[0]}_tokens_details"), "cached_tokens"))
    reasoning = _count(field(field(usage, f"{names[1]}_tokens_details"), "reasoning_tokens"))
    fields: dict[str, Any] = {
        "model": str(model),
        "input_tokens": max(0, given_in - cached),
        "cached_input_tokens": cached,
        "output_tokens": max(0, given_out - reasoning),
        "reasoning_tokens": reasoning,
    }
    fields.update(_extras(response))
    return fields


def _extras(response: Any) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    tier = field(response, "service_tier")
    if isinstance(tier, str) and tier:
        extras["service_tier"] = TIERS.get(tier, tier)
    created = field(response, "created")
    created = created if created is not None else field(response, "created_at")
    if isinstance(created, int | float) and not isinstance(created, bool):
        extras["time"] = datetime.fromtimestamp(created, UTC)
    response_id = field(response, "id")
    if response_id:
        extras["attributes"] = {"response_id": str(response_id)}
    return extras
