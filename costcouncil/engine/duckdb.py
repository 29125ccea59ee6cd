"""DuckDB, the embedded engine: one way to open a connection, run long statements with progress.

Every connection runs in UTC (``TimeZone``), so naive timestamps read as UTC and ``strftime`` of a
``TIMESTAMPTZ`` gives UTC calendar fields; it has a memory limit and spills to ``temp_directory``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from costcouncil.settings import Settings, get_settings

Progress = Callable[[float], None]


def connect(
    temp_dir: Path | None = None, settings: Settings | None = None
) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection configured for CostCouncil's work."""
    settings = settings or get_settings()
    con = duckdb.connect(config={"memory_limit": settings.memory_limit})
    con.execute("SET TimeZone = 'UTC'")
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(temp_dir)])
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    return con


def execute(con: duckdb.DuckDBPyConnection, sql: str, progress: Progress | None = None) -> Any:
    """Run ``sql``; while it runs, report DuckDB's own progress (0..1) to ``progress``."""
    if progress is None:
        return con.execute(sql).fetchall()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["rows"] = con.execute(sql).fetchall()
        except BaseException as e:  # re-raised in the caller's thread
            result["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
        fraction = con.query_progress()
        if fraction >= 0:
            progress(min(fraction / 100.0, 1.0))
    if "error" in result:
        raise result["error"]
    progress(1.0)
    return result["rows"]
