"""OpenTelemetry GenAI spans (OTLP/JSON traces) as llm usage: one row per model-call span.

Input: an OTLP/JSON ``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``) saved as one
JSON file, or JSON Lines with one export a line as the OpenTelemetry Collector's file exporter
writes them. The live server hands ``POST /v1/traces`` bodies to :func:`parse_otlp`, the same
parser, which keeps the good spans and returns the problems of the bad ones.

Only GenAI spans are read (those with ``gen_ai.operation.name``, ``gen_ai.request.model``,
``gen_ai.provider.name`` or ``gen_ai.system``), and of those only model calls: tool, agent and
retrieval spans (``execute_tool``, ``invoke_agent``, ``create_agent``, ``retrieval``) are skipped,
as an agent span's token totals repeat its model calls'. Attribute names follow the GenAI
semantic conventions, current names first, then the deprecated ones. Message content
(``gen_ai.input.messages`` …) is never kept.

A problem's row is the span's 1-based position among all spans of the payload (GenAI or not),
its column the attribute or span field; in a JSON Lines file the origin names the line. See
docs/sources/otel.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from costcouncil.errors import FormatError, Problem
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, epoch_nanos, owners
from costcouncil.usage.sources._llmio import (
    SERVICE_TIERS,
    json_documents,
    rename,
    uncached,
    without,
)

EXPECTED = 'OTLP/JSON traces ({"resourceSpans": [...]}), one export or one a line'

#: Any of these marks a GenAI span.
GENAI = ("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name", "gen_ai.system")

#: GenAI operations that are not model calls.
NOT_CALLS = frozenset({"execute_tool", "invoke_agent", "create_agent", "retrieval"})

#: Our column -> attribute names, current semantic conventions first.
TOKENS: dict[str, tuple[str, ...]] = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cached_input_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cached_tokens",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
    ),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",),
}
PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
MODEL = ("gen_ai.response.model", "gen_ai.request.model")
TIER = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
)

#: Semantic-convention provider names -> ours (others are kept as written).
PROVIDERS = {
    "aws.bedrock": "bedrock",
    "azure.ai.openai": "azure-openai",
    "azure.ai.inference": "azure",
    "gcp.gemini": "gemini",
    "gcp.vertex_ai": "vertex-ai",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "xai",
}

#: Owner keys from semantic-convention attributes, used when no owner attribute names them.
SEMCONV = {
    "environment": ("deployment.environment.name", "deployment.environment"),
    "user": ("user.id", "enduser.id"),
    "project": ("service.name",),
}

#: Attributes that became columns (the provider, model and tier ones stay in ``attributes``,
#: as written), and message content that is never kept.
USED = frozenset(n for names in TOKENS.values() for n in names)
CONTENT = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.documents",
        "gen_ai.retrieval.query.text",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)
CONTENT_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.")


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """Read one saved OTLP/JSON export (or JSONL of exports); raises with every bad span."""
    if path is None:
        raise FormatError("the otel source reads files: name an OTLP/JSON trace export")
    rows = Rows("llm", str(path))
    for line, doc in json_documents(path, EXPECTED):
        rows.origin = str(path) if line is None else f"{path}, line {line}"
        _add_payload(rows, doc, options)
    return rows.table()


def parse_otlp(
    payload: Mapping[str, Any], origin: str, options: SourceOptions
) -> tuple[pa.Table, list[Problem]]:
    """The llm rows of one OTLP/JSON export, and the problems of the spans left out.

    A problem's row is the span's 1-based position among all spans of ``payload``. Raises
    :class:`FormatError` when ``payload`` is not an ``ExportTraceServiceRequest``.
    """
    rows = Rows("llm", origin)
    _add_payload(rows, payload, options)
    return rows.table(partial=True), rows.problems


def _add_payload(rows: Rows, payload: Any, options: SourceOptions) -> None:
    """Add the payload's GenAI model-call spans, numbering all its spans from 1."""
    n = 0
    for rs in _spans_of(rows.origin, payload):
        resource = _attributes(_get(_get(rs, "resource"), "attributes"))
        for ss in _list(rs, "scopeSpans", "scope_spans", "instrumentationLibrarySpans"):
            for span in _list(ss, "spans"):
                n += 1
                _add_span(rows, n, span, resource, options)


def _spans_of(origin: str, payload: Any) -> list[Any]:
    if not isinstance(payload, Mapping):
        found = type(payload).__name__
        raise FormatError(f"{origin}: expected {EXPECTED}, found a JSON {found}")
    spans = payload.get("resourceSpans", payload.get("resource_spans", []))
    if not isinstance(spans, list) or (payload and spans == [] and not _has_spans_key(payload)):
        keys = ", ".join(map(str, payload))
        raise FormatError(f"{origin}: expected {EXPECTED}; found an object with keys {keys}")
    return spans


def _has_spans_key(payload: Mapping[str, Any]) -> bool:
    return "resourceSpans" in payload or "resource_spans" in payload


def _add_span(
    rows: Rows, n: int, span: Any, resource: dict[str, Any], options: SourceOptions
) -> None:
    if not isinstance(span, dict):
        rows.problem(n, "span", str(span)[:80], "a span must be a JSON object")
        return
    attrs = _attributes(span.get("attributes"))
    if not any(k in attrs for k in GENAI) or attrs.get("gen_ai.operation.name") in NOT_CALLS:
        return
    time = _time(rows, n, span.get("startTimeUnixNano"))
    before = len(rows.problems)
    if not rows.add(n, _values(span, attrs, resource, time, options)):
        rename(rows, before, _names(attrs))
        _missing(rows, n, attrs)


def _values(
    span: Mapping[str, Any],
    attrs: dict[str, Any],
    resource: dict[str, Any],
    time: Any,
    options: SourceOptions,
) -> dict[str, Any]:
    get = attrs.get
    tokens = {col: _first(attrs, keys) for col, keys in TOKENS.items()}
    cached, written = tokens["cached_input_tokens"], tokens["cache_write_tokens"]
    provider = _first(attrs, PROVIDER)
    tier = _first(attrs, TIER)
    labels = {**resource, **attrs}
    found = owners(labels, "llm", options)
    for key, fallbacks in SEMCONV.items():
        if found[key] is None:
            found[key] = next((str(labels[f]) for f in fallbacks if labels.get(f)), None)
    return {
        "request_id": _request_id(span),
        "source": "otel",
        "provider": PROVIDERS.get(provider, provider) if isinstance(provider, str) else provider,
        "model": get("gen_ai.response.model") or get("gen_ai.request.model"),
        "time": time,
        **tokens,
        "input_tokens": uncached(tokens["input_tokens"], cached, written),
        "output_tokens": without(tokens["output_tokens"], tokens["reasoning_tokens"]),
        "request_count": 1,
        "service_tier": SERVICE_TIERS.get(str(tier).lower()) if tier is not None else None,
        **found,
        "attributes": _kept(span, attrs, resource),
    }


def _request_id(span: Mapping[str, Any]) -> str | None:
    span_id = span.get("spanId")
    if not span_id:
        return None
    trace_id = span.get("traceId")
    return f"{trace_id}:{span_id}" if trace_id else str(span_id)


def _time(rows: Rows, n: int, value: Any) -> Any:
    """The span's start, or None after reporting why it cannot be read."""
    try:
        return epoch_nanos(value)
    except (ValueError, TypeError, OverflowError):
        why = "missing" if value in (None, "") else "not integer nanoseconds since the epoch"
        rows.problem(n, "startTimeUnixNano", value, why)
        return None


def _names(attrs: Mapping[str, Any]) -> dict[str, str]:
    """Our column -> the attribute the span used, so a problem names what the user sent."""
    names = {col: next((k for k in keys if k in attrs), keys[0]) for col, keys in TOKENS.items()}
    names["request_id"] = "spanId"
    names["time"] = ""  # reported by _time
    names["provider"] = ""  # reported by _missing
    names["model"] = ""
    return names


def _missing(rows: Rows, n: int, attrs: Mapping[str, Any]) -> None:
    if _first(attrs, PROVIDER) in (None, ""):
        rows.problem(n, "gen_ai.provider.name", None, "missing (and no gen_ai.system)")
    if _first(attrs, MODEL) in (None, ""):
        rows.problem(n, "gen_ai.request.model", None, "missing (and no gen_ai.response.model)")


def _kept(
    span: Mapping[str, Any], attrs: Mapping[str, Any], resource: Mapping[str, Any]
) -> dict[str, Any]:
    kept = {
        k: v
        for k, v in attrs.items()
        if k not in USED and k not in CONTENT and not k.startswith(CONTENT_PREFIXES)
    }
    status = span.get("status") or {}
    extra = {
        "trace_id": span.get("traceId"),
        "span_id": span.get("spanId"),
        "parent_span_id": span.get("parentSpanId") or None,
        "span_name": span.get("name"),
        "end_time_unix_nano": span.get("endTimeUnixNano"),
        "status_code": status.get("code") if isinstance(status, dict) else None,
    }
    return {**kept, **{k: v for k, v in extra.items() if v is not None}, "resource": resource}


def _first(attrs: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _attributes(items: Any) -> dict[str, Any]:
    """OTLP ``[{key, value: {stringValue|intValue|…}}]`` as a plain dict."""
    if not isinstance(items, list):
        return {}
    return {
        item["key"]: _value(item.get("value"))
        for item in items
        if isinstance(item, dict) and "key" in item
    }


def _value(value: Any) -> Any:
    """One OTLP ``AnyValue``; ``intValue`` is a string in OTLP/JSON (64-bit)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        raw = value["intValue"]
        try:
            return int(raw)
        except (TypeError, ValueError):
            return raw
    for key in ("doubleValue", "boolValue", "bytesValue"):
        if key in value:
            return value[key]
    if "arrayValue" in value:
        return [_value(v) for v in _list(value["arrayValue"], "values")]
    if "kvlistValue" in value:
        return _attributes(_list(value["kvlistValue"], "values"))
    return None


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


def _list(mapping: Any, *keys: str) -> list[Any]:
    for key in keys:
        value = _get(mapping, key)
        if isinstance(value, list):
            return value
    return []


SOURCES = (
    UsageSource(
        name="otel",
        kind="llm",
        title="OpenTelemetry GenAI spans (OTLP/JSON)",
        read=read,
    ),
)

__all__ = ["SOURCES", "parse_otlp", "read"]
