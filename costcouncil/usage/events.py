"""Live usage events: the wire format ``POST /v1/events`` accepts, checked one event at a time.

A batch is a JSON array or NDJSON (one object per line). Every event is an object with ``type``
(``llm_call``, ``job_start``, ``job_heartbeat``, ``job_stop``) and ``id`` (unique; a repeated id
is a retry and is dropped). A bad event is rejected alone with every problem it has; the rest of
its batch is kept. This module is on the hot path of live ingest: plain dict access and
``isinstance`` checks, no per-event model objects.

Checked events are *normalised*: times become integer microseconds since the epoch (``t``),
``attributes`` becomes its JSON text, the event keeps only the fields it declared, and unknown
fields are an error (a typo such as ``input_token`` must not silently lose tokens).
:data:`LOG_SCHEMA` is the Arrow schema of normalised events, as the event log stores them.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa

from costcouncil.errors import FormatError

LLM_STRINGS = (
    "provider", "model", "service_tier", "team", "project", "model_version", "run",
    "environment", "user", "feature", "customer", "api_key_id",
)  # fmt: skip
LLM_COUNTS = (
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
    "reasoning_tokens", "request_count",
)  # fmt: skip
JOB_STRINGS = (
    "job_id", "resource_id", "accelerator_type", "kind", "status", "team", "project", "model",
    "model_version", "run", "environment", "user",
)  # fmt: skip
JOB_NUMBERS = ("accelerator_count", "cpu_cores", "memory_gib", "gpu_memory_gib", "gpu_utilization")
EVENT_TYPES = ("llm_call", "job_start", "job_heartbeat", "job_stop")
STOP_STATUSES = ("succeeded", "failed", "killed")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COST_UNIT = Decimal("1e-12")  # the lake's scale
_MAX_COST = Decimal("1e20")

#: Normalised events as Arrow columns (every event type's fields; absent ones are null).
LOG_SCHEMA = pa.schema(
    [
        pa.field("type", pa.string()),
        pa.field("id", pa.string()),
        pa.field("t", pa.int64()),
        *(pa.field(n, pa.string()) for n in dict.fromkeys((*LLM_STRINGS, *JOB_STRINGS))),
        *(pa.field(n, pa.int64()) for n in LLM_COUNTS),
        *(pa.field(n, pa.float64()) for n in JOB_NUMBERS),
        pa.field("cost", pa.string()),
        pa.field("attributes", pa.string()),
    ]
)


@dataclass(frozen=True)
class EventError:
    """One problem of one event."""

    field: str
    value: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "message": self.message}


def parse_body(body: bytes, content_type: str = "") -> list[Any]:
    """The events of a request body: a JSON array, one JSON object, or NDJSON."""
    text = body.strip()
    if not text:
        return []
    if "ndjson" in content_type or "jsonl" in content_type or not text.startswith(b"["):
        try:
            return [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as e:
            if text.startswith(b"{") and b"\n" not in text:
                raise FormatError(f"body is not JSON: {e}") from None
            raise FormatError(f"body is not NDJSON (one JSON object per line): {e}") from None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise FormatError(f"body is not JSON: {e}") from None
    return parsed if isinstance(parsed, list) else [parsed]


def check(event: Any, now_us: int) -> tuple[dict[str, Any] | None, list[EventError]]:
    """The normalised event, or None and every problem it has."""
    if not isinstance(event, dict):
        return None, [EventError("", _shown(event), "an event is a JSON object")]
    kind = event.get("type")
    checker = _CHECKERS.get(kind) if isinstance(kind, str) else None
    if checker is None:
        return None, [EventError("type", kind, f"must be one of {', '.join(EVENT_TYPES)}")]
    errors: list[EventError] = []
    out: dict[str, Any] = {"type": kind, "id": _id(event, errors)}
    out["t"] = _time(event.get("time"), now_us, errors)
    checker(event, out, errors)
    return (None, errors) if errors else (out, [])


def _id(event: Mapping[str, Any], errors: list[EventError]) -> str:
    value = event.get("id")
    if value is None:
        return uuid.uuid4().hex
    if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
        errors.append(EventError("id", value, "must be a non-empty string"))
        return ""
    return str(value)


def _time(value: Any, now_us: int, errors: list[EventError]) -> int:
    if value is None:
        return now_us
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00", 1))
        except ValueError:
            errors.append(EventError("time", value, "not an ISO 8601 timestamp"))
            return 0
        if moment.tzinfo is None:
            errors.append(EventError("time", value, "has no time zone (add Z or an offset)"))
            return 0
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    errors.append(
        EventError("time", value, "must be an ISO 8601 string, e.g. 2026-11-23T10:00:00Z")
    )
    return 0


def _fields(
    strings: tuple[str, ...],
    counts: tuple[str, ...],
    numbers: tuple[str, ...],
    extra: tuple[str, ...],
) -> Callable[[Mapping[str, Any], dict[str, Any], list[EventError]], None]:
    known = frozenset(("type", "id", "time", "attributes", *strings, *counts, *numbers, *extra))
    code = {"type": 0, "id": 0, "time": 0, "attributes": 4}
    code.update({k: 1 for k in strings} | {k: 2 for k in counts} | {k: 3 for k in numbers})
    code.update({k: 5 for k in extra})

    def fill(event: Mapping[str, Any], out: dict[str, Any], errors: list[EventError]) -> None:
        for key, value in event.items():
            c = code.get(key, 6)
            if c == 0 or value is None:
                continue
            if c == 1:
                if type(value) is str:
                    if value:
                        out[key] = value
                else:
                    errors.append(EventError(key, value, "must be a string"))
            elif c == 2:
                if type(value) is int and value >= 0:
                    out[key] = value
                else:
                    errors.append(EventError(key, value, "must be a whole number >= 0"))
            elif c == 3:
                if type(value) in (int, float) and value >= 0 and value == value:
                    out[key] = float(value)
                else:
                    errors.append(EventError(key, value, "must be a number >= 0"))
            elif c == 4:
                if isinstance(value, dict):
                    out[key] = orjson.dumps(value).decode()
                else:
                    errors.append(EventError(key, _shown(value), "must be a JSON object"))
            elif c == 5:
                out[key] = value
            else:
                errors.append(EventError(key, _shown(value), _unknown(key, known)))

    return fill


def _unknown(key: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return "unknown field" + (f" — did you mean {close[0]!r}?" if close else "")


def _shown(value: Any) -> Any:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= 200 else text[:200] + "…"


_llm_fields = _fields(LLM_STRINGS, LLM_COUNTS, (), ("cost",))
_job_fields = _fields(JOB_STRINGS, (), JOB_NUMBERS, ())


def _llm(event: Mapping[str, Any], out: dict[str, Any], errors: list[EventError]) -> None:
    _llm_fields(event, out, errors)
    for key in ("provider", "model"):
        if key not in out and not any(e.field == key for e in errors):
            errors.append(EventError(key, None, "required for llm_call"))
    if "cost" in out:
        out["cost"] = _cost(out["cost"], errors)


def _cost(value: Any, errors: list[EventError]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.append(EventError("cost", _shown(value), "must be a number or a decimal string"))
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        errors.append(EventError("cost", value, "must be a finite number >= 0"))
        return None
    if amount >= _MAX_COST:
        errors.append(EventError("cost", value, "too large for one call"))
        return None
    return str(amount.quantize(_COST_UNIT))


def _job(event: Mapping[str, Any], out: dict[str, Any], errors: list[EventError]) -> None:
    _job_fields(event, out, errors)
    if "job_id" not in out and not any(e.field == "job_id" for e in errors):
        errors.append(EventError("job_id", None, f"required for {out['type']}"))
    utilisation = out.get("gpu_utilization")
    if utilisation is not None and utilisation > 1:
        errors.append(EventError("gpu_utilization", utilisation, "a fraction from 0 to 1"))
    status = out.get("status")
    if status is not None and (out["type"] != "job_stop" or status not in STOP_STATUSES):
        errors.append(
            EventError("status", status, f"job_stop only, one of {', '.join(STOP_STATUSES)}")
        )


_CHECKERS = {"llm_call": _llm, "job_start": _job, "job_heartbeat": _job, "job_stop": _job}


def encode(events: list[dict[str, Any]]) -> bytes:
    """NDJSON of normalised events (what the event log stores)."""
    return b"".join(orjson.dumps(e) + b"\n" for e in events)
