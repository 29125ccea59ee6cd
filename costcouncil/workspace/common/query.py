"""Read the lake through DuckDB: a ``costs`` view over exactly the files the manifest lists."""

from __future__ import annotations

from typing import Any, cast

import duckdb

from costcouncil.engine.duckdb import connect
from costcouncil.errors import WorkspaceError
from costcouncil.schema.arrow import SOURCE_COLUMNS, SQL_TYPES, lake_columns
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.core import Workspace

_SOURCE_SQL = {"x_source_format": "VARCHAR", "x_source_file": "VARCHAR", "x_source_row": "BIGINT"}


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """``sql``'s rows as dicts."""
    return cast(list[dict[str, Any]], con.sql(sql).to_arrow_table().to_pylist())


def open_costs(
    workspace: Workspace, periods: list[str] | None = None, allocated: bool = False
) -> duckdb.DuckDBPyConnection:
    """A connection with a ``costs`` view; ``periods`` ('YYYY-MM') prunes to those slices.

    With ``allocated`` it also has ``allocated``: the FOCUS rows of the cost rows, one per
    allocation, with the allocated amounts in the cost metric columns, the quantities scaled by
    ``x_weight``, and the allocation's ``x_`` columns (owner keys, rule, method, weights).
    """
    con = connect(temp_dir=workspace.lake.root / ".spill")
    manifest = workspace.lake.read()
    files = [
        str(workspace.lake.root / f)
        for s in manifest.slices.values()
        if s.dataset == "costs" and (not periods or s.period in periods)
        for f in s.files
    ]
    con.execute(f"CREATE VIEW costs AS {_costs_sql(files)}")
    if allocated:
        con.execute(f"CREATE VIEW allocated AS {_allocated_sql(workspace, periods)}")
    return con


_METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
_QUANTITIES = ("PricingQuantity", "ConsumedQuantity")
_STORED = (
    "x_source_file",
    "x_source_row",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "BillingCurrency",
)


_UNIT_PRICES = (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost"))


def _unit_price(price: str, cost: str) -> str:
    """The unit price that keeps ``cost = price × PricingQuantity`` for the allocated slice.

    Amounts are rounded to the currency's unit per slice, so the row's unit price times the
    scaled quantity misses the slice's amount by up to half a unit; the slice's own effective
    unit price does not.
    """
    quantity = "CAST(c.PricingQuantity * a.x_weight AS DECIMAL(38,12))"
    derived = f"CAST(CAST(a.{cost} AS DOUBLE) / CAST({quantity} AS DOUBLE) AS DECIMAL(38,12))"
    keep = f"c.{price} IS NULL OR a.{cost} IS NULL OR {quantity} = 0"
    return f"CASE WHEN {keep} THEN c.{price} ELSE {derived} END AS {price}"


def _allocated_sql(workspace: Workspace, periods: list[str] | None) -> str:
    manifest = workspace.lake.read()
    slices = [s for s in manifest.slices.values() if s.dataset == "allocations"]
    files = [
        str(workspace.lake.root / f)
        for s in slices
        if not periods or s.period in periods
        for f in s.files
    ]
    if not files:
        which = ", ".join(periods) if periods else "any period"
        raise WorkspaceError(
            f"no allocations for {which}: run `costcouncil allocate {workspace.root}` first"
        )
    listed = ", ".join(lit(f) for f in files)
    metrics = [f"a.{m} AS {m}" for m in _METRICS]
    quantities = [f"CAST(c.{n} * a.x_weight AS DECIMAL(38,12)) AS {n}" for n in _QUANTITIES]
    quantities += [_unit_price(price, cost) for price, cost in _UNIT_PRICES]
    extra = ", ".join(_STORED + _METRICS)
    return (
        f"SELECT c.* REPLACE ({', '.join(metrics + quantities)}), a.* EXCLUDE ({extra}) "
        f"FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false) AS a JOIN costs AS c "
        "ON c.x_source_file = a.x_source_file AND c.x_source_row = a.x_source_row"
    )


def _costs_sql(files: list[str]) -> str:
    if files:
        listed = ", ".join(lit(f) for f in files)
        return f"SELECT * FROM read_parquet([{listed}])"
    typed = [f"NULL::{SQL_TYPES[c.kind]} AS {q(c.name)}" for c in lake_columns()]
    typed += [f"NULL::{_SOURCE_SQL[name]} AS {name}" for name, _ in SOURCE_COLUMNS]
    return "SELECT " + ", ".join(typed) + " WHERE false"
