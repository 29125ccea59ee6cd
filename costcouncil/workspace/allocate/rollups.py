"""Rollups: allocated cost summed per hour or day and dimension, kept beside every allocation.

The dashboard and ``/v1/costs`` answer from these, never from the cost rows. An allocation run
writes them in the same manifest commit as the allocations, so the two always agree:

- per billing period (slice ``rollups/<period>``), three Parquet files:
  ``hourly`` (hour × the coarse dimensions), ``daily`` (day × every dimension but the resource
  and its tags) and ``resources`` (day × every dimension, resource and tags included);
- once per run (slice ``rollups/usage``): ``llm`` (LLM requests and tokens per day and owner),
  ``runs`` (one row per run: kind, status, GPU-hours) and ``gpu`` (GPU-hours per day, node and
  owner) — the denominators of unit economics and the GPU page.

Every figure is a plain ``SUM`` of allocation rows, so a rollup total equals the lake's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from costcouncil.engine.duckdb import connect
from costcouncil.lake import manifest as mf
from costcouncil.lake.store import Transaction
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.common.inputs import lake_view, latest_usage
from costcouncil.workspace.core import Workspace

DATASET = "rollups"
USAGE_SLICE = f"{DATASET}/usage"

#: The spend categories of the overview's trend, derived from FOCUS service columns.
CATEGORY_SQL = (
    "CASE WHEN c.ServiceName ILIKE '%support%' THEN 'support' "
    "WHEN c.ServiceCategory = 'AI and Machine Learning' "
    "AND coalesce(c.PricingUnit, '') NOT ILIKE '%hour%' THEN 'llm_api' "
    "WHEN c.ServiceCategory IN ('Compute', 'AI and Machine Learning') THEN 'compute' "
    "WHEN c.ServiceCategory IN ('Storage', 'Databases') THEN 'storage' "
    "WHEN c.ServiceCategory = 'Networking' THEN 'network' ELSE 'other' END"
)
CATEGORIES = ("compute", "llm_api", "storage", "network", "support", "other")

#: Dimensions every rollup file has besides the owner keys: name -> SQL over ``c`` and ``a``.
FIXED = {
    "provider": "c.ProviderName",
    "service": "c.ServiceName",
    "service_category": "c.ServiceCategory",
    "category": CATEGORY_SQL,
    "account": "c.SubAccountId",
    "account_name": "c.SubAccountName",
    "region": "c.RegionId",
    "charge_category": "c.ChargeCategory",
    "rule": "a.x_rule",
    "method": "a.x_method",
    "currency": "a.BillingCurrency",
}
RESOURCE = {
    "resource": "c.ResourceId",
    "resource_name": "c.ResourceName",
    "resource_type": "c.ResourceType",
    "tags": "c.Tags",
}
#: The dimensions of the hourly rollup (owner keys among these only).
COARSE = ("team", "project", "model", "provider", "service", "category", "method", "currency")
METRICS = {
    "billed": "BilledCost",
    "effective": "EffectiveCost",
    "list": "ListCost",
    "contracted": "ContractedCost",
}
TIERS = ("hourly", "daily", "resources")
USAGE_FILES = ("llm", "runs", "gpu")
#: The owner dimensions of the usage rollups a figure can be grouped and filtered by.
USAGE_DIMENSIONS = {
    "llm": frozenset(
        {"team", "project", "model", "model_version", "environment", "feature", "customer"}
    ),
    "gpu": frozenset({"team", "project", "model", "model_version", "resource"}),
}


@dataclass(frozen=True)
class Written:
    """One rollup file written to staging: its tier, path and row count."""

    name: str
    path: Path
    rows: int


def dimensions(owner_keys: list[str], tier: str) -> list[str]:
    """The dimension columns of ``tier`` for a workspace with ``owner_keys``."""
    if tier == "hourly":
        return [d for d in COARSE if d in owner_keys or d in FIXED]
    extra = list(RESOURCE) if tier == "resources" else []
    return [*owner_keys, *FIXED, *extra]


def build_period(
    workspace: Workspace, allocation_file: Path, period: str, staging: Path, stem: str
) -> list[Written]:
    """The three cost rollups of one period's allocation file, written under ``staging``."""
    manifest = workspace.lake.read()
    root = workspace.lake.root
    cost_files = [
        str(root / f)
        for s in manifest.slices.values()
        if s.dataset == "costs" and s.period == period
        for f in s.files
    ]
    keys = workspace.config.tags.owner_keys
    con = connect(temp_dir=root / ".spill")
    try:
        lake_view(con, "a", [str(allocation_file)])
        lake_view(con, "c", cost_files)
        have = {r[0] for r in con.execute("DESCRIBE a").fetchall()}
        owners = {k: f"a.{q('x_' + k)}" if f"x_{k}" in have else "NULL" for k in keys}
        exprs = {**owners, **FIXED, **RESOURCE}
        sums = ", ".join(f"SUM(a.{m}) AS {m}" for m in METRICS.values())
        picks = ", ".join(f"{sql} AS {q(name)}" for name, sql in exprs.items())
        con.execute(
            "CREATE TEMP TABLE j AS SELECT date_trunc('hour', a.ChargePeriodStart) AS hour, "
            f"{picks}, {sums}, COUNT(*) AS rows FROM a JOIN c ON "
            "c.x_source_file = a.x_source_file AND c.x_source_row = a.x_source_row GROUP BY ALL"
        )
        return [_write(con, tier, keys, staging / f"{stem}-{tier}.parquet") for tier in TIERS]
    finally:
        con.close()


def _write(con: duckdb.DuckDBPyConnection, tier: str, keys: list[str], target: Path) -> Written:
    dims = ", ".join(q(d) for d in dimensions(keys, tier))
    time = "hour" if tier == "hourly" else "CAST(hour AS DATE) AS day"
    sums = ", ".join(f"SUM({m}) AS {m}" for m in METRICS.values())
    sql = f"SELECT {time}, {dims}, {sums}, SUM(rows) AS rows FROM j GROUP BY ALL ORDER BY 1"
    con.execute(f"COPY ({sql}) TO {lit(str(target))} (FORMAT parquet, ROW_GROUP_SIZE 122880)")
    rows = con.execute(f"SELECT COUNT(*) FROM read_parquet({lit(str(target))})").fetchone()
    return Written(tier, target, int(rows[0]) if rows else 0)


def build_usage(workspace: Workspace, staging: Path, stem: str) -> list[Written]:
    """The usage rollups (LLM per day and owner, runs, GPU-hours per day and node)."""
    manifest = workspace.lake.read()
    root = workspace.lake.root
    con = connect(temp_dir=root / ".spill")
    try:
        _usage_view(con, "jobs", [str(root / f) for f in manifest.data_files("jobs")], "jobs")
        _usage_view(con, "llm", [str(root / f) for f in manifest.data_files("llm")], "llm")
        out = []
        for name, sql in (("llm", _LLM_SQL), ("runs", _RUNS_SQL), ("gpu", _GPU_SQL)):
            target = staging / f"{stem}-usage-{name}.parquet"
            con.execute(f"COPY ({sql}) TO {lit(str(target))} (FORMAT parquet)")
            count = con.execute(f"SELECT COUNT(*) FROM read_parquet({lit(str(target))})").fetchone()
            out.append(Written(name, target, int(count[0]) if count else 0))
        return out
    finally:
        con.close()


def _usage_view(con: duckdb.DuckDBPyConnection, view: str, files: list[str], kind: str) -> None:
    schema, key = (JOBS_SCHEMA, "job_id") if kind == "jobs" else (LLM_SCHEMA, "request_id")
    if files:
        lake_view(con, f"{view}_all", files)
        have = {r[0] for r in con.execute(f"DESCRIBE {view}_all").fetchall()}
        cols = ", ".join(q(f.name) if f.name in have else f"NULL AS {q(f.name)}" for f in schema)
        con.execute(f"CREATE VIEW {view}_src AS SELECT {cols} FROM {view}_all")
    else:
        con.from_arrow(schema.empty_table()).create_view(f"{view}_src")
    con.execute(f"CREATE VIEW {view} AS {latest_usage(f'{view}_src', schema, key)}")


_LLM_SQL = (
    "SELECT CAST(time AS DATE) AS day, provider, model, model_version, team, project, "
    "environment, feature, customer, SUM(coalesce(request_count, 1)) AS requests, "
    "SUM(coalesce(input_tokens, 0)) AS input_tokens, "
    "SUM(coalesce(output_tokens, 0)) AS output_tokens FROM llm GROUP BY ALL"
)
_RUNS_SQL = (
    "SELECT coalesce(run, job_id) AS run, arg_max(kind, start) AS kind, "
    "arg_max(status, start) AS status, team, project, model, model_version, "
    "mode(accelerator_type) AS accelerator_type, max(accelerator_count) AS accelerators, "
    'min(start) AS start, max("end") AS "end", COUNT(*) AS jobs, '
    "SUM(coalesce(accelerator_count, 0) * "
    'epoch(coalesce("end", start) - start) / 3600.0) AS gpu_hours FROM jobs GROUP BY '
    "coalesce(run, job_id), team, project, model, model_version"
)
_GPU_SQL = (
    "SELECT CAST(d AS DATE) AS day, resource_id AS resource, accelerator_type, team, project, "
    'model, model_version, SUM(coalesce(accelerator_count, 0) * epoch(least("end", d + INTERVAL 1 DAY) - '
    "greatest(start, d)) / 3600.0) AS gpu_hours FROM (SELECT *, unnest(generate_series("
    "date_trunc('day', start), date_trunc('day', \"end\"), INTERVAL 1 DAY)) AS d FROM jobs "
    'WHERE "end" IS NOT NULL AND "end" > start) AS s GROUP BY ALL'
)


def stale_periods(manifest: mf.Manifest) -> list[str]:
    """Allocated periods whose rollups are missing or from another run."""
    out = []
    for s in manifest.slices.values():
        if s.dataset != "allocations":
            continue
        rolled = manifest.slices.get(f"{DATASET}/{s.period}")
        if rolled is None or rolled.export != s.export:
            out.append(s.period)
    return sorted(out)


def place_period(
    workspace: Workspace,
    tx: Transaction,
    manifest: mf.Manifest,
    period: str,
    run_id: str,
    allocation_file: Path,
) -> None:
    """Build one period's rollups from its (staged) allocation file into the transaction."""
    written = build_period(workspace, allocation_file, period, tx.staging, f"rollup-{period}")
    _record(tx, manifest, f"{DATASET}/{period}", period, run_id, written, f"period={period}")


def place_usage(workspace: Workspace, tx: Transaction, manifest: mf.Manifest, run_id: str) -> None:
    """Build the usage rollups into the transaction."""
    written = build_usage(workspace, tx.staging, "rollup")
    _record(tx, manifest, USAGE_SLICE, "", run_id, written, "usage")


def _record(
    tx: Transaction,
    manifest: mf.Manifest,
    slice_id: str,
    period: str,
    run_id: str,
    written: list[Written],
    folder: str,
) -> None:
    files = []
    for w in written:
        relative = f"{DATASET}/{folder}/{run_id}-{w.name}.parquet"
        tx.place(w.path, relative)
        files.append(relative)
    now = datetime.now(UTC).isoformat()
    rows = sum(w.rows for w in written)
    manifest.slices[slice_id] = mf.Slice(
        slice_id, DATASET, "", "", period, now, [run_id], files, rows, {}, "", ""
    )


def refresh(workspace: Workspace) -> list[str]:
    """Rebuild the rollups of allocated periods that lack current ones (a lake allocated
    before rollups existed); the periods rebuilt."""
    if not stale_periods(workspace.lake.read()):
        return []
    with workspace.lake.writer() as tx:
        manifest = workspace.lake.read()
        old = mf.load(workspace.lake.manifest_path)
        periods = stale_periods(manifest)  # again: another writer may have built them
        run_id = ""
        for period in periods:
            allocated = manifest.slices[f"allocations/{period}"]
            run_id = allocated.export[0]
            source = workspace.lake.root / allocated.files[0]
            place_period(workspace, tx, manifest, period, run_id, source)
        if periods:
            place_usage(workspace, tx, manifest, run_id)
            tx.commit(manifest, old)
    return periods


def file_of(manifest: mf.Manifest, slice_id: str, name: str) -> str | None:
    """The lake-relative path of rollup ``name`` in ``slice_id``, if any."""
    found = manifest.slices.get(slice_id)
    if found is None:
        return None
    return next((f for f in found.files if f.endswith(f"-{name}.parquet")), None)
