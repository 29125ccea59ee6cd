"""The oracle of the dashboard tests: figures computed straight from the lake's Parquet files.

Nothing here reads the rollups or imports the figures code. DuckDB joins the current allocation
files to the cost files the manifest lists (on ``x_source_file``, ``x_source_row``); every sum,
the spend category, the day of a charge and each overview figure are then computed in plain
Python with Decimals, the slow obvious way.
"""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

SENTINEL_TEAMS = ("__idle__", "__unallocated__")
NONE = "(none)"
SIX = Decimal("0.000001")


@dataclass(frozen=True)
class Row:
    """One allocation row with the columns of its charge the figures need."""

    hour: datetime
    team: str | None
    model: str | None
    method: str | None
    category: str
    cost: Decimal
    currency: str
    tags: Mapping[str, str]

    @property
    def day(self) -> date:
        return self.hour.date()


def category(service: str | None, service_category: str | None, unit: str | None) -> str:
    """The spend category of a charge, as the overview's trend names it."""
    name, unit = (service or "").lower(), (unit or "").lower()
    if "support" in name:
        return "support"
    if service_category == "AI and Machine Learning" and "hour" not in unit:
        return "llm_api"
    if service_category in ("Compute", "AI and Machine Learning"):
        return "compute"
    if service_category in ("Storage", "Databases"):
        return "storage"
    return "network" if service_category == "Networking" else "other"


def files(workspace: Path, dataset: str) -> list[str]:
    """The lake files of ``dataset`` that the manifest lists."""
    lake = workspace / "lake"
    manifest = json.loads((lake / "manifest.json").read_text())
    return [
        str(lake / f)
        for s in manifest["slices"].values()
        if s["dataset"] == dataset
        for f in s["files"]
    ]


_JOIN = (
    "SELECT epoch_us(a.ChargePeriodStart), a.x_team, a.x_model, a.x_method, c.ServiceName, "
    "c.ServiceCategory, c.PricingUnit, a.EffectiveCost, a.BillingCurrency, c.Tags "
    "FROM read_parquet($a, union_by_name = true) AS a "
    "JOIN read_parquet($c, union_by_name = true) AS c "
    "ON c.x_source_file = a.x_source_file AND c.x_source_row = a.x_source_row"
)


def lake_rows(workspace: Path) -> list[Row]:
    """Every allocation row of the workspace's lake, joined to its charge."""
    params = {"a": files(workspace, "allocations"), "c": files(workspace, "costs")}
    with duckdb.connect() as con:
        found = con.execute(_JOIN, params).fetchall()
    return [
        Row(datetime.fromtimestamp(us / 1e6, UTC), team, model, method,
            category(service, service_category, unit), Decimal(cost), currency,
            json.loads(tags) if tags else {})
        for us, team, model, method, service, service_category, unit, cost, currency, tags
        in found
    ]  # fmt: skip


class Lake:
    """Sums over the lake's rows in one currency, optionally for some teams only."""

    def __init__(self, rows: Iterable[Row], currency: str = "USD") -> None:
        self.currency = currency
        self.rows = [r for r in rows if r.currency == currency]

    def scoped(self, teams: set[str]) -> Lake:
        return Lake([r for r in self.rows if r.team in teams], self.currency)

    def last_day(self) -> date:
        return max(r.day for r in self.rows)

    def span(self, start: date, end: date) -> list[Row]:
        return [r for r in self.rows if start <= r.day < end]

    def total(self, start: date, end: date, keep: Callable[[Row], bool] = bool) -> Decimal:
        return sum((r.cost for r in self.span(start, end) if keep(r)), Decimal(0))

    def by(self, start: date, end: date, key: Callable[[Row], Any]) -> dict[Any, Decimal]:
        out: dict[Any, Decimal] = defaultdict(Decimal)
        for r in self.span(start, end):
            out[key(r)] += r.cost
        return dict(out)


def six(value: Decimal) -> Decimal:
    """A figure as the API writes it: six decimals."""
    return value.quantize(SIX)


def named(value: str | None) -> str:
    return value if value is not None else NONE


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month(day: date) -> date:
    return (_month_start(day) - timedelta(days=1)).replace(day=1)


def overview(lake: Lake, as_of: date) -> dict[str, Any]:
    """The overview's figures, computed from the lake's rows."""
    start, end = _month_start(as_of), as_of + timedelta(days=1)
    last = _previous_month(as_of)
    same = last + timedelta(days=min(as_of.day, calendar.monthrange(last.year, last.month)[1]))
    mtd = lake.total(start, end)
    teams = lake.by(start, end, lambda r: r.team)
    idle = lake.total(start, end, lambda r: r.method == "idle")
    compute = lake.total(start, end, lambda r: r.category == "compute")
    owned = sum((c for t, c in teams.items() if _real(t)), Decimal(0))
    idle_line = teams.get("__idle__", Decimal(0))
    days = calendar.monthrange(as_of.year, as_of.month)[1]
    trend_from = _previous_month(_previous_month(as_of))
    return {
        "month_to_date": mtd,
        "last_month_same_days": lake.total(last, same),
        "last_month": lake.total(last, start),
        "run_rate": mtd * days / as_of.day,
        "coverage": owned / mtd if mtd else None,
        "unallocated": mtd - owned - idle_line,
        "parts": {"allocated": owned, "idle": idle_line, "unallocated": mtd - owned - idle_line},
        "idle_gpu": idle,
        "idle_share_of_compute": idle / compute if compute else None,
        "by_team": {t: c for t, c in teams.items() if _real(t)},
        "by_model": {
            m: c
            for m, c in lake.by(start, end, lambda r: named(r.model)).items()
            if m not in SENTINEL_TEAMS
        },
        "movers": movers(lake, (start, end), (last, same)),
        "trend": lake.by(trend_from, end, lambda r: (r.day.isoformat(), r.category)),
    }


def _real(team: str | None) -> bool:
    """A team that is an owner: neither missing nor a sentinel."""
    return team is not None and team not in SENTINEL_TEAMS


def _owner(key: str) -> Callable[[Row], str]:
    """The row's team or model, ``(none)`` when it has none."""
    return lambda r: named(r.team if key == "team" else r.model)


def movers(
    lake: Lake, now: tuple[date, date], before: tuple[date, date], top: int = 8
) -> list[dict[str, Any]]:
    """Teams and models whose cost changed against the same days of last month, largest first."""
    out = []
    for key in ("team", "model"):
        a, b = lake.by(*now, _owner(key)), lake.by(*before, _owner(key))
        for name in set(a) | set(b):
            change = a.get(name, Decimal(0)) - b.get(name, Decimal(0))
            if key == "model" and name in SENTINEL_TEAMS:
                continue  # idle capacity and unallocated cost once, as lines, not as models
            if change:
                kind = "line" if name in SENTINEL_TEAMS else key
                out.append({"key": kind, "name": name, "change": change,
                            "now": a.get(name, Decimal(0)), "before": b.get(name, Decimal(0))})  # fmt: skip
    out.sort(key=lambda m: (-abs(m["change"]), m["key"], m["name"]))
    return out[:top]
