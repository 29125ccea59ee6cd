"""The rollups of a lake held in an in-memory DuckDB, reloaded when the manifest changes.

The hourly and daily rollups and the usage rollups are loaded into memory tables (they are
small: a day per owner, not a row per charge); the resource-level rollup stays a view over its
Parquet files. Each query runs on its own cursor, so concurrent requests do not share one; its
result is cached until the lake changes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from costcouncil.engine.duckdb import connect
from costcouncil.lake import manifest as mf
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.core import Workspace

_CHECK_SECONDS = 1.0
_RESULTS = 4096
_IN_MEMORY = ("hourly", "daily")


@dataclass
class Loaded:
    """One loaded state of the lake: the connection and what it holds."""

    con: duckdb.DuckDBPyConnection
    stamp: tuple[int, int]
    periods: list[str]
    tables: frozenset[str]
    #: Usage rollup columns a lake written by an older version lacks (their figures are unknown).
    lacking: frozenset[str] = frozenset()

    def usage_keys(self, name: str) -> set[str]:
        """The dimensions usage rollup ``name`` (``llm``, ``gpu``) really holds in this lake."""
        keys = rollups.USAGE_DIMENSIONS[name]
        return {k for k in keys if f"usage_{name}.{k}" not in self.lacking}


class RollupStore:
    """Answers figure queries from the workspace's rollups."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None
        self._checked = 0.0
        self._results: OrderedDict[tuple[tuple[int, int], str], list[dict[str, Any]]] = (
            OrderedDict()
        )

    def stamp(self) -> tuple[int, int]:
        """Changes whenever the manifest is replaced (every lake commit)."""
        try:
            st = self.workspace.lake.manifest_path.stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_ino)

    def current(self) -> Loaded:
        """The loaded state, reloaded when the lake changed (checked at most once a second)."""
        with self._lock:
            now = time.monotonic()
            if self._loaded is None or now - self._checked > _CHECK_SECONDS:
                self._checked = now
                stamp = self.stamp()
                if self._loaded is None or self._loaded.stamp != stamp:
                    self._loaded = self._load(stamp)
            return self._loaded

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of ``sql`` as dicts (costs as Decimals, never NULL), cached until the lake
        changes: the rollups are read-only between allocation runs."""
        loaded = self.current()
        key = (loaded.stamp, sql)
        with self._lock:
            hit = self._results.get(key)
            if hit is not None:
                self._results.move_to_end(key)
        if hit is None:
            hit = _rows(loaded.con.cursor(), sql)
            with self._lock:
                self._results[key] = hit
                while len(self._results) > _RESULTS:
                    self._results.popitem(last=False)
        return [dict(r) for r in hit]

    def _load(self, stamp: tuple[int, int]) -> Loaded:
        manifest = self.workspace.lake.read()
        root = self.workspace.lake.root
        con = connect(temp_dir=root / ".spill")
        periods = sorted(
            s.period for s in manifest.slices.values() if s.dataset == rollups.DATASET and s.period
        )
        keys = self.workspace.config.tags.owner_keys
        for tier in rollups.TIERS:
            files = _files(manifest, root, periods, tier)
            source = _source(files, tier, keys)
            kind = "TABLE" if tier in _IN_MEMORY else "VIEW"
            con.execute(f"CREATE {kind} {tier} AS {source}")
            have = {r[0] for r in con.execute(f"DESCRIBE {tier}").fetchall()}
            missing = [d for d in rollups.dimensions(keys, tier) if d not in have]
            if missing:  # rollups written before these dimensions existed
                added = ", ".join(f"NULL::VARCHAR AS {q(d)}" for d in missing)
                con.execute(f"CREATE OR REPLACE {kind} {tier} AS SELECT *, {added} FROM ({source})")
        tables = set(rollups.TIERS)
        lacking: set[str] = set()
        for name in rollups.USAGE_FILES:
            found = rollups.file_of(manifest, rollups.USAGE_SLICE, name)
            if found is not None:
                path = lit(str(root / found))
                con.execute(f"CREATE TABLE usage_{name} AS SELECT * FROM read_parquet({path})")
                tables.add(f"usage_{name}")
                lacking |= _complete(con, f"usage_{name}")
        return Loaded(con, stamp, periods, frozenset(tables), frozenset(lacking))


#: Columns added to the usage rollups since they were first written: (table, column, type).
_ADDED = (
    ("usage_gpu", "model_version", "VARCHAR"),
    ("usage_runs", "accelerator_type", "VARCHAR"),
    ("usage_runs", "accelerators", "DOUBLE"),
)


def _complete(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """Add the columns an older usage rollup lacks (as NULL); the ``table.column`` names added."""
    have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    added = set()
    for name, column, kind in _ADDED:
        if name == table and column not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            added.add(f"{table}.{column}")
    return added


def _files(manifest: mf.Manifest, root: object, periods: list[str], tier: str) -> list[str]:
    out = []
    for period in periods:
        found = rollups.file_of(manifest, f"{rollups.DATASET}/{period}", tier)
        if found is not None:
            out.append(f"{root}/{found}")
    return out


def _source(files: list[str], tier: str, keys: list[str]) -> str:
    if files:
        listed = ", ".join(lit(f) for f in files)
        return f"SELECT * FROM read_parquet([{listed}], union_by_name = true)"
    time_col = "NULL::TIMESTAMPTZ AS hour" if tier == "hourly" else "NULL::DATE AS day"
    dims = [f"NULL::VARCHAR AS {q(d)}" for d in rollups.dimensions(keys, tier)]
    sums = [f"NULL::DECIMAL(38,12) AS {m}" for m in rollups.METRICS.values()]
    return "SELECT " + ", ".join([time_col, *dims, *sums, "0::HUGEINT AS rows"]) + " WHERE false"


def _rows(cursor: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    try:
        result = cursor.execute(sql)
        names = [d[0] for d in result.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    finally:
        cursor.close()
    for row in rows:
        if "cost" in row and row["cost"] is None:
            row["cost"] = Decimal(0)
    return rows
