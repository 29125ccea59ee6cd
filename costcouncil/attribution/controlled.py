"""Controlled rounding: every owner's total per rule and period within one unit of its share.

Apportioning rounds each cost row on its own (largest remainder), so an owner with a steady
share is rounded the same way row after row and its total drifts from its exact share. This
module repairs that, keeping every row exact: the rows × owners table of one group (rule,
billing period, currency) and metric is a two-way table whose cells each hold a fractional part
``z`` in [0, 1) of a unit, every row's ``z`` adding to the whole number of units the row gives
out (``e`` = 1 on the cells that got one). The fractional table is a feasible flow with each
owner's total ``Z`` = Σ z, so an integral one exists with every owner's count of units within
``floor(Z)`` … ``ceil(Z)`` (controlled rounding of two-way tables; the integrality of flows).

The repair starts from the row-wise result and moves units between the cells of a row, found
by one maximum flow (SciPy) per group and metric: a circulation with lower bounds in which
owners above ``ceil(Z)`` must give units, owners below ``floor(Z)`` must take them, and every
other owner may pass units on or give and take within its bounds. It always has a solution
(the difference between the row-wise result and any controlled rounding is one). Only groups
with an owner out of its bounds change at all. The result depends only on the cells' values (rows ordered by ``x_id``,
owners by their key), so every engine and the reference get the same units.

``Z`` is summed in double precision (exactly rounded for owners with many cells, so it is within
about 10⁻⁷ of the true total for any number of cells); within 1e-6 of a whole number it is
settled exactly (decimal remainders over their row's weight total, as fractions), so the bounds
are exact.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_array
from scipy.sparse.csgraph import maximum_flow

#: The columns :func:`controlled` reads, besides ``rem_<m>``, ``e_<m>`` and ``f_<m>`` per metric.
CELL_COLUMNS = ("x_id", "sid", "owner", "g_rule", "g_period", "g_currency", "wsum")
#: Within this of a whole number, an owner's fractional total is settled exactly.
NEAR = 1e-6
#: Owners with more cells than this have their double total summed exactly rounded (fsum).
FSUM_FROM = 1000


class RoundingError(RuntimeError):
    """No controlled rounding was found (a bug: one always exists)."""


def changes_schema(metrics: Sequence[str]) -> pa.Schema:
    """``x_id``, ``sid`` and, per metric, the units ``k_<m>`` (−1, 0 or +1) added to the share."""
    fields = [pa.field("x_id", pa.int64()), pa.field("sid", pa.int64())]
    return pa.schema(fields + [pa.field(f"k_{m}", pa.int8()) for m in metrics])


@dataclass
class _Metric:
    """One metric's columns, as arrays in cell order."""

    z: np.ndarray  #: the fractional part of a unit, rem / wsum (0 where null)
    e: np.ndarray  #: 1 where the row-wise rounding gave the share a unit
    risk: np.ndarray  #: 1 / 2: against the row's sign without / with the unit
    rem: pa.ChunkedArray  #: exact, for owners whose total is near a whole number


@dataclass
class Cells:
    """The cells as arrays (what :func:`solve` needs; the fetched table can go)."""

    metrics: tuple[str, ...]
    group: np.ndarray
    owner: np.ndarray
    x_id: np.ndarray
    sid: np.ndarray
    wsum: pa.ChunkedArray
    columns: dict[str, _Metric]
    same: dict[str, str]  #: metric → the earlier metric with the same cells


def controlled(cells: pa.Table, metrics: Sequence[str]) -> pa.Table:
    """The shares whose units move so every owner's total is within one unit of its exact one.

    ``cells``: one row per share with a fractional part (``CELL_COLUMNS``; per metric the exact
    remainder ``rem_<m>`` = z · wsum, ``e_<m>`` 1 where the row-wise rounding gave the share a
    unit, ``f_<m>`` 1 or 2 where the share would be against its row's sign without (1) or with
    (2) the unit). Units move without turning a share against its row's sign where that is
    enough; only otherwise (a row worth less than a unit per share) may such a share end up
    within one unit of zero on the other side. Returns :func:`changes_schema` rows for the
    shares changed. The same as ``solve(prepare(cells, metrics))``.
    """
    return solve(prepare(cells, metrics))


def prepare(cells: pa.Table, metrics: Sequence[str]) -> Cells:
    """``cells`` as arrays: codes for the groups and owners (in the sort order of their values),
    and per metric the fractions, units and sign risks (metrics with the same cells once)."""
    metrics = tuple(metrics)
    wsum = cells["wsum"]
    same = _aliases(cells, metrics) if cells.num_rows else {}
    w = _floats(wsum)
    return Cells(
        metrics,
        _codes(cells, ("g_rule", "g_period", "g_currency")),
        _codes(cells, ("owner",)),
        _ints(cells["x_id"]),
        _ints(cells["sid"], np.int32),
        wsum,
        {m: _metric(cells, m, w) for m in metrics if m not in same},
        same,
    )


def solve(cells: Cells) -> pa.Table:
    """The unit moves of :func:`controlled`, group by group."""
    schema = changes_schema(cells.metrics)
    n = cells.x_id.size
    if n == 0:
        return schema.empty_table()
    order = np.lexsort((cells.sid, cells.x_id, cells.owner, cells.group))
    bounds = np.flatnonzero(np.diff(cells.group[order])) + 1
    deltas = {m: np.zeros(n, dtype=np.int8) for m in cells.metrics}

    def one_group(idx: np.ndarray) -> None:  # groups are independent: two at a time
        table = _Table.of(idx, cells.owner[idx], cells.x_id[idx])
        for m, col in cells.columns.items():
            deltas[m][idx] = _group(cells.wsum, col, table)

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        list(pool.map(one_group, np.split(order, bounds)))
    for m, first in cells.same.items():
        deltas[m] = deltas[first]
    changed = np.flatnonzero(np.any([deltas[m] != 0 for m in cells.metrics], axis=0))
    if changed.size == 0:
        return schema.empty_table()
    out: dict[str, Any] = {
        "x_id": pa.array(cells.x_id[changed], pa.int64()),
        "sid": pa.array(cells.sid[changed], pa.int64()),
    }
    for m in cells.metrics:
        out[f"k_{m}"] = pa.array(deltas[m][changed], pa.int8())
    return pa.table(out, schema=schema)


def _aliases(cells: pa.Table, metrics: Sequence[str]) -> dict[str, str]:
    """Metric → an earlier metric whose cells are the same (BilledCost = EffectiveCost on most
    bills): its units move the same way, so they are worked out once."""
    out: dict[str, str] = {}
    for i, m in enumerate(metrics):
        for first in metrics[:i]:
            if first not in out and all(
                cells[f"{c}_{m}"].equals(cells[f"{c}_{first}"]) for c in ("rem", "e", "f")
            ):
                out[m] = first
                break
    return out


def _metric(cells: pa.Table, m: str, wsum: np.ndarray) -> _Metric:
    rem = cells[f"rem_{m}"]
    z = np.nan_to_num(_floats(rem) / wsum)
    small = np.int8  # 0, 1 or 2: a byte each (a period's cells run to millions)
    return _Metric(z, _ints(cells[f"e_{m}"], small), _ints(cells[f"f_{m}"], small), rem)


@dataclass
class _Table:
    """One group's cells (in cell order: by owner, row, tie rank) as a rows × owners table."""

    idx: np.ndarray  #: the cells' positions in the input
    o: np.ndarray  #: owner index, 0 … owners − 1
    r: np.ndarray  #: row index, 0 … rows − 1
    owners: int
    rows: int
    run: np.ndarray  #: each cell's first cell with the same (owner, row)

    @classmethod
    def of(cls, idx: np.ndarray, owner: np.ndarray, x_id: np.ndarray) -> _Table:
        o = np.unique(owner, return_inverse=True)[1].astype(np.int32)  # int32: half the memory
        r = np.unique(x_id, return_inverse=True)[1].astype(np.int32)
        new_run = np.r_[True, (o[1:] != o[:-1]) | (r[1:] != r[:-1])]
        run = np.maximum.accumulate(np.where(new_run, np.arange(idx.size), 0)).astype(np.int32)
        return cls(idx, o, r, int(o.max()) + 1, int(r.max()) + 1, run)

    def rank(self, mask: np.ndarray) -> np.ndarray:
        """Each cell's ordinal among the ``mask`` cells of its (owner, row), in cell order."""
        seen = np.cumsum(mask)
        return np.asarray(seen - (seen[self.run] - mask[self.run]) - 1)


def _group(wsum: pa.ChunkedArray, col: _Metric, t: _Table) -> np.ndarray:
    """The unit moves (−1, 0, +1) of one group's cells for one metric."""
    z, e, risk = col.z[t.idx], col.e[t.idx], col.risk[t.idx]
    live = z > 0
    if not live.any():
        return np.zeros(t.idx.size, dtype=np.int64)
    lo, hi = _bounds(wsum, col.rem, t.idx, t.o, z, t.owners)
    start = np.where(live, e, 0).astype(np.int8)
    got = np.bincount(t.o, weights=start, minlength=t.owners).astype(np.int64)
    new = start
    if np.any(got > hi) or np.any(got < lo):  # without a share crossing zero, if that is enough
        wrong_side = ((risk == 1) & (start == 1)) | ((risk == 2) & (start == 0))
        moved = _move(t, start, live & ~wrong_side, got, lo, hi)
        if moved is None:
            moved = _move(t, start, live, got, lo, hi)
        if moved is None:
            raise RoundingError("controlled rounding found no way to move the units owed")
        new = moved
    got = np.bincount(t.o, weights=new, minlength=t.owners)
    if np.any(got < lo) or np.any(got > hi):
        raise RoundingError("controlled rounding left an owner outside its bounds")
    if not np.array_equal(np.bincount(t.r, weights=new), np.bincount(t.r, weights=start)):
        raise RoundingError("controlled rounding changed a row's units")
    return new - start


def _move(
    t: _Table, e: np.ndarray, live: np.ndarray, got: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray | None:
    """``e`` after units move between ``live`` cells of a row (from a cell with one to a cell
    without) so that every owner ends between ``lo`` and ``hi``: owners above ``hi`` must give
    (and may give down to ``lo``), owners below ``lo`` must take (and may take up to ``hi``),
    the others may do either within their bounds. A circulation with lower bounds, solved as
    one maximum flow from SS to TT (nodes SS, TT, S, T, the owners, the rows); None when no
    such moves exist among these cells."""
    must_give = np.maximum(got - hi, 0)
    must_take = np.maximum(lo - got, 0)
    may_give = np.maximum(got - lo, 0) - must_give
    may_take = np.maximum(hi - got, 0) - must_take
    n = 4 + t.owners + t.rows
    owner = np.arange(t.owners) + 4
    on, rn = 4 + t.o, 4 + t.owners + t.r
    drop, take = live & (e == 1), live & (e == 0)
    cells = int(drop.sum() + take.sum())
    edges = [  # (tails, heads, capacities)
        (on[drop], rn[drop], np.ones(int(drop.sum()), np.int64)),
        (rn[take], on[take], np.ones(int(take.sum()), np.int64)),
        (np.zeros(t.owners, np.int64), owner, must_give),  # SS → o: what o must give
        (np.full(t.owners, 2), owner, may_give),  # S → o
        (owner, np.full(t.owners, 3), may_take),  # o → T
        (owner, np.ones(t.owners, np.int64), must_take),  # o → TT: what o must take
        (
            np.array([2, 0, 3]),
            np.array([1, 3, 2]),
            np.array([must_give.sum(), must_take.sum(), cells]),
        ),
    ]
    tails, heads, caps = (np.concatenate(part) for part in zip(*edges, strict=True))
    keep = caps > 0
    graph = coo_array(
        (caps[keep].astype(np.int32), (tails[keep], heads[keep])), shape=(n, n)
    ).tocsr()
    result = maximum_flow(graph, 0, 1, method="dinic")
    if result.flow_value < must_give.sum() + must_take.sum():
        return None
    out = e.copy()
    # net flow owner → row: that many of the owner's cells in the row give their unit up;
    # row → owner: that many take one (the first in tie-rank order)
    for value, mask, tail, head in ((0, drop, on, rn), (1, take, rn, on)):
        picked = np.flatnonzero(mask)
        count = np.asarray(result.flow[tail[picked], head[picked]]).ravel()
        out[picked[t.rank(mask)[picked] < np.maximum(count, 0)]] = value
    return out


def _bounds(
    wsum: pa.ChunkedArray,
    rem: pa.ChunkedArray,
    idx: np.ndarray,
    o: np.ndarray,
    z: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each owner's floor and ceiling of its fractional total Z (exact, see the module doc).

    ``o`` is sorted (cells in owner order). A plain running sum errs by up to count · ε · Z, so
    owners with many cells are summed with ``math.fsum`` (error about ε · Z): every total is
    then well within :data:`NEAR` of Z (Z is below the number of cells)."""
    total = np.bincount(o, weights=z, minlength=n)
    counts = np.bincount(o, minlength=n)
    ends = np.cumsum(counts)
    for big in np.flatnonzero(counts > FSUM_FROM):
        total[big] = math.fsum(z[ends[big] - counts[big] : ends[big]].tolist())
    whole = np.rint(total)
    lo = np.floor(total).astype(np.int64)
    hi = lo + 1
    lo[total == 0] = hi[total == 0] = 0  # every z is 0 (a sum of positives is not)
    near = (np.abs(total - whole) < NEAR) & (total > 0)
    if near.any():
        exact = _exact_totals(wsum, rem, idx[near[o]], o[near[o]])
        for owner, value in exact.items():
            k = int(whole[owner])
            lo[owner], hi[owner] = (k, k) if value == k else (k, k + 1) if value > k else (k - 1, k)
    return lo, hi


def _exact_totals(
    wsum: pa.ChunkedArray, rem: pa.ChunkedArray, rows: np.ndarray, owners: np.ndarray
) -> dict[int, Fraction]:
    """Per owner, Σ rem / wsum over its ``rows``, exactly (summed per weight total first)."""
    taken = pa.array(rows)
    rems = rem.take(taken).to_pylist()
    wsums = wsum.take(taken).to_pylist()
    sums: dict[tuple[int, int], Decimal] = {}
    with localcontext() as exact:  # enough digits that no sum of 38-digit decimals rounds
        exact.prec = 120
        for owner, value, w in zip(owners.tolist(), rems, wsums, strict=True):
            if value is not None:
                sums[owner, int(w)] = sums.get((owner, int(w)), Decimal(0)) + Decimal(value)
    out: dict[int, Fraction] = {}
    for (owner, w), total in sums.items():
        out[owner] = out.get(owner, Fraction(0)) + Fraction(total) / w
    return out


def _codes(cells: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """One int64 code per distinct value tuple of ``columns``, in sorted order of the values."""
    code = np.zeros(cells.num_rows, dtype=np.int64)
    for column in columns:
        # chunk by chunk (no copy of the column into one chunk): Arrow gives every chunk the
        # one dictionary of the whole column, so the indices agree across chunks
        encoded = pc.dictionary_encode(cells[column], null_encoding="encode")
        if encoded.num_chunks == 0:
            continue
        values = encoded.chunk(0).dictionary
        if not all(_same_buffers(c.dictionary, values) for c in encoded.chunks):
            encoded = pa.chunked_array(
                [pc.dictionary_encode(cells[column].combine_chunks(), null_encoding="encode")]
            )
            values = encoded.chunk(0).dictionary
        ranks = pc.array_sort_indices(values, null_placement="at_start").to_numpy()
        position = np.empty(len(values), dtype=np.int64)
        position[ranks] = np.arange(len(values))
        indices = [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
        code = code * len(values) + position[np.concatenate(indices)]
    return code


def _same_buffers(a: pa.Array, b: pa.Array) -> bool:
    """Whether two arrays are views of the same memory (the same dictionary, not an equal one)."""
    pairs = zip(a.buffers(), b.buffers(), strict=True)
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and x.address == y.address)
        for x, y in pairs
    )


def _ints(column: pa.ChunkedArray | pa.Array, dtype: type = np.int64) -> np.ndarray:
    if pa.types.is_null(column.type):  # every value null
        return np.zeros(len(column), dtype=dtype)
    if column.null_count:
        column = pc.fill_null(column, 0)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=dtype)


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
