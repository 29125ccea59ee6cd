"""Models: training and serving cost per model and version, with their unit economics.

Training cost is the cost allocated to runs of a training kind (``training``, ``fine-tune``,
``pretraining``), failed and killed runs included — they were paid for. Serving cost is what the
model cost outside runs (LLM API invoices, endpoints) and in inference runs; evaluation and batch
runs are ``other``. Requests and tokens come from the LLM usage, GPU-hours from the jobs: the
usage rollups written with the last allocation run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costcouncil.schema.sql import lit
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.figures.filters import (
    NONE,
    Filter,
    cost_rows,
    scope,
    team_scope,
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
    cost_sql = (
        f"SELECT {', '.join(by)}, run, SUM({metric}) AS cost FROM daily "
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
    usage = _usage(store, flt, by, loaded.tables)
    for row in rows:
        key = tuple(row[k] for k in by)
        found = usage.get(key, {})
        row.update({name: found.get(name, 0) for name in _USAGE})
        row["other"] = row["cost"] - row["training"] - row["serving"]
        _ratios(row)
        for k in by:
            row[k] = row[k] if row[k] is not None else NONE
    return rows


_USAGE = ("requests", "input_tokens", "output_tokens", "gpu_hours")
_EMPTY_RUNS = (
    "(SELECT NULL::VARCHAR AS run, NULL::VARCHAR AS kind, NULL::VARCHAR AS status WHERE false)"
)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def _usage(
    store: RollupStore, flt: Filter, by: list[str], tables: frozenset[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    scope = _scope(flt)
    span = f"day >= {lit(flt.start.isoformat())} AND day < {lit(flt.end.isoformat())}"
    owners = [(k, tuple(v)) for k, v in flt.where if k in ("team", "project", "model")]
    extra = "".join(f" AND {k} IN ({', '.join(lit(x) for x in v)})" for k, v in owners)
    keys = ", ".join(by)
    if "usage_llm" in tables:
        sql = (
            f"SELECT {keys}, SUM(requests) AS requests, SUM(input_tokens) AS input_tokens, "
            f"SUM(output_tokens) AS output_tokens FROM usage_llm WHERE {span}{scope}{extra} "
            "GROUP BY ALL"
        )
        for r in store.query(sql):
            out.setdefault(tuple(r[k] for k in by), {}).update(r)
    if "usage_gpu" in tables and "model_version" not in by:
        sql = f"SELECT {keys}, SUM(gpu_hours) AS gpu_hours FROM usage_gpu WHERE {span}{scope}{extra} GROUP BY ALL"
        for r in store.query(sql):
            out.setdefault(tuple(r[k] for k in by), {}).update(r)
    return out


def _scope(flt: Filter) -> str:
    return "" if flt.teams is None else f" AND {team_scope(flt.teams)}"


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
    rows = unit_rows(store, flt, ["model", "model_version"])
    top = [r["model"] for r in unit_rows(store, flt, ["model"])[:8]]
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
        "params": flt.params(),
        "scope": scope(flt),
    }
