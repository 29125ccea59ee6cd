"""A large period's apportioning in parts by ranges of the row id.

``allocate`` apportions a period larger than its chunk in K parts. Each part is a range of
``x_id`` holding about 1/K of the claimed rows, so a part reads only its own rows: on DuckDB the
range is a constant filter (and a hash join's key range), so a part's scans of ``cc_claimed`` and
the shares skip the other parts' row groups by their min/max, instead of every part reading the
whole period (which is what selecting a part by ``x_id % K`` did). The ranges come from a
histogram of the claimed rows' ids in buckets of :data:`BUCKET` ids with each bucket's count,
lowest and highest id (one small aggregate, no sort); a cut that falls inside a bucket is placed
by interpolating between its lowest and highest id (row numbers of a file are consecutive, so
this is close to exact). The parts are disjoint and cover every id, so together they are
exactly the whole whatever the ranges.

The cuts are known only once the rows exist, so the part stages name them by placeholders
(:func:`placeholder`) that :func:`costcouncil.attribution.pipeline.run_plan` replaces with the
values a binding stage (:func:`bounds_stage`) computed. A placeholder holds single quotes, which
a string literal of the generated SQL always doubles, so no literal can contain one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from costcouncil.attribution.owners import ID
from costcouncil.attribution.stage import Stage
from costcouncil.errors import AttributionError

if TYPE_CHECKING:
    from costcouncil.engine.base import Engine

#: Ids per histogram bucket.
BUCKET = 65536
_OPEN = "{{'"
_UNBOUND = re.compile(r"\{\{'\w+_part_\d+'\}\}")


def placeholder(name: str, k: int) -> str:
    """The condition on ``x_id`` (unqualified) that selects part ``k`` of ``name``."""
    return f"{_OPEN}{name}_part_{k}'}}}}"


def bounds_stage(name: str, rows: str, where: str, parts: int) -> Stage:
    """The stage that cuts the rows of ``rows`` that ``where`` keeps into ``parts`` ranges and
    binds :func:`placeholder` ``(name, k)`` for each."""
    sql = (
        f"SELECT {ID} // {BUCKET} AS b, COUNT(*) AS n, MIN({ID}) AS lo, MAX({ID}) AS hi "
        f"FROM {rows} WHERE {where} GROUP BY 1"
    )

    def bind(engine: Engine, sql: str) -> dict[str, str]:
        table = engine.fetch(sql)
        b, n, lo, hi = (
            np.asarray(table[c].to_numpy(zero_copy_only=False), dtype=np.int64)
            for c in ("b", "n", "lo", "hi")
        )
        cut = conditions(b, n, lo, hi, parts)
        return {f"{name}_part_{k}": condition for k, condition in enumerate(cut)}

    return Stage(f"{name}_parts", sql, bind=bind)


def conditions(
    buckets: np.ndarray, counts: np.ndarray, lows: np.ndarray, highs: np.ndarray, parts: int
) -> list[str]:
    """Each part's ``x_id`` condition: ``parts`` consecutive ranges holding about equal counts
    (the first open below, the last open above, so every id is in exactly one part)."""
    order = np.argsort(buckets, kind="stable")
    counts, lows, highs = counts[order], lows[order], highs[order]
    running = np.cumsum(counts)
    total = int(running[-1]) if running.size else 0
    cuts: list[int] = []
    for k in range(1, parts):
        if total == 0:
            cuts.append(0)
            continue
        target = -(-total * k // parts)  # the first part's rows end at the target-th row
        j = int(np.searchsorted(running, target))
        need = target - int(running[j] - counts[j])  # rows of bucket j before the cut: 1 … n
        span = int(highs[j]) - int(lows[j]) + 1
        cuts.append(int(lows[j]) + -(-span * need // int(counts[j])))
    out = []
    for k in range(parts):
        lower = f"{ID} >= {cuts[k - 1]}" if k > 0 else ""
        upper = f"{ID} < {cuts[k]}" if k < parts - 1 else ""
        out.append(" AND ".join(c for c in (lower, upper) if c) or "TRUE")
    return out


def bind_sql(sql: str, values: dict[str, str]) -> str:
    """``sql`` with every placeholder replaced by its value (refused if one is not bound)."""
    if _OPEN not in sql:
        return sql
    for name, value in values.items():
        sql = sql.replace(f"{_OPEN}{name}'}}}}", f"({value})")
    if _UNBOUND.search(sql):
        raise AttributionError(f"a part's range was not bound in: {sql[:200]}")
    return sql
