"""Allocate: run ``rules.yaml`` over the lake's costs and usage, check, diff, and commit.

One run covers whole billing periods, attributed a group of periods at a time (at most
``allocate_chunk_rows`` cost rows, or one larger period): it loads the group's cost rows, all usage
and the price catalog into an engine, runs the attribution pipeline (which proves conservation or
raises) and writes the group's allocations and reconciliation to a scratch folder before the next
group. Then it compares the result per owner with what the lake holds for those periods (the
restatement diff, or the dry-run diff of a proposed rules file) and — unless it is a dry run —
replaces the periods' ``allocations`` and ``reconciliation`` slices in one atomic manifest commit.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costcouncil.attribution import (
    SENTINELS,
    Rules,
    build_plan,
    parse_rules,
    release_plan,
    run_plan,
)
from costcouncil.engine.duckdb import connect
from costcouncil.errors import ConfigError
from costcouncil.lake import manifest as mf
from costcouncil.schema.sql import lit, q
from costcouncil.settings import get_settings
from costcouncil.workspace.allocate import before_first, rollups
from costcouncil.workspace.common import inputs
from costcouncil.workspace.common.query import records
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
    before_first_price: list[before_first.EarlyPriced] = field(default_factory=list)
    """Requests priced before their model's first known price, per (provider, model)."""
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
    scratch = inputs.scratch_folder(workspace)
    try:
        staged = _attribute(workspace, manifest, rules, options, outcome, scratch, progress)
        _summarise(staged, rules, outcome)
        outcome.diff = _diff(workspace, manifest, staged, rules, periods)
        if not options.dry_run and periods:
            _commit(workspace, periods, staged, rules, outcome)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.seconds = time.monotonic() - started
    return outcome


def _attribute(
    workspace: Workspace,
    manifest: mf.Manifest,
    rules: Rules,
    options: AllocateOptions,
    outcome: AllocationOutcome,
    scratch: Path,
    progress: Progress | None,
) -> dict[str, inputs.Outputs]:
    """Attribute the periods a group at a time (:func:`inputs.period_chunks`), each group's
    allocations and reconciliation written to ``scratch`` before the next group is loaded (a
    group run in parts spools each part's allocation rows to ``scratch/spool-<group>`` first)."""
    rows = {p: manifest_rows(manifest, p) for p in outcome.periods}
    staged: dict[str, inputs.Outputs] = {}
    engine = inputs.open_engine(workspace, options.engine, options.spark_master)
    try:
        limit = get_settings().allocate_chunk_rows
        chunks = inputs.period_chunks(rows, limit)
        for k, chunk in enumerate(chunks):
            loaded = inputs.load(engine, workspace, manifest, chunk)
            outcome.unpriced = loaded.unpriced
            early = before_first.early_priced(engine, chunk)
            outcome.before_first_price = before_first.combine([*outcome.before_first_price, *early])
            outcome.cost_rows += int(engine.scalar("SELECT COUNT(*) AS n FROM costs") or 0)
            parts = inputs.split_parts(sum(rows[p] for p in chunk), limit)
            plan = build_plan(rules, workspace.config.tags.aliases, loaded.cost_columns, parts)
            spool = scratch / f"spool-{k}"
            spool.mkdir()
            run_plan(engine, plan, _chunked(progress, chunk, k, len(chunks)), spool)
            staged.update(inputs.write_outputs(engine, chunk, scratch))
            release_plan(engine, plan)
            shutil.rmtree(spool, ignore_errors=True)
    finally:
        engine.close()
    return staged


def manifest_rows(manifest: mf.Manifest, period: str) -> int:
    """The cost rows the lake holds for ``period``."""
    return sum(
        s.rows for s in manifest.slices.values() if s.dataset == "costs" and s.period == period
    )


def _chunked(progress: Progress | None, chunk: list[str], k: int, chunks: int) -> Progress | None:
    """Stage progress over the whole run: group ``k`` of ``chunks`` covers its share of the bar,
    its stages labelled with its periods."""
    if progress is None or chunks == 1:
        return progress
    label = chunk[0] if len(chunk) == 1 else f"{chunk[0]}..{chunk[-1]}"

    def report(view: str, index: int, total: int) -> None:
        # groups may have different numbers of stages: each group is 1,000 steps of the bar
        progress(f"{label} {view}", k * 1000 + index * 1000 // total, chunks * 1000)

    return report


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


def _summarise(staged: dict[str, inputs.Outputs], rules: Rules, outcome: AllocationOutcome) -> None:
    """Rows, totals, the owned share, the per-rule table and the reconciliation, read back from
    the files the run wrote (one pass each, whichever engine attributed)."""
    if not staged:
        return
    first = q("x_" + rules.require[0])
    sentinels = ", ".join(lit(s) for s in SENTINELS)
    owned = f"{first} NOT IN ({sentinels})"
    con = connect()
    try:
        rows = records(
            con,
            "SELECT x_rule, x_method, COUNT(*) AS rows, SUM(BilledCost) AS BilledCost, "
            f"SUM(EffectiveCost) AS EffectiveCost, SUM(CASE WHEN {owned} THEN BilledCost END) AS ob, "
            f"SUM(CASE WHEN {owned} THEN EffectiveCost END) AS oe FROM {_files(staged, 'allocations')} "
            "GROUP BY x_rule, x_method",
        )
        outcome.reconciliation = records(
            con,
            "SELECT x_rule, ProviderName, model, BillingCurrency, SUM(invoiced) AS invoiced, "
            "SUM(priced) AS priced, SUM(gap) AS gap, CAST(SUM(requests) AS BIGINT) AS requests "
            f"FROM {_files(staged, 'reconciliation')} "
            "GROUP BY x_rule, ProviderName, model, BillingCurrency ORDER BY x_rule, ProviderName, model",
        )
    finally:
        con.close()
    zero = Decimal(0)
    outcome.allocation_rows = sum(int(r["rows"]) for r in rows)
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


def _files(staged: dict[str, inputs.Outputs], dataset: str) -> str:
    listed = ", ".join(lit(str(out[dataset][0])) for out in staged.values())
    return f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"


def _diff(
    workspace: Workspace,
    manifest: mf.Manifest,
    staged: dict[str, inputs.Outputs],
    rules: Rules,
    periods: list[str],
) -> list[OwnerDelta]:
    files = [str(out["allocations"][0]) for out in staged.values()]
    after = _totals(inputs.owner_totals(files, rules.owner_keys), rules)
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
    periods: list[str],
    staged: dict[str, inputs.Outputs],
    rules: Rules,
    outcome: AllocationOutcome,
) -> None:
    lake = workspace.lake
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    with lake.writer() as tx:
        manifest = lake.read()
        old = mf.load(lake.manifest_path)
        for period in periods:
            for dataset, (path, rows) in staged[period].items():
                relative = f"{dataset}/period={period}/{run_id}.parquet"
                if dataset == "allocations":
                    rollups.place_period(workspace, tx, manifest, period, run_id, path)
                tx.place(path, relative)
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
