"""What an attribution run reads and writes: engine choice, input views, per-period outputs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from costcouncil.catalog import build_price_table, parse_overrides
from costcouncil.engine.base import Engine
from costcouncil.engine.duckdb import DuckDBEngine, connect
from costcouncil.errors import ConfigError
from costcouncil.lake import manifest as mf
from costcouncil.schema.arrow import focus_schema
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.settings import get_settings
from costcouncil.workspace.common.query import records
from costcouncil.workspace.core import Workspace

PRICES_FILE = "prices.yaml"
ENGINES = ("duckdb", "spark")


@dataclass
class Loaded:
    """What was loaded: the cost columns and the LLM models the catalog has no price for."""

    cost_columns: list[str]
    unpriced: list[tuple[str, str]] = field(default_factory=list)


def open_engine(workspace: Workspace, name: str, spark_master: str = "local[2]") -> Engine:
    """DuckDB (embedded, spilling under the lake) or Spark (``spark_master``)."""
    if name == "duckdb":
        return DuckDBEngine(attribution_connection(workspace.lake.root / ".spill"), owned=True)
    if name == "spark":
        from costcouncil.engine.spark import SparkEngine

        return SparkEngine(spark_master)
    raise ConfigError(f"unknown engine {name!r} (choose one of {', '.join(ENGINES)})")


def scratch_folder(workspace: Workspace) -> Path:
    """A new folder in the lake (same file system, so staged files move in atomically) for one
    run's outputs before they are committed; the caller removes it."""
    folder = workspace.lake.root / ".allocate" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def attribution_connection(temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection as attribution runs use it: under ``allocate_memory_limit``, spilling
    to ``temp_dir``, and free to store and write rows in any order (``preserve_insertion_order``
    off: tables and files are built on every core; every result the pipeline orders it orders
    explicitly, and allocation files are sets of rows)."""
    settings = get_settings()
    limited = settings.model_copy(update={"memory_limit": settings.allocate_memory_limit})
    con = connect(temp_dir, settings=limited)
    con.execute("SET preserve_insertion_order = false")
    return con


def load(engine: Engine, workspace: Workspace, manifest: mf.Manifest, periods: list[str]) -> Loaded:
    """Load ``costs`` (those periods), ``jobs``, ``llm`` and ``prices`` into ``engine``."""
    root = workspace.lake.root
    cost_files = [
        root / f
        for s in manifest.slices.values()
        if s.dataset == "costs" and s.period in periods
        for f in s.files
    ]
    schema = _cost_schema(cost_files)
    engine.load_parquet("costs", cost_files, schema)
    engine.load_parquet("jobs_all", [root / f for f in manifest.data_files("jobs")], JOBS_SCHEMA)
    engine.create("jobs", latest_usage("jobs_all", JOBS_SCHEMA, "job_id"))
    llm_files = [root / f for f in manifest.data_files("llm")]
    engine.load_parquet("llm_all", llm_files, LLM_SCHEMA)
    engine.create("llm", latest_usage("llm_all", LLM_SCHEMA, "request_id"))
    prices = build_price_table(_llm_models(llm_files), load_overrides(workspace))
    engine.load_arrow("prices", prices.table)
    return Loaded(list(schema.names), sorted((u.provider, u.model) for u in prices.unpriced))


def lake_view(con: duckdb.DuckDBPyConnection, view: str, files: list[str]) -> None:
    """Define ``view`` over lake Parquet ``files`` (columns united by name; no hive partitions)."""
    listed = ", ".join(lit(f) for f in files)
    con.execute(
        f"CREATE VIEW {q(view)} AS SELECT * FROM read_parquet([{listed}], union_by_name = true, "
        "hive_partitioning = false)"
    )


def latest_usage(view: str, schema: pa.Schema, key: str) -> str:
    """One row per (source, ``key``): usage seen twice (two pod snapshots, a job first seen
    running and later ended, a re-sent event) counts once, as its latest observation — an ended
    row over an open one, then the latest end and start."""
    cols = ", ".join(q(n) for n in schema.names)
    time = '"end" IS NULL, "end" DESC, start DESC' if key == "job_id" else "time DESC"
    return (
        f"SELECT {cols} FROM (SELECT {cols}, row_number() OVER (PARTITION BY source, {q(key)} "
        f"ORDER BY {time}) AS cc_seen FROM {view}) AS u WHERE cc_seen = 1"
    )


def _cost_schema(files: list[Path]) -> pa.Schema:
    """The union of the lake's columns and those the files have (all files share one schema)."""
    if files:
        return pq.read_schema(files[0])
    return focus_schema()


def _llm_models(files: list[Path]) -> list[tuple[str, str]]:
    if not files:
        return []
    con = connect()
    listed = ", ".join(lit(str(f)) for f in files)
    rows = con.execute(
        f"SELECT DISTINCT provider, model FROM read_parquet([{listed}]) ORDER BY 1, 2"
    ).fetchall()
    con.close()
    return [(str(p), str(m)) for p, m in rows]


def load_overrides(workspace: Workspace) -> Any:
    """The workspace's ``prices.yaml`` overrides, or None."""
    path = workspace.root / PRICES_FILE
    return parse_overrides(path.read_text(), str(path)) if path.exists() else None


def period_outputs(period: str) -> list[tuple[str, str]]:
    """(dataset, SQL) of what a run stores for one period."""
    start, end = period_bounds(period)
    allocations = (
        "SELECT * EXCLUDE (BillingPeriodEnd) FROM cc_output "
        f"WHERE BillingPeriodStart >= {start} AND BillingPeriodStart < {end}"
    )
    reconciliation = f"SELECT * FROM cc_reconciliation WHERE day >= CAST({start} AS DATE) AND day < CAST({end} AS DATE)"
    return [("allocations", allocations), ("reconciliation", reconciliation)]


def period_chunks(rows: dict[str, int], limit: int) -> list[list[str]]:
    """Consecutive periods ('YYYY-MM', in order) grouped so a group holds at most ``limit`` cost
    rows; a period larger than ``limit`` is a group of its own.

    Attribution never crosses a billing period (a row's shares, its pool's owners and the
    reconciliation all stay in the row's period), so each group is attributed on its own and
    the result is the same as one run over all of them, with a working set bounded by the group.
    """
    chunks: list[list[str]] = []
    held = 0
    for period in sorted(rows):
        if chunks and held + rows[period] <= limit:
            chunks[-1].append(period)
            held += rows[period]
        else:
            chunks.append([period])
            held = rows[period]
    return chunks


#: The most parts a jobs join is cut into (each part is a stage of the plan).
MAX_SPLIT_PARTS = 64


def split_parts(rows: int, limit: int) -> int:
    """Parts a group of ``rows`` cost rows runs its jobs joins in: one per ``limit`` rows (a
    group larger than ``limit`` is one large period), at most :data:`MAX_SPLIT_PARTS`."""
    return min(MAX_SPLIT_PARTS, max(1, -(-rows // max(1, limit))))


def period_bounds(period: str) -> tuple[str, str]:
    """SQL ``TIMESTAMPTZ`` literals of the first instant of ``period`` and of the next one."""
    year, month = (int(x) for x in period.split("-"))
    nxt = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    return (
        f"CAST('{period}-01 00:00:00+00' AS TIMESTAMPTZ)",
        f"CAST('{nxt}-01 00:00:00+00' AS TIMESTAMPTZ)",
    )


#: What a run stores per period: {dataset: (staged file, rows)}.
Outputs = dict[str, tuple[Path, int]]


def write_outputs(engine: Engine, periods: list[str], folder: Path) -> dict[str, Outputs]:
    """Each period's allocation and reconciliation files in ``folder``
    (``<dataset>-<period>.parquet``) and their rows.

    One streaming query per period and dataset. (One ``COPY … PARTITION_BY`` for all periods was
    measured slower on DuckDB: it buffers the partitions and spilled 0.8 GB at 2M rows.)
    """
    out: dict[str, Outputs] = {}
    for period in periods:
        out[period] = {}
        for dataset, sql in period_outputs(period):
            target = folder / f"{dataset}-{period}.parquet"
            out[period][dataset] = (target, write_parquet(engine, sql, target))
    return out


def allocation_files(
    workspace: Workspace, manifest: mf.Manifest, periods: list[str] | None = None
) -> list[str]:
    """The stored allocation files of ``periods`` (all periods when None)."""
    root = workspace.lake.root
    return [
        str(root / f)
        for s in manifest.slices.values()
        if s.dataset == "allocations" and (periods is None or s.period in periods)
        for f in s.files
    ]


def stored_owner_totals(
    workspace: Workspace, manifest: mf.Manifest, periods: list[str], owner_keys: list[str]
) -> list[dict[str, Any]]:
    """Per period and owner tuple, the EffectiveCost the lake's current allocation holds."""
    return owner_totals(allocation_files(workspace, manifest, periods), owner_keys)


def owner_totals(files: list[str], owner_keys: list[str]) -> list[dict[str, Any]]:
    """Per period and owner tuple, the EffectiveCost in the allocation ``files``."""
    if not files:
        return []
    con = connect()
    listed = ", ".join(lit(f) for f in files)
    have = {
        r[0]
        for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
        ).fetchall()
    }
    keys = [f"{q('x_' + k)}" if "x_" + k in have else f"NULL AS {q('x_' + k)}" for k in owner_keys]
    period = "strftime(BillingPeriodStart, '%Y-%m')"
    rows = records(
        con,
        f"SELECT {period} AS period, {', '.join(keys)}, SUM(EffectiveCost) AS cost FROM "
        f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false) GROUP BY ALL",
    )
    con.close()
    return rows


def write_parquet(engine: Engine, sql: str, target: Path) -> int:
    """Write the DuckDB-dialect query ``sql`` to one Parquet file; the number of rows."""
    return engine.write_parquet(sql, target)
