"""Cost figures from the rollups: filters, grouping, grain and metric, with members' team scope.

Every figure the API and the dashboard show comes through :func:`cost_rows`. A :class:`Filter`
names a date range ``[start, end)``, exact-match filters on any dimension (several values mean
any of them; ``(none)`` matches a missing value), tag filters, the currency, and — for a
``member`` — the teams they may see, which is applied here, under every page and endpoint.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from costcouncil.errors import ConfigError
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.common.dates import EARLIEST, LATEST
from costcouncil.workspace.figures.rollup_store import RollupStore

NONE = "(none)"
GRAINS = ("hour", "day", "week", "month")
RESERVED = ("from", "to", "by", "grain", "metric", "currency", "limit", "offset", "format", "page")
_BUCKET = {
    "hour": "strftime(hour, '%Y-%m-%dT%H:00:00Z')",
    "day": "day",
    "week": "CAST(date_trunc('week', day) AS DATE)",
    "month": "CAST(date_trunc('month', day) AS DATE)",
}
_CENT = Decimal("0.000001")


@dataclass(frozen=True)
class Filter:
    """Which cost rows a figure covers."""

    start: date
    end: date
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    currency: str = "USD"
    teams: frozenset[str] | None = None  # a member's teams: nothing else is counted
    metric: str = "effective"

    def keys(self) -> set[str]:
        used = {k for k, _ in self.where}
        if self.tags:
            used.add("tags")
        if self.teams is not None:
            used.add("team")
        return used

    def narrowed(self, **changes: Any) -> Filter:
        return replace(self, **changes)

    def with_value(self, key: str, value: str | None) -> Filter:
        kept = tuple((k, v) for k, v in self.where if k != key)
        return replace(self, where=(*kept, (key, (value if value is not None else NONE,))))

    def value(self, key: str) -> tuple[str, ...]:
        return next((v for k, v in self.where if k == key), ())

    def params(self) -> dict[str, str]:
        """The URL query parameters that rebuild this filter (shareable links)."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        out.update({k: ",".join(v) for k, v in self.where})
        out.update({f"tag.{k}": v for k, v in self.tags})
        if self.metric != "effective":
            out["metric"] = self.metric
        return out


@dataclass(frozen=True)
class Dimensions:
    """The dimension names a workspace's rollups have, per tier."""

    owner_keys: list[str]
    by_tier: dict[str, list[str]] = field(default_factory=dict)

    @staticmethod
    def of(owner_keys: list[str]) -> Dimensions:
        tiers = {t: rollups.dimensions(owner_keys, t) for t in rollups.TIERS}
        return Dimensions(owner_keys, tiers)

    @property
    def all(self) -> list[str]:
        return [d for d in self.by_tier["resources"] if d != "tags"]


def parse_filter(
    params: Mapping[str, str],
    dims: Dimensions,
    currency: str,
    default_end: date,
    teams: frozenset[str] | None = None,
) -> Filter:
    """A :class:`Filter` from URL query parameters; unknown keys are errors with a hint."""
    given_end = _date(params, "to")
    end = given_end or default_end + timedelta(days=1)
    # Without 'to', the window opens on the month of the day before the last day, so when
    # the last day is the 1st (a few minutes of a new month) the finished month stays in view.
    anchor = end - timedelta(days=1 if given_end else 2)
    start = _date(params, "from") or anchor.replace(day=1)
    if end <= start:
        raise ConfigError(f"'to' ({end}) must be after 'from' ({start})")
    metric = params.get("metric", "effective")
    if metric not in rollups.METRICS:
        raise ConfigError(f"unknown metric {metric!r} (choose from {', '.join(rollups.METRICS)})")
    where, tags = [], []
    for key, value in params.items():
        if key in RESERVED or value == "":
            continue
        if key.startswith("tag."):
            tags.append((key[4:], value))
            continue
        check_key(key, dims.all)
        where.append((key, tuple(v.strip() for v in value.split(",") if v.strip())))
    return Filter(
        start, end, tuple(where), tuple(tags), params.get("currency") or currency, teams, metric
    )


def check_key(key: str, choices: list[str]) -> None:
    if key not in choices:
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown key {key!r}{hint} (choose from {', '.join(choices)})")


def _date(params: Mapping[str, str], key: str) -> date | None:
    raw = params.get(key)
    if not raw:
        return None
    try:
        found = date.fromisoformat(raw[:10])
    except ValueError:
        raise ConfigError(f"{key!r} must be a date (YYYY-MM-DD), not {raw!r}") from None
    if not EARLIEST <= found <= LATEST:
        raise ConfigError(f"{key!r} must be between {EARLIEST} and {LATEST}, not {raw!r}")
    return found


def tier_for(dims: Dimensions, needed: set[str], grain: str | None) -> str:
    """The smallest rollup that has every needed dimension at the grain."""
    if grain == "hour":
        missing = needed - set(dims.by_tier["hourly"])
        if missing:
            raise ConfigError(
                f"hourly figures can be grouped and filtered by {', '.join(dims.by_tier['hourly'])}"
                f" only, not {', '.join(sorted(missing))}: use grain=day"
            )
        return "hourly"
    return "daily" if needed <= set(dims.by_tier["daily"]) else "resources"


def where_sql(flt: Filter, time_col: str) -> str:
    """The SQL condition of ``flt`` over a rollup table."""
    start, end = lit(flt.start.isoformat()), lit(flt.end.isoformat())
    parts = [
        f"{time_col} >= CAST({start} AS DATE)",
        f"{time_col} < CAST({end} AS DATE)",
        f"currency = {lit(flt.currency)}",
    ]
    for key, values in flt.where:
        parts.append(match_sql(q(key), values))
    for key, value in flt.tags:
        # A JSON Pointer names one top-level key exactly: no wildcards, never a syntax error.
        pointer = lit("/" + key.replace("~", "~0").replace("/", "~1"))
        parts.append(f"json_extract_string(tags, {pointer}) = {lit(value)}")
    if flt.teams is not None:
        parts.append(team_scope(flt.teams))
    return " AND ".join(parts)


def usage_where(flt: Filter, columns: set[str]) -> str | None:
    """The condition of ``flt`` over a usage rollup whose dimension columns are ``columns``
    (its time column is ``day``), or None when the filter narrows by something the table
    cannot tell (a tag, or a dimension it lacks): its figures are then unknown, never the
    unfiltered ones passed off as the filter's.
    """
    if flt.tags or any(key not in columns for key, _ in flt.where):
        return None
    start, end = lit(flt.start.isoformat()), lit(flt.end.isoformat())
    parts = [f"day >= CAST({start} AS DATE)", f"day < CAST({end} AS DATE)"]
    parts += [match_sql(q(key), values) for key, values in flt.where]
    if flt.teams is not None:
        parts.append(team_scope(flt.teams))
    return " AND ".join(parts)


def unknown_keys(flt: Filter, columns: set[str]) -> list[str]:
    """The filter's keys a table with ``columns`` cannot apply (tags as ``tag.<key>``)."""
    keys = [key for key, _ in flt.where if key not in columns]
    return keys + [f"tag.{key}" for key, _ in flt.tags]


def team_scope(teams: frozenset[str]) -> str:
    """The SQL condition "the row's team is one of ``teams``" (none: no row)."""
    return match_sql("team", tuple(sorted(teams))) if teams else "FALSE"


def scope(flt: Filter) -> dict[str, Any]:
    """What an empty figure of ``flt`` means, decided from the filter alone (never the data).

    ``teams``: a member's teams (None for every other role); ``hidden``: the filter asks only for
    teams outside them (or the member has none), so nothing can be visible whatever the lake
    holds; ``filtered``: the filter narrows by a dimension or tag beyond the date range. Looking
    at the data instead would tell a member that another team has cost in the range.
    """
    teams = None if flt.teams is None else sorted(flt.teams)
    asked = set(flt.value("team"))
    hidden = flt.teams is not None and (not flt.teams or bool(asked and not asked & flt.teams))
    return {"teams": teams, "hidden": hidden, "filtered": bool(flt.where or flt.tags)}


def match_sql(column: str, values: tuple[str, ...]) -> str:
    """``column`` is one of ``values`` (``(none)``: a missing value)."""
    named = [v for v in values if v != NONE]
    parts = [f"{column} IN ({', '.join(lit(v) for v in named)})"] if named else []
    if NONE in values:
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def cost_rows(
    store: RollupStore,
    flt: Filter,
    by: list[str],
    grain: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Cost per group (and time bucket), largest first within each bucket."""
    dims = Dimensions.of(store.workspace.config.tags.owner_keys)
    for key in by:
        check_key(key, dims.all)
    if grain is not None and grain not in GRAINS:
        raise ConfigError(f"unknown grain {grain!r} (choose from {', '.join(GRAINS)})")
    tier = tier_for(dims, set(by) | flt.keys(), grain)
    time_col = "hour" if tier == "hourly" else "day"
    picks = [f"{_BUCKET[grain]} AS period"] if grain else []
    picks += [q(k) for k in by]
    metric = rollups.METRICS[flt.metric]
    order = (["period"] if grain else []) + ["cost DESC"] + [f"{q(k)} NULLS LAST" for k in by]
    sql = (
        f"SELECT {', '.join([*picks, f'SUM({metric}) AS cost'])} FROM {tier} "
        f"WHERE {where_sql(flt, time_col)}"
        + (" GROUP BY ALL" if picks else "")
        + f" ORDER BY {', '.join(order)}"
        + (f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else "")
    )
    return store.query(sql)


def total(store: RollupStore, flt: Filter) -> Decimal:
    rows = cost_rows(store, flt, [])
    return Decimal(rows[0]["cost"]) if rows else Decimal(0)


def last_day(store: RollupStore, teams: frozenset[str] | None = None) -> date | None:
    """The last day with cost in the rollups (the dashboard's 'today' for a finished bill)."""
    scope = ""
    if teams is not None:
        scope = " WHERE " + team_scope(teams)
    rows = store.query(f"SELECT max(day) AS day FROM daily{scope}")
    found = rows[0]["day"] if rows else None
    return found if isinstance(found, date) else None


def jsonable(value: Any) -> Any:
    """Decimals as strings with six decimals, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value.quantize(_CENT))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
