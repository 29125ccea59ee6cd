"""Export lake rows as FOCUS 1.2 again (CSV or Parquet), gated by our own conformance checks.

Conditional and recommended columns that no exported row fills are left out (FOCUS: such a
column is present only where the provider supports its feature). CSV timestamps are written ``YYYY-MM-DDTHH:MM:SSZ`` and decimals in plain notation; Parquet keeps
the lake's types (UTC timestamps, decimal(38,12)). ``with_extensions`` adds the lake's ``x_``
columns, which FOCUS allows as custom columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from costcouncil.conformance import run_checks
from costcouncil.conformance.runner import Report as ConformanceReport
from costcouncil.errors import ExportError
from costcouncil.schema.arrow import SOURCE_COLUMNS
from costcouncil.schema.focus import FOCUS_1_2, Column
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.common.query import open_costs
from costcouncil.workspace.core import Workspace

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class ExportResult:
    """Where the export went, how many rows, and the conformance report."""

    path: Path
    rows: int
    conformance: ConformanceReport


def export_focus(
    workspace: Workspace,
    out: Path,
    period: str | None = None,
    with_extensions: bool = False,
    force: bool = False,
    allocated: bool = False,
) -> ExportResult:
    """Write the lake's rows (one billing period, or all) as a FOCUS 1.2 file at ``out``.

    With ``allocated`` the rows are the allocations (one per slice of a cost row, with the
    allocated amounts) and carry the ``x_`` owner keys, ``x_rule``, ``x_method`` and ``x_weight``.
    """
    fmt = _format(out)
    con = open_costs(workspace, [period] if period else None, allocated)
    source = "allocated" if allocated else "costs"
    extra = _allocation_columns(con, workspace) if allocated else []
    select = _select(_present(con, source), with_extensions, source, extra)
    con.execute(f"CREATE TEMP VIEW export AS {select}")
    checked = run_checks(con, "export")
    if not checked.ok and not force:
        raise ExportError(
            f"{out}: the export fails FOCUS conformance (nothing written):\n"
            f"{checked.to_text()}\nUse --force to write it anyway."
        )
    rows = con.execute("SELECT count(*) FROM export").fetchone()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    con.execute(f"COPY ({_rendered(fmt)}) TO {lit(str(tmp))} ({_options(fmt)})")
    tmp.replace(out)
    return ExportResult(out, int(rows[0]) if rows else 0, checked)


def _format(out: Path) -> str:
    suffixes = "".join(out.suffixes).lower()
    for fmt in ("parquet", "csv"):
        if f".{fmt}" in suffixes:
            return fmt
    raise ExportError(f"{out}: name the file .csv, .csv.gz or .parquet")


def _allocation_columns(con: duckdb.DuckDBPyConnection, workspace: Workspace) -> list[str]:
    have = {r[0] for r in con.execute("DESCRIBE allocated").fetchall()}
    wanted = [f"x_{k}" for k in workspace.config.tags.owner_keys]
    wanted += ["x_rule", "x_method", "x_weight", "x_usage_weight", "x_usage_count"]
    return [q(c) for c in wanted if c in have]


def _present(con: duckdb.DuckDBPyConnection, source: str = "costs") -> list[Column]:
    """Mandatory columns, and the optional ones the data has a value in.

    A FOCUS conditional or recommended column is present only where the provider supports its
    feature; a column that is NULL on every exported row (a 1.0 file upgraded, a converter that
    cannot fill it) is left out rather than written empty.
    """
    optional = [c for c in FOCUS_1_2 if not c.mandatory]
    counts = con.execute(
        "SELECT " + ", ".join(f"count({q(c.name)})" for c in optional) + f" FROM {source}"
    ).fetchone()
    filled = {c.name for c, n in zip(optional, counts or (), strict=True) if n}
    return [c for c in FOCUS_1_2 if c.mandatory or c.name in filled]


def _select(
    columns: list[Column],
    with_extensions: bool,
    source: str = "costs",
    extra: list[str] | None = None,
) -> str:
    cols = [q(c.name) for c in columns] + (extra or [])
    if with_extensions:
        cols += [name for name, _ in SOURCE_COLUMNS]
    order = '"ChargePeriodStart", x_source_file, x_source_row'
    return f"SELECT {', '.join(cols)} FROM {source} ORDER BY {order}"


def _rendered(fmt: str) -> str:
    if fmt == "parquet":
        return "SELECT * FROM export"
    stamps = [c.name for c in FOCUS_1_2 if c.kind == "datetime" and c.mandatory]
    replaced = ", ".join(f"strftime({q(n)}, {lit(ISO_UTC)}) AS {q(n)}" for n in stamps)
    return f"SELECT * REPLACE ({replaced}) FROM export"


def _options(fmt: str) -> str:
    return "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
