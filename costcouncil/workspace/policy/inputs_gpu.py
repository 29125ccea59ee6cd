"""The ``gpu`` input table: per day and GPU node, capacity and busy GPU-hours, cost and owner.

A **GPU node** is a resource whose cost the allocation split over jobs by GPU-seconds or kept as
idle (methods ``usage_split:gpu…`` and ``idle…``, as on the GPU page). Per node and UTC day, up
to ``as_of``:

- ``capacity_hours``: Σ over its distinct ``Usage`` charge periods of GPUs × the hours of the
  period inside the day. GPUs are the ``capacity`` of the usage split rule that claimed it (a
  number, or a reference such as ``SkuPriceDetails.x_AcceleratorCount`` read from each cost row),
  else the GPU count in ``SkuPriceDetails``; NULL when neither says (the engine skips the node).
- ``busy_hours``: Σ over the jobs on it of GPUs × the hours they ran inside the span it was
  billed that day (a running job runs to the end of ``as_of``), at most ``capacity_hours``.
- ``cost``: its allocated cost that day (used and idle); ``team``, ``project``,
  ``environment``: its direct owner as the attribution's tag and resource rules give it for its
  latest cost row (for a shared node, the platform team that owns it; NULL when none).
"""

from __future__ import annotations

import pyarrow as pa

from costcouncil.attribution.owners import files_sql, rows_sql, tagmap_sql
from costcouncil.attribution.refs import Scope
from costcouncil.attribution.rules import Rules, UsageSplitRule
from costcouncil.policy import GPU_SCHEMA
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.allocate.run import RULES_FILE
from costcouncil.workspace.policy.inputs_lake import Lake

GPU_METHODS = "(method LIKE 'usage_split:gpu%' OR method LIKE 'idle%')"
OWNER_KEYS = ("team", "project", "environment")
_DAY = "INTERVAL 1 DAY"
_TICK = "INTERVAL 1 MICROSECOND"


def gpu_table(lake: Lake) -> pa.Table:
    """The ``gpu`` table (module docstring), exactly typed."""
    if not lake.allocated:
        return GPU_SCHEMA.empty_table()
    con = lake.con
    con.execute(
        "CREATE TEMP TABLE cc_nodes AS SELECT resource, min(rule) AS rule FROM res "
        f"WHERE resource IS NOT NULL AND {GPU_METHODS} GROUP BY 1"
    )
    columns = [r[0] for r in con.execute("DESCRIBE costs").fetchall()]
    con.execute(f"CREATE TEMP TABLE cc_spans AS {_spans_sql(lake, columns)}")
    con.execute(f"CREATE TEMP TABLE cc_node_days AS {_node_days_sql(lake)}")
    _owners(lake, columns)
    return lake.arrow(_table_sql(lake)).select(GPU_SCHEMA.names).cast(GPU_SCHEMA)


def _capacity_sql(rules: Rules | None, columns: list[str]) -> str:
    """SQL of a node cost row's GPUs: its split rule's ``capacity``, else SkuPriceDetails'."""
    whens = []
    for rule in rules.rules if rules else []:
        if not isinstance(rule, UsageSplitRule) or rule.capacity is None:
            continue
        if rule.usage != "jobs" or rule.weight_kind != "gpu_seconds":
            continue
        if isinstance(rule.capacity, str):
            ref = Scope("c", columns, "the cost data").sql(
                rule.capacity, f"{RULES_FILE}: {rule.name}.capacity"
            )
            value = f"TRY_CAST({ref} AS DOUBLE)"
        else:
            value = f"CAST({float(rule.capacity)!r} AS DOUBLE)"
        whens.append(f"WHEN n.rule = {lit(rule.name)} THEN {value}")
    by_rule = f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS DOUBLE)"
    return f"coalesce({by_rule}, i.gpus)"


def _spans_sql(lake: Lake, columns: list[str]) -> str:
    """Each node's distinct usage charge periods up to ``as_of`` and its GPUs in them."""
    return (
        "SELECT c.ResourceId AS resource_id, c.ChargePeriodStart AS s, c.ChargePeriodEnd AS e, "
        f"max({_capacity_sql(lake.rules, columns)}) AS gpus FROM costs AS c "
        "JOIN cc_nodes AS n ON n.resource = c.ResourceId "
        "LEFT JOIN cc_res AS i ON i.resource_id = c.ResourceId "
        f"WHERE c.ChargeCategory = 'Usage' AND c.ChargePeriodStart < {lake.end} "
        "AND c.ChargePeriodEnd > c.ChargePeriodStart GROUP BY 1, 2, 3"
    )


def _node_days_sql(lake: Lake) -> str:
    """Per node and day: capacity GPU-hours and the span it was billed (``lo`` to ``hi``)."""
    days = (
        f"SELECT *, unnest(generate_series(date_trunc('day', s), date_trunc('day', e - {_TICK}), "
        f"{_DAY})) AS d FROM cc_spans"
    )
    return (
        "SELECT resource_id, CAST(d AS DATE) AS day, "
        f"SUM(gpus * epoch(least(e, d + {_DAY}) - greatest(s, d)) / 3600.0) AS capacity_hours, "
        f"min(greatest(s, d)) AS lo, max(least(e, d + {_DAY})) AS hi FROM ({days}) AS x "
        f"WHERE d < {lake.end} GROUP BY 1, 2"
    )


def _busy_sql(lake: Lake) -> str:
    """Per node and day: GPU-hours of the jobs on it inside its billed span."""
    until = f'least(coalesce("end", {lake.end}), {lake.end})'
    jobs = (
        f"SELECT resource_id, start, {until} AS e, accelerator_count, "
        f"unnest(generate_series(date_trunc('day', start), date_trunc('day', {until} - {_TICK}), "
        f"{_DAY})) AS d FROM jobs WHERE start < {lake.end} "
        "AND resource_id IN (SELECT resource FROM cc_nodes)"
    )
    return (
        "SELECT n.resource_id, n.day, SUM(coalesce(j.accelerator_count, 0) * "
        "epoch(least(j.e, n.hi) - greatest(j.start, n.lo)) / 3600.0) AS busy "
        f"FROM cc_node_days AS n JOIN ({jobs}) AS j ON j.resource_id = n.resource_id "
        "AND CAST(j.d AS DATE) = n.day AND j.start < n.hi AND j.e > n.lo GROUP BY 1, 2"
    )


def _owners(lake: Lake, columns: list[str]) -> None:
    """``cc_owners``: each node's direct owner (``team``, ``project``, ``environment``) as the
    attribution's owner rules give it for its latest cost row up to ``as_of``."""
    con, rules = lake.con, lake.rules
    nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS {k}" for k in OWNER_KEYS)
    if rules is None:
        con.execute(f"CREATE TEMP TABLE cc_owners AS SELECT resource AS resource_id, {nulls} "
                    "FROM cc_nodes")  # fmt: skip
        return
    con.execute("CREATE SCHEMA cc_gpu")
    con.execute(
        "CREATE VIEW cc_gpu.costs AS SELECT * FROM main.costs "
        f"WHERE ResourceId IN (SELECT resource FROM cc_nodes) AND ChargePeriodStart < {lake.end}"
    )
    aliases = lake.workspace.config.tags.aliases
    con.execute("SET search_path = 'cc_gpu,main'")  # the attribution's SQL reads ``costs``
    try:
        con.execute(f"CREATE TABLE cc_gpu.cc_files AS {files_sql()}")
        con.execute(f"CREATE TABLE cc_gpu.cc_tagmap AS {tagmap_sql(rules, aliases)}")
        rows = rows_sql(rules, aliases, columns, "Tags" in columns)
        con.execute(f"CREATE TEMP TABLE cc_owners AS {_latest_owner_sql(rules, rows)}")
    finally:
        con.execute("SET search_path = 'main'")


def _latest_owner_sql(rules: Rules, rows: str) -> str:
    owned = " AND ".join(f"o.{q('o_' + k)} IS NOT NULL" for k in rules.require)
    picks = {
        k: f"CASE WHEN {owned} THEN o.{q('o_' + k)} END" if k in rules.owner_keys else "NULL"
        for k in OWNER_KEYS
    }
    packed = ", ".join(f"{k} := {sql}" for k, sql in picks.items())
    latest = f"arg_max(struct_pack({packed}), c.ChargePeriodStart)"
    fields = ", ".join(f"struct_extract(picked, {lit(k)}) AS {k}" for k in OWNER_KEYS)
    return (
        f"SELECT resource_id, {fields} FROM (SELECT c.ResourceId AS "
        f"resource_id, {latest} AS picked FROM ({rows}) AS o JOIN costs AS c "
        "ON c.x_source_file = o.x_source_file AND c.x_source_row = o.x_source_row "
        "GROUP BY 1) AS x"
    )


def _table_sql(lake: Lake) -> str:
    cost = (
        "SELECT resource AS resource_id, day, SUM(EffectiveCost) AS cost FROM res "
        "WHERE resource IN (SELECT resource FROM cc_nodes) GROUP BY 1, 2"
    )
    capacity = "CASE WHEN k.resource_id IS NULL THEN 0.0 ELSE k.capacity_hours END"
    busy = "coalesce(b.busy, 0.0)"
    return (
        "SELECT day, resource_id, i.instance_type, o.team, o.project, o.environment, "
        f"{capacity} AS capacity_hours, "
        f"CASE WHEN {capacity} IS NULL THEN {busy} ELSE least({busy}, {capacity}) END "
        "AS busy_hours, coalesce(c.cost, 0) AS cost "
        f"FROM cc_node_days AS k FULL JOIN ({cost}) AS c USING (resource_id, day) "
        f"LEFT JOIN ({_busy_sql(lake)}) AS b USING (resource_id, day) "
        "LEFT JOIN cc_owners AS o USING (resource_id) "
        "LEFT JOIN cc_res AS i USING (resource_id) ORDER BY day, resource_id"
    )
