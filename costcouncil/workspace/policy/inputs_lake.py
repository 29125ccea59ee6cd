"""What the policy input tables are read from: one DuckDB connection over the lake, as of a day.

:func:`open_lake` defines these views (every one ends with the ``as_of`` day):

- ``costs``: the lake's cost rows (FOCUS, of the billing periods up to ``as_of``);
- ``res``: the ``resources`` allocation rollup (day × owner keys × resource × rule and method,
  with the bill's ``tags``) in the workspace's currency, days up to ``as_of``;
- ``jobs`` / ``llm``: the usage, each job or request once (its latest observation);
- ``cc_res``: per resource, its instance type, GPU type and GPU count (:func:`resource_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from costcouncil.attribution.rules import Rules
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.allocate.run import RULES_FILE, load_rules
from costcouncil.workspace.allocate.series import rollup_files
from costcouncil.workspace.common.inputs import lake_view, latest_usage
from costcouncil.workspace.common.query import open_costs
from costcouncil.workspace.core import Workspace

#: ``SkuPriceDetails`` keys naming a machine's instance type, GPU type and GPU count, in order of
#: preference (the ``x_`` ones are what CostCouncil's own exports and the demo write).
INSTANCE_TYPE_KEYS = ("x_InstanceType", "InstanceType")
ACCELERATOR_TYPE_KEYS = ("x_Accelerator", "x_AcceleratorType", "AcceleratorType")
ACCELERATOR_COUNT_KEYS = ("x_AcceleratorCount", "AcceleratorCount", "GpuCount")
#: The owner keys the engine's tables name (others of the workspace are added after them).
ENGINE_KEYS = ("team", "project", "model", "run", "environment", "feature")


@dataclass(frozen=True)
class Lake:
    """The connection the tables are built on, the day they are as of, and the window."""

    workspace: Workspace
    con: duckdb.DuckDBPyConnection
    rules: Rules | None
    as_of: date
    first: date
    allocated: bool

    @property
    def end(self) -> str:
        """SQL ``TIMESTAMPTZ`` of the instant after ``as_of``."""
        return f"CAST({lit((self.as_of + timedelta(days=1)).isoformat())} AS TIMESTAMPTZ)"

    @property
    def keys(self) -> list[str]:
        """The workspace's owner keys."""
        return list(self.workspace.config.tags.owner_keys)

    def owner(self, key: str, alias: str = "") -> str:
        """SQL of owner key ``key`` in ``res`` (NULL when the workspace has no such key)."""
        return f"{alias}{q(key)}" if key in self.keys else "CAST(NULL AS VARCHAR)"

    def arrow(self, sql: str) -> pa.Table:
        """The result of ``sql`` as an Arrow table."""
        return self.con.sql(sql).to_arrow_table()


def open_lake(workspace: Workspace, as_of: date, days: int) -> Lake:
    """The views of the module docstring over ``workspace``'s lake, up to ``as_of``."""
    con = open_costs(workspace, _periods(workspace, as_of))
    rules = _rules(workspace)
    lake = Lake(workspace, con, rules, as_of, as_of - timedelta(days=days - 1), False)
    allocated = _rollup_view(lake)
    _usage_view(lake, "jobs", JOBS_SCHEMA, "job_id")
    _usage_view(lake, "llm", LLM_SCHEMA, "request_id")
    con.execute(f"CREATE TEMP TABLE cc_res AS {resource_sql()}")
    return Lake(workspace, con, rules, as_of, lake.first, allocated)


def _periods(workspace: Workspace, as_of: date) -> list[str]:
    """The lake's billing periods up to ``as_of``'s (at least one name, so none is ``all``)."""
    last = f"{as_of.year:04d}-{as_of.month:02d}"
    found = {s.period for s in workspace.lake.read().slices.values() if s.dataset == "costs"}
    return sorted(p for p in found if p <= last) or [last]


def _rules(workspace: Workspace) -> Rules | None:
    """The workspace's rules (GPU capacity, direct owners, LLM splits); None without a file."""
    if not (workspace.root / RULES_FILE).exists():
        return None
    return load_rules(workspace)


def _rollup_view(lake: Lake) -> bool:
    """``res``; whether the lake has allocation rollups at all (else ``res`` is empty)."""
    files = rollup_files(lake.workspace, "resources")
    keys = ", ".join(f"CAST(NULL AS VARCHAR) AS {q(k)}" for k in lake.keys)
    if not files:
        lake.con.execute(
            f"CREATE VIEW res AS SELECT CAST(NULL AS DATE) AS day, {keys}, "
            "CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS tags, "
            "CAST(NULL AS VARCHAR) AS service_category, CAST(NULL AS VARCHAR) AS rule, "
            "CAST(NULL AS VARCHAR) AS method, CAST(0 AS DECIMAL(38, 12)) AS EffectiveCost "
            "WHERE false"
        )
        return False
    lake_view(lake.con, "res_all", files)
    currency = lit(lake.workspace.config.currency)
    lake.con.execute(
        f"CREATE VIEW res AS SELECT * FROM res_all WHERE currency = {currency} "
        f"AND day <= CAST({lit(lake.as_of.isoformat())} AS DATE)"
    )
    return True


def _usage_view(lake: Lake, view: str, schema: pa.Schema, key: str) -> None:
    """``view``: each usage row once, every column of ``schema`` (NULL where files lack it)."""
    files = [str(lake.workspace.lake.root / f) for f in lake.workspace.lake.read().data_files(view)]
    if not files:
        lake.con.from_arrow(schema.empty_table()).create_view(f"{view}_src")
    else:
        lake_view(lake.con, f"{view}_all", files)
        have = {r[0] for r in lake.con.execute(f"DESCRIBE {view}_all").fetchall()}
        cols = ", ".join(q(f.name) if f.name in have else f"NULL AS {q(f.name)}" for f in schema)
        lake.con.execute(f"CREATE VIEW {view}_src AS SELECT {cols} FROM {view}_all")
    lake.con.execute(f"CREATE VIEW {view} AS {latest_usage(f'{view}_src', schema, key)}")


def json_first(column: str, keys: tuple[str, ...]) -> str:
    """SQL: the first of ``keys`` the JSON object ``column`` has a non-empty value for."""
    found = [
        f"NULLIF(TRIM(json_extract_string({column}, {lit(json_pointer(k))})), '')" for k in keys
    ]
    picked = found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"
    return f"CASE WHEN json_valid({column}) THEN {picked} END"


def json_pointer(key: str) -> str:
    """A JSON Pointer naming the top-level key ``key`` exactly."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def resource_sql() -> str:
    """Per resource: instance type and GPU type from its cost rows' ``SkuPriceDetails``, else
    from the jobs that ran on it (``attributes.instance_type``, ``accelerator_type``, the most
    common value), and its GPU count from ``SkuPriceDetails`` (NULL: unknown)."""
    sku = (
        f"SELECT ResourceId AS resource_id, "
        f"mode({json_first('d', INSTANCE_TYPE_KEYS)}) AS instance_type, "
        f"mode({json_first('d', ACCELERATOR_TYPE_KEYS)}) AS accelerator_type, "
        f"max(TRY_CAST({json_first('d', ACCELERATOR_COUNT_KEYS)} AS DOUBLE)) AS gpus "
        "FROM (SELECT DISTINCT ResourceId, SkuPriceDetails AS d FROM costs "
        "WHERE ResourceId IS NOT NULL AND SkuPriceDetails IS NOT NULL) AS s GROUP BY 1"
    )
    ran = (
        f"SELECT resource_id, mode({json_first('attributes', ('instance_type',))}) AS instance_type, "
        "mode(NULLIF(TRIM(accelerator_type), '')) AS accelerator_type FROM jobs "
        "WHERE resource_id IS NOT NULL GROUP BY 1"
    )
    return (
        "SELECT coalesce(s.resource_id, j.resource_id) AS resource_id, "
        "coalesce(s.instance_type, j.instance_type) AS instance_type, "
        "coalesce(s.accelerator_type, j.accelerator_type) AS accelerator_type, s.gpus "
        f"FROM ({sku}) AS s FULL JOIN ({ran}) AS j ON s.resource_id = j.resource_id"
    )
