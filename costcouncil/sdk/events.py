"""The live usage events, as the server's ``POST /v1/events`` reads them.

Every event is one JSON object with a ``type`` and a client-generated ``id`` (uuid4 hex: the
server drops an id it has already seen, so a resent event is never counted twice). The fields a
caller may set per type are declared once, as :class:`~typing.TypedDict` classes, and checked
when an event is built: a misspelt keyword is a :class:`TypeError` naming the valid ones, not a
silently misfiled value. Values are checked by the server, which rejects a bad event alone.

Owner keys in the client's ``defaults`` fill the events whose type has them; any other default
goes into ``attributes``. Explicit arguments win over defaults.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

#: Job kinds and stop statuses the server accepts.
JOB_KINDS = ("training", "fine-tune", "evaluation", "inference", "notebook", "batch")
JOB_STOP_STATUSES = ("succeeded", "failed", "killed")

Event = dict[str, Any]
Time = datetime | str


class LlmOwners(TypedDict, total=False):
    """Who and what an LLM call was for."""

    team: str
    project: str
    model_version: str
    run: str
    environment: str
    user: str
    feature: str
    customer: str
    api_key_id: str


class LlmCallFields(LlmOwners, total=False):
    """Optional fields of an ``llm_call`` event (``model`` and ``provider`` are required)."""

    time: Time
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    request_count: int
    service_tier: str
    cost: Decimal | str | int | float
    attributes: Mapping[str, Any]


class ResponseFields(LlmCallFields, total=False):
    """What :meth:`~costcouncil.sdk.CostCouncil.record_openai` takes: a provider other than
    ``openai`` (``azure-openai``, ``vllm`` …), owner keys, and overrides."""

    provider: str


class JobOwners(TypedDict, total=False):
    """Who a job ran for."""

    team: str
    project: str
    model: str
    model_version: str
    run: str
    environment: str
    user: str


class JobStartFields(JobOwners, total=False):
    """Optional fields of a ``job_start`` event (``job_id`` is a required argument)."""

    time: Time
    resource_id: str
    accelerator_type: str
    accelerator_count: float
    cpu_cores: float
    memory_gib: float
    kind: str
    attributes: Mapping[str, Any]


class HeartbeatFields(TypedDict, total=False):
    """Optional fields of a ``job_heartbeat`` event."""

    time: Time
    gpu_utilization: float
    gpu_memory_gib: float
    accelerator_type: str
    accelerator_count: float
    resource_id: str
    attributes: Mapping[str, Any]


def _keys(fields: type) -> frozenset[str]:
    return frozenset(fields.__required_keys__ | fields.__optional_keys__)  # type: ignore[attr-defined]


#: type -> (fields a caller may pass, owner keys defaults may fill)
FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "llm_call": (_keys(LlmCallFields) | {"model", "provider"}, _keys(LlmOwners)),
    "job_start": (_keys(JobStartFields) | {"job_id"}, _keys(JobOwners)),
    "job_heartbeat": (_keys(HeartbeatFields) | {"job_id"}, frozenset()),
    "job_stop": (frozenset({"job_id", "time", "status"}), frozenset()),
}


def new_id() -> str:
    """A fresh event or batch id (uuid4 hex)."""
    return uuid.uuid4().hex


def timestamp(value: Time | None = None) -> str:
    """ISO 8601 UTC with ``Z``; ``None`` is now, a naive datetime is read as UTC."""
    if isinstance(value, str):
        return value
    moment = value or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build(kind: str, fields: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> Event:
    """One event of type ``kind``: checked keywords, defaults applied, ``None`` values left out."""
    allowed, owners = FIELDS[kind]
    _check_keywords(kind, fields, allowed)
    event: Event = {"type": kind, "id": new_id()}
    attributes: dict[str, Any] = {}
    for key, value in (defaults or {}).items():
        if key in owners:
            event[key] = value
        elif kind in ("llm_call", "job_start"):
            attributes[key] = value
    attributes.update(fields.get("attributes") or {})
    event.update({k: _plain(v) for k, v in fields.items() if v is not None and k != "attributes"})
    event["time"] = timestamp(fields.get("time"))
    if attributes:
        event["attributes"] = attributes
    return event


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _check_keywords(kind: str, fields: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in fields:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            valid = ", ".join(sorted(allowed))
            raise TypeError(f"{kind} has no field {key!r}{hint} (valid: {valid})")
