"""Stage 2: usage splits — shares of a claimed cost row per owner of the usage that ran on it.

Every weight is an integer (``DECIMAL(38,0)``) so DuckDB and Spark compute it identically:
milli-units × milliseconds for jobs, nano-units of priced tokens for LLM requests.
"""

from __future__ import annotations

from costcouncil.attribution.owners import ID
from costcouncil.attribution.refs import Scope
from costcouncil.attribution.rules import Rules, UsageSplitRule
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA

D0 = "DECIMAL(38,0)"
TOKEN_COLUMNS = {
    "input": ("input_tokens", "input_per_mtok"),
    "cached": ("cached_input_tokens", "cached_input_per_mtok"),
    "cache_write": ("cache_write_tokens", "cache_write_per_mtok"),
    "output": ("output_tokens", "output_per_mtok"),
    "reasoning": ("reasoning_tokens", "reasoning_per_mtok"),
}
_JOB_FACTOR = {
    "gpu_seconds": "accelerator_count",
    "cpu_seconds": "cpu_cores",
    "memory_gib_seconds": "memory_gib",
}
SHARE_COLUMNS = ("w", "x_usage_count")


def usage_owner(rules: Rules, usage: str, alias: str) -> list[str]:
    """The owner-key columns of a usage row (NULL for keys its schema lacks)."""
    names = set((JOBS_SCHEMA if usage == "jobs" else LLM_SCHEMA).names)
    return [
        f"{alias}.{q(k)} AS {q('x_' + k)}"
        if k in names
        else f"CAST(NULL AS VARCHAR) AS {q('x_' + k)}"
        for k in rules.owner_keys
    ]


def _ms(ts: str) -> str:
    return f"epoch_ms({ts})"


def job_weight(rule: UsageSplitRule) -> str:
    """The integer weight of one job inside one cost row's charge period."""
    if rule.weight_kind == "requests":
        return f"CAST(1 AS {D0})"
    end = 'LEAST(COALESCE(j."end", c.ChargePeriodEnd), c.ChargePeriodEnd)'
    overlap = f"({_ms(end)} - {_ms('GREATEST(j.start, c.ChargePeriodStart)')})"
    factor = _JOB_FACTOR.get(rule.weight_kind)
    milli = "1000" if factor is None else f"CAST(ROUND(COALESCE(j.{factor}, 0) * 1000) AS BIGINT)"
    return f"CAST({milli} AS {D0}) * CAST({overlap} AS {D0})"


def _on_sql(rule: UsageSplitRule, costs: Scope, usage: Scope, where: str) -> list[str]:
    return [
        f"{costs.sql(c, where + '.on')} = {usage.sql(u, where + '.on')}"
        for c, u in rule.joins.items()
    ]


#: Width of the time buckets the jobs join meets cost rows in (microseconds: one hour).
BUCKET_US = 3_600_000_000


def _buckets(start: str, end: str) -> tuple[str, str]:
    """First and last bucket of ``[start, end)`` (the last is never before the first)."""
    first = f"epoch_us({start}) // {BUCKET_US}"
    return first, f"GREATEST({first}, (epoch_us({end}) - 1) // {BUCKET_US})"


def jobs_shares_sql(
    rules: Rules,
    rule: UsageSplitRule,
    cost_columns: list[str],
    where: str,
    part: tuple[int, int] = (0, 1),
) -> str:
    """Shares per (cost row, owner) of a jobs split: Σ job weights, number of jobs.

    Jobs meet cost rows on the rule's join columns and the hour bucket: each side is expanded
    into the buckets it touches (running jobs end at the last claimed row's end), the exact
    overlap is the filter, and a pair counts only in its first common bucket, so a cost row or
    job longer than a bucket is counted once.

    ``part`` = (k, K): only the claimed rows of the k-th of K equal spans of first buckets, met
    by the jobs of their own time span. A row's shares depend on that row alone, so the K parts
    together are exactly the whole, while each join holds about 1/K of the rows.
    """
    costs, usage = Scope("c", cost_columns, "the cost data"), Scope("j", JOBS_SCHEMA.names, "jobs")
    # both sides narrowed to what the join, the weight and the owners read: they are expanded
    # into hour buckets, so their width is what the join holds in memory
    periods = ["ChargePeriodStart", "ChargePeriodEnd"]
    cost_cols = [ID, *periods, *sorted(costs.base_columns(rule.joins) - set(periods))]
    factor = _JOB_FACTOR.get(rule.weight_kind)
    job_cols = {
        "start",
        "end",
        *usage.base_columns(rule.joins.values()),
        *([factor] if factor else []),
    }
    job_cols |= {k for k in rules.owner_keys if k in JOBS_SCHEMA.names}
    c0, c1 = _buckets("ChargePeriodStart", "ChargePeriodEnd")
    bounds, index = _part_filter(rule, c0, part)
    claimed = (
        f"SELECT {', '.join(q(c) for c in cost_cols)} FROM cc_claimed{bounds} "
        f"WHERE split_rule = {lit(rule.name)}{index}"
    )
    cost_side = (
        f"SELECT *, unnest(generate_series(cb0, cb1)) AS bk FROM (SELECT *, {c0} AS cb0, {c1} AS cb1 "
        f"FROM ({claimed}) AS r) AS e"
    )
    span = f"SELECT MIN(ChargePeriodStart) AS lo, MAX(ChargePeriodEnd) AS hi FROM ({claimed}) AS p"
    j0, j1 = _buckets("GREATEST(j.start, s.lo)", 'LEAST(COALESCE(j."end", s.hi), s.hi)')
    picked = ", ".join(f"j.{q(c)}" for c in sorted(job_cols))
    job_side = (
        f"SELECT *, unnest(generate_series(jb0, jb1)) AS bk FROM (SELECT {picked}, {j0} AS jb0, "
        f"{j1} AS jb1 FROM jobs AS j CROSS JOIN ({span}) AS s WHERE j.start < s.hi "
        '  AND (j."end" IS NULL OR j."end" > s.lo)) AS e'
    )
    on = [
        "j.bk = c.bk",
        *_on_sql(rule, costs, usage, where),
        "j.start < c.ChargePeriodEnd",
        '(j."end" IS NULL OR j."end" > c.ChargePeriodStart)',
        "c.bk = GREATEST(c.cb0, j.jb0)",
    ]
    owners = usage_owner(rules, "jobs", "j")
    source = f"({cost_side}) AS c JOIN ({job_side}) AS j ON " + " AND ".join(on)
    return _grouped(rules, owners, job_weight(rule), source, rule)


def _part_filter(rule: UsageSplitRule, first_bucket: str, part: tuple[int, int]) -> tuple[str, str]:
    """(``CROSS JOIN`` of the rule's first-bucket range, `` AND`` the row's first bucket in the
    k-th of K equal spans of it); nothing for one part."""
    k, parts = part
    if parts == 1:
        return "", ""
    bounds = (
        f" CROSS JOIN (SELECT MIN({first_bucket}) AS b0, MAX({first_bucket}) AS b1 FROM cc_claimed "
        f"WHERE split_rule = {lit(rule.name)}) AS b"
    )
    return bounds, f" AND (({first_bucket} - b.b0) * {parts}) // (b.b1 - b.b0 + 1) = {k}"


def _grouped(
    rules: Rules, owners: list[str], weight: str, source: str, rule: UsageSplitRule
) -> str:
    keys = ", ".join(f"{q('x_' + k)}" for k in rules.owner_keys)
    return (
        f"SELECT x_id, {keys}, {lit(rule.name)} AS x_rule, "
        f"{lit('usage_split:' + rule.weight_kind)} AS x_method, SUM(uw) AS w, COUNT(*) AS x_usage_count "
        f"FROM (SELECT c.x_id, {', '.join(owners)}, {weight} AS uw FROM {source}) AS u "
        f"GROUP BY x_id, {keys}"
    )


def priced_llm_sql() -> str:
    """LLM requests with their catalog price and priced nano-units per token kind.

    Identical request rows (all columns equal) would be merged by the price pick; usage rows are
    unique per source by ``request_id``, so this does not happen on valid usage.
    """
    parts = ["l.*", "COALESCE(l.request_count, 1) AS n_req"]
    for kind, (tokens, price) in TOKEN_COLUMNS.items():
        rate = f"COALESCE(p.{price}, p.output_per_mtok)" if kind == "reasoning" else f"p.{price}"
        count = f"CAST(COALESCE(l.{tokens}, 0) AS {D0})"
        parts.append(f"{count} AS k_{kind}")
        parts.append(f"CAST(ROUND({count} * {rate} * 1000, 0) AS {D0}) AS n_{kind}")
        parts.append(f"{count} * {rate} AS m_{kind}")
        parts.append(f"CASE WHEN {count} > 0 AND {rate} IS NULL THEN 1 ELSE 0 END AS u_{kind}")
    parts.append("CASE WHEN p.provider IS NULL THEN 1 ELSE 0 END AS nop")
    on = (
        "p.provider = l.provider AND p.model = l.model "
        "AND COALESCE(p.service_tier, 'standard') = COALESCE(l.service_tier, 'standard') "
        "AND (p.valid_from IS NULL OR p.valid_from <= l.time) "
        "AND (p.valid_to IS NULL OR l.time < p.valid_to)"
    )
    every = ", ".join(f"l.{q(c)}" for c in LLM_SCHEMA.names)
    latest = f"ROW_NUMBER() OVER (PARTITION BY {every} ORDER BY p.valid_from DESC NULLS LAST) AS price_rank"
    joined = f"SELECT {', '.join(parts)}, {latest} FROM llm AS l LEFT JOIN prices AS p ON {on}"
    # the latest price row in force wins where a price table's rows overlap
    return f"SELECT * FROM ({joined}) AS j WHERE price_rank = 1"


def tokens_by_kind(prefix: str, kind_sql: str | None, alias: str = "l") -> str:
    """Priced nano-units (``n``), token counts (``k``), … of a priced LLM row ``alias``: all
    kinds, or only the cost row's token kind (``kind_sql``)."""
    total = " + ".join(f"COALESCE({alias}.{prefix}_{k}, 0)" for k in TOKEN_COLUMNS)
    if kind_sql is None:
        return f"({total})"
    whens = " ".join(f"WHEN {lit(k)} THEN COALESCE({alias}.{prefix}_{k}, 0)" for k in TOKEN_COLUMNS)
    return f"(CASE {kind_sql} {whens} ELSE {total} END)"


def llm_shares_sql(rules: Rules, rule: UsageSplitRule, cost_columns: list[str], where: str) -> str:
    """Shares of an LLM split, before the unpriced fallback: both weights, priced micro-cost."""
    costs = Scope("c", cost_columns, "the cost data")
    kind = costs.sql(rule.token_kind, where + ".token_kind") if rule.token_kind else None
    on = _llm_on(rule, cost_columns, where)
    owners = usage_owner(rules, "llm", "l")
    keys = ", ".join(f"{q('x_' + k)}" for k in rules.owner_keys)
    weights = {
        "token_cost": tokens_by_kind("n", kind),
        "tokens": tokens_by_kind("k", kind),
        "requests": f"CAST(l.n_req AS {D0})",
    }
    fallback = weights["tokens"] if rule.weight_kind == "token_cost" else weights[rule.weight_kind]
    select = (
        f"c.x_id, {', '.join(owners)}, {weights[rule.weight_kind]} AS uw, "
        f"{fallback} AS fw, CASE WHEN l.nop = 1 OR {tokens_by_kind('u', kind)} > 0 THEN 1 ELSE 0 END AS unpriced, "
        f"l.n_req, {tokens_by_kind('m', kind)} AS micro"
    )
    return (
        f"SELECT x_id, {keys}, SUM(uw) AS w, SUM(fw) AS fw, "
        f"MAX(unpriced) AS unpriced, COUNT(*) AS x_usage_count, SUM(n_req) AS requests, "
        f"SUM(micro) AS micro FROM (SELECT {select} FROM cc_claimed AS c JOIN llm_priced AS l "
        f"ON {' AND '.join(on)}) AS u GROUP BY x_id, {keys}"
    )


def _llm_on(rule: UsageSplitRule, cost_columns: list[str], where: str) -> list[str]:
    costs, usage = (
        Scope("c", cost_columns, "the cost data"),
        Scope("l", LLM_SCHEMA.names, "llm usage"),
    )
    return [
        f"c.split_rule = {lit(rule.name)}",
        *_on_sql(rule, costs, usage, where),
        "l.time >= c.ChargePeriodStart",
        "l.time < c.ChargePeriodEnd",
    ]


def llm_requests_sql(
    rules: Rules, rule: UsageSplitRule, cost_columns: list[str], where: str
) -> str:
    """Requests behind an LLM split per (provider, model, day, currency), each request once."""
    model = "l.model" if "model" in rules.owner_keys else "CAST(NULL AS VARCHAR)"
    on = " AND ".join(_llm_on(rule, cost_columns, where))
    distinct = (
        f"SELECT DISTINCT c.ProviderName, {model} AS model, CAST(c.ChargePeriodStart AS DATE) AS day, "
        f"c.BillingCurrency, l.source, l.request_id, l.n_req FROM cc_claimed AS c JOIN llm_priced AS l ON {on}"
    )
    return (
        "SELECT ProviderName, model, day, BillingCurrency, SUM(n_req) AS requests "
        f"FROM ({distinct}) AS d GROUP BY ProviderName, model, day, BillingCurrency"
    )


def llm_final_sql(rules: Rules, rule: UsageSplitRule, view: str) -> str:
    """An LLM split's shares with the row-level fallback to tokens when a request is unpriced."""
    keys = ", ".join(f"{q('x_' + k)}" for k in rules.owner_keys)
    row = "PARTITION BY x_id"
    method = lit("usage_split:" + rule.weight_kind)
    fallback = lit("usage_split:tokens(unpriced)") if rule.weight_kind == "token_cost" else method
    return (
        f"SELECT x_id, {keys}, {lit(rule.name)} AS x_rule, "
        f"CASE WHEN MAX(unpriced) OVER ({row}) = 1 THEN {fallback} ELSE {method} END AS x_method, "
        f"CASE WHEN MAX(unpriced) OVER ({row}) = 1 THEN fw ELSE w END AS w, x_usage_count FROM {view}"
    )


def idle_sql(
    rules: Rules, rule: UsageSplitRule, shares: str, cost_columns: list[str], where: str
) -> str:
    """The idle share of each row a split claimed (whole row when no usage ran on it)."""
    policy = rules.idle_policy(rule.name)
    cap = _capacity_weight(rule, cost_columns, where)
    idle = f"GREATEST({cap} - u.used, CAST(0 AS {D0}))" if cap else f"CAST(0 AS {D0})"
    whole = f"COALESCE({cap}, CAST(1 AS {D0}))" if cap else f"CAST(1 AS {D0})"
    weight = f"CASE WHEN u.used IS NULL THEN {whole} ELSE {idle} END"
    keep = (
        "u.used IS NULL" if policy == "spread" or not cap else f"(u.used IS NULL OR {cap} > u.used)"
    )
    owned = " AND ".join(f"c.{q('o_' + k)} IS NOT NULL" for k in rules.require)
    to_owner = policy == "owner"
    owners = [_idle_owner(k, owned if to_owner else "FALSE") for k in rules.owner_keys]
    method = f"CASE WHEN {owned} THEN 'idle:owner' ELSE 'idle' END" if to_owner else "'idle'"
    return (
        f"SELECT c.x_id, {', '.join(owners)}, {lit(rule.name)} AS x_rule, "
        f"{method} AS x_method, {weight} AS w, CAST(0 AS BIGINT) AS x_usage_count "
        f"FROM cc_claimed AS c LEFT JOIN (SELECT x_id, SUM(w) AS used FROM {shares} "
        f"GROUP BY x_id) AS u ON u.x_id = c.x_id WHERE c.split_rule = {lit(rule.name)} AND {keep}"
    )


def _idle_owner(key: str, owned: str) -> str:
    if owned == "FALSE":
        return f"'__idle__' AS {q('x_' + key)}"
    return f"CASE WHEN {owned} THEN c.{q('o_' + key)} ELSE '__idle__' END AS {q('x_' + key)}"


def _capacity_weight(rule: UsageSplitRule, cost_columns: list[str], where: str) -> str | None:
    if rule.capacity is None:
        return None
    if isinstance(rule.capacity, str):
        value = f"TRY_CAST({Scope('c', cost_columns, 'the cost data').sql(rule.capacity, where + '.capacity')} AS DOUBLE)"
    else:
        value = repr(float(rule.capacity))
    period = f"({_ms('c.ChargePeriodEnd')} - {_ms('c.ChargePeriodStart')})"
    return f"CAST(CAST(ROUND({value} * 1000) AS BIGINT) AS {D0}) * CAST({period} AS {D0})"
