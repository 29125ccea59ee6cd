"""``costcouncil forecast DIR``: refresh the saved forecasts (every scope), or forecast the named
scopes only, and optionally write their daily points as CSV for people."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from costcouncil.errors import CostCouncilError
from costcouncil.workspace.allocate.series import parse_scope
from costcouncil.workspace.common.csvsafe import write_csv
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import Saved, load, refresh_forecasts


def forecast_workspace(
    workspace: Workspace, scopes: list[str], output: Path | None
) -> Saved | None:
    """Forecast (and save) every scope, or only ``scopes`` when named; None when nothing is
    allocated. Named scopes are forecast alone: the saved forecasts keep every scope."""
    if scopes:
        parsed = [parse_scope(workspace, s) for s in scopes]
        saved = load(workspace)
        if saved is None or any(str(p) not in saved.scopes for p in parsed):
            saved = refresh_forecasts(workspace)
        if saved is not None:
            wanted = {str(p) for p in parsed}
            saved = Saved(saved.created_at, saved.currency, saved.first_day,
                          {k: v for k, v in saved.scopes.items() if k in wanted}, saved.path)  # fmt: skip
    else:
        saved = refresh_forecasts(workspace)
    if saved is not None and output is not None:
        _write(saved, output)
    return saved


def _write(saved: Saved, output: Path) -> None:
    tables = [
        _with_method(saved.points(scope), saved.scopes[scope]["method"]) for scope in saved.scopes
    ]
    table = pa.concat_tables(tables) if tables else None
    try:
        with output.open("wb") as sink:
            if table is not None:
                write_csv(table, sink)
    except OSError as e:
        raise CostCouncilError(f"cannot write {output}: {e.strerror or e}") from e


def _with_method(points: pa.Table, method: str) -> pa.Table:
    return points.append_column("method", pa.array([method] * points.num_rows, pa.string()))
