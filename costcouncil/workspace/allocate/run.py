"""Allocate: run ``rules.yaml`` over the lake's costs and usage, check, diff, and commit.

One run covers whole billing periods. It loads the periods' cost rows, all usage and the price
catalog into an engine, runs the attribution pipeline (which proves conservation or raises),
compares the result per owner with what the lake holds for those periods (the restatement diff,
or the dry-run diff of a proposed rules file), and — unless it is a dry run — replaces the
periods' ``allocations`` and ``reconciliation`` slices in one atomic manifest commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costcouncil.attribution import SENTINELS, Rules, build_plan, parse_rules, run_plan
from costcouncil.engine.base import Engine
from costcouncil.errors import ConfigError
from costcouncil.lake import manifest as mf
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.common import inputs
from costcouncil.workspace.core import Workspace

Progress = Callable[[str, int, int], None]
RULES_FILE = "rules.yaml"


@dataclass(frozen=True)
class AllocateOptions:
    """See ``costcouncil allocate --help``."""

    periods: tuple[str, ...] = ()
    rules_path: Path | None = None
    dry_run: bool = False
    engine: str = "duckdb"
    spark_master: str = "local[2]"


@dataclass
class OwnerDelta:
    """One owner's figure in a period, before and after."""

    period: str
    owner: dict[str, str | None]
    before: Decimal
    after: Decimal

    @property
    def delta(self) -> Decimal:
        return self.after - self.before


@dataclass
class AllocationOutcome:
    """What a run found and did."""

    periods: list[str]
    engine: str
    cost_rows: int = 0
    allocation_rows: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    owned: dict[str, Decimal] = field(default_factory=dict)
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    unpriced: list[tuple[str, str]] = field(default_factory=list)
    diff: list[OwnerDelta] = field(default_factory=list)
    written: bool = False
    seconds: float = 0.0

    def coverage(self, metric: str = "EffectiveCost") -> float | None:
        """Share of the metric's cost with a real owner (None when there is no cost)."""
        total = self.totals.get(metric, Decimal(0))
        return None if total == 0 else float(self.owned.get(metric, Decimal(0)) / total)


def load_rules(workspace: Workspace, path: Path | None = None) -> Rules:
    """The workspace's ``rules.yaml`` (or ``path``), validated."""
    target = path or workspace.root / RULES_FILE
    if not target.exists():
        raise ConfigError(
            f"{target}: no rules file (costcouncil init writes a starting rules.yaml)"
        )
    return parse_rules(target.read_text(), str(target), workspace.config.tags.owner_keys)


def allocate(
    workspace: Workspace, options: AllocateOptions, progress: Progress | None = None
) -> AllocationOutcome:
    """Run the rules over the chosen periods; write unless ``options.dry_run``."""
    started = time.monotonic()
    rules = load_rules(workspace, options.rules_path)
    manifest = workspace.lake.read()
    periods = choose_periods(manifest, options.periods)
    outcome = AllocationOutcome(periods, options.engine)
    engine = inputs.open_engine(workspace, options.engine, options.spark_master)
    try:
        loaded = inputs.load(engine, workspace, manifest, periods)
        outcome.unpriced = loaded.unpriced
        plan = build_plan(rules, workspace.config.tags.aliases, loaded.cost_columns)
        run_plan(engine, plan, progress)
        _summarise(engine, rules, outcome)
        outcome.diff = _diff(workspace, manifest, engine, rules, periods)
        if not options.dry_run and periods:
            _commit(workspace, engine, periods, rules, outcome)
    finally:
        engine.close()
    outcome.seconds = time.monotonic() - started
    return outcome


def choose_periods(manifest: mf.Manifest, wanted: tuple[str, ...]) -> list[str]:
    """The requested periods ('YYYY-MM'), or every period the lake has costs for."""
    have = manifest.periods("costs")
    missing = [p for p in wanted if p not in have]
    if missing:
        known = ", ".join(have) or "none — ingest cost files first"
        raise ConfigError(
            f"no costs for period(s) {', '.join(missing)} (periods with costs: {known})"
        )
    return list(wanted) or have


def _summarise(engine: Engine, rules: Rules, outcome: AllocationOutcome) -> None:
    """Totals, the owned share and the per-rule table, from one pass over the allocations."""
    first = q("x_" + rules.require[0])
    sentinels = ", ".join(lit(s) for s in SENTINELS)
    owned = f"{first} NOT IN ({sentinels})"
    rows = engine.fetch(
        "SELECT x_rule, x_method, COUNT(*) AS rows, SUM(BilledCost) AS BilledCost, "
        f"SUM(EffectiveCost) AS EffectiveCost, SUM(CASE WHEN {owned} THEN BilledCost END) AS ob, "
        f"SUM(CASE WHEN {owned} THEN EffectiveCost END) AS oe FROM cc_allocations "
        "GROUP BY x_rule, x_method"
    ).to_pylist()
    zero = Decimal(0)
    outcome.allocation_rows = sum(int(r["rows"]) for r in rows)
    outcome.cost_rows = int(engine.fetch("SELECT COUNT(*) AS n FROM costs").to_pylist()[0]["n"])
    outcome.totals = {
        "BilledCost": sum((r["BilledCost"] or zero for r in rows), zero),
        "EffectiveCost": sum((r["EffectiveCost"] or zero for r in rows), zero),
    }
    outcome.owned = {
        "BilledCost": sum((r["ob"] or zero for r in rows), zero),
        "EffectiveCost": sum((r["oe"] or zero for r in rows), zero),
    }
    ordered = sorted(rows, key=lambda r: (r["x_rule"], r["x_method"]))
    ordered.sort(key=lambda r: r["EffectiveCost"] or zero, reverse=True)
    outcome.by_rule = [{k: v for k, v in r.items() if k not in ("ob", "oe")} for r in ordered]
    outcome.reconciliation = engine.fetch(
        "SELECT x_rule, ProviderName, model, BillingCurrency, SUM(invoiced) AS invoiced, "
        "SUM(priced) AS priced, SUM(gap) AS gap, SUM(requests) AS requests FROM cc_reconciliation "
        "GROUP BY x_rule, ProviderName, model, BillingCurrency ORDER BY x_rule, ProviderName, model"
    ).to_pylist()


def _owner_sql(rules: Rules, source: str, period_expr: str) -> str:
    keys = ", ".join(q("x_" + k) for k in rules.owner_keys)
    return (
        f"SELECT {period_expr} AS period, {keys}, SUM(EffectiveCost) AS cost FROM {source} "
        f"GROUP BY {period_expr}, {keys}"
    )


def _diff(
    workspace: Workspace, manifest: mf.Manifest, engine: Engine, rules: Rules, periods: list[str]
) -> list[OwnerDelta]:
    new_sql = _owner_sql(rules, inputs.ALLOCATED_WITH_PERIOD, "period")
    after = _totals(engine.fetch(new_sql).to_pylist(), rules)
    before = _totals(
        inputs.stored_owner_totals(workspace, manifest, periods, rules.owner_keys), rules
    )
    deltas = []
    for key in sorted(set(before) | set(after), key=str):
        b, a = before.get(key, Decimal(0)), after.get(key, Decimal(0))
        if a != b:
            owner = dict(zip(rules.owner_keys, key[1:], strict=True))
            deltas.append(OwnerDelta(str(key[0]), owner, b, a))
    return sorted(deltas, key=lambda d: -abs(d.delta))


def _totals(rows: list[dict[str, Any]], rules: Rules) -> dict[tuple[Any, ...], Decimal]:
    out: dict[tuple[Any, ...], Decimal] = {}
    for r in rows:
        key = (r["period"], *(r.get("x_" + k) for k in rules.owner_keys))
        out[key] = out.get(key, Decimal(0)) + (r["cost"] or Decimal(0))
    return out


def _commit(
    workspace: Workspace,
    engine: Engine,
    periods: list[str],
    rules: Rules,
    outcome: AllocationOutcome,
) -> None:
    lake = workspace.lake
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    with lake.writer() as tx:
        manifest = lake.read()
        old = mf.load(lake.manifest_path)
        written = inputs.write_allocations(engine, periods, tx.staging)
        for period in periods:
            for dataset, sql in inputs.period_outputs(period):
                relative = f"{dataset}/period={period}/{run_id}.parquet"
                if dataset == "allocations":
                    staged, rows = written[period]
                    rollups.place_period(workspace, tx, manifest, period, run_id, staged)
                else:
                    staged = tx.staging / f"{dataset}-{period}.parquet"
                    rows = inputs.write_parquet(engine, sql, staged)
                tx.place(staged, relative)
                manifest.slices[f"{dataset}/{period}"] = _slice(
                    dataset, period, run_id, relative, rows
                )
        rollups.place_usage(workspace, tx, manifest, run_id)
        manifest.runs.append(_run_record(run_id, periods, rules, outcome))
        tx.commit(manifest, old)
    outcome.written = True


def _slice(dataset: str, period: str, run_id: str, relative: str, rows: int) -> mf.Slice:
    now = datetime.now(UTC).isoformat()
    return mf.Slice(
        f"{dataset}/{period}", dataset, "", "", period, now, [run_id], [relative], rows, {}, "", ""
    )


def _run_record(
    run_id: str, periods: list[str], rules: Rules, outcome: AllocationOutcome
) -> dict[str, Any]:
    return {
        "run": run_id,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "periods": periods,
        "rules": rules.path,
        "engine": outcome.engine,
        "rows": outcome.allocation_rows,
        "coverage": outcome.coverage(),
        "restated": [
            {"period": d.period, "owner": d.owner, "before": str(d.before), "after": str(d.after)}
            for d in outcome.diff[:100]
        ],
        "restated_owners": len(outcome.diff),
    }
