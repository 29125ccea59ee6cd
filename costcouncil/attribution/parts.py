"""A large period's apportioning in parts by ranges of the row id.

``allocate`` apportions a period larger than its chunk in K parts. Each part is a range of
``x_id`` holding about 1/K of the claimed rows, so a part reads only its own rows: on DuckDB the
range is a constant filter (and a hash join's key range), so a part's scans of ``cc_claimed`` and
the shares skip the other parts' row groups by their min/max, instead of every part reading the
whole period (which is what selecting a part by ``x_id % K`` did). The ranges come from a
histogram of the claimed rows' ids in buckets of :data:`BUCKET` ids (one small aggregate, no
sort), cut where the running count passes each K-th of the total; the parts are disjoint and
cover every id, so together they are exactly the whole whatever the ranges.

The cuts are known only once ``cc_claimed`` exists, so the plan names them by placeholders
(:func:`placeholder`) that :func:`costcouncil.attribution.pipeline.run_plan` replaces with the
values a binding stage (:func:`cut_points`) computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from costcouncil.attribution.owners import ID

if TYPE_CHECKING:
    from costcouncil.engine.base import Engine

#: Ids per histogram bucket: parts are balanced to within a bucket's rows.
BUCKET = 65536


def placeholder(k: int) -> str:
    """The condition on ``x_id`` (unqualified) that selects part ``k``, filled in at run time."""
    return f"{{{{part_{k}}}}}"


def histogram_sql(where: str) -> str:
    """The claimed rows that ``where`` keeps, counted per bucket of ids."""
    return f"SELECT {ID} // {BUCKET} AS b, COUNT(*) AS n FROM cc_claimed WHERE {where} GROUP BY 1"


def cut_points(parts: int) -> Callable[[Engine, str], dict[str, str]]:
    """The binding that turns the histogram into each part's condition (``part_<k>``)."""

    def bind(engine: Engine, sql: str) -> dict[str, str]:
        table = engine.fetch(sql)
        b = np.asarray(table["b"].to_numpy(zero_copy_only=False), dtype=np.int64)
        n = np.asarray(table["n"].to_numpy(zero_copy_only=False), dtype=np.int64)
        return conditions(b, n, parts)

    return bind


def conditions(buckets: np.ndarray, counts: np.ndarray, parts: int) -> dict[str, str]:
    """``part_<k>`` → its ``x_id`` condition: K consecutive ranges holding about equal counts
    (the first open below, the last open above, so every id is in exactly one part)."""
    order = np.argsort(buckets, kind="stable")
    buckets, counts = buckets[order], counts[order]
    running = np.cumsum(counts)
    total = int(running[-1]) if running.size else 0
    cuts: list[int] = []
    for k in range(1, parts):
        j = int(np.searchsorted(running, -(-total * k // parts)))  # first bucket reaching k/K
        end = (
            int(buckets[j]) + 1
            if j < buckets.size
            else (int(buckets[-1]) + 1 if buckets.size else 0)
        )
        cuts.append(end * BUCKET)
    out: dict[str, str] = {}
    for k in range(parts):
        lower = f"{ID} >= {cuts[k - 1]}" if k > 0 else ""
        upper = f"{ID} < {cuts[k]}" if k < parts - 1 else ""
        out[f"part_{k}"] = " AND ".join(c for c in (lower, upper) if c) or "TRUE"
    return out


def bind_sql(sql: str, values: dict[str, str]) -> str:
    """``sql`` with every ``{{name}}`` placeholder replaced by its value."""
    for name, value in values.items():
        sql = sql.replace(f"{{{{{name}}}}}", f"({value})")
    if "{{part_" in sql:
        raise RuntimeError(f"a placeholder was not bound in: {sql[:200]}")
    return sql
