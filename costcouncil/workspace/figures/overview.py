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
    owned = sum((r["cost"] for r in by_team if r["team"] not in SENTINELS), Decimal(0))
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
        "coverage": None if not figures["month_to_date"] else owned / figures["month_to_date"],
        "unallocated": sum(
            (r["cost"] for r in by_team if r["team"] == "__unallocated__"), Decimal(0)
        ),
        "idle_gpu": idle,
        "idle_share_of_compute": None if not gpu else idle / gpu,
        "by_team": by_team,
        "by_model": _named(cost_rows(store, mtd, ["model"], limit=TOP + 1)),
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


def _named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "model": r["model"] if r["model"] is not None else NONE} for r in rows]


def movers(store: RollupStore, now: Filter, before: Filter) -> list[dict[str, Any]]:
    """Teams and models whose cost moved most against the same days of last month."""
    out = []
    for key in ("team", "model"):
        current = {r[key]: r["cost"] for r in cost_rows(store, now, [key])}
        earlier = {r[key]: r["cost"] for r in cost_rows(store, before, [key])}
        for name in set(current) | set(earlier):
            a, b = current.get(name, Decimal(0)), earlier.get(name, Decimal(0))
            if a != b:
                out.append({"key": key, "name": name if name is not None else NONE,
                            "now": a, "before": b, "change": a - b})  # fmt: skip
    out.sort(key=lambda m: (-abs(m["change"]), m["key"], str(m["name"])))
    return out[:TOP]
