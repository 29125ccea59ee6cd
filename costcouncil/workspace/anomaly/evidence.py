"""The evidence root-cause analysis compares: a scope's cost lines, GPU jobs and LLM requests in
an anomaly's window and in the baseline before it (28 days by default).

Cost lines are the scope's allocation rows joined to their cost rows (usage charges only), per
resource and SKU: the allocated cost, the allocated share of the SKU's pricing quantity, how
attribution gave it (``x_method``) and its kind — ``llm`` (priced per token), ``gpu`` (a resource
jobs ran on, or split by GPU-seconds or idle capacity) or ``other``. Jobs and LLM requests are the
latest observation of each, filtered by the scope's owner where their schema has it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from costcouncil.anomaly.frames import CostGroup, Frame, JobGroup, LlmGroup
from costcouncil.engine.duckdb import connect
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.common.inputs import lake_view, latest_usage
from costcouncil.workspace.core import Workspace

BASELINE_DAYS = 28
#: Scope dimensions that are cost-row columns rather than owner keys.
COST_COLUMNS = {
    "provider": "c.ProviderName",
    "service": "c.ServiceName",
    "service_category": "c.ServiceCategory",
    "account": "c.SubAccountId",
    "region": "c.RegionId",
}
_KIND = (
    "CASE WHEN c.PricingUnit ILIKE '%token%' OR a.x_method LIKE 'usage_split:token%' THEN 'llm' "
    "WHEN a.x_method IN ('idle', 'usage_split:gpu_seconds') OR c.ResourceId IN "
    "(SELECT resource_id FROM jobs WHERE resource_id IS NOT NULL) THEN 'gpu' ELSE 'other' END"
)


def frames(
    workspace: Workspace,
    scope: Scope,
    start: datetime,
    end: datetime,
    baseline_days: int = BASELINE_DAYS,
) -> tuple[Frame, Frame]:
    """(baseline, window) for ``scope``: the window is [start, end), the baseline the
    ``baseline_days`` before ``start``."""
    before = start - timedelta(days=baseline_days)
    con = connect(temp_dir=workspace.lake.root / ".spill")
    try:
        _views(con, workspace, before, end)
        return (
            _frame(con, scope, before, start),
            _frame(con, scope, start, end),
        )
    finally:
        con.close()


def _views(
    con: duckdb.DuckDBPyConnection, workspace: Workspace, start: datetime, end: datetime
) -> None:
    manifest = workspace.lake.read()
    root = workspace.lake.root
    months = {f"{d.year:04d}-{d.month:02d}" for d in _days(start, end)}
    allocated = [str(root / f) for s in manifest.slices.values()
                 if s.dataset == "allocations" and s.period in months for f in s.files]  # fmt: skip
    costs = [str(root / f) for s in manifest.slices.values()
             if s.dataset == "costs" and s.period in months for f in s.files]  # fmt: skip
    _view_or_empty(
        con, "a", allocated, "SELECT NULL::VARCHAR AS x_source_file, NULL::BIGINT AS x_source_row"
    )
    _view_or_empty(
        con, "c", costs, "SELECT NULL::VARCHAR AS x_source_file, NULL::BIGINT AS x_source_row"
    )
    for name, schema, key in (("jobs", JOBS_SCHEMA, "job_id"), ("llm", LLM_SCHEMA, "request_id")):
        files = [str(root / f) for f in manifest.data_files(name)]
        if files:
            lake_view(con, f"{name}_all", files)
            have = {r[0] for r in con.execute(f"DESCRIBE {name}_all").fetchall()}
            cols = ", ".join(
                q(f.name) if f.name in have else f"NULL AS {q(f.name)}" for f in schema
            )
            con.execute(f"CREATE VIEW {name}_src AS SELECT {cols} FROM {name}_all")
        else:
            con.from_arrow(schema.empty_table()).create_view(f"{name}_src")
        con.execute(f"CREATE VIEW {name} AS {latest_usage(f'{name}_src', schema, key)}")


def _view_or_empty(con: duckdb.DuckDBPyConnection, name: str, files: list[str], empty: str) -> None:
    if files:
        lake_view(con, name, files)
    else:
        con.execute(f"CREATE VIEW {name} AS {empty} WHERE false")


def _days(start: datetime, end: datetime) -> list[datetime]:
    out, day = [], start
    while day < end:
        out.append(day)
        day += timedelta(days=1)
    return out


def _frame(con: duckdb.DuckDBPyConnection, scope: Scope, start: datetime, end: datetime) -> Frame:
    days = (end - start).total_seconds() / 86400
    return Frame(
        days,
        _llm(con, scope, start, end),
        _costs(con, scope, start, end),
        _jobs(con, scope, start, end),
    )


def _costs(
    con: duckdb.DuckDBPyConnection, scope: Scope, start: datetime, end: datetime
) -> tuple[CostGroup, ...]:
    if not _has(con, "a", "x_method") or not _has(con, "c", "ChargePeriodStart"):
        return ()
    sql = (
        "SELECT coalesce(c.ResourceId, ''), coalesce(c.SkuId, ''), coalesce(c.ServiceName, ''), "
        "coalesce(c.RegionId, ''), coalesce(c.SubAccountId, ''), "
        f"{_KIND}, split_part(coalesce(a.x_method, ''), ':', 1), "
        "SUM(a.EffectiveCost)::DOUBLE, SUM(coalesce(c.PricingQuantity, 0) * coalesce(a.x_weight, 1))::DOUBLE "
        "FROM a JOIN c ON c.x_source_file = a.x_source_file AND c.x_source_row = a.x_source_row "
        f"WHERE a.ChargePeriodStart >= {_ts(start)} AND a.ChargePeriodStart < {_ts(end)} "
        f"AND coalesce(c.ChargeCategory, 'Usage') = 'Usage' AND {_cost_filter(con, scope)} GROUP BY ALL"
    )
    return tuple(_cost_group(r) for r in con.execute(sql).fetchall())


def _cost_group(r: tuple[object, ...]) -> CostGroup:
    resource, sku, service, region, account, kind, method = (str(v) for v in r[:7])
    return CostGroup(resource, sku, service, region, account, kind, method,
                     float(r[7] or 0.0), float(r[8] or 0.0))  # type: ignore[arg-type]  # fmt: skip


def _jobs(
    con: duckdb.DuckDBPyConnection, scope: Scope, start: datetime, end: datetime
) -> tuple[JobGroup, ...]:
    where = _usage_filter(scope, JOBS_SCHEMA.names)
    if where is None:
        return ()
    lo, hi = _ts(start), _ts(end)
    overlap = f'epoch(least(coalesce("end", {hi}), {hi}) - greatest(start, {lo})) / 3600.0'
    sql = (
        "SELECT resource_id, coalesce(status, 'succeeded'), "
        f"SUM(coalesce(accelerator_count, 0) * {overlap})::DOUBLE, COUNT(*), "
        f"COUNT(DISTINCT d)::DOUBLE FROM (SELECT *, unnest(generate_series(date_trunc('day', greatest(start, {lo})), "
        f"date_trunc('day', least(coalesce(\"end\", {hi}), {hi}) - INTERVAL 1 SECOND), INTERVAL 1 DAY)) AS d "
        f'FROM jobs WHERE start < {hi} AND coalesce("end", {hi}) > {lo} AND resource_id IS NOT NULL '
        f"AND {where}) AS j GROUP BY 1, 2"
    )
    return tuple(
        JobGroup(str(r[0]), str(r[1]), float(r[2] or 0.0), int(r[3]), float(r[4]))
        for r in con.execute(sql).fetchall()
    )


def _llm(
    con: duckdb.DuckDBPyConnection, scope: Scope, start: datetime, end: datetime
) -> tuple[LlmGroup, ...]:
    names = [*LLM_SCHEMA.names, "provider"]
    where = _usage_filter(scope, names)
    if where is None:
        return ()
    sql = (
        "SELECT provider, model, coalesce(api_key_id, \"user\", 'unknown'), "
        "coalesce(customer, ''), coalesce(\"user\", ''), coalesce(feature, ''), "
        "SUM(coalesce(request_count, 1))::DOUBLE, SUM(coalesce(input_tokens, 0))::DOUBLE, "
        "SUM(coalesce(output_tokens, 0) + coalesce(reasoning_tokens, 0))::DOUBLE, "
        "SUM(coalesce(cached_input_tokens, 0))::DOUBLE, SUM(coalesce(cost, 0))::DOUBLE FROM llm "
        f"WHERE time >= {_ts(start)} AND time < {_ts(end)} AND {where} GROUP BY 1, 2, 3, 4, 5, 6"
    )
    return tuple(_llm_group(r) for r in con.execute(sql).fetchall())


def _llm_group(r: tuple[object, ...]) -> LlmGroup:
    provider, model, client, customer, user, feature = (str(v) for v in r[:6])
    requests, inputs, outputs, cached, cost = (float(v or 0.0) for v in r[6:11])  # type: ignore[arg-type]
    return LlmGroup(provider, model, client, requests, inputs, outputs, cached, cost,
                    customer=customer, user=user, feature=feature)  # fmt: skip


def _cost_filter(con: duckdb.DuckDBPyConnection, scope: Scope) -> str:
    if scope.dimension is None:
        return "true"
    value = lit(str(scope.value))
    if scope.dimension in COST_COLUMNS:
        return f"{COST_COLUMNS[scope.dimension]} = {value}"
    column = f"x_{scope.dimension}"
    return f"a.{q(column)} = {value}" if _has(con, "a", column) else "false"


def _usage_filter(scope: Scope, columns: list[str]) -> str | None:
    """The usage rows of the scope; None when usage cannot be narrowed to it."""
    if scope.dimension is None:
        return "true"
    value = lit(str(scope.value))
    if scope.dimension == "provider" and "provider" in columns:
        return f"lower(provider) = lower({value})"
    if scope.dimension in columns and scope.dimension not in COST_COLUMNS:
        return f"{q(scope.dimension)} = {value}"
    return None


def _has(con: duckdb.DuckDBPyConnection, view: str, column: str) -> bool:
    return column in {r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()}


def _ts(when: datetime) -> str:
    return f"TIMESTAMPTZ {lit(when.isoformat())}"
