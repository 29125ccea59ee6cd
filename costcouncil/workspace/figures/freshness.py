"""How fresh the figures are: the newest day of cost per provider, who is late, and the months
missing at the end.

The dashboard's "today" is the last day with cost (a finished bill reads as its month), so a
lake a month behind would otherwise look current. Every page shows this beside its figures:
a provider is **late** when its newest cost is more than :data:`LATE_DAYS` days before the
server's date (cloud exports arrive a day or two behind); a **missing month** is a whole
calendar month after a provider's newest cost and before the current one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from costcouncil.workspace.figures.filters import team_scope
from costcouncil.workspace.figures.rollup_store import RollupStore

#: Days a provider's newest cost may trail the server's date before it is called late.
LATE_DAYS = 3


def freshness(
    store: RollupStore, today: date, teams: frozenset[str] | None = None
) -> dict[str, Any]:
    """Newest day per provider (a member's teams only), the late ones and missing months."""
    where = f" WHERE {team_scope(teams)}" if teams is not None else ""
    rows = store.query(
        f"SELECT provider, max(day) AS last_day FROM daily{where} GROUP BY provider ORDER BY provider"
    )
    providers = []
    for row in rows:
        last: date = row["last_day"]
        behind = (today - last).days
        providers.append({"provider": row["provider"], "last_day": last, "days_behind": behind,
                          "late": behind > LATE_DAYS, "missing_months": missing_months(last, today)})  # fmt: skip
    late = [p for p in providers if p["late"]]
    return {"today": today, "providers": providers, "late": [p["provider"] for p in late],
            "newest": max((p["last_day"] for p in providers), default=None)}  # fmt: skip


def missing_months(last: date, today: date) -> list[str]:
    """The whole months after the one holding ``last`` and before the one holding ``today``."""
    out = []
    month = (last.replace(day=1) + timedelta(days=32)).replace(day=1)
    while month < today.replace(day=1):
        out.append(month.strftime("%Y-%m"))
        month = (month + timedelta(days=32)).replace(day=1)
    return out
