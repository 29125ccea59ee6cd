"""Explain an owner's figure: which cost rows, which rules, which weights, which usage.

``explain(workspace, {"team": "vision", "model": "detector-v3"}, "2026-10")`` returns the owner's
total per rule and method, its largest allocations with the cost row each slices (its full cost,
the share's weight and usage weight), and, for usage splits, the usage rows behind each share.
The API and the CLI both call this function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import duckdb

from costcouncil.errors import ConfigError
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.common.query import open_costs, records
from costcouncil.workspace.core import Workspace

_ROW_COLUMNS = (
    "x_source_file",
    "x_source_row",
    "ServiceName",
    "ResourceId",
    "ChargePeriodStart",
    "ChargePeriodEnd",
)


@dataclass
class Explanation:
    """An owner's figure, traced."""

    owner: dict[str, str]
    period: str | None
    metric: str
    total: Decimal = Decimal(0)
    rows: int = 0
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            _jsonable(
                {
                    "owner": self.owner,
                    "period": self.period,
                    "metric": self.metric,
                    "total": self.total,
                    "rows": self.rows,
                    "by_rule": self.by_rule,
                    "allocations": self.allocations,
                }
            ),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value


def explain(
    workspace: Workspace,
    owner: dict[str, str],
    period: str | None = None,
    metric: str = "EffectiveCost",
    limit: int = 10,
) -> Explanation:
    """Trace ``owner`` (owner key → value) in ``period``'s allocations."""
    keys = workspace.config.tags.owner_keys
    unknown = [k for k in owner if k not in keys]
    if unknown or not owner:
        raise ConfigError(
            f"explain needs owner keys among {', '.join(keys)} (got {', '.join(unknown) or 'none'})"
        )
    con = open_costs(workspace, [period] if period else None, allocated=True)
    where = _where(owner, "")
    result = Explanation(owner, period, metric)
    total = con.execute(
        f"SELECT SUM({q(metric)}), COUNT(*) FROM allocated WHERE {where}"
    ).fetchall()[0]
    result.total, result.rows = total[0] or Decimal(0), int(total[1])
    result.by_rule = records(
        con,
        f"SELECT x_rule, x_method, COUNT(*) AS rows, SUM({q(metric)}) AS amount FROM allocated "
        f"WHERE {where} GROUP BY ALL ORDER BY abs(SUM({q(metric)})) DESC",
    )
    result.allocations = _top(con, _where(owner, "a."), metric, limit)
    for allocation in result.allocations:
        allocation["usage"] = _usage(con, workspace, allocation, owner)
    return result


def _where(owner: dict[str, str], alias: str) -> str:
    return " AND ".join(f"{alias}{q('x_' + k)} = {lit(v)}" for k, v in owner.items())


def _top(
    con: duckdb.DuckDBPyConnection, where: str, metric: str, limit: int
) -> list[dict[str, Any]]:
    cols = ", ".join(
        f"a.{c}" if c.startswith("x_") else f"CAST(a.{c} AS VARCHAR) AS {c}" for c in _ROW_COLUMNS
    )
    return records(
        con,
        f"SELECT {cols}, a.x_rule, a.x_method, a.x_weight, CAST(a.x_usage_weight AS VARCHAR) AS x_usage_weight, "
        f"a.x_usage_count, a.{q(metric)} AS amount, c.{q(metric)} AS row_cost FROM allocated AS a "
        "JOIN costs AS c ON c.x_source_file = a.x_source_file AND c.x_source_row = a.x_source_row "
        f"WHERE {where} ORDER BY abs(a.{q(metric)}) DESC LIMIT {int(limit)}",
    )


def _usage(
    con: duckdb.DuckDBPyConnection,
    workspace: Workspace,
    allocation: dict[str, Any],
    owner: dict[str, str],
) -> list[dict[str, Any]]:
    """The usage rows of ``owner`` that ran on the allocation's resource in its charge period."""
    if not str(allocation["x_method"]).startswith("usage_split"):
        return []
    kind = (
        "llm"
        if "token" in allocation["x_method"] or "requests" in allocation["x_method"]
        else "jobs"
    )
    files = workspace.lake.read().data_files(kind)
    if not files:
        return []
    listed = ", ".join(lit(str(workspace.lake.root / f)) for f in files)
    start, end = lit(str(allocation["ChargePeriodStart"])), lit(str(allocation["ChargePeriodEnd"]))
    if kind == "jobs":
        when = f'start < CAST({end} AS TIMESTAMPTZ) AND ("end" IS NULL OR "end" > CAST({start} AS TIMESTAMPTZ))'
        ident = f"resource_id = {lit(str(allocation['ResourceId']))} AND "
        cols = 'job_id AS id, CAST(start AS VARCHAR) AS start, CAST("end" AS VARCHAR) AS "end", accelerator_count'
    else:
        when = f"time >= CAST({start} AS TIMESTAMPTZ) AND time < CAST({end} AS TIMESTAMPTZ)"
        ident = ""
        cols = "request_id AS id, CAST(time AS VARCHAR) AS time, model, input_tokens, output_tokens, request_count"
    names = {
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet([{listed}])").fetchall()
    }
    mine = " AND ".join(f"{q(k)} = {lit(v)}" for k, v in owner.items() if k in names) or "TRUE"
    return records(
        con, f"SELECT {cols} FROM read_parquet([{listed}]) WHERE {ident}{when} AND {mine} LIMIT 20"
    )
