"""``POST /v1/traces``: OTLP/HTTP JSON traces whose GenAI spans become live ``llm_call`` events.

Spans are read by the ``otel`` usage source's parser (``costcouncil.usage.sources.otel``), the
same mapping ``ingest --source otel`` uses; spans that are not GenAI calls are ignored. The
answer is OTLP's ``ExportTraceServiceResponse``: ``partialSuccess`` counts the rejected spans and
says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from costcouncil.usage.base import SourceOptions
from costcouncil.usage.events import LLM_COUNTS, LLM_STRINGS
from costcouncil.usage.sources.otel import parse_otlp
from costcouncil.workspace.live.service import LiveIngest

ORIGIN = "POST /v1/traces"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def post_traces(live: LiveIngest, payload: Any) -> dict[str, Any]:
    """Count the GenAI spans of one OTLP export; the OTLP response body."""
    if not isinstance(payload, dict):
        return {"partialSuccess": {"rejectedSpans": 0, "errorMessage": "not an OTLP export"}}
    table, problems = parse_otlp(payload, ORIGIN, SourceOptions())
    events = [_event(row) for row in table.to_pylist()]
    live.post_checked(events, len({p.row for p in problems}))
    if not problems:
        return {}
    message = "; ".join(str(p) for p in problems[:20])
    return {
        "partialSuccess": {"rejectedSpans": len({p.row for p in problems}), "errorMessage": message}
    }


def _event(row: dict[str, Any]) -> dict[str, Any]:
    delta = row["time"] - _EPOCH
    event: dict[str, Any] = {
        "type": "llm_call",
        "id": f"otel:{row['request_id']}",
        "t": (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds,
    }
    for name in (*LLM_STRINGS, *LLM_COUNTS):
        if row.get(name) is not None:
            event[name] = row[name]
    if row.get("cost") is not None:
        event["cost"] = str(row["cost"])
    if row.get("attributes"):
        event["attributes"] = row["attributes"]
    return event
