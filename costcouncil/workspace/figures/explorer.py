"""The explorer: drill team → project → model → model version → run → resource.

The drill path is a filter on the levels already chosen; the page shows the next level's
groups with their share, a trend of the selection stacked by those groups, and the path back.
What is on screen is exactly :func:`explore`'s ``rows`` (which the CSV/Parquet downloads hold).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from costcouncil.errors import ConfigError
from costcouncil.schema.sql import lit
from costcouncil.workspace.figures.filters import NONE, Filter, cost_rows, scope, team_scope
from costcouncil.workspace.figures.rollup_store import RollupStore

LEVELS = ("team", "project", "model", "model_version", "run", "resource")
ROW_LIMIT = 100_000  # groups a download holds at most
PAGE_SIZE = 50
STACK = 8


def next_level(flt: Filter) -> str | None:
    """The first drill level the filter has not fixed (None below the resource)."""
    chosen = {k for k, _ in flt.where}
    return next((level for level in LEVELS if level not in chosen), None)


def grain_for(flt: Filter) -> str:
    days = (flt.end - flt.start).days
    return "day" if days <= 92 else "week" if days <= 400 else "month"


def explore(
    store: RollupStore, flt: Filter, level: str | None = None, page: int | None = 1
) -> dict[str, Any]:
    """The explorer's figures for the selection ``flt`` grouped by ``level``: one page of
    :data:`PAGE_SIZE` groups, largest first (``page=None``: every group, for a download)."""
    level = level or next_level(flt) or "resource"
    every = cost_rows(store, flt, [level], limit=ROW_LIMIT)
    pages = max(1, -(-len(every) // PAGE_SIZE))
    if page is not None and not 1 <= page <= pages:
        raise ConfigError(f"'page' must be between 1 and {pages}, not {page}")
    rows = every if page is None else every[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    total = sum((r["cost"] for r in cost_rows(store, flt, [])), Decimal(0))
    for row in rows:
        row[level] = row[level] if row[level] is not None else NONE
        row["share"] = None if not total else row["cost"] / total
    grain = grain_for(flt)
    top = [r[level] for r in rows[:STACK]]
    trend = _stacked(cost_rows(store, flt, [level], grain), level, top)
    path = [
        {"key": key, "value": ",".join(values), "params": _upto(flt, key)}
        for key, values in flt.where
        if key in LEVELS
    ]
    return {
        "from": flt.start,
        "to": flt.end,
        "last_day": flt.end - timedelta(days=1),
        "level": level,
        "levels": list(LEVELS),
        "path": path,
        "filters": [{"key": k, "value": ",".join(v)} for k, v in flt.where if k not in LEVELS],
        "tags": [{"key": k, "value": v} for k, v in flt.tags],
        "metric": flt.metric,
        "currency": flt.currency,
        "total": total,
        "rows": rows,
        "groups": len(every),
        "page": page,
        "pages": pages,
        "page_size": PAGE_SIZE,
        "truncated": len(every) == ROW_LIMIT,
        "names": names_of(store, flt, level, [r[level] for r in rows]),
        "runs": run_facts(
            store,
            [r["run"] for r in rows] if level == "run" else list(flt.value("run")),
            flt.teams,
        ),
        "grain": grain,
        "trend": trend,
        "params": flt.params(),
        "scope": scope(flt),
    }


def _upto(flt: Filter, key: str) -> dict[str, str]:
    """The parameters of the path cut after ``key`` (a breadcrumb's link)."""
    keep, where = True, []
    for k, v in flt.where:
        if k in LEVELS and not keep:
            continue
        where.append((k, v))
        keep = keep and k != key
    return flt.narrowed(where=tuple(where)).params()


def _stacked(rows: list[dict[str, Any]], level: str, top: list[Any]) -> list[dict[str, Any]]:
    """Trend rows with every group outside ``top`` summed into 'others'."""
    out: dict[tuple[Any, Any], Decimal] = {}
    for row in rows:
        name = row[level] if row[level] is not None else NONE
        name = name if name in top else "others"
        key = (row["period"], name)
        out[key] = out.get(key, Decimal(0)) + row["cost"]
    return [{"period": p, level: n, "cost": c} for (p, n), c in sorted(out.items(), key=str)]


def run_facts(
    store: RollupStore, runs: list[Any], teams: frozenset[str] | None = None
) -> dict[str, dict[str, Any]]:
    """What the jobs say of each run: kind, status, start and end, duration, jobs, GPU type and
    count, GPU-hours (runs the jobs do not know are left out). For a member (``teams``) only
    their teams' jobs count: another team's run is not known to them."""
    named = [r for r in runs if r not in (None, NONE)]
    if not named or "usage_runs" not in store.current().tables:
        return {}
    listed = ", ".join(lit(str(r)) for r in named)
    scope = "" if teams is None else f" AND {team_scope(teams)}"
    found = store.query(f"SELECT * FROM usage_runs WHERE run IN ({listed}){scope} ORDER BY run")
    out: dict[str, dict[str, Any]] = {}
    for row in found:
        into = out.setdefault(row["run"], {**row, "gpu_hours": 0.0, "jobs": 0})
        into["gpu_hours"] += row["gpu_hours"] or 0.0
        into["jobs"] += row["jobs"] or 0
        into["start"] = min(into["start"], row["start"]) if into["start"] else row["start"]
        ends = [e for e in (into.get("end"), row["end"]) if e is not None]
        into["end"] = max(ends) if ends else None
    for facts in out.values():
        start, end = facts["start"], facts["end"]
        facts["hours"] = (end - start).total_seconds() / 3600 if start and end else None
    return out


#: Levels whose ids the bill names: the id's column and its name's column.
NAMED = {"resource": "resource_name", "account": "account_name"}


def names_of(store: RollupStore, flt: Filter, level: str, ids: list[Any]) -> dict[str, str]:
    """The bill's name of each resource or account id shown (ids without one are left out)."""
    column = NAMED.get(level)
    listed = [i for i in ids if i not in (None, NONE)]
    if column is None or not listed:
        return {}
    where = f"{level} IN ({', '.join(lit(str(i)) for i in listed)})"
    tier = "resources" if level == "resource" else "daily"
    rows = store.query(
        f"SELECT {level} AS id, max({column}) AS name FROM {tier} WHERE {where} GROUP BY 1"
    )
    return {r["id"]: r["name"] for r in rows if r["name"] not in (None, "", r["id"])}
