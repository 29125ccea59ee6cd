"""The two usage schemas: *jobs* (GPU and compute jobs or runs) and *llm* (LLM calls).

These are CostCouncil's own schemas (DESIGN.md, "Usage is ours"); every usage source maps to
them. Times are UTC and half-open (``start`` inclusive, ``end`` exclusive; ``end`` NULL while a
job runs). Owner keys are plain string columns; ``attributes`` is a JSON object of everything
else the source had.
"""

from __future__ import annotations

import pyarrow as pa

from costcouncil.schema.arrow import DECIMAL, TIMESTAMP

#: Owner keys every usage row may carry, in the order reports show them.
OWNER_KEYS = ("team", "project", "model", "model_version", "run", "environment", "user")

JOB_STATUSES = ("succeeded", "failed", "killed", "running")
JOB_KINDS = ("training", "fine-tune", "evaluation", "inference", "notebook", "batch")
SERVICE_TIERS = ("standard", "batch", "priority", "flex", "provisioned")

_OWNERS = [pa.field(k, pa.string()) for k in OWNER_KEYS]

JOBS_SCHEMA = pa.schema(
    [
        pa.field("job_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("resource_id", pa.string()),
        pa.field("start", TIMESTAMP, nullable=False),
        pa.field("end", TIMESTAMP),
        pa.field("accelerator_type", pa.string()),
        pa.field("accelerator_count", pa.float64()),
        pa.field("cpu_cores", pa.float64()),
        pa.field("memory_gib", pa.float64()),
        pa.field("status", pa.string()),
        pa.field("kind", pa.string()),
        *_OWNERS,
        pa.field("attributes", pa.string()),
    ]
)

LLM_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("time", TIMESTAMP, nullable=False),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("cached_input_tokens", pa.int64()),
        pa.field("cache_write_tokens", pa.int64()),
        pa.field("reasoning_tokens", pa.int64()),
        pa.field("request_count", pa.int64()),
        pa.field("service_tier", pa.string()),
        pa.field("cost", DECIMAL),
        *[f for f in _OWNERS if f.name != "model"],
        pa.field("feature", pa.string()),
        pa.field("customer", pa.string()),
        pa.field("api_key_id", pa.string()),
        pa.field("attributes", pa.string()),
    ]
)
