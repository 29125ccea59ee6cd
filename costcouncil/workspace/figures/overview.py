"""The overview: month to date against last month, run-rate, coverage, movers, idle GPU cost.

"Today" is the last day with cost in the lake (``as_of``), so a finished bill reads as the month
it is, not as an empty current month; a caller may pin ``as_of``. Every figure is a sum over the
rollups through :func:`~costcouncil.workspace.figures.filters.cost_rows`, so a member's overview counts
their teams only.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from costcouncil.attribution import SENTINELS
from costcouncil.workspace.figures.filters import NONE, Filter, cost_rows, scope, total
from costcouncil.workspace.figures.rollup_store import RollupStore

IDLE_METHOD = "idle"
TOP = 8


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month(day: date) -> date:
    return (month_start(day) - timedelta(days=1)).replace(day=1)


def overview(store: RollupStore, base: Filter, as_of: date) -> dict[str, Any]:
    """The overview's figures for the month of ``as_of`` (``base`` gives scope and metric)."""
    mtd = base.narrowed(start=month_start(as_of), end=as_of + timedelta(days=1))
    last_start = previous_month(as_of)
    days_in_last = calendar.monthrange(last_start.year, last_start.month)[1]
    same_day = last_start + timedelta(days=min(as_of.day, days_in_last))
    last_mtd = base.narrowed(start=last_start, end=same_day)
    last_month = base.narrowed(start=last_start, end=month_start(as_of))
    figures = {
        "month_to_date": total(store, mtd),
        "last_month_same_days": total(store, last_mtd),
        "last_month": total(store, last_month),
    }
    days_in_month = calendar.monthrange(as_of.year, as_of.month)[1]
    figures["run_rate"] = figures["month_to_date"] / as_of.day * days_in_month
    by_team = cost_rows(store, mtd, ["team"])
    parts = coverage_parts(by_team, figures["month_to_date"])
    idle = total(store, mtd.with_value("method", IDLE_METHOD))
    gpu = total(store, mtd.narrowed(where=(*mtd.where, ("category", ("compute",)))))
    trend_from = month_start(previous_month(previous_month(as_of)))
    return {
        "as_of": as_of,
        "month": as_of.strftime("%Y-%m"),
        "metric": base.metric,
        "currency": base.currency,
        **figures,
        "change": figures["month_to_date"] - figures["last_month_same_days"],
        "coverage": parts["allocated"]["share"],
        "parts": parts,
        "unallocated": parts["unallocated"]["cost"],
        "idle_gpu": idle,
        "idle_share_of_compute": None if not gpu else idle / gpu,
        # A member's teams are charged only what they used: idle capacity is held centrally.
        "idle_held_centrally": base.teams is not None,
        "by_team": [r for r in by_team if _owner(r["team"])],
        "by_model": [
            r for r in _named(cost_rows(store, mtd, ["model"])) if r["model"] not in SENTINELS
        ],
        "movers": movers(store, mtd, last_mtd),
        "trend_from": trend_from,
        "trend": cost_rows(
            store,
            base.narrowed(start=trend_from, end=as_of + timedelta(days=1)),
            ["category"],
            "day",
        ),
        "links": {"mtd": mtd.params(), "last_month": last_month.params()},
        "scope": scope(base),
    }


def _owner(value: Any) -> bool:
    """A real owner: a value that is not a sentinel (a missing team is no owner)."""
    return value is not None and value not in SENTINELS


def coverage_parts(by_team: list[dict[str, Any]], whole: Decimal) -> dict[str, dict[str, Any]]:
    """The month's cost in three parts that add up to it: allocated to a team, idle capacity,
    and unallocated (no rule found an owner, or the owner has no team; credits with no owner
    make it negative)."""
    allocated = sum((r["cost"] for r in by_team if _owner(r["team"])), Decimal(0))
    idle = sum((r["cost"] for r in by_team if r["team"] == "__idle__"), Decimal(0))
    amounts = {"allocated": allocated, "idle": idle, "unallocated": whole - allocated - idle}
    return {k: {"cost": v, "share": v / whole if whole else None} for k, v in amounts.items()}


def _named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "model": r["model"] if r["model"] is not None else NONE} for r in rows]


def movers(store: RollupStore, now: Filter, before: Filter) -> list[dict[str, Any]]:
    """Teams and models whose cost moved most against the same days of last month; idle
    capacity and the unallocated cost once each (as ``line``), never as a team and a model."""
    out = []
    for key in ("team", "model"):
        current = {r[key]: r["cost"] for r in cost_rows(store, now, [key])}
        earlier = {r[key]: r["cost"] for r in cost_rows(store, before, [key])}
        for name in set(current) | set(earlier):
            if key == "model" and name in SENTINELS:
                continue
            a, b = current.get(name, Decimal(0)), earlier.get(name, Decimal(0))
            if a != b:
                kind = "line" if name in SENTINELS else key
                out.append({"key": kind, "name": name if name is not None else NONE,
                            "now": a, "before": b, "change": a - b})  # fmt: skip
    out.sort(key=lambda m: (-abs(m["change"]), m["key"], str(m["name"])))
    return out[:TOP]
