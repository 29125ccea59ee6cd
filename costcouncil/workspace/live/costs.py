"""``GET /v1/live/costs``: live LLM usage figures beside the allocated cost of the same owners.

``usage_cost`` is what the usage costs at catalog prices (or the cost the event carried) the
moment it arrives — the real-time figure, before any invoice. ``allocated_cost`` is the lake's
attributed cost (``costcouncil allocate``) of the same group in the workspace's currency; it is
present when every grouping and filter key is an owner key of the allocation, and it moves only
when bills are ingested and allocated.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from costcouncil.engine.duckdb import connect
from costcouncil.errors import ConfigError
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.common.dates import EARLIEST, LATEST
from costcouncil.workspace.common.inputs import allocation_files, lake_view
from costcouncil.workspace.live.service import LiveIngest
from costcouncil.workspace.live.totals import LLM_KEYS

GROUP_KEYS = ("day", *LLM_KEYS)
ALLOCATED_KEYS = ("team", "project", "model", "environment", "feature", "customer", "user")


@dataclass(frozen=True)
class CostQuery:
    """Days [start, end), grouping keys and exact-match filters."""

    by: tuple[str, ...]
    filters: dict[str, str]
    start: date
    end: date
    teams: frozenset[str] | None = None  # a member's teams: nothing else is counted

    @staticmethod
    def make(
        by: str,
        filters: dict[str, str],
        start: date | None,
        end: date | None,
        teams: frozenset[str] | None = None,
        today: date | None = None,
    ) -> CostQuery:
        keys = tuple(k.strip() for k in by.split(",") if k.strip())
        for key in (*keys, *filters):
            choices = GROUP_KEYS if key in keys else LLM_KEYS
            if key not in choices:
                close = difflib.get_close_matches(key, choices, n=1)
                hint = f" — did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown key {key!r}{hint} (choose from {', '.join(choices)})")
        _check_day("from", start)
        _check_day("to", end)
        today = today or datetime.now(UTC).date()
        first = start or default_start(today)
        last = end or _next_month(first if start else today)
        if last <= first:
            raise ConfigError(f"'to' ({last}) must be after 'from' ({first})")
        return CostQuery(keys, dict(filters), first, last, teams)


def default_start(today: date) -> date:
    """The first day of the month of the last complete day (yesterday).

    On the 1st the window still shows the whole previous month, not an empty day.
    """
    return (today - timedelta(days=1)).replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _check_day(name: str, day: date | None) -> None:
    if day is not None and not EARLIEST <= day <= LATEST:
        raise ConfigError(f"{name!r} must be between {EARLIEST} and {LATEST}, not {day}")


def live_costs(live: LiveIngest, query: CostQuery) -> dict[str, Any]:
    """The body of ``GET /v1/live/costs``."""
    rows = live.query(query.by, query.filters, query.start, query.end, query.teams)
    allocated = _cached_allocated(live, query)
    if allocated is not None:
        rows = _merge(rows, allocated, query.by)
    last = live.last_event_us
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "by": list(query.by),
        "filters": query.filters,
        "currency": live.workspace.config.currency,
        "rows": rows,
        "totals": _totals(rows, allocated is not None),
        "live": {
            "pending_events": live.pending_events(),
            "last_event": datetime.fromtimestamp(last / 1e6, UTC).isoformat() if last else None,
        },
    }


_CACHE: dict[tuple[Any, ...], dict[tuple[Any, ...], Decimal] | None] = {}
_CACHE_SIZE = 256


def _cached_allocated(live: LiveIngest, query: CostQuery) -> dict[tuple[Any, ...], Decimal] | None:
    """Allocated figures change only with the lake: cached per manifest state and query."""
    key = (
        str(live.workspace.root), live.lake_stamp(), query.by,
        tuple(sorted(query.filters.items())), query.start, query.end,
        None if query.teams is None else tuple(sorted(query.teams)),
    )  # fmt: skip
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = _allocated(live, query)
    found = _CACHE[key]
    return None if found is None else dict(found)


def _allocated(live: LiveIngest, query: CostQuery) -> dict[tuple[Any, ...], Decimal] | None:
    keys = [k for k in query.by if k != "day"]
    if any(k not in ALLOCATED_KEYS for k in (*keys, *query.filters)):
        return None
    if query.teams is not None:
        keys = [*keys, "team"]
    ws = live.workspace
    files = allocation_files(ws, ws.lake.read())
    if not files:
        return {}
    con = connect()
    lake_view(con, "a", files)
    have = {r[0] for r in con.execute("DESCRIBE a").fetchall()}
    if any(f"x_{k}" not in have for k in (*keys, *query.filters)):
        con.close()
        return None
    day = "CAST(floor(epoch_us(ChargePeriodStart) / 86400000000) AS BIGINT)"
    picks = [day if k == "day" else q(f"x_{k}") for k in query.by]
    where = [
        f"{day} >= {(query.start - date(1970, 1, 1)).days}",
        f"{day} < {(query.end - date(1970, 1, 1)).days}",
        f"BillingCurrency = {lit(ws.config.currency)}",
        *(f"{q('x_' + k)} = {lit(v)}" for k, v in query.filters.items()),
        *_team_scope(query.teams),
    ]
    select = ", ".join([*picks, "sum(EffectiveCost)"])
    rows = con.execute(
        f"SELECT {select} FROM a WHERE {' AND '.join(where)} GROUP BY ALL"
    ).fetchall()
    con.close()
    # With no grouping key, SUM over no rows is one row holding NULL: no allocated cost.
    return {
        tuple(_day(k, v) for k, v in zip(query.by, r[:-1], strict=True)): r[-1]
        for r in rows
        if r[-1] is not None
    }


def _team_scope(teams: frozenset[str] | None) -> list[str]:
    if teams is None:
        return []
    if not teams:
        return ["FALSE"]
    return [f"x_team IN ({', '.join(lit(t) for t in sorted(teams))})"]


def _day(key: str, value: Any) -> Any:
    return (date(1970, 1, 1) + timedelta(days=int(value))).isoformat() if key == "day" else value


def _merge(
    rows: list[dict[str, Any]], allocated: dict[tuple[Any, ...], Decimal], by: Sequence[str]
) -> list[dict[str, Any]]:
    left = dict(allocated)
    for row in rows:
        amount = left.pop(tuple(row[k] for k in by), None)
        row["allocated_cost"] = None if amount is None else str(amount.quantize(Decimal("0.01")))
    for group, amount in left.items():
        row = dict(zip(by, group, strict=True))
        row.update({"requests": 0, "usage_cost": "0.000000", "unpriced_requests": 0})
        row["allocated_cost"] = str(amount.quantize(Decimal("0.01")))
        rows.append(row)
    return rows


def _totals(rows: list[dict[str, Any]], with_allocated: bool) -> dict[str, Any]:
    totals: dict[str, Any] = {
        "requests": sum(r.get("requests", 0) for r in rows),
        "usage_cost": str(sum((Decimal(r["usage_cost"]) for r in rows), Decimal("0"))),
    }
    if with_allocated:
        totals["allocated_cost"] = str(
            sum((Decimal(r["allocated_cost"] or 0) for r in rows), Decimal("0"))
        )
    return totals
