"""Ingest status: every source, its last data, its rejects, and the gaps in coverage.

Sources are the files the manifest records (cost exports and usage files, with their rows and
rejected rows) and, on a running server, the live event stream. Gaps are days without any cost
between a provider's first and last day, whole months missing after a provider's newest cost, periods whose costs are newer than their allocation,
and the cost left unallocated per period.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from costcouncil.attribution import SENTINELS
from costcouncil.lake import manifest as mf
from costcouncil.schema.sql import lit
from costcouncil.workspace.figures.freshness import missing_months
from costcouncil.workspace.figures.rollup_store import RollupStore

MAX_GAPS = 50


def ingest_status(
    store: RollupStore, live: dict[str, Any] | None = None, today: date | None = None
) -> dict[str, Any]:
    """The Ingest page's figures (no costs: safe for every role); ``today`` (the server's date)
    finds the months missing after each provider's newest cost."""
    manifest = store.workspace.lake.read()
    files = sorted(manifest.files.values(), key=lambda f: f.ingested_at, reverse=True)
    sources: dict[str, dict[str, Any]] = {}
    for f in files:
        entry = sources.setdefault(f.format, {"source": f.format, "files": 0, "rows": 0,
                                              "rejected": 0, "last_ingested": f.ingested_at,
                                              "last_as_of": f.as_of})  # fmt: skip
        entry["files"] += 1
        entry["rows"] += f.rows
        entry["rejected"] += f.rejected
        entry["last_as_of"] = max(entry["last_as_of"] or "", f.as_of or "")
    providers = _last_data(store)
    return {
        "sources": list(sources.values()),
        "providers": providers,
        "files": [
            {
                "name": f.name,
                "format": f.format,
                "ingested_at": f.ingested_at,
                "rows": f.rows,
                "rejected": f.rejected,
                "rejects": f.rejects_path,
                "warnings": f.warnings,
            }
            for f in files[:200]
        ],
        "rejects": [
            {"name": f.name, "rejected": f.rejected, "rejects": f.rejects_path}
            for f in files
            if f.rejected
        ],
        "gaps": _gaps(store, providers),
        "missing_months": [
            {"provider": p["provider"], "last_day": p["last_day"], "month": m}
            for p in providers
            for m in (missing_months(p["last_day"], today) if today else [])
        ],
        "stale_allocations": _stale(manifest),
        "unallocated": _unallocated(store),
        "live": live,
    }


def _last_data(store: RollupStore) -> list[dict[str, Any]]:
    return store.query(
        "SELECT provider, min(day) AS first_day, max(day) AS last_day, COUNT(DISTINCT day) AS days "
        "FROM daily GROUP BY provider ORDER BY provider",
    )


def _gaps(store: RollupStore, providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Days without any cost between each provider's first and last day."""
    seen = store.query("SELECT DISTINCT provider, day FROM daily")
    have = {(r["provider"], r["day"]) for r in seen}
    out: list[dict[str, Any]] = []
    for row in providers:
        day: date = row["first_day"]
        while day <= row["last_day"] and len(out) < MAX_GAPS:
            if (row["provider"], day) not in have:
                out.append({"provider": row["provider"], "day": day})
            day += timedelta(days=1)
    return out


def _stale(manifest: mf.Manifest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in manifest.slices.values():
        if s.dataset != "costs":
            continue
        allocated = manifest.slices.get(f"allocations/{s.period}")
        if allocated is None or allocated.as_of < s.as_of:
            out.append({"period": s.period, "slice": s.slice_id, "costs_as_of": s.as_of,
                        "allocated_at": allocated.as_of if allocated else None})  # fmt: skip
    return out


def _unallocated(store: RollupStore) -> list[dict[str, Any]]:
    names = ", ".join(lit(s) for s in SENTINELS)
    return store.query(
        "SELECT strftime(day, '%Y-%m') AS period, team, SUM(EffectiveCost) AS cost FROM daily "
        f"WHERE team IN ({names}) GROUP BY ALL ORDER BY 1, 2",
    )
