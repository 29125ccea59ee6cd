"""What a budget's scope spent: the allocated lake for the days allocation covers, then live
usage after them.

The lake's figure is the exact sum of the daily rollup's cost metric over the rows matching
every ``KEY=VALUE`` of the scope, per day, up to the lake's last complete day. The days after
it are counted from live LLM usage (``GET /v1/live/costs``'s running totals) where the scope's
keys are ones live usage carries; when ``allocate`` covers a day, that day moves from the live
side to the lake side, so nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from costcouncil.budgets import Window
from costcouncil.engine.duckdb import connect
from costcouncil.schema.sql import lit, q
from costcouncil.workspace.allocate.series import last_complete_end, rollup_files
from costcouncil.workspace.common.inputs import lake_view
from costcouncil.workspace.core import Workspace

__all__ = ["LakeSpend", "lake_spend"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class LakeSpend:
    """Spend per day of one scope from the lake, and the first day the lake does not cover."""

    days: dict[date, Decimal]
    covered_until: date

    def total(self, window: Window) -> Decimal:
        return sum((v for d, v in self.days.items() if window.contains(d)), ZERO)


def lake_spend(
    workspace: Workspace, conditions: Sequence[tuple[str, str]], metric: str, since: date
) -> LakeSpend:
    """The scope's spend per day from ``since`` to the lake's last complete day."""
    files = rollup_files(workspace, "daily")
    if not files:
        return LakeSpend({}, since)
    con = connect()
    try:
        lake_view(con, "r", files)
        end = _day(last_complete_end(con, workspace))
        where = "".join(f" AND {q(k)} = {lit(v)}" for k, v in conditions)
        rows = con.execute(
            f"SELECT CAST(day AS DATE), CAST(SUM({q(metric)}) AS VARCHAR) FROM r "
            f"WHERE currency = ? AND day >= ? AND day < ?{where} GROUP BY 1",
            [workspace.config.currency, since, end],
        ).fetchall()
    finally:
        con.close()
    return LakeSpend({d: Decimal(v) for d, v in rows if v is not None}, max(end, since))


def _day(value: np.datetime64) -> date:
    days = int(value.astype("datetime64[D]").astype(np.int64))
    return date(1970, 1, 1) + timedelta(days=days)
