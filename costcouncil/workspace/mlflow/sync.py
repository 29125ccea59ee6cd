"""MLflow write-back: put each run's allocated cost on the run itself, where data scientists look.

After ``allocate``, every allocation row whose ``x_run`` names a run carries part of that run's
cost. ``sync`` sums them per run over the chosen billing periods and logs on the run, through the
MLflow client API only:

- metrics ``cost_<ccy>`` (Σ EffectiveCost; ``cost_usd`` for a USD bill), ``idle_cost_<ccy>`` (the
  part of that cost that paid for idle capacity) and ``gpu_hours`` (Σ accelerator_count × hours of
  the run's jobs inside the periods), each at step 0 with the sync's timestamp;
- tags ``costcouncil.cost_<ccy>``, ``costcouncil.team``, ``costcouncil.project``,
  ``costcouncil.period``, ``costcouncil.rules`` and ``costcouncil.synced_at``;

and tags each registered model version produced by such a run ``costcouncil.training_cost_<ccy>``.
A metric whose latest value already equals the new one is not logged again, so a re-sync of an
unchanged allocation only refreshes the tags. Runs the lake names that the server does not have
(or has deleted) are reported, not fatal. See docs/sources/mlflow.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from costcouncil.attribution import SENTINELS
from costcouncil.attribution.refs import Scope
from costcouncil.attribution.rules import UsageSplitRule
from costcouncil.errors import ConfigError, ExportError
from costcouncil.lake import manifest as mf
from costcouncil.schema.currencies import minor_units
from costcouncil.schema.sql import lit, q
from costcouncil.usage.sources.mlflow import client, mlflow_errors, model_versions, shown_uri
from costcouncil.workspace.allocate.run import load_rules
from costcouncil.workspace.common import inputs
from costcouncil.workspace.common.query import open_costs
from costcouncil.workspace.core import Workspace

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: Statuses of a run after a sync.
SYNCED, WOULD_SYNC, MISSING, DELETED = "synced", "would sync", "not in MLflow", "deleted in MLflow"


@dataclass(frozen=True)
class SyncOptions:
    """See ``costcouncil mlflow sync --help``."""

    tracking_uri: str
    periods: tuple[str, ...] = ()
    dry_run: bool = False


@dataclass
class RunCost:
    """One run's allocated cost over the synced periods, and what the sync did with it."""

    run_id: str
    cost: dict[str, Decimal] = field(default_factory=dict)
    idle: dict[str, Decimal] = field(default_factory=dict)
    gpu_hours: float = 0.0
    periods: set[str] = field(default_factory=set)
    rules: dict[str, Decimal] = field(default_factory=dict)
    owners: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    status: str = ""
    model_versions: list[str] = field(default_factory=list)

    def owner(self, key: str) -> str | None:
        """The value of owner key ``key`` that carries most of the run's cost."""
        weights = self.owners.get(key, {})
        return min(weights, key=lambda v: (-weights[v], v)) if weights else None

    def metrics(self) -> dict[str, float]:
        out = {f"cost_{c.lower()}": float(v) for c, v in sorted(self.cost.items())}
        out |= {f"idle_cost_{c.lower()}": float(self.idle.get(c, 0)) for c in sorted(self.cost)}
        return out | {"gpu_hours": self.gpu_hours}

    def tags(self, synced_at: datetime) -> dict[str, str]:
        tags = {f"costcouncil.cost_{c.lower()}": money(v, c) for c, v in sorted(self.cost.items())}
        for key in ("team", "project"):
            value = self.owner(key)
            if value is not None:
                tags[f"costcouncil.{key}"] = value
        tags["costcouncil.period"] = ",".join(sorted(self.periods))
        tags["costcouncil.rules"] = ",".join(sorted(self.rules, key=lambda r: (-self.rules[r], r)))
        tags["costcouncil.synced_at"] = synced_at.isoformat(timespec="seconds")
        return tags

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "status": self.status,
            "cost": {c: money(v, c) for c, v in sorted(self.cost.items())},
            "idle_cost": {c: money(self.idle.get(c, Decimal(0)), c) for c in sorted(self.cost)},
            "gpu_hours": self.gpu_hours,
            "team": self.owner("team"),
            "project": self.owner("project"),
            "periods": sorted(self.periods),
            "rules": sorted(self.rules),
            "model_versions": self.model_versions,
        }


@dataclass
class SyncOutcome:
    """What a sync found and wrote."""

    tracking_uri: str
    periods: list[str]
    synced_at: datetime
    dry_run: bool
    runs: list[RunCost] = field(default_factory=list)

    @property
    def synced(self) -> list[RunCost]:
        return [r for r in self.runs if r.status in (SYNCED, WOULD_SYNC)]

    @property
    def missing(self) -> list[RunCost]:
        return [r for r in self.runs if r.status in (MISSING, DELETED)]

    def totals(self) -> dict[str, Decimal]:
        """Σ cost per currency of the runs synced (or that a dry run would sync)."""
        out: dict[str, Decimal] = {}
        for run in self.synced:
            for currency, value in run.cost.items():
                out[currency] = out.get(currency, Decimal(0)) + value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "periods": self.periods,
            "synced_at": self.synced_at.isoformat(timespec="seconds"),
            "dry_run": self.dry_run,
            "synced": len(self.synced),
            "total": {c: money(v, c) for c, v in sorted(self.totals().items())},
            "missing": [{"run": r.run_id, "status": r.status} for r in self.missing],
            "runs": [r.to_dict() for r in self.runs],
        }


def money(value: Decimal, currency: str) -> str:
    """``value`` exactly, with at least the currency's minor-unit decimals (12.5 → '12.50')."""
    places = minor_units(currency)
    text = f"{value.normalize():f}"
    whole, _, fraction = text.partition(".")
    return whole + ("." + fraction.ljust(places, "0") if places or fraction else "")


def sync(workspace: Workspace, options: SyncOptions) -> SyncOutcome:
    """Log every allocated run's cost on the MLflow server (nothing written with ``dry_run``)."""
    synced_at = datetime.now(UTC)
    manifest = workspace.lake.read()
    periods = choose_periods(manifest, options.periods)
    outcome = SyncOutcome(shown_uri(options.tracking_uri), periods, synced_at, options.dry_run)
    outcome.runs = sorted(
        run_costs(workspace, manifest, periods, synced_at).values(), key=lambda r: r.run_id
    )
    try:
        mlflow = client(options.tracking_uri)
        for run in outcome.runs:
            write_run(mlflow, run, synced_at, options.dry_run)
        tag_model_versions(mlflow, outcome.synced, options.dry_run)
    except mlflow_errors() as e:
        raise ExportError(
            f"{outcome.tracking_uri}: MLflow write-back stopped: {e} "
            "(runs already written keep their values; a re-sync is safe)"
        ) from e
    return outcome


def choose_periods(manifest: mf.Manifest, wanted: Iterable[str]) -> list[str]:
    """The periods asked for, or every period the lake has allocations for."""
    have = manifest.periods("allocations")
    wanted = list(dict.fromkeys(wanted))
    missing = [p for p in wanted if p not in have]
    if missing or not have:
        known = ", ".join(have) or "none — run `costcouncil allocate` first"
        raise ConfigError(
            f"no allocations for period(s) {', '.join(missing) or 'any'} (allocated: {known})"
        )
    return wanted or have


# --- the lake side: each run's cost, idle share and GPU-hours -----------------------------------


def run_costs(
    workspace: Workspace, manifest: mf.Manifest, periods: list[str], now: datetime
) -> dict[str, RunCost]:
    """Run id → its allocated cost, idle share and GPU-hours in ``periods``."""
    files = inputs.allocation_files(workspace, manifest, periods)
    con = open_costs(workspace, periods)
    try:
        inputs.lake_view(con, "alloc", files)
        columns = {r[0] for r in con.execute("DESCRIBE alloc").fetchall()}
        if "x_run" not in columns:
            raise ConfigError("the allocation has no x_run column: add `run` to the owner keys")
        runs = allocated(con, columns)
        spread_idle(con, workspace, runs)
        gpu_hours(con, workspace, manifest, periods, now, runs)
    finally:
        con.close()
    return runs


#: Runs MLflow could have: its run ids are 32 hexadecimal characters; other run names (a
#: Kubernetes job, a Slurm array task) are not MLflow's and are left alone.
_OWNED = (
    f"x_run IS NOT NULL AND x_run NOT IN ({', '.join(lit(s) for s in SENTINELS)}) "
    "AND regexp_full_match(x_run, '[0-9a-f]{32}')"
)


def allocated(con: duckdb.DuckDBPyConnection, columns: set[str]) -> dict[str, RunCost]:
    """Σ EffectiveCost per run and currency, with its periods, rules, teams and projects."""
    keys = [q(f"x_{k}") if f"x_{k}" in columns else f"NULL AS x_{k}" for k in ("team", "project")]
    rows = con.execute(
        "SELECT x_run, BillingCurrency, strftime(BillingPeriodStart, '%Y-%m'), x_rule, "
        f"starts_with(x_method, 'idle'), {', '.join(keys)}, SUM(EffectiveCost) FROM alloc "
        f"WHERE {_OWNED} GROUP BY ALL"
    ).fetchall()
    runs: dict[str, RunCost] = {}
    for run_id, currency, period, rule, idle, team, project, cost in rows:
        run = runs.setdefault(run_id, RunCost(run_id))
        add(run.cost, currency, cost)
        if idle:
            add(run.idle, currency, cost)
        run.periods.add(period)
        add(run.rules, rule, abs(cost))
        for key, value in (("team", team), ("project", project)):
            if value is not None:
                add(run.owners.setdefault(key, {}), value, abs(cost))
    return runs


def add(totals: dict[str, Decimal], key: str, value: Decimal) -> None:
    totals[key] = totals.get(key, Decimal(0)) + value


def spread_idle(
    con: duckdb.DuckDBPyConnection, workspace: Workspace, runs: dict[str, RunCost]
) -> None:
    """Add the idle capacity a run carries under ``idle: spread``.

    Under ``spread`` the users of a row with capacity C (weight units) and used weight W < C carry
    the whole row; a share's idle part is its amount × (1 − W / C), the part beyond what its
    usage would pay at full capacity.
    """
    rules = load_rules(workspace)
    cost_columns = [r[0] for r in con.execute("DESCRIBE costs").fetchall()]
    for rule in rules.of_kind(UsageSplitRule):
        assert isinstance(rule, UsageSplitRule)
        if rules.idle_policy(rule.name) != "spread" or rule.capacity is None:
            continue
        for run_id, currency, idle in con.execute(_spread_sql(rule, cost_columns)).fetchall():
            if run_id in runs and idle:
                add(runs[run_id].idle, currency, Decimal(str(round(idle, 12))))


def _spread_sql(rule: UsageSplitRule, cost_columns: list[str]) -> str:
    if isinstance(rule.capacity, str):
        ref = Scope("c", cost_columns, "the cost data").sql(rule.capacity, f"{rule.name}.capacity")
        value = f"TRY_CAST({ref} AS DOUBLE)"
    else:
        value = repr(float(rule.capacity or 0))
    span = "(epoch_ms(c.ChargePeriodEnd) - epoch_ms(c.ChargePeriodStart))"
    capacity = f"ROUND({value} * 1000) * {span}"
    used = (
        "SUM(CAST(a.x_usage_weight AS DOUBLE)) OVER (PARTITION BY a.x_source_file, a.x_source_row)"
    )
    shares = (
        f"SELECT a.x_run, a.BillingCurrency, CAST(a.EffectiveCost AS DOUBLE) AS amount, {used} AS used, "
        f"{capacity} AS capacity FROM alloc AS a JOIN costs AS c ON c.x_source_file = a.x_source_file "
        f"AND c.x_source_row = a.x_source_row WHERE a.x_rule = {lit(rule.name)} "
        "AND starts_with(a.x_method, 'usage_split')"
    )
    return (
        "SELECT x_run, BillingCurrency, SUM(amount * (1 - used / capacity)) FROM "
        f"({shares}) AS s WHERE capacity > used AND {_OWNED} GROUP BY ALL"
    )


def gpu_hours(
    con: duckdb.DuckDBPyConnection,
    workspace: Workspace,
    manifest: mf.Manifest,
    periods: list[str],
    now: datetime,
    runs: dict[str, RunCost],
) -> None:
    """Σ accelerator_count × hours of each run's jobs, clipped to the periods (running: to now)."""
    files = [str(workspace.lake.root / f) for f in manifest.data_files("jobs")]
    if not files or not runs:
        return
    windows = ", ".join(f"({_month(p)}, {_month(p, 1)})" for p in periods)
    end = f'LEAST(COALESCE(j."end", {lit(now.isoformat())}::TIMESTAMPTZ), w.we)'
    jobs = (
        'SELECT DISTINCT source, job_id, run, start, "end", accelerator_count FROM read_parquet('
        f"[{', '.join(lit(f) for f in files)}], union_by_name = true) "
        "WHERE run IS NOT NULL AND accelerator_count IS NOT NULL"
    )
    rows = con.execute(
        f"SELECT j.run, SUM(j.accelerator_count * GREATEST(0, epoch_ms({end}) - "
        f"epoch_ms(GREATEST(j.start, w.ws)))) / 3600000.0 FROM ({jobs}) AS j, "
        f"(VALUES {windows}) AS w(ws, we) GROUP BY j.run"
    ).fetchall()
    for run_id, hours in rows:
        if run_id in runs:
            runs[run_id].gpu_hours = float(hours or 0)


def _month(period: str, ahead: int = 0) -> str:
    year, month = (int(x) for x in period.split("-"))
    months = year * 12 + month - 1 + ahead
    return f"TIMESTAMPTZ '{months // 12:04d}-{months % 12 + 1:02d}-01 00:00:00+00'"


# --- the MLflow side ----------------------------------------------------------------------------


def write_run(mlflow: MlflowClient, run: RunCost, synced_at: datetime, dry_run: bool) -> None:
    """Log the run's metrics and tags; mark it missing when the server lacks it."""
    from mlflow.entities import Metric, RunTag
    from mlflow.exceptions import MlflowException

    try:
        current = mlflow.get_run(run.run_id)
    except MlflowException as e:
        if e.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        run.status = MISSING
        return
    if current.info.lifecycle_stage == "deleted":
        run.status = DELETED
        return
    stamp = int(synced_at.timestamp() * 1000)
    metrics = [
        Metric(key, value, stamp, 0)
        for key, value in run.metrics().items()
        if current.data.metrics.get(key) != value
    ]
    tags = [RunTag(k, v) for k, v in run.tags(synced_at).items()]
    if not dry_run:
        mlflow.log_batch(run.run_id, metrics=metrics, tags=tags, synchronous=True)
    run.status = WOULD_SYNC if dry_run else SYNCED


def tag_model_versions(mlflow: MlflowClient, runs: list[RunCost], dry_run: bool) -> None:
    """Tag each model version a synced run produced with the run's cost."""
    produced = model_versions(mlflow)
    for run in runs:
        for name, version in produced.get(run.run_id, []):
            run.model_versions.append(f"{name}/{version}")
            if dry_run:
                continue
            for currency, value in sorted(run.cost.items()):
                key = f"costcouncil.training_cost_{currency.lower()}"
                mlflow.set_model_version_tag(name, version, key, money(value, currency))
