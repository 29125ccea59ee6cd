"""Allocated cost as time series per scope: what forecasts and anomaly monitors read.

A **scope** is the organisation (``org``) or one value of one dimension of the rollups:
``team=research``, ``model=support-bot``, ``provider=aws``, ``service_category=Compute`` — any
owner key of the workspace, or ``provider``, ``service``, ``service_category``, ``account``,
``region``. A scope's series is the sum of a cost metric (``EffectiveCost`` by default) per day
(the daily rollup) or per hour (the hourly rollup, coarse dimensions only), in the workspace's
currency, from its first day with cost to the **last complete day** of the lake (a day whose last
hour has cost rows), with days without cost as 0. Every figure is a plain sum of allocation rows,
so a scope's series adds up to the lake's total for it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import duckdb
import numpy as np

from costcouncil.engine.duckdb import connect
from costcouncil.errors import ConfigError
from costcouncil.schema.series import DAY, HOUR, Series
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.common.inputs import lake_view
from costcouncil.workspace.core import Workspace

#: Dimensions besides the owner keys that a scope may name.
FIXED_DIMENSIONS = ("provider", "service", "service_category", "account", "region")
#: Cost metrics a series may sum.
METRICS = ("EffectiveCost", *(m for m in rollups.METRICS.values() if m != "EffectiveCost"))
ORG = "org"
#: Which charges a series sums: SQL added to its filter.
CHARGES = {
    "all": "",
    "usage": " AND charge_category = 'Usage'",
    "other": " AND coalesce(charge_category, '') <> 'Usage'",
}


@dataclass(frozen=True)
class Scope:
    """``org`` (dimension None) or ``dimension=value``."""

    dimension: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        return ORG if self.dimension is None else f"{self.dimension}={self.value}"

    @property
    def team(self) -> str | None:
        """The one team this scope belongs to (what a member's visibility is checked against)."""
        return self.value if self.dimension == "team" else None


def dimensions(workspace: Workspace, grain: str = "day") -> tuple[str, ...]:
    """The dimensions a scope may name at ``grain``."""
    keys = tuple(workspace.config.tags.owner_keys)
    if grain == "hour":
        return tuple(d for d in rollups.COARSE if d in keys or d == "provider")
    return (*keys, *FIXED_DIMENSIONS)


def parse_scope(workspace: Workspace, text: str, grain: str = "day") -> Scope:
    """``org`` or ``dimension=value``; an unknown dimension is a ConfigError with the choices."""
    text = text.strip()
    if text == ORG:
        return Scope()
    name, sep, value = text.partition("=")
    allowed = dimensions(workspace, grain)
    if not sep or not value:
        raise ConfigError(f"scope {text!r}: write 'org' or DIMENSION=VALUE, e.g. team=research")
    if name not in allowed:
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"scope {text!r}: unknown dimension {name!r}{hint} (choices: {', '.join(allowed)})"
        )
    return Scope(name, value)


def scope_series(
    workspace: Workspace,
    scopes: list[Scope],
    *,
    metric: str = "EffectiveCost",
    grain: str = "day",
    charges: str = "all",
) -> dict[Scope, Series]:
    """The series of each scope (a scope without any cost is left out).

    ``charges``: ``all``, ``usage`` (ChargeCategory ``Usage``: what anomaly monitors watch) or
    ``other`` (purchases, fees, taxes, credits, adjustments: invoice events that recur by month).
    """
    if metric not in METRICS:
        raise ConfigError(f"metric {metric!r}: choose one of {', '.join(METRICS)}")
    if charges not in CHARGES:
        raise ConfigError(f"charges {charges!r}: choose one of {', '.join(CHARGES)}")
    if charges != "all" and grain == "hour":
        raise ConfigError("hourly series sum every charge: the hourly rollup has no ChargeCategory")
    files = _files(workspace, "hourly" if grain == "hour" else "daily")
    if not files or not scopes:
        return {}
    con = connect()
    try:
        lake_view(con, "r", files)
        end = _last_complete(con, workspace, grain)
        out: dict[Scope, Series] = {}
        for dimension, group in _by_dimension(scopes).items():
            out.update(_series(con, workspace, dimension, group, (metric, charges), grain, end))
        return out
    finally:
        con.close()


def all_values(workspace: Workspace, dimension: str) -> list[str]:
    """Every value of ``dimension`` with cost in the lake, by descending cost."""
    files = _files(workspace, "daily")
    if not files or dimension not in dimensions(workspace):
        return []
    con = connect()
    try:
        lake_view(con, "r", files)
        col = q(dimension)
        rows = con.execute(
            f"SELECT {col} FROM r WHERE {col} IS NOT NULL AND currency = ? "
            f"GROUP BY 1 ORDER BY SUM(EffectiveCost) DESC, 1",
            [workspace.config.currency],
        ).fetchall()
        return [str(r[0]) for r in rows]
    finally:
        con.close()


def rollup_files(workspace: Workspace, tier: str) -> list[str]:
    """The lake's rollup files of ``tier`` (``daily`` or ``hourly``), the latest run of each period."""
    return _files(workspace, tier)


def last_complete_end(con: duckdb.DuckDBPyConnection, workspace: Workspace) -> np.datetime64:
    """The day after the lake's last complete day (see :func:`_last_complete`)."""
    return _last_complete(con, workspace, "day")


def _files(workspace: Workspace, tier: str) -> list[str]:
    manifest = workspace.lake.read()
    root = workspace.lake.root
    found = [
        rollups.file_of(manifest, sid, tier)
        for sid, s in sorted(manifest.slices.items())
        if s.dataset == rollups.DATASET and s.period
    ]
    return [str(root / f) for f in found if f]


def _last_complete(
    con: duckdb.DuckDBPyConnection, workspace: Workspace, grain: str
) -> np.datetime64:
    """The end (exclusive) of the last complete step.

    Hours: the hour after the last hour with cost. Days: the day after the last day with cost
    when that day is complete — its 23:00 hour has cost rows, or the lake is daily-grained (the
    last two days' rows all start at midnight) — else that day itself (a day still being billed
    would look like a drop).
    """
    lake_view(con, "h", _files(workspace, "hourly"))
    rows = con.execute(
        "SELECT CAST(hour AS DATE) AS d, max(hour(hour)) FROM h GROUP BY 1 ORDER BY 1 DESC LIMIT 2"
    ).fetchall()
    if not rows:
        return np.datetime64("1970-01-01", "s")
    day = np.datetime64(rows[0][0], "s")
    if grain == "hour":
        last = con.execute("SELECT CAST(max(hour) AS TIMESTAMP) FROM h").fetchone()
        return np.datetime64(last[0], "s") + HOUR if last else day
    daily = len(rows) == 2 and rows[0][1] == 0 and rows[1][1] == 0
    complete = rows[0][1] == 23 or daily
    end: np.datetime64 = day + DAY if complete else day
    return end


def _by_dimension(scopes: list[Scope]) -> dict[str | None, list[Scope]]:
    out: dict[str | None, list[Scope]] = {}
    for s in scopes:
        out.setdefault(s.dimension, []).append(s)
    return out


def _series(
    con: duckdb.DuckDBPyConnection,
    workspace: Workspace,
    dimension: str | None,
    scopes: list[Scope],
    what: tuple[str, str],
    grain: str,
    end: np.datetime64,
) -> dict[Scope, Series]:
    metric, charges = what
    time = "hour" if grain == "hour" else "day"
    key = "NULL" if dimension is None else q(dimension)
    where = (
        ""
        if dimension is None
        else f"AND {key} IN ({', '.join(lit(str(s.value)) for s in scopes)})"
    )
    where += CHARGES[charges]
    rows = con.execute(
        f"SELECT CAST({key} AS VARCHAR), CAST({time} AS TIMESTAMP), SUM({q(metric)})::DOUBLE FROM r "
        f"WHERE currency = ? AND {time} < ? {where} GROUP BY 1, 2 ORDER BY 1, 2",
        [workspace.config.currency, end.astype(object)],
    ).fetchall()
    step = HOUR if grain == "hour" else DAY
    wanted = {s.value: s for s in scopes}
    grouped: dict[str | None, list[tuple[np.datetime64, float]]] = {}
    for value, when, amount in rows:
        grouped.setdefault(value, []).append((np.datetime64(when, "s"), float(amount or 0.0)))
    out = {}
    for value, points in grouped.items():
        scope = wanted.get(value)
        if scope is not None:
            out[scope] = _regular(str(scope), points, step, end)
    return out


def _regular(
    key: str, points: list[tuple[np.datetime64, float]], step: np.timedelta64, end: np.datetime64
) -> Series:
    start = points[0][0]
    n = max(int((end - start) // step), 1)
    values = np.zeros(n)
    for when, amount in points:
        i = int((when - start) // step)
        if 0 <= i < n:
            values[i] += amount
    return Series(key, start, step, values)
