"""The tables the policy engine evaluates: their exact schemas and the :class:`Inputs` holding them.

All days are ``date32`` (UTC days); money is ``decimal128(38, 12)``; owner columns are strings
where null means "nobody" (reported as ``__unallocated__``). A table may carry more columns than
listed (they are ignored, or named by a scope); a listed column that is missing is an error.

``costs`` — allocated cost per day and slice (from the allocation rollups, resource tier):

=================== ============ ===============================================================
``day``             date32       the charge day
``resource_id``     string       FOCUS ResourceId (null for charges without a resource)
``instance_type``   string       the resource's instance type (``p4d.24xlarge``), null if none
``accelerator_type`` string      the GPU on it (``A100``), null when it has none
``service_category`` string      FOCUS ServiceCategory
``team`` ``project`` ``model`` ``run`` ``environment`` ``feature``   string, allocated owner keys
``tag_keys``        list<string> owner keys the bill's own tags carried (after aliasing)
``cost``            decimal      allocated cost of the slice
=================== ============ ===============================================================

``gpu`` — GPU capacity and use per day and node: ``day``, ``resource_id``, ``instance_type``,
``team`` (the node's owner), ``project``, ``environment`` (strings), ``capacity_hours`` and
``busy_hours`` (float64 GPU-hours: GPUs × hours the node was up, and GPU-hours jobs ran),
``cost`` (decimal, the node's cost that day).

``jobs`` — one row per job: ``job_id``, ``resource_id``, ``instance_type``, ``accelerator_type``,
``team``, ``project``, ``environment`` (strings), ``accelerator_count`` (float64), ``start``,
``end`` (timestamp UTC; ``end`` null while running), ``cost`` (decimal, null when unknown).

``llm`` — LLM use per day: ``day``, ``team``, ``project``, ``feature``, ``model``,
``environment`` (strings), ``requests``, ``input_tokens``, ``output_tokens`` (int64), ``cost``
(decimal).

``budgets`` — one row per budget and period (the budgets engine's status): ``name``, ``team``
(null: none), ``owner`` (strings), ``amount``, ``spent`` (decimal), ``projected`` (decimal, null
without a forecast), ``window_start``, ``window_end`` (date32, half-open).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from costcouncil.errors import ConfigError
from costcouncil.schema.arrow import DECIMAL, TIMESTAMP

_S = pa.string()

COSTS_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("resource_id", _S),
        ("instance_type", _S),
        ("accelerator_type", _S),
        ("service_category", _S),
        ("team", _S),
        ("project", _S),
        ("model", _S),
        ("run", _S),
        ("environment", _S),
        ("feature", _S),
        ("tag_keys", pa.list_(_S)),
        ("cost", DECIMAL),
    ]
)
GPU_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("resource_id", _S),
        ("instance_type", _S),
        ("team", _S),
        ("project", _S),
        ("environment", _S),
        ("capacity_hours", pa.float64()),
        ("busy_hours", pa.float64()),
        ("cost", DECIMAL),
    ]
)
JOBS_SCHEMA = pa.schema(
    [
        ("job_id", _S),
        ("resource_id", _S),
        ("instance_type", _S),
        ("accelerator_type", _S),
        ("team", _S),
        ("project", _S),
        ("environment", _S),
        ("accelerator_count", pa.float64()),
        ("start", TIMESTAMP),
        ("end", TIMESTAMP),
        ("cost", DECIMAL),
    ]
)
LLM_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("team", _S),
        ("project", _S),
        ("feature", _S),
        ("model", _S),
        ("environment", _S),
        ("requests", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost", DECIMAL),
    ]
)
BUDGETS_SCHEMA = pa.schema(
    [
        ("name", _S),
        ("team", _S),
        ("owner", _S),
        ("amount", DECIMAL),
        ("spent", DECIMAL),
        ("projected", DECIMAL),
        ("window_start", pa.date32()),
        ("window_end", pa.date32()),
    ]
)
SCHEMAS = {
    "costs": COSTS_SCHEMA,
    "gpu": GPU_SCHEMA,
    "jobs": JOBS_SCHEMA,
    "llm": LLM_SCHEMA,
    "budgets": BUDGETS_SCHEMA,
}


@dataclass(frozen=True)
class Inputs:
    """The five input tables; each defaults to an empty table of its schema."""

    costs: pa.Table = field(default_factory=COSTS_SCHEMA.empty_table)
    gpu: pa.Table = field(default_factory=GPU_SCHEMA.empty_table)
    jobs: pa.Table = field(default_factory=JOBS_SCHEMA.empty_table)
    llm: pa.Table = field(default_factory=LLM_SCHEMA.empty_table)
    budgets: pa.Table = field(default_factory=BUDGETS_SCHEMA.empty_table)

    def __post_init__(self) -> None:
        for name, schema in SCHEMAS.items():
            check_columns(name, getattr(self, name), schema)


def check_columns(name: str, table: pa.Table, schema: pa.Schema) -> None:
    """Raise a ConfigError naming every column of ``schema`` that ``table`` lacks or mistypes."""
    problems = []
    for f in schema:
        if f.name not in table.column_names:
            problems.append(f"no column {f.name!r}")
        elif not _compatible(table.schema.field(f.name).type, f.type):
            problems.append(f"column {f.name!r} is {table.schema.field(f.name).type}, not {f.type}")
    if problems:
        raise ConfigError(f"policy input {name!r}: " + "; ".join(problems))


def _compatible(have: pa.DataType, want: pa.DataType) -> bool:
    """Same type, or both decimals (any precision), or both timestamps (any unit)."""
    if pa.types.is_decimal(want):
        return bool(pa.types.is_decimal(have))
    if pa.types.is_timestamp(want):
        return bool(pa.types.is_timestamp(have))
    return bool(have == want or (pa.types.is_string(want) and pa.types.is_large_string(have)))
