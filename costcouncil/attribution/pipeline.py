"""The attribution pipeline: the ordered SQL stages, run on any :class:`Engine`, then checked.

Inputs are views the caller loaded into the engine: ``costs`` (lake rows), ``jobs``, ``llm``
(usage schemas) and ``prices`` (the catalog). Outputs are views: ``cc_output`` (one row per share,
amounts exact, with its cost row's period columns: what a run writes), ``cc_allocations`` (the
same without them) and ``cc_reconciliation`` (LLM invoices vs priced requests).

Only the rows a split or pool claims (``cc_claimed``) are materialised and apportioned; rows a
tag or resource rule owns outright (one share, weight 1, amounts copied) stream from ``costs``
straight into the output (``cc_direct``), conserved by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from costcouncil.attribution.apportion import (
    PERIOD,
    allocation_columns,
    apportion_stages,
    conservation_sql,
)
from costcouncil.attribution.owners import ID, KEY, METRICS, files_sql, rows_sql, tagmap_sql
from costcouncil.attribution.parts import bind_sql
from costcouncil.attribution.pools import owners_sql, pool_shares_sql
from costcouncil.attribution.rules import Rules, SharedPoolRule, TagRule, UsageSplitRule
from costcouncil.attribution.splits import (
    D0,
    idle_sql,
    jobs_shares_sql,
    llm_final_sql,
    llm_requests_sql,
    llm_shares_sql,
    priced_llm_sql,
)
from costcouncil.attribution.stage import Stage

if TYPE_CHECKING:
    from costcouncil.engine.base import Engine
from costcouncil.errors import AttributionError
from costcouncil.schema.sql import lit, q

Progress = Callable[[str, int, int], None]


#: The apportioned allocation views whose parts the conservation check reads.
APPORTIONED = ("cc_alloc_split", "cc_alloc_pool")


#: The check of a run apportioned in one part: every claimed row, split and pool.
CONSERVATION_SQL = conservation_sql([(f"{v}_m", f"{v}_amounts") for v in APPORTIONED])


@dataclass
class Plan:
    """The stages in order, and what the run produces."""

    stages: list[Stage] = field(default_factory=list)
    llm_splits: list[tuple[UsageSplitRule, str]] = field(default_factory=list)
    #: The conservation check run after the last stage (parts checked on the way are not in it).
    conservation: str = CONSERVATION_SQL

    def add(self, view: str, sql: str, materialize: bool = False, streamed: bool = False) -> str:
        self.stages.append(Stage(view, sql, materialize, streamed))
        return view

    def apportion(
        self, owner_keys: list[str], shares: str, view: str, parts: int = 1, claimed: str = "TRUE"
    ) -> str:
        self.stages += apportion_stages(owner_keys, shares, view, parts=parts, claimed=claimed)
        return view


def build_plan(
    rules: Rules, aliases: dict[str, list[str]], cost_columns: list[str], split_parts: int = 1
) -> Plan:
    """Every stage's SQL (DuckDB dialect) for these rules over costs with ``cost_columns``.

    ``split_parts`` > 1 runs each jobs split's join in that many parts by time and apportions the
    split rows in that many ranges of row ids (each part materialised on its own, so each join and
    window holds a part of the rows): the same allocations, in bounded memory.
    """
    plan = Plan()
    has_tags = "Tags" in cost_columns and any(isinstance(r, TagRule) for r in rules.rules)
    plan.add("cc_files", files_sql(), materialize=True)
    if has_tags:
        plan.add("cc_tagmap", tagmap_sql(rules, aliases), materialize=True)
    plan.add("cc_rows", rows_sql(rules, aliases, cost_columns, has_tags), streamed=True)
    plan.add("cc_claimed", "SELECT * FROM cc_rows WHERE split_rule IS NOT NULL", materialize=True)
    plan.add("cc_direct", _direct_sql(rules))
    split_views = _splits(plan, rules, cost_columns, max(1, split_parts))
    # read once by the apportioning, or once per part (then materialised: narrow, and the idle
    # shares behind it are not recomputed by every part)
    parts = max(1, split_parts)
    plan.add("cc_shares_a", _union(split_views, rules), materialize=parts > 1, streamed=parts == 1)
    names = [lit(r.name) for r in rules.rules if isinstance(r, UsageSplitRule)]
    split_rows = f"split_rule IN ({', '.join(names)})" if names else "FALSE"
    plan.apportion(rules.owner_keys, "cc_shares_a", "cc_alloc_split", parts, split_rows)
    out = _output_columns(rules)
    plan.add("cc_alloc_a", _union_all(["cc_direct", "cc_alloc_split"], out))
    pool_views = _pools(plan, rules)
    plan.add("cc_shares_b", _union(pool_views, rules), streamed=True)
    plan.apportion(rules.owner_keys, "cc_shares_b", "cc_alloc_pool")
    plan.add("cc_output", _union_all(["cc_direct", "cc_alloc_split", "cc_alloc_pool"], out))
    columns = ", ".join(allocation_columns(rules.owner_keys))
    plan.add("cc_allocations", f"SELECT {columns} FROM cc_output")
    plan.add("cc_reconciliation", _reconciliation(plan, rules), materialize=True)
    if parts > 1:  # the split rows were checked part by part
        pool = ("cc_alloc_pool_m", "cc_alloc_pool_amounts")
        plan.conservation = conservation_sql([pool], where=f"NOT ({split_rows})")
    return plan


def _output_columns(rules: Rules) -> list[str]:
    return [*allocation_columns(rules.owner_keys), *PERIOD]


def _direct_sql(rules: Rules) -> str:
    owned = " AND ".join(f"{q('o_' + k)} IS NOT NULL" for k in rules.require)
    keys = [
        f"CASE WHEN {owned} THEN {q('o_' + k)} ELSE '__unallocated__' END AS {q('x_' + k)}"
        for k in rules.owner_keys
    ]
    parts = [*KEY, *keys]
    parts += [f"CASE WHEN {owned} THEN o_rule ELSE 'unallocated' END AS x_rule"]
    parts += [f"CASE WHEN {owned} THEN o_method ELSE 'unallocated' END AS x_method"]
    parts += ["CAST(1 AS DOUBLE) AS x_weight", f"CAST(1 AS {D0}) AS x_usage_weight"]
    parts += ["CAST(0 AS BIGINT) AS x_usage_count", *METRICS, *PERIOD]
    return f"SELECT {', '.join(parts)} FROM cc_rows WHERE split_rule IS NULL"


def _splits(plan: Plan, rules: Rules, cost_columns: list[str], parts: int) -> list[str]:
    views: list[str] = []
    llm = [r for r in rules.rules if isinstance(r, UsageSplitRule) and r.usage == "llm"]
    if llm:
        plan.add("llm_priced", priced_llm_sql(), materialize=True)
    for i, rule in enumerate(rules.rules):
        if not isinstance(rule, UsageSplitRule):
            continue
        where = f"{rules.path}: rules[{i}] ({rule.name})"
        view = f"cc_split_{i}"
        if rule.usage == "jobs" and parts > 1:
            pieces = [
                plan.add(
                    f"{view}_p{k}",
                    jobs_shares_sql(rules, rule, cost_columns, where, (k, parts)),
                    materialize=True,
                )
                for k in range(parts)
            ]
            plan.add(view, " UNION ALL ".join(f"SELECT * FROM {p}" for p in pieces), streamed=True)
        elif rule.usage == "jobs":
            plan.add(view, jobs_shares_sql(rules, rule, cost_columns, where), materialize=True)
        else:
            plan.add(
                view + "_raw", llm_shares_sql(rules, rule, cost_columns, where), materialize=True
            )
            plan.add(view, llm_final_sql(rules, rule, view + "_raw"))
            plan.add(view + "_req", llm_requests_sql(rules, rule, cost_columns, where))
            plan.llm_splits.append((rule, view + "_raw"))
        plan.add(view + "_idle", idle_sql(rules, rule, view, cost_columns, where))
        views += [view, view + "_idle"]
    return views


def _pools(plan: Plan, rules: Rules) -> list[str]:
    views: list[str] = []
    for i, rule in enumerate(rules.rules):
        if isinstance(rule, SharedPoolRule):
            owners = plan.add(f"cc_pool_{i}_owners", owners_sql(rules, rule), materialize=True)
            views.append(plan.add(f"cc_pool_{i}", pool_shares_sql(rules, rule, owners)))
    return views


def _share_columns(rules: Rules) -> list[str]:
    return [
        ID,
        *(q("x_" + k) for k in rules.owner_keys),
        "x_rule",
        "x_method",
        "w",
        "x_usage_count",
    ]


def _union(views: list[str], rules: Rules) -> str:
    cols = ", ".join(_share_columns(rules))
    if not views:
        empty = [
            ID,
            *(f"CAST(NULL AS VARCHAR) AS {q('x_' + k)}" for k in rules.owner_keys),
            "CAST(NULL AS VARCHAR) AS x_rule",
            "CAST(NULL AS VARCHAR) AS x_method",
            f"CAST(NULL AS {D0}) AS w",
            "CAST(NULL AS BIGINT) AS x_usage_count",
        ]
        return f"SELECT {', '.join(empty)} FROM cc_claimed WHERE FALSE"
    return " UNION ALL ".join(f"SELECT {cols} FROM {v}" for v in views)


def _union_all(views: list[str], columns: list[str]) -> str:
    cols = ", ".join(columns)
    return " UNION ALL ".join(f"SELECT {cols} FROM {v}" for v in views)


def _reconciliation(plan: Plan, rules: Rules) -> str:
    parts = [_recon_one(rules, rule, raw) for rule, raw in plan.llm_splits]
    if not parts:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS x_rule, CAST(NULL AS VARCHAR) AS ProviderName, "
            "CAST(NULL AS VARCHAR) AS model, CAST(NULL AS DATE) AS day, "
            "CAST(NULL AS VARCHAR) AS BillingCurrency, CAST(NULL AS DECIMAL(38,12)) AS invoiced, "
            "CAST(NULL AS DECIMAL(38,12)) AS priced, CAST(NULL AS DECIMAL(38,12)) AS gap, "
            "CAST(NULL AS BIGINT) AS requests FROM cc_claimed WHERE FALSE"
        )
    return " UNION ALL ".join(parts)


def _recon_one(rules: Rules, rule: UsageSplitRule, raw: str) -> str:
    owners = [q("x_" + k) for k in rules.owner_keys]
    same = " AND ".join(
        [f"s.{ID} = a.{ID}", *(f"s.{o} IS NOT DISTINCT FROM a.{o}" for o in owners)]
    )
    model = "a.x_model" if "model" in rules.owner_keys else "CAST(NULL AS VARCHAR)"
    usage = "a.x_method LIKE 'usage_split%'"
    priced = "CAST(s.micro * CAST('0.000001' AS DECIMAL(38,12)) AS DECIMAL(38,12))"
    inner = (
        f"SELECT a.x_rule, r.ProviderName, CASE WHEN {usage} THEN {model} END AS model, "
        f"CAST(r.ChargePeriodStart AS DATE) AS day, r.BillingCurrency, a.BilledCost, "
        f"CASE WHEN {usage} THEN {priced} END AS priced, s.unpriced "
        f"FROM cc_alloc_split AS a JOIN cc_claimed AS r ON r.{ID} = a.{ID} "
        f"LEFT JOIN {raw} AS s ON {same} "
        f"WHERE a.x_rule = {lit(rule.name)}"
    )
    priced_sum = (
        "CASE WHEN MAX(COALESCE(unpriced, 0)) = 1 THEN NULL "
        "ELSE COALESCE(SUM(priced), CAST(0 AS DECIMAL(38,12))) END"
    )
    grouped = (
        f"SELECT x_rule, ProviderName, model, day, BillingCurrency, SUM(BilledCost) AS invoiced, "
        f"{priced_sum} AS priced FROM ({inner}) AS t GROUP BY x_rule, ProviderName, model, day, BillingCurrency"
    )
    same = " AND ".join(
        f"n.{c} IS NOT DISTINCT FROM g.{c}"
        for c in ("ProviderName", "model", "day", "BillingCurrency")
    )
    return (
        "SELECT g.x_rule, g.ProviderName, g.model, g.day, g.BillingCurrency, g.invoiced, g.priced, "
        "g.invoiced - g.priced AS gap, CAST(COALESCE(n.requests, 0) AS BIGINT) AS requests "
        f"FROM ({grouped}) AS g LEFT JOIN {raw[:-4]}_req AS n ON {same}"
    )


#: What a run reads after the plan: the outputs, and what the conservation check reads.
OUTPUTS = (
    "cc_output",
    "cc_allocations",
    "cc_reconciliation",
    "cc_claimed",
    *(f"{v}_{part}" for v in APPORTIONED for part in ("m", "amounts")),
)

#: Cost rows seen more than once, grouped on the integer row id (``cc_files`` must exist).
DUPLICATES_SQL = """
SELECT f.x_source_file, d.x_source_row, d.n FROM (
  SELECT f.fx, c.x_source_row, COUNT(*) AS n FROM costs AS c
  JOIN cc_files AS f ON f.x_source_file = c.x_source_file
  GROUP BY f.fx, c.x_source_row HAVING COUNT(*) > 1
) AS d JOIN cc_files AS f ON f.fx = d.fx ORDER BY 1, 2 LIMIT 5
"""


def run_plan(
    engine: Engine, plan: Plan, progress: Progress | None = None, spool: Path | None = None
) -> None:
    """Create every stage's view in order (refusing cost rows seen twice once ``cc_files`` is
    there, running each check stage where it stands), then prove conservation (or raise).

    A materialised stage nothing later reads (no later stage, output or the check, directly or
    through views) is dropped as soon as its last reader is built, so the working set holds only
    what is still to be read. Spooled stages are written to Parquet files in ``spool`` (an empty
    folder the caller removes after the run) and read back from there; without ``spool`` they
    are materialised.
    """
    total = len(plan.stages) + 1
    drops = _drops_after(plan, engine.name)
    bound: dict[str, str] = {}
    for i, stage in enumerate(plan.stages):
        if progress:
            progress(stage.view, i, total)
        sql = bind_sql(stage.sql, bound)
        if stage.bind is not None:
            bound.update(stage.bind(engine, sql))
        elif stage.check:
            check_conservation(engine, sql)
        elif stage.compute is not None:
            engine.load_arrow(stage.view, stage.compute(engine, sql))
        elif stage.spooled and spool is not None:
            engine.spool(stage.view, sql, spool / f"{stage.view}.parquet")
        else:
            engine.create(stage.view, sql, materialize=_materialized(stage, engine.name))
        if stage.view == "cc_files":
            _no_duplicates(engine)
        for view in drops.get(i, []):
            engine.drop(view)
    if progress:
        progress("conservation check", total - 1, total)
    check_conservation(engine, plan.conservation)


def _materialized(stage: Stage, engine: str) -> bool:
    return (
        stage.compute is not None
        or stage.materialize
        or stage.spooled
        or (stage.streamed and engine != "duckdb")
    )


def _drops_after(plan: Plan, engine: str) -> dict[int, list[str]]:
    """Stage index → the materialised stages whose last reader that stage is."""
    names = sorted((s.view for s in plan.stages), key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")
    by_view = {s.view: s for s in plan.stages}
    reads = {s.view: set(pattern.findall(s.sql)) - {s.view} for s in plan.stages}

    def tables(view: str, seen: set[str]) -> set[str]:
        """The materialised stages ``view`` reads when it is evaluated (itself if it is one)."""
        if view in seen:
            return set()
        seen.add(view)
        if _materialized(by_view[view], engine):
            return {view}
        return set().union(*(tables(r, seen) for r in reads[view]))

    kept = set().union(*(tables(v, set()) for v in OUTPUTS if v in by_view))
    last: dict[str, int] = {}
    for i, stage in enumerate(plan.stages):
        for view in reads[stage.view]:
            for table in tables(view, set()):
                last[table] = i
    drops: dict[int, list[str]] = {}
    for table, i in last.items():
        if table not in kept:
            drops.setdefault(i, []).append(table)
    return drops


def release_plan(engine: Engine, plan: Plan) -> None:
    """Drop every stage's view, last first, freeing what the materialised ones hold."""
    for stage in reversed(plan.stages):
        engine.drop(stage.view)


def _no_duplicates(engine: Engine) -> None:
    dupes = engine.fetch(DUPLICATES_SQL).to_pylist()
    if dupes:
        where = ", ".join(
            f"{d['x_source_file']} row {d['x_source_row']} ({d['n']}×)" for d in dupes
        )
        raise AttributionError(f"cost rows are not unique by source file and row: {where}")


def check_conservation(engine: Engine, sql: str = CONSERVATION_SQL) -> None:
    """Raise :class:`AttributionError` naming the first rows whose allocations do not sum to them
    (the rows of :func:`conservation_sql`; by default every claimed row of a one-part run)."""
    broken = engine.fetch(sql).to_pylist()
    if broken:
        rows = ", ".join(f"{b['x_source_file']} row {b['x_source_row']}" for b in broken)
        raise AttributionError(f"cost not conserved (nothing was written): {rows}")
