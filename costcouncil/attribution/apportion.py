"""Exact apportioning: integer-weighted shares of a cost row → amounts that sum to it exactly.

Per metric and row (see docs/attribution.md, "Apportioning, exactly"): the share ranked first
(largest weight, then owner) holds the sub-unit dust; every share's whole units are the floor of
its exact share (less the dust, for the holder) with an exact ``DECIMAL(38,12)`` remainder, and
the leftover units go to the largest remainders. The floor is estimated in double and corrected
by one step with exact arithmetic, so it is exact for any row below 2^50 units. Then the
controlled rounding (:mod:`costcouncil.attribution.controlled`) moves single units between the
shares of a row so that every owner's total per rule, period and currency is within one unit.

A row with one share keeps its amounts as they are (that is what the arithmetic gives). Every
share gets its row's share count, weight total and tie rank (``sid``) in one materialised stage;
the rows with several shares are then apportioned on a narrow projection keyed by ``x_id``: the
four metrics' remainder ranks reuse ``sid`` (windows over ``x_id``, ``sid`` and the remainders
only), the leftover units come from a ``GROUP BY``, and the owners are joined back after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from costcouncil.attribution.controlled import RoundingError, prepare, solve
from costcouncil.attribution.owners import ID, KEY, METRICS
from costcouncil.attribution.parts import bounds_stage, placeholder
from costcouncil.attribution.stage import Stage
from costcouncil.errors import AttributionError

if TYPE_CHECKING:
    from costcouncil.engine.base import Engine
from costcouncil.schema.sql import q

D0 = "DECIMAL(38,0)"
ROW = f"PARTITION BY {ID}"
#: The columns every allocation view carries after the owner keys, in order.
SHARE_TAIL = ("x_rule", "x_method", "x_weight", "x_usage_weight", "x_usage_count", *METRICS)
#: The cost row's columns an allocation row carries (its period, for the output and the pools).
PERIOD = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "BillingCurrency")


def allocation_columns(owner_keys: list[str]) -> list[str]:
    """The columns of ``cc_allocations``, in order."""
    return [*KEY, *(q("x_" + k) for k in owner_keys), *SHARE_TAIL]


def apportion_stages(
    owner_keys: list[str],
    shares: str,
    view: str,
    rows: str = "cc_claimed",
    parts: int = 1,
    claimed: str = "TRUE",
) -> list[Stage]:
    """The stages ending in ``view``: allocation rows (``x_id``, the allocation columns,
    :data:`PERIOD`) for every share of ``shares``.

    ``shares`` has ``x_id``, the owner keys, ``x_rule``, ``x_method``, ``w``, ``x_usage_count``;
    ``rows`` holds the cost rows by ``x_id``. The tie rank is materialised once so every engine
    reads the same ``sid`` wherever it is used. With ``parts`` > 1 the rows are apportioned in
    that many ranges of ``x_id`` (:mod:`costcouncil.attribution.parts`; every window is per
    row, so the parts are exactly the whole):
    each part's allocation rows ``{view}_p{k}`` and its cells with a fraction of a unit are
    spooled (written to a file and read back), so a part's working set is freed before the next
    part starts. Each part's conservation is checked (over the part's ``rows`` that ``claimed``
    keeps) as soon as its rows are spooled, while its amounts are still there. The controlled
    rounding (:mod:`costcouncil.attribution.controlled`) then reads every part's cells and
    ``view`` is the parts with its unit moves applied.
    """
    if parts == 1:
        stages = _part_stages(owner_keys, shares, view, rows)
        stages.append(Stage(f"{view}_cells", _cells_sql(owner_keys, view, rows)))
        joined = f"({_joined_sql(owner_keys, view, rows)})"
        cells = f"{view}_cells"
    else:
        # the parts' ranges of ids, cut once the rows exist: each part reads only its own rows
        stages = [bounds_stage(view, rows, claimed, parts)]
        for k in range(parts):
            part = placeholder(view, k)
            source = f"(SELECT * FROM {shares} WHERE {part})"
            part_rows = f"(SELECT * FROM {rows} WHERE {part})"
            stages += _part_stages(owner_keys, source, view, part_rows, f"_p{k}")
            joined_k = _joined_sql(owner_keys, view, part_rows, f"_p{k}")
            pair = (f"{view}_m_p{k}", f"{view}_amounts_p{k}")
            check = conservation_sql([pair], rows, f"{claimed} AND {part}")
            cells_k = _cells_sql(owner_keys, view, rows, f"_p{k}")
            stages += [
                Stage(f"{view}_cells_p{k}", cells_k, spooled=True),
                Stage(f"{view}_p{k}", joined_k, spooled=True),
                Stage(f"{view}_check_p{k}", check, check=True),
            ]
        joined = "(" + " UNION ALL ".join(f"SELECT * FROM {view}_p{k}" for k in range(parts)) + ")"
        cells = (
            "(" + " UNION ALL ".join(f"SELECT * FROM {view}_cells_p{k}" for k in range(parts)) + ")"
        )
    fix = f"{view}_fix"
    return [
        *stages,
        Stage(fix, f"SELECT * FROM {cells} AS c", materialize=True, compute=controlled_changes),
        Stage(f"{view}_fix_check", _fix_check_sql(fix, rows), check=True),
        Stage(view, _fixed_sql(owner_keys, joined, fix), streamed=True),
    ]


def controlled_changes(engine: Engine, sql: str) -> pa.Table:
    """The controlled rounding's unit moves for the cells ``sql`` selects (a failure is a bug).
    The fetched table is turned into arrays and let go before the work starts."""
    try:
        return solve(prepare(engine.fetch(sql), METRICS))
    except RoundingError as e:
        raise AttributionError(f"controlled rounding failed (nothing was written): {e}") from e


def _part_stages(
    owner_keys: list[str], shares: str, view: str, rows: str, suffix: str = ""
) -> list[Stage]:
    """The materialised stages of one part: tie ranks, remainders, their ranks, amounts."""
    m, x, k, amounts_view = (f"{view}_{n}{suffix}" for n in ("m", "x", "k", "amounts"))
    owners = [q("x_" + key) for key in owner_keys]
    ties = ", ".join(["wi DESC", *(f"COALESCE({o}, '')" for o in owners), "x_rule", "x_method"])
    totals = f"SELECT {ID}, SUM(w) AS wtot, COUNT(*) AS n FROM {shares} AS s0 GROUP BY {ID}"
    weighted = (
        f"SELECT s.*, t.n, CASE WHEN t.wtot = 0 THEN CAST(1 AS {D0}) ELSE s.w END AS wi, "
        f"CASE WHEN t.wtot = 0 THEN CAST(t.n AS {D0}) ELSE t.wtot END AS wsum "
        f"FROM {shares} AS s JOIN ({totals}) AS t ON t.{ID} = s.{ID}"
    )
    ranked = f"SELECT *, ROW_NUMBER() OVER ({ROW} ORDER BY {ties}) AS sid FROM ({weighted}) AS ww"
    narrow = (
        f"SELECT m.{ID}, m.sid, m.wi, m.wsum, r.pow, r.unit, r.BillingPeriodStart AS g_period, "
        "r.BillingCurrency AS g_currency, "
        + ", ".join(f"r.{c} AS {c}" for c in METRICS)
        + f" FROM {m} AS m JOIN {rows} AS r ON r.{ID} = m.{ID} WHERE m.n > 1"
    )
    units = f"SELECT *, {', '.join(_units(c) for c in METRICS)} FROM ({narrow}) AS nr"
    kept = [
        ID, "sid", "unit", "wsum", "g_period", "g_currency", *METRICS,
        *(f"sunits_{c}, quot_{c}, rem_{c}" for c in METRICS),
    ]  # fmt: skip
    fixed = f"SELECT {', '.join(kept)} FROM (SELECT *, {', '.join(_fixed(c) for c in METRICS)} FROM ({units}) AS u) AS f"
    ranks = f"SELECT {ID}, sid, {', '.join(_rank(c) for c in METRICS)} FROM {x}"
    left = ", ".join(f"ANY_VALUE(sunits_{c}) - SUM(quot_{c}) AS left_{c}" for c in METRICS)
    carried = ["x.wsum", "x.g_period", "x.g_currency", *(f"x.rem_{c}" for c in METRICS)]
    amounts = (
        f"SELECT x.{ID}, x.sid, {', '.join(_amount(c) for c in METRICS)}, {', '.join(carried)}, "
        f"{', '.join(_extra(c) for c in METRICS)} FROM {x} AS x "
        f"JOIN {k} AS k ON k.{ID} = x.{ID} AND k.sid = x.sid "
        f"JOIN (SELECT {ID}, {left} FROM {x} GROUP BY {ID}) AS l ON l.{ID} = x.{ID}"
    )
    return [
        Stage(m, ranked, materialize=True),
        Stage(x, fixed, materialize=True),
        Stage(k, ranks, materialize=True),
        Stage(amounts_view, amounts, materialize=True),
    ]


def _joined_sql(owner_keys: list[str], view: str, rows: str, suffix: str = "") -> str:
    """Every share with its row's key and period, its amounts (the row's own for a row with one
    share, the apportioned ones for a row with several, of the part ``suffix``) and its tie rank
    ``x_sid`` and rounding unit ``x_unit`` (last), before the controlled rounding's unit moves."""
    owners = [q("x_" + k) for k in owner_keys]
    share_cols = [*(f"b.{o}" for o in owners), "b.x_rule", "b.x_method"]
    weights = [
        "CAST(b.wi AS DOUBLE) / CAST(b.wsum AS DOUBLE) AS x_weight",
        "b.wi AS x_usage_weight",
        "b.x_usage_count",
    ]
    head = ", ".join([f"b.{ID}", *(f"r.{c}" for c in KEY), *share_cols, *weights])
    period = ", ".join([*(f"r.{c}" for c in PERIOD), "b.sid AS x_sid", "r.unit AS x_unit"])
    single = (
        f"SELECT {head}, "
        + ", ".join(f"CAST(r.{m} AS DECIMAL(38,12)) AS {m}" for m in METRICS)
        + f", {period} FROM {view}_m{suffix} AS b JOIN {rows} AS r ON r.{ID} = b.{ID} WHERE b.n = 1"
    )
    multi = (
        f"SELECT {head}, {', '.join(f'a.{m}' for m in METRICS)}, {period} FROM {view}_m{suffix} AS b "
        f"JOIN {view}_amounts{suffix} AS a ON a.{ID} = b.{ID} AND a.sid = b.sid "
        f"JOIN {rows} AS r ON r.{ID} = b.{ID}"
    )
    return f"{single} UNION ALL {multi}"


def _owner_sql(owner_keys: list[str], alias: str) -> str:
    """One string per owner tuple (null told apart from ''): the owner the rounding controls."""
    parts = [
        f"CASE WHEN {alias}.{q('x_' + k)} IS NULL THEN '-' ELSE '+' || {alias}.{q('x_' + k)} END"
        for k in owner_keys
    ]
    return " || CHR(31) || ".join(parts)


def _cells_sql(owner_keys: list[str], view: str, rows: str, suffix: str = "") -> str:
    """The shares of the part ``suffix`` with a fraction of a unit in some metric: what the
    controlled rounding reads (:data:`costcouncil.attribution.controlled.CELL_COLUMNS`)."""
    metrics = ", ".join(f"a.rem_{m}, a.e_{m}, a.f_{m}" for m in METRICS)
    some = " OR ".join(f"a.rem_{m} > 0" for m in METRICS)
    return (
        f"SELECT a.{ID}, a.sid, {_owner_sql(owner_keys, 'b')} AS owner, b.x_rule AS g_rule, "
        f"a.g_period, a.g_currency, a.wsum, {metrics} "
        f"FROM {view}_amounts{suffix} AS a JOIN {view}_m{suffix} AS b "
        f"ON b.{ID} = a.{ID} AND b.sid = a.sid WHERE {some}"
    )


def _fix_check_sql(fix: str, rows: str) -> str:
    """Rows whose unit moves do not cancel out (the controlled rounding keeps every row exact)."""
    off = " OR ".join(f"SUM(k_{m}) <> 0" for m in METRICS)
    return (
        f"SELECT r.x_source_file, r.x_source_row FROM (SELECT {ID} FROM {fix} GROUP BY {ID} "
        f"HAVING {off}) AS f JOIN {rows} AS r ON r.{ID} = f.{ID} ORDER BY 1, 2 LIMIT 5"
    )


def _fixed_sql(owner_keys: list[str], joined: str, fix: str) -> str:
    """The allocation rows with the controlled rounding's unit moves added."""
    owners = [q("x_" + k) for k in owner_keys]
    head = [ID, *KEY, *owners, "x_rule", "x_method", "x_weight", "x_usage_weight", "x_usage_count"]
    amounts = [
        f"CAST(j.{m} + COALESCE(f.k_{m} * j.x_unit, CAST(0 AS DECIMAL(38,12))) AS DECIMAL(38,12)) AS {m}"
        for m in METRICS
    ]
    cols = ", ".join([*(f"j.{c}" for c in head), *amounts, *(f"j.{c}" for c in PERIOD)])
    return (
        f"SELECT {cols} FROM {joined} AS j "
        f"LEFT JOIN {fix} AS f ON f.{ID} = j.{ID} AND f.sid = j.x_sid"
    )


def conservation_sql(
    pairs: list[tuple[str, str]], rows: str = "cc_claimed", where: str = ""
) -> str:
    """Claimed ``rows`` (those ``where`` keeps) whose allocations do not add up to them: rows with
    no share at all in the ``(shares, amounts)`` pairs (``<view>_m``, ``<view>_amounts``), and
    rows with several shares whose apportioned amounts do not sum to the row. A row with one
    share carries its own amounts, and a directly owned row is copied, so both conserve by
    construction; reading the narrow parts keeps the check off the wide rows."""
    shares = " UNION ALL ".join(f"SELECT {ID}, n FROM {m}" for m, _ in pairs)
    amounts = " UNION ALL ".join(f"SELECT {ID}, {', '.join(METRICS)} FROM {a}" for _, a in pairs)
    sums = ", ".join(f"SUM({m}) AS {m}" for m in METRICS)
    claimed = f"(SELECT * FROM {rows} WHERE {where})" if where else rows
    return f"""
SELECT c.x_source_file, c.x_source_row FROM {claimed} AS c
LEFT JOIN (SELECT {ID}, MAX(n) AS n FROM ({shares}) AS s GROUP BY {ID}) AS s ON s.{ID} = c.{ID}
LEFT JOIN (SELECT {ID}, COUNT(ContractedCost) AS nk, {sums} FROM ({amounts}) AS a GROUP BY {ID}) AS a
  ON a.{ID} = c.{ID}
WHERE s.n IS NULL
   OR (s.n > 1 AND (a.{ID} IS NULL
   OR a.BilledCost IS DISTINCT FROM c.BilledCost
   OR a.EffectiveCost IS DISTINCT FROM c.EffectiveCost
   OR a.ListCost IS DISTINCT FROM c.ListCost
   OR (c.ContractedCost IS NULL AND a.nk > 0)
   OR (c.ContractedCost IS NOT NULL AND a.ContractedCost IS DISTINCT FROM c.ContractedCost)))
ORDER BY 1, 2 LIMIT 5
"""


def _units(m: str) -> str:
    """Per metric: ``v`` = |C|/u (units and dust), ``U`` = floor(v), the share's exact amount
    in units less the dust for the share ranked first (``y``·W, signed, exact), and an estimate
    ``q0`` of its floor from doubles (within one of it: the next step corrects it)."""
    v = f"(ABS({m}) * pow)"
    u = f"CAST(FLOOR({v}) AS {D0})"
    sign = f"(CASE WHEN {m} < 0 THEN -1 ELSE 1 END)"
    dust = f"({v} - {u})"
    yw = f"{sign} * ({v} * wi - (CASE WHEN sid = 1 THEN {dust} * wsum ELSE 0 END))"
    w, vd = "CAST(wsum AS DOUBLE)", f"(CAST(ABS({m}) AS DOUBLE) * CAST(pow AS DOUBLE))"
    yd = f"{sign} * ({vd} * CAST(wi AS DOUBLE) - (CASE WHEN sid = 1 THEN CAST({dust} AS DOUBLE) * {w} ELSE 0 END))"
    q0 = f"CAST(FLOOR({yd} / {w}) AS {D0})"
    return f"{sign} * {u} AS sunits_{m}, {yw} AS yw_{m}, {q0} AS quot0_{m}"


def _fixed(m: str) -> str:
    """The exact floor and remainder: q0 corrected by one step."""
    rem0 = f"(yw_{m} - quot0_{m} * wsum)"
    fix = f"(CASE WHEN {rem0} < 0 THEN -1 WHEN {rem0} >= wsum THEN 1 ELSE 0 END)"
    return f"quot0_{m} + {fix} AS quot_{m}, {rem0} - {fix} * wsum AS rem_{m}"


def _rank(m: str) -> str:
    """Largest remainder first; on a tie the share ranked first gets the larger magnitude (so
    on a negative row, where a unit moves an amount towards zero, the one ranked last)."""
    tie = f"CASE WHEN {m} < 0 THEN -sid ELSE sid END"
    return f"ROW_NUMBER() OVER ({ROW} ORDER BY rem_{m} DESC, {tie}) AS rank_{m}"


def _extra(m: str) -> str:
    """``e``: 1 where the row-wise rounding gave the share one of the row's leftover units;
    ``f``: where a unit move could turn the share against its row's sign (the share holding
    the dust, when its exact amount is smaller than the dust), 1 if that happens without the
    unit (a positive row), 2 if with it (a negative row); else 0."""
    return (
        f"CAST(CASE WHEN rank_{m} <= left_{m} THEN 1 ELSE 0 END AS TINYINT) AS e_{m}, "
        f"CAST(CASE WHEN x.sid = 1 AND {m} >= 0 AND quot_{m} = -1 THEN 1 "
        f"WHEN x.sid = 1 AND {m} < 0 AND quot_{m} = 0 THEN 2 ELSE 0 END AS TINYINT) AS f_{m}"
    )


def _amount(m: str) -> str:
    extra = f"(CASE WHEN rank_{m} <= left_{m} THEN 1 ELSE 0 END)"
    sign = f"(CASE WHEN {m} < 0 THEN -1 ELSE 1 END)"
    dust = f"(CASE WHEN x.sid = 1 THEN {sign} * (ABS({m}) - ABS(sunits_{m}) * unit) ELSE 0 END)"
    value = f"(quot_{m} + {extra}) * unit + {dust}"
    return f"CAST(CASE WHEN {m} IS NULL THEN NULL ELSE {value} END AS DECIMAL(38,12)) AS {m}"
