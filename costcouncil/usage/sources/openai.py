"""OpenAI's organisation Usage API (completions) as llm usage.

Input: what ``GET /v1/organization/usage/completions`` returns, saved as JSON (one page, a list
of pages, one bucket or one result) or JSON Lines (a page, a bucket or a result a line). Every
result of a bucket is one pre-aggregated row: ``request_count`` is its ``num_model_requests``,
``time`` the bucket's ``start_time``. A result on a line of its own carries ``start_time``
itself (exporters that flatten buckets write it there). Embeddings results
(``/usage/embeddings``) are read the same way; they have input tokens only.

OpenAI's ``input_tokens`` include cached and cache-write tokens; ours are disjoint, so
``input_tokens`` = ``input_tokens - input_cached_tokens - input_cache_write_tokens``.

Costs API output (``/v1/organization/costs``) is refused with a hint: its results are money per
line item, not usage; the OpenAI invoice comes in as the bill (FOCUS) and is split over this usage.

Problems name the file, the row (the result's 1-based position among all results of a JSON file;
in JSON Lines the origin names the line and the row is the result's position on it), OpenAI's
field name and the value. See docs/sources/openai.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from costcouncil.errors import FormatError
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, owners
from costcouncil.usage.sources._llmio import SERVICE_TIERS, add_named, json_documents, uncached

EXPECTED = "OpenAI Usage API output (/v1/organization/usage/completions pages, buckets or results)"
RESULTS = frozenset(
    {"organization.usage.completions.result", "organization.usage.embeddings.result"}
)
COSTS = "organization.costs.result"

#: The group-by fields that tell a bucket's results apart (with the bucket's times).
GROUPS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source")

#: Our column -> OpenAI's field, for problems.
NAMES = {
    "time": "start_time",
    "cached_input_tokens": "input_cached_tokens",
    "cache_write_tokens": "input_cache_write_tokens",
    "request_count": "num_model_requests",
}

#: Result fields that became columns; the rest go to ``attributes``.
USED = frozenset(
    {
        "object",
        "start_time",
        "input_tokens",
        "input_cached_tokens",
        "input_cache_write_tokens",
        "output_tokens",
        "num_model_requests",
        "model",
        "api_key_id",
        "batch",
        "service_tier",
    }
)

#: Owner keys the result itself names (``group_by=project_id,user_id``).
KNOWN = {"project": ("project_id",), "user": ("user_id",)}


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """Read one saved Usage API export; raises with every bad result at once."""
    if path is None:
        raise FormatError("the openai source reads files: name a saved Usage API export")
    rows = Rows("llm", str(path))
    for line, doc in json_documents(path, EXPECTED):
        rows.origin = str(path) if line is None else f"{path}, line {line}"
        where = rows.origin
        for n, (bucket, result) in enumerate(_results(doc, where), 1):
            _add(rows, n, bucket, result, options)
    return rows.table()


def _results(doc: Any, where: str) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(bucket, result)`` pairs of a page, a list, a bucket or a bare result (bucket ``{}``)."""
    if isinstance(doc, list):
        for item in doc:
            yield from _results(item, where)
    elif not isinstance(doc, Mapping):
        raise FormatError(f"{where}: expected {EXPECTED}, found a JSON {type(doc).__name__}")
    elif isinstance(doc.get("results"), list):
        for result in doc["results"]:
            yield doc, _result(result, where)
    elif isinstance(doc.get("data"), list):
        for bucket in doc["data"]:
            yield from _results(bucket, where)
    elif str(doc.get("object", "")).startswith("organization."):
        yield {}, _result(doc, where)
    else:
        keys = ", ".join(sorted(map(str, doc))[:8]) or "none"
        raise FormatError(f"{where}: expected {EXPECTED}; found an object with keys {keys}")


def _result(result: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(result, Mapping):
        raise FormatError(f"{where}: a bucket's results must be objects, found {result!r}")
    if result.get("object") == COSTS:
        raise FormatError(
            f"{where}: this is Costs API output (/v1/organization/costs): money per line item, not "
            "usage. Ingest the OpenAI bill as cost rows (FOCUS) and read usage from "
            "/v1/organization/usage/completions with --source openai"
        )
    return result


def _add(
    rows: Rows,
    n: int,
    bucket: Mapping[str, Any],
    result: Mapping[str, Any],
    options: SourceOptions,
) -> None:
    kind = result.get("object")
    if kind is not None and kind not in RESULTS:
        rows.problem(n, "object", kind, f"not a usage result this source reads ({_kinds()})")
        return
    start = bucket.get("start_time", result.get("start_time"))
    end = bucket.get("end_time", result.get("end_time"))
    names = NAMES
    if result.get("model") in (None, ""):
        rows.problem(n, "model", None, "missing: export with group_by=model")
        names = {**NAMES, "model": ""}
    add_named(rows, n, _values(result, start, end, options), names)


def _values(
    result: Mapping[str, Any], start: Any, end: Any, options: SourceOptions
) -> dict[str, Any]:
    found = owners(result, "llm", options, KNOWN)
    attributes = {k: v for k, v in result.items() if k not in USED and v is not None}
    return {
        "request_id": _request_id(result, start, end),
        "source": "openai",
        "provider": "openai",
        "model": result.get("model"),
        "time": start,
        "input_tokens": uncached(
            result.get("input_tokens"),
            result.get("input_cached_tokens"),
            result.get("input_cache_write_tokens"),
        ),
        "output_tokens": result.get("output_tokens"),
        "cached_input_tokens": result.get("input_cached_tokens"),
        "cache_write_tokens": result.get("input_cache_write_tokens"),
        "request_count": result.get("num_model_requests"),
        "service_tier": _tier(result),
        "api_key_id": result.get("api_key_id"),
        **found,
        "attributes": {**attributes, "end_time": end} if end is not None else attributes,
    }


def _request_id(result: Mapping[str, Any], start: Any, end: Any) -> str:
    """The same bucket and group always get the same id (re-exports deduplicate)."""
    key = [result.get("object"), start, end, *(result.get(g) for g in GROUPS)]
    digest = hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:20]
    return f"{start}-{digest}"


def _tier(result: Mapping[str, Any]) -> str | None:
    if result.get("batch") is True:
        return "batch"
    tier = result.get("service_tier")
    return SERVICE_TIERS.get(str(tier).lower()) if tier is not None else None


def _kinds() -> str:
    return ", ".join(sorted(RESULTS))


SOURCES = (
    UsageSource(
        name="openai",
        kind="llm",
        title="OpenAI organization Usage API export",
        read=read,
    ),
)
