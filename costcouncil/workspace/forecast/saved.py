"""The workspace's latest forecasts, kept beside the lake: ``forecasts/latest.parquet`` (one row
per scope and future day: value, lo80, hi80, lo95, hi95) and ``forecasts/latest.json`` (per
scope: method, backtest MASE and MAPE, history, fallback, the current month's expected end, the
next 12 months, and when the point forecast passes last month's total).

Both are replaced atomically (written aside, then renamed) by :func:`refresh_forecasts`, which
``allocate`` and ``serve`` run; the dashboard and API read them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from costcouncil.forecast import Band, Crossing, crossing, month_end, monthly
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.scopes import ScopeForecast, forecast_scopes

FOLDER = "forecasts"


@dataclass(frozen=True)
class Saved:
    """What :func:`load` finds: when it was made and each scope's summary (by scope text)."""

    created_at: str
    currency: str
    first_day: str
    scopes: dict[str, dict[str, Any]]
    path: Path

    def points(self, scope: str) -> pa.Table:
        """The daily points of one scope."""
        table = pq.read_table(self.path, filters=[("scope", "=", scope)])
        return table.sort_by("date")


def refresh_forecasts(workspace: Workspace, scopes: list[Scope] | None = None) -> Saved | None:
    """Forecast every scope and replace the saved forecasts; None when nothing is allocated."""
    made = forecast_scopes(workspace, scopes)
    if not made:
        return None
    folder = workspace.root / FOLDER
    folder.mkdir(exist_ok=True)
    _replace(folder / "latest.parquet", lambda p: pq.write_table(_points(made), p))
    meta = {
        "created_at": datetime.now(UTC).isoformat(),
        "currency": workspace.config.currency,
        "first_day": str(made[0].forecast.timestamps[0].astype("datetime64[D]")),
        "scopes": {str(f.scope): _summary(f) for f in made},
    }
    _replace(folder / "latest.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return load(workspace)


def load(workspace: Workspace) -> Saved | None:
    """The saved forecasts, if any."""
    folder = workspace.root / FOLDER
    try:
        meta = json.loads((folder / "latest.json").read_text())
    except (OSError, ValueError):
        return None
    return Saved(meta["created_at"], meta["currency"], meta["first_day"], meta["scopes"],
                 folder / "latest.parquet")  # fmt: skip


def _replace(target: Path, write: Any) -> None:
    aside = target.with_name(f".{target.name}.{os.getpid()}")
    write(aside)
    os.replace(aside, target)


def _points(made: list[ScopeForecast]) -> pa.Table:
    columns: dict[str, list[Any]] = {
        k: [] for k in ("scope", "date", "value", "lo80", "hi80", "lo95", "hi95")
    }
    for f in made:
        fc = f.forecast
        n = len(fc.value)
        columns["scope"] += [str(f.scope)] * n
        columns["date"] += list(fc.timestamps.astype("datetime64[D]").astype(object))
        for k in ("value", "lo80", "hi80", "lo95", "hi95"):
            columns[k] += np.round(getattr(fc, k), 6).tolist()
    return pa.table(columns)


def _summary(f: ScopeForecast) -> dict[str, Any]:
    fc = f.forecast
    first = fc.timestamps[0].astype("datetime64[D]")
    this_month = first.astype("datetime64[M]").astype("datetime64[D]")
    end = month_end(f.history, fc, this_month)
    last_month = _last_month_total(f, this_month)
    passes = crossing(end.actual, fc, last_month) if last_month > 0 else None
    return {
        "method": fc.method,
        "mase": fc.mase,
        "mape": fc.mape,
        "baseline_mase": fc.baseline_mase,
        "history_days": fc.history,
        "fallback": fc.fallback,
        "month": str(this_month)[:7],
        "month_actual": round(end.actual, 2),
        "month_end": _band(end.total),
        "last_month": round(last_month, 2),
        "passes_last_month": None
        if passes is None or passes.date is None
        else str(passes.date)[:10],
        "months": [
            {"month": str(m.start)[:7], "complete": m.complete, **_band(m.total)}
            for m in monthly(fc, 12)
        ],
    }


def _within(passes: Crossing | None, this_month: np.datetime64) -> str | None:
    """The day this month's spend passes last month's total, if it does this month."""
    if passes is None or passes.date is None:
        return None
    day = passes.date.astype("datetime64[D]")
    return str(day) if day.astype("datetime64[M]") == this_month.astype("datetime64[M]") else None


def _last_month_total(f: ScopeForecast, this_month: np.datetime64) -> float:
    start = (this_month.astype("datetime64[M]") - 1).astype("datetime64[D]")
    days = f.history.timestamps.astype("datetime64[D]")
    return float(f.history.values[(days >= start) & (days < this_month)].sum())


def _band(b: Band) -> dict[str, float]:
    return {k: round(getattr(b, k), 2) for k in ("value", "lo80", "hi80", "lo95", "hi95")}
