"""Exact apportioning: integer-weighted shares of a cost row → amounts that sum to it exactly.

Per metric and row (see docs/attribution.md, "Apportioning, exactly"): whole units
``q_i = floor(U·w_i / W)`` with exact ``DECIMAL(38,0)`` remainders, the ``U − Σq`` leftover units to
the largest remainders, the sub-unit dust to the share ranked first. The floor is computed in
double and corrected by one step with exact arithmetic, so it is exact for any ``U < 2^52``.
"""

from __future__ import annotations

from costcouncil.attribution.owners import KEY, METRICS
from costcouncil.schema.sql import q

D0 = "DECIMAL(38,0)"
ROW = "PARTITION BY x_source_file, x_source_row"


def apportion_sql(owner_keys: list[str], shares: str) -> str:
    """Allocation rows for every share in the view ``shares`` (one query, all four metrics)."""
    owners = [q("x_" + k) for k in owner_keys]
    ties = ", ".join([*(f"COALESCE({o}, '')" for o in owners), "x_rule", "x_method"])
    base = _weighted(shares, owners)
    stages = [base]
    for metric in METRICS:
        stages.append(_units(metric))
        stages.append(_ranked(metric, ties))
    out = [*(f"s.{c}" for c in KEY), *(f"s.{o}" for o in owners), "s.x_rule", "s.x_method"]
    out += [
        "CAST(wi AS DOUBLE) / CAST(wsum AS DOUBLE) AS x_weight",
        "wi AS x_usage_weight",
        "x_usage_count",
    ]
    out += [_amount(m) for m in METRICS]
    ctes = ", ".join(f"a{i} AS ({sql.format(prev=f'a{i - 1}')})" for i, sql in enumerate(stages))
    return f"WITH {ctes} SELECT {', '.join(out)} FROM a{len(stages) - 1} AS s"


def _weighted(shares: str, owners: list[str]) -> str:
    metrics = ", ".join(f"r.{m}" for m in METRICS)
    cols = ", ".join([*(f"s.{c}" for c in KEY), *(f"s.{o}" for o in owners)])
    joined = (
        f"SELECT {cols}, s.x_rule, s.x_method, s.w, s.x_usage_count, {metrics}, r.pow, r.unit, "
        f"SUM(s.w) OVER (PARTITION BY s.x_source_file, s.x_source_row) AS wtot, "
        f"COUNT(*) OVER (PARTITION BY s.x_source_file, s.x_source_row) AS n "
        f"FROM {shares} AS s JOIN cc_rows AS r ON r.x_source_file = s.x_source_file "
        f"AND r.x_source_row = s.x_source_row"
    )
    return (
        f"SELECT *, CASE WHEN wtot = 0 THEN CAST(1 AS {D0}) ELSE w END AS wi, "
        f"CASE WHEN wtot = 0 THEN CAST(n AS {D0}) ELSE wtot END AS wsum FROM ({joined}) AS j"
    )


def _units(m: str) -> str:
    """Whole units U, the exact floor q and remainder r of U·w/W."""
    u = f"CAST(FLOOR(ABS({m}) * pow) AS {D0})"
    q0 = f"CAST(FLOOR(CAST({u} * wi AS DOUBLE) / CAST(wsum AS DOUBLE)) AS {D0})"
    return f"SELECT *, {u} AS units_{m}, {q0} AS quot0_{m}, {u} * wi - {q0} * wsum AS rem0_{m} FROM {{prev}}"


def _ranked(m: str, ties: str) -> str:
    fix = f"(CASE WHEN rem0_{m} < 0 THEN -1 WHEN rem0_{m} >= wsum THEN 1 ELSE 0 END)"
    return (
        f"SELECT *, ROW_NUMBER() OVER ({ROW} ORDER BY rem_{m} DESC, {ties}) AS rank_{m}, "
        f"units_{m} - SUM(quot_{m}) OVER ({ROW}) AS left_{m} FROM (SELECT *, quot0_{m} + {fix} AS quot_{m}, "
        f"rem0_{m} - {fix} * wsum AS rem_{m} FROM {{prev}}) AS t"
    )


def _amount(m: str) -> str:
    extra = f"(CASE WHEN rank_{m} <= left_{m} THEN 1 ELSE 0 END)"
    dust = f"(CASE WHEN rank_{m} = 1 THEN ABS({m}) - units_{m} * unit ELSE 0 END)"
    value = f"(quot_{m} + {extra}) * unit + {dust}"
    signed = f"CASE WHEN {m} < 0 THEN -({value}) ELSE {value} END"
    return f"CAST(CASE WHEN {m} IS NULL THEN NULL ELSE {signed} END AS DECIMAL(38,12)) AS {m}"
