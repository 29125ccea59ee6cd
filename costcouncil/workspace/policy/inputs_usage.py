"""The ``jobs`` and ``llm`` input tables, from the lake's usage (each job or request once).

``jobs``: every job that started by the end of ``as_of``, with its own owner columns, the
resource's instance type (else the job's ``attributes.instance_type``), its own accelerator type
(else the resource's) and ``cost`` — what the allocation gave its run on its resource (usage
split shares of that ``run`` and resource) when it is the only job of the run there; NULL when
the run has other jobs there, the job has no run, or the workspace has no ``run`` owner key.

``llm``: per day of the window, team, project, feature, model and environment: requests
(``request_count``, 1 when null), input and output tokens, and ``cost``. Where the allocation
holds LLM cost for the day and model (shares of an ``llm`` usage split), ``cost`` is that
allocated cost (invoices win); otherwise it is the usage's priced cost: the cost the row itself
carried, else its tokens at the catalog's prices (``prices.yaml`` overrides applied; unpriced: 0).
"""

from __future__ import annotations

import pyarrow as pa

from costcouncil.attribution.rules import UsageSplitRule
from costcouncil.attribution.splits import TOKEN_COLUMNS, priced_llm_sql
from costcouncil.catalog import build_price_table
from costcouncil.policy import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.schema.sql import lit
from costcouncil.workspace.common.inputs import load_overrides
from costcouncil.workspace.policy.inputs_lake import Lake

LLM_KEYS = ("team", "project", "feature", "model", "environment")
_SAME = " AND ".join(f"a.{k} IS NOT DISTINCT FROM u.{k}" for k in ("day", *LLM_KEYS))


def jobs_table(lake: Lake) -> pa.Table:
    """The ``jobs`` table (module docstring), exactly typed."""
    sql = (
        "SELECT j.job_id, j.resource_id, coalesce(i.instance_type, "
        "CASE WHEN json_valid(j.attributes) THEN json_extract_string(j.attributes, "
        "'$.instance_type') END) AS instance_type, "
        "coalesce(NULLIF(TRIM(j.accelerator_type), ''), i.accelerator_type) AS accelerator_type, "
        'j.team, j.project, j.environment, j.accelerator_count, j.start, j."end", c.cost '
        "FROM jobs AS j LEFT JOIN cc_res AS i ON i.resource_id = j.resource_id "
        f"LEFT JOIN ({_run_cost_sql(lake)}) AS c ON c.resource = j.resource_id AND c.run = j.run "
        f"WHERE j.start < {lake.end} ORDER BY j.start, j.job_id"
    )
    return lake.arrow(sql).select(JOBS_SCHEMA.names).cast(JOBS_SCHEMA)


def _run_cost_sql(lake: Lake) -> str:
    """Per (resource, run) with exactly one job: the usage split cost allocated to the run."""
    if "run" not in lake.keys:
        return "SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS run, " \
               "CAST(NULL AS DECIMAL(38, 12)) AS cost WHERE false"  # fmt: skip
    alone = (
        "SELECT resource_id, run FROM jobs WHERE run IS NOT NULL AND resource_id IS NOT NULL "
        "GROUP BY 1, 2 HAVING count(*) = 1"
    )
    return (
        "SELECT r.resource, r.run, SUM(r.EffectiveCost) AS cost FROM res AS r "
        f"JOIN ({alone}) AS a ON a.resource_id = r.resource AND a.run = r.run "
        "WHERE r.method LIKE 'usage_split:%' GROUP BY 1, 2"
    )


def llm_table(lake: Lake) -> pa.Table:
    """The ``llm`` table (module docstring), exactly typed."""
    _prices(lake)
    keys = ", ".join(LLM_KEYS)
    picked = ", ".join(f"coalesce(u.{k}, a.{k}) AS {k}" for k in ("day", *LLM_KEYS))
    sql = (
        f"WITH u AS ({_usage_sql(lake)}), a AS ({_allocated_sql(lake)}), "
        "k AS (SELECT DISTINCT day, model FROM a) "
        f"SELECT {picked}, coalesce(u.requests, 0) AS requests, "
        "coalesce(u.input_tokens, 0) AS input_tokens, "
        "coalesce(u.output_tokens, 0) AS output_tokens, "
        "CASE WHEN EXISTS (SELECT 1 FROM k WHERE k.day = coalesce(u.day, a.day) "
        "AND k.model IS NOT DISTINCT FROM coalesce(u.model, a.model)) "
        "THEN coalesce(a.cost, 0) ELSE coalesce(u.priced, 0) END AS cost "
        f"FROM u FULL JOIN a ON {_SAME} ORDER BY day, {keys}"
    )
    return lake.arrow(sql).select(LLM_SCHEMA.names).cast(LLM_SCHEMA)


def _prices(lake: Lake) -> None:
    """``prices``: the catalog's rows for the usage's models (what attribution prices with)."""
    pairs = lake.con.execute("SELECT DISTINCT provider, model FROM llm ORDER BY 1, 2").fetchall()
    table = build_price_table([(str(p), str(m)) for p, m in pairs], load_overrides(lake.workspace))
    lake.con.register("prices", table.table)


def _usage_sql(lake: Lake) -> str:
    first = f"CAST({lit(lake.first.isoformat())} AS TIMESTAMPTZ)"
    catalog = " + ".join(f"coalesce(m_{k}, 0)" for k in TOKEN_COLUMNS)
    priced = f"coalesce(cost, CAST(({catalog}) / 1000000 AS DECIMAL(38, 12)))"
    return (
        f"SELECT CAST(time AS DATE) AS day, {', '.join(LLM_KEYS)}, "
        "SUM(coalesce(request_count, 1)) AS requests, "
        "SUM(coalesce(input_tokens, 0)) AS input_tokens, "
        f"SUM(coalesce(output_tokens, 0)) AS output_tokens, SUM({priced}) AS priced "
        f"FROM ({priced_llm_sql()}) AS p WHERE time >= {first} AND time < {lake.end} GROUP BY ALL"
    )


def _allocated_sql(lake: Lake) -> str:
    """Allocated cost of LLM usage split shares per day and key, in the window."""
    names = [
        lit(r.name)
        for r in (lake.rules.rules if lake.rules else [])
        if isinstance(r, UsageSplitRule) and r.usage == "llm"
    ]
    split = f"rule IN ({', '.join(names)}) OR " if names else ""
    owners = ", ".join(f"{lake.owner(k)} AS {k}" for k in LLM_KEYS)
    return (
        f"SELECT day, {owners}, SUM(EffectiveCost) AS cost FROM res "
        f"WHERE ({split}method LIKE 'usage_split:token%') AND method LIKE 'usage_split:%' "
        f"AND day >= CAST({lit(lake.first.isoformat())} AS DATE) GROUP BY ALL"
    )
