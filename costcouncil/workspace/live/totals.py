"""Running totals of LLM usage for live figures (``GET /v1/live/costs``).

One entry per (day, provider, model, service tier, team, project, environment, user, feature,
customer, api key) with integer sums: requests, the five token kinds, cost in pico-units, and the
requests that had no price. Built once from the lake, then kept up to date event by event, so a
query never scans the lake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from costcouncil.engine.duckdb import connect
from costcouncil.schema.usage import LLM_SCHEMA
from costcouncil.workspace.common.inputs import lake_view, latest_usage
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.prices import PICO

#: The key of an entry, after ``day`` (days since 1970-01-01).
LLM_KEYS = (
    "provider", "model", "service_tier", "team", "project", "environment", "user", "feature",
    "customer", "api_key_id",
)  # fmt: skip
COUNTS = (
    "requests", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens",
)  # fmt: skip
_EPOCH = date(1970, 1, 1)
Pricer = Callable[[tuple[Any, ...], list[int]], "int | None"]


class Totals:
    """key -> [requests, 5 token kinds, pico cost, unpriced requests]."""

    def __init__(self, entries: dict[tuple[Any, ...], list[int]] | None = None) -> None:
        self.entries = entries or {}

    def add(self, key: tuple[Any, ...], counts: list[int]) -> None:
        have = self.entries.get(key)
        if have is None:
            self.entries[key] = counts
        else:
            for i, c in enumerate(counts):
                have[i] += c

    def merge(self, other: Totals) -> None:
        for key, counts in other.entries.items():
            self.add(key, list(counts))

    def copy(self) -> Totals:
        return Totals({k: list(v) for k, v in self.entries.items()})

    def requests(self) -> int:
        return sum(v[0] for v in self.entries.values())

    def query(
        self, by: Sequence[str], filters: dict[str, str], start: date, end: date
    ) -> list[dict[str, Any]]:
        """Rows grouped by ``by`` (``day`` or keys of :data:`LLM_KEYS`) for days in [start, end)."""
        return query_all([self], by, filters, start, end)


def query_all(
    parts: Sequence[Totals],
    by: Sequence[str],
    filters: dict[str, str],
    start: date,
    end: date,
    teams: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """:meth:`Totals.query` over the sum of ``parts``, without merging them first; with ``teams``
    only entries of those teams count (a member's view)."""
    team = 1 + LLM_KEYS.index("team")
    lo, hi = (start - _EPOCH).days, (end - _EPOCH).days
    where = [(1 + LLM_KEYS.index(k), v) for k, v in filters.items()]
    picks = [0 if k == "day" else 1 + LLM_KEYS.index(k) for k in by]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for part in parts:
        for key, counts in part.entries.items():
            if not lo <= key[0] < hi or any(key[i] != v for i, v in where):
                continue
            if teams is not None and key[team] not in teams:
                continue
            group = tuple(key[i] for i in picks)
            have = groups.get(group)
            if have is None:
                groups[group] = list(counts)
            else:
                for i, c in enumerate(counts):
                    have[i] += c
    return [_row(by, g, c) for g, c in sorted(groups.items(), key=lambda x: -x[1][6])]


def _row(by: Sequence[str], group: tuple[Any, ...], counts: list[int]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in zip(by, group, strict=True):
        row[name] = (_EPOCH + timedelta(days=value)).isoformat() if name == "day" else value
    row.update(zip(COUNTS, counts[:6], strict=True))
    row["usage_cost"] = str((Decimal(counts[6]) / PICO).quantize(Decimal("0.000001")))
    row["unpriced_requests"] = counts[7]
    return row


def lake_llm_totals(workspace: Workspace, price: Pricer) -> Totals:
    """Totals of the lake's ``llm`` usage (each request once), priced per group."""
    files = [str(workspace.lake.root / f) for f in workspace.lake.read().data_files("llm")]
    totals = Totals()
    if not files:
        return totals
    con = connect()
    lake_view(con, "llm_all", files)
    keys = ", ".join(
        "coalesce(service_tier, 'standard')" if k == "service_tier" else k for k in LLM_KEYS
    )
    sums = ", ".join(
        "sum(coalesce(request_count, 1))" if c == "requests" else f"sum(coalesce({c}, 0))"
        for c in COUNTS
    )
    rows = con.execute(
        f"SELECT CAST(floor(epoch_us(time) / 86400000000) AS BIGINT), {keys}, "
        f"cost IS NOT NULL, {sums}, sum(cost) "
        f"FROM ({latest_usage('llm_all', LLM_SCHEMA, 'request_id')}) AS u GROUP BY ALL"
    ).fetchall()
    con.close()
    for row in rows:
        key, with_cost = tuple(row[: 1 + len(LLM_KEYS)]), row[11]
        counts, known = [int(c) for c in row[12:18]], row[18]
        pico = int(Decimal(known) * PICO) if with_cost else price(key, counts)
        counts += [pico or 0, 0 if pico is not None else counts[0]]
        totals.add(key, counts)
    return totals
