"""Models: training and serving cost per model and version, with their unit economics.

Training cost is the cost allocated to runs of a training kind (``training``, ``fine-tune``,
``pretraining``), failed and killed runs included — they were paid for. Serving cost is what the
model cost outside runs (LLM API invoices, endpoints) and in inference runs; evaluation and batch
runs are ``other``. Requests and tokens come from the LLM usage, GPU-hours from the jobs: the
usage rollups written with the last allocation run. They are recorded per owner, so a filter on
anything else (a tag, the provider, the region) leaves them — and the unit costs divided by
them — unknown rather than divides the filter's cost by everyone's usage.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costcouncil.attribution import SENTINELS
from costcouncil.schema.sql import lit
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.figures.filters import (
    NONE,
    Dimensions,
    Filter,
    cost_rows,
    scope,
    tier_for,
    unknown_keys,
    usage_where,
    where_sql,
)
from costcouncil.workspace.figures.rollup_store import RollupStore

TRAINING = ("training", "fine-tune", "pretraining")
SERVING = ("inference", "serving")
_K = Decimal(1000)
_M = Decimal(1_000_000)


def unit_rows(store: RollupStore, flt: Filter, by: list[str]) -> list[dict[str, Any]]:
    """Cost split into training / serving / other with usage per group of ``by``.

    ``by`` is a list of keys among team, project, model, model_version.
    """
    loaded = store.current()
    keys = ", ".join(f"c.{k}" for k in by)
    metric = rollups.METRICS[flt.metric]
    training, serving = _in(TRAINING), _in(SERVING)
    runs = "usage_runs" if "usage_runs" in loaded.tables else _EMPTY_RUNS
    dims = Dimensions.of(store.workspace.config.tags.owner_keys)
    tier = tier_for(dims, set(by) | {"run"} | flt.keys(), None)  # tags need the resources
    cost_sql = (
        f"SELECT {', '.join(by)}, run, SUM({metric}) AS cost FROM {tier} "
        f"WHERE {where_sql(flt, 'day')} GROUP BY ALL"
    )
    sql = (
        f"SELECT {keys}, SUM(c.cost) AS cost, "
        f"SUM(CASE WHEN r.kind IN {training} THEN c.cost ELSE 0 END) AS training, "
        f"SUM(CASE WHEN r.kind IN {training} AND r.status IN ('failed', 'killed') "
        "THEN c.cost ELSE 0 END) AS failed_training, "
        f"COUNT(DISTINCT CASE WHEN r.kind IN {training} THEN c.run END) AS training_runs, "
        f"SUM(CASE WHEN c.run IS NULL OR r.kind IS NULL OR r.kind IN {serving} "
        "THEN c.cost ELSE 0 END) AS serving "
        f"FROM ({cost_sql}) AS c LEFT JOIN (SELECT DISTINCT ON (run) run, kind, status "
        f"FROM {runs}) AS r ON r.run = c.run GROUP BY ALL ORDER BY cost DESC"
    )
    rows = store.query(sql)
    gpu_keys = loaded.usage_keys("gpu")
    usage = _usage(store, flt, by, loaded.tables, gpu_keys)
    known = {name: _known(flt, name, by, gpu_keys) for name in _USAGE}
    for row in rows:
        key = tuple(row[k] for k in by)
        found = usage.get(key, {})
        row.update({name: found.get(name, 0) if known[name] else None for name in _USAGE})
        row["other"] = row["cost"] - row["training"] - row["serving"]
        _ratios(row)
        for k in by:
            row[k] = row[k] if row[k] is not None else NONE
    return rows


_USAGE = ("requests", "input_tokens", "output_tokens", "gpu_hours")
_EMPTY_RUNS = (
    "(SELECT NULL::VARCHAR AS run, NULL::VARCHAR AS kind, NULL::VARCHAR AS status WHERE false)"
)
#: The dimensions of the usage rollups: LLM usage per owner, GPU-hours per owner and node.
LLM_KEYS = set(rollups.USAGE_DIMENSIONS["llm"])
GPU_KEYS = set(rollups.USAGE_DIMENSIONS["gpu"])


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def _known(flt: Filter, name: str, by: list[str], gpu_keys: set[str]) -> bool:
    """Whether the usage ``name`` can be counted for ``flt`` grouped by ``by`` (``gpu_keys``:
    the GPU-hours rollup's dimensions, fewer in a lake written by an older version)."""
    columns = gpu_keys if name == "gpu_hours" else LLM_KEYS
    return all(k in columns for k in by) and usage_where(flt, columns) is not None


def usage_note(flt: Filter) -> str | None:
    """Why some usage is unknown for ``flt`` (None: all of it is known)."""
    parts = []
    if llm := unknown_keys(flt, LLM_KEYS):
        parts.append(f"requests and tokens cannot be narrowed by {', '.join(llm)}")
    if gpu := unknown_keys(flt, GPU_KEYS):
        parts.append(f"GPU-hours cannot be narrowed by {', '.join(gpu)}")
    if not parts:
        return None
    return f"Usage is recorded per owner: {'; '.join(parts)}, so their unit costs are left out."


def _usage(
    store: RollupStore, flt: Filter, by: list[str], tables: frozenset[str], gpu_keys: set[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    keys = ", ".join(by)
    llm = usage_where(flt, LLM_KEYS)
    if "usage_llm" in tables and llm is not None:
        sql = (
            f"SELECT {keys}, SUM(requests) AS requests, SUM(input_tokens) AS input_tokens, "
            f"SUM(output_tokens) AS output_tokens FROM usage_llm WHERE {llm} GROUP BY ALL"
        )
        for r in store.query(sql):
            out.setdefault(tuple(r[k] for k in by), {}).update(r)
    gpu = usage_where(flt, gpu_keys)
    if "usage_gpu" in tables and gpu is not None and set(by) <= gpu_keys:
        sql = f"SELECT {keys}, SUM(gpu_hours) AS gpu_hours FROM usage_gpu WHERE {gpu} GROUP BY ALL"
        for r in store.query(sql):
            out.setdefault(tuple(r[k] for k in by), {}).update(r)
    return out


def _ratios(row: dict[str, Any]) -> None:
    requests = int(row["requests"] or 0)
    tokens = int(row["input_tokens"] or 0) + int(row["output_tokens"] or 0)
    hours = Decimal(str(row["gpu_hours"] or 0))
    runs = int(row["training_runs"] or 0)
    row["per_1k_requests"] = row["serving"] / requests * _K if requests else None
    row["per_1m_tokens"] = row["serving"] / tokens * _M if tokens else None
    row["per_gpu_hour"] = (row["training"] + row["other"]) / hours if hours else None
    row["per_training_run"] = row["training"] / runs if runs else None


def models(store: RollupStore, flt: Filter) -> dict[str, Any]:
    """The Models page: per model and version, and each model's monthly trend."""
    found = unit_rows(store, flt, ["model", "model_version"])
    # Idle capacity and the unallocated cost are not models: listed last, never in the trend.
    rows = [r for r in found if r["model"] not in SENTINELS]
    rows += [r for r in found if r["model"] in SENTINELS]
    top = [r["model"] for r in unit_rows(store, flt, ["model"]) if r["model"] not in SENTINELS][:8]
    trend = [
        {**r, "model": r["model"] if r["model"] is not None else NONE}
        for r in cost_rows(store, flt, ["model"], "month")
    ]
    return {
        "from": flt.start,
        "to": flt.end,
        "metric": flt.metric,
        "currency": flt.currency,
        "rows": rows,
        "trend": [r for r in trend if r["model"] in top],
        "usage_note": usage_note(flt),
        "params": flt.params(),
        "scope": scope(flt),
    }
