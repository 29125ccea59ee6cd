"""LiteLLM proxy spend logs as llm usage: one row per ``LiteLLM_SpendLogs`` row.

Input: the ``LiteLLM_SpendLogs`` table exported as CSV (``metadata`` and ``request_tags`` are
JSON text there), or JSON from the proxy's ``/spend/logs`` (a list of rows; ``{"data": [...]}``
from ``/spend/logs/v2``), or JSON Lines with one row a line.

- ``provider``: ``custom_llm_provider``, else the model's routing prefix (``openai/gpt-4o``),
  else the host of ``api_base``; ``model``: ``model`` (else ``model_group``) without that prefix.
- ``time``: ``startTime``. LiteLLM writes UTC into a zoneless column, so a time without a zone
  is read as UTC.
- Tokens: LiteLLM's ``prompt_tokens`` include cache reads and writes and ``completion_tokens``
  include reasoning; the split comes from ``metadata.additional_usage_values``
  (``prompt_tokens_details.cached_tokens`` / ``cache_read_input_tokens``,
  ``cache_creation_input_tokens``, ``completion_tokens_details.reasoning_tokens``).
- Owner keys: the proxy's own (team alias, else team id; user; end user as ``customer``) first,
  then ``key:value`` request tags and ``metadata.spend_logs_metadata`` (``--label`` names first).

Problems name the file, the row (CSV data row, array element or JSONL line), the spend-log
column and the value. See docs/sources/litellm.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from costcouncil.errors import FormatError
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, owners
from costcouncil.usage.sources._llmio import (
    add_named,
    json_documents,
    present,
    read_text,
    uncached,
    without,
)

EXPECTED = "LiteLLM spend logs (LiteLLM_SpendLogs as CSV, or JSON from /spend/logs)"
REQUIRED = ("request_id", "startTime")
#: Other spellings of a column some exports use.
ALIASES = {"startTime": ("start_time", "starttime"), "endTime": ("end_time", "endtime")}

#: LiteLLM provider ids whose CostCouncil spelling differs.
PROVIDERS = {
    "vertex_ai": "vertex-ai",
    "vertex_ai_beta": "vertex-ai",
    "hosted_vllm": "vllm",
}

#: ``api_base`` hosts (suffixes) -> provider, for rows without ``custom_llm_provider``.
HOSTS = {
    "api.openai.com": "openai",
    "openai.azure.com": "azure",
    "api.anthropic.com": "anthropic",
    "amazonaws.com": "bedrock",
    "generativelanguage.googleapis.com": "gemini",
    "aiplatform.googleapis.com": "vertex-ai",
    "api.mistral.ai": "mistral",
    "api.groq.com": "groq",
}

#: Owner keys LiteLLM itself records, most specific first.
KNOWN = {
    "team": ("user_api_key_team_alias", "team_alias", "team_id", "user_api_key_team_id"),
    "user": ("user", "user_api_key_user_id"),
    "customer": ("end_user",),
    "project": ("user_api_key_project_alias", "user_api_key_project_id"),
}

#: Our column -> the spend-log column, for problems.
NAMES = {
    "time": "startTime",
    "cost": "spend",
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "cached_input_tokens": "metadata.additional_usage_values.prompt_tokens_details.cached_tokens",
    "cache_write_tokens": "metadata.additional_usage_values.cache_creation_input_tokens",
    "reasoning_tokens": (
        "metadata.additional_usage_values.completion_tokens_details.reasoning_tokens"
    ),
    "api_key_id": "api_key",
    "customer": "end_user",
}

#: Columns that became our columns, and content never kept (prompts and responses).
USED = frozenset(
    {
        "request_id",
        "spend",
        "prompt_tokens",
        "completion_tokens",
        "startTime",
        "model",
        "custom_llm_provider",
        "user",
        "end_user",
        "api_key",
        "metadata",
        "request_tags",
    }
)
CONTENT = frozenset({"messages", "response", "proxy_server_request", "usage_object"})


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """Read one spend-log export; raises with every bad row at once."""
    if path is None:
        raise FormatError("the litellm source reads files: name a spend-log export")
    rows = Rows("llm", str(path), assume_utc=True)
    for n, record in _records(path):
        if not isinstance(record, Mapping):
            rows.problem(n, "", _short(record), "a spend log must be a JSON object")
            continue
        _add(rows, n, record, options)
    return rows.table()


def _records(path: Path) -> list[tuple[int, Any]]:
    text = read_text(path, EXPECTED)
    if _is_csv(path, text):
        return _csv(path, text)
    docs = json_documents(path, EXPECTED, text)
    if len(docs) == 1 and docs[0][0] is None:
        return list(enumerate(_array(path, docs[0][1]), 1))
    return [(line or 0, doc) for line, doc in docs]


def _is_csv(path: Path, text: str) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return True
    return not name.endswith((".json", ".jsonl", ".ndjson")) and text.lstrip()[:1] not in "[{"


def _csv(path: Path, text: str) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    missing = [c for c in REQUIRED if not _has(header, c)]
    if missing:
        raise FormatError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {EXPECTED} "
            f"(found: {', '.join(header[:10]) or 'no header'})"
        )
    return list(enumerate(reader, 1))


def _has(header: list[str], column: str) -> bool:
    return column in header or any(a in header for a in ALIASES.get(column, ()))


def _array(path: Path, doc: Any) -> list[Any]:
    if isinstance(doc, Mapping) and isinstance(doc.get("data"), list):
        return list(doc["data"])
    if isinstance(doc, list):
        return doc
    if isinstance(doc, Mapping) and "request_id" in doc:
        return [doc]
    raise FormatError(f"{path}: expected {EXPECTED}: a list of spend logs or {{'data': [...]}}")


def _add(rows: Rows, n: int, record: Mapping[str, Any], options: SourceOptions) -> None:
    record = _canonical(record)
    metadata = _json(rows, n, record, "metadata", dict)
    tags = _json(rows, n, record, "request_tags", list) or _list(metadata.get("tags"))
    usage = metadata.get("additional_usage_values") or metadata.get("usage_object") or {}
    usage = usage if isinstance(usage, Mapping) else {}
    provider, model = _provider_model(record)
    names = dict(NAMES)
    if provider is None:
        rows.problem(n, "custom_llm_provider", None, _NO_PROVIDER)
        names["provider"] = ""
    add_named(rows, n, _values(record, metadata, tags, usage, provider, model, options), names)


_NO_PROVIDER = (
    "missing, and the model has no provider prefix (openai/gpt-4o) and api_base no known host"
)


def _values(
    record: Mapping[str, Any],
    metadata: Mapping[str, Any],
    tags: list[Any],
    usage: Mapping[str, Any],
    provider: str | None,
    model: str | None,
    options: SourceOptions,
) -> dict[str, Any]:
    cached, written, reasoning = _details(usage)
    found = owners(_labels(record, metadata, tags), "llm", options, KNOWN)
    return {
        "request_id": record.get("request_id"),
        "source": "litellm",
        "provider": provider,
        "model": model,
        "time": record.get("startTime"),
        "input_tokens": uncached(record.get("prompt_tokens"), cached, written),
        "output_tokens": without(record.get("completion_tokens"), reasoning),
        "cached_input_tokens": cached,
        "cache_write_tokens": written,
        "reasoning_tokens": reasoning,
        "request_count": 1,
        "cost": record.get("spend"),
        **found,
        "api_key_id": record.get("api_key"),
        "attributes": _attributes(record, metadata, tags),
    }


def _canonical(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record with aliased columns (``start_time``) under LiteLLM's own names."""
    if all(k in record for k in ALIASES):
        return record
    out = dict(record)
    for name, aliases in ALIASES.items():
        if name not in out:
            out[name] = next((record[a] for a in aliases if a in record), None)
    return out


def _json(rows: Rows, n: int, record: Mapping[str, Any], column: str, kind: type) -> Any:
    """A JSON column as a dict or list (CSV exports hold JSON text); empty when absent or bad."""
    value = record.get(column)
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            rows.problem(n, column, value, f"not JSON ({e.msg})")
            return kind()
    if value in (None, ""):
        return kind()
    if not isinstance(value, kind):
        rows.problem(n, column, value, f"must be a JSON {'object' if kind is dict else 'array'}")
        return kind()
    return value


def _details(usage: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """Cached, cache-write and reasoning tokens from LiteLLM's usage details."""
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    cached = _get(prompt, "cached_tokens")
    if cached is None:
        cached = usage.get("cache_read_input_tokens")
    written = usage.get("cache_creation_input_tokens")
    return cached, written, _get(completion, "reasoning_tokens")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def _provider_model(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Provider and the model without its routing prefix (``bedrock/anthropic.claude-3``)."""
    model = record.get("model") or record.get("model_group") or None
    raw = str(record.get("custom_llm_provider") or "").strip() or None
    text = str(model) if model is not None else None
    if text and "/" in text:
        prefix, rest = text.split("/", 1)
        if raw is None or prefix == raw:
            raw, text = raw or prefix, rest
    provider = raw or _host_provider(record.get("api_base"))
    return (PROVIDERS.get(provider, provider) if provider else None), text


def _host_provider(api_base: Any) -> str | None:
    host = urlsplit(str(api_base or "")).hostname or ""
    return next((p for suffix, p in HOSTS.items() if host.endswith(suffix)), None)


def _labels(
    record: Mapping[str, Any], metadata: Mapping[str, Any], tags: list[Any]
) -> dict[str, Any]:
    """Where owner keys are looked up: tags < spend_logs_metadata < metadata < columns."""
    pairs = dict(_pair(t) for t in tags if isinstance(t, str) and ":" in t)
    extra = metadata.get("spend_logs_metadata")
    return {
        **pairs,
        **(_scalars(extra) if isinstance(extra, Mapping) else {}),
        **_scalars(metadata),
        **_scalars(record),
    }


def _pair(tag: str) -> tuple[str, str]:
    key, _, value = tag.partition(":")
    return key.strip(), value.strip()


def _scalars(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if isinstance(v, str | int | float)}


def _attributes(
    record: Mapping[str, Any], metadata: Mapping[str, Any], tags: list[Any]
) -> dict[str, Any]:
    kept = {k: v for k, v in record.items() if k not in USED and k not in CONTENT}
    meta = {k: v for k, v in metadata.items() if k not in CONTENT}
    return present({**kept, "metadata": present(meta), "request_tags": tags})


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:80] + "…"


SOURCES = (
    UsageSource(
        name="litellm",
        kind="llm",
        title="LiteLLM proxy spend logs",
        read=read,
    ),
)
