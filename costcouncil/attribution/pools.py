"""Stage 3: shared pools — support, networking and platform fees spread over the period's owners.

Owners are the non-sentinel owner tuples (restricted to the pool's ``keys``) of the allocations
already made (view ``cc_alloc_a``) in the same billing period and currency, or of the period's
usage for the usage-metric pools. A row with no owner weighing more than zero is unallocated.
"""

from __future__ import annotations

from costcouncil.attribution.rules import SENTINELS, Rules, SharedPoolRule, UsageSplitRule
from costcouncil.attribution.splits import D0, job_weight
from costcouncil.schema.sql import lit, q


def _keys(rules: Rules, rule: SharedPoolRule) -> list[str]:
    return list(rule.keys or rules.require)


def owners_sql(rules: Rules, rule: SharedPoolRule) -> str:
    """``(BillingPeriodStart, BillingCurrency, x_<keys>, pw)`` for the pool's owners.

    The owners are the period's allocated owner tuples (restricted to ``keys``); ``pw`` is their
    integer weight by the pool's ``by`` (0 for an owner the weights do not name or with no usage).
    """
    keys = [q("x_" + k) for k in _keys(rules, rule)]
    first = q("x_" + rules.require[0])
    sentinels = ", ".join(lit(s) for s in SENTINELS)
    owners = (
        f"SELECT BillingPeriodStart, BillingPeriodEnd, BillingCurrency, {', '.join(keys)}, "
        f"SUM(EffectiveCost) AS direct FROM cc_alloc_a WHERE COALESCE({first}, '') NOT IN ({sentinels}) "
        f"AND ({' OR '.join(f'{k} IS NOT NULL' for k in keys)}) "
        f"GROUP BY BillingPeriodStart, BillingPeriodEnd, BillingCurrency, {', '.join(keys)}"
    )
    if rule.by in ("gpu_seconds", "tokens", "requests"):
        return _with_usage(rules, rule, owners)
    cols = ", ".join(f"o.{k}" for k in keys)
    return f"SELECT o.BillingPeriodStart, o.BillingCurrency, {cols}, {_weight(rules, rule)} AS pw FROM ({owners}) AS o"


def _weight(rules: Rules, rule: SharedPoolRule) -> str:
    if rule.by == "even":
        return f"CAST(1 AS {D0})"
    if rule.by == "direct_cost":
        return f"CAST(ROUND(GREATEST(o.direct, CAST(0 AS DECIMAL(38,12))) * 1000000, 0) AS {D0})"
    first = q("x_" + _keys(rules, rule)[0])
    whens = " ".join(
        f"WHEN {lit(value)} THEN CAST({round(weight * 1_000_000)} AS {D0})"
        for value, weight in (rule.weights or {}).items()
    )
    return f"CASE o.{first} {whens} ELSE CAST(0 AS {D0}) END"


def _with_usage(rules: Rules, rule: SharedPoolRule, owners: str) -> str:
    keys = _keys(rules, rule)
    cols = [q("x_" + k) for k in keys]
    periods = "SELECT DISTINCT BillingPeriodStart, BillingPeriodEnd, BillingCurrency FROM costs"
    source = (
        _job_usage(keys, periods) if rule.by == "gpu_seconds" else _llm_usage(rule, keys, periods)
    )
    usage = (
        f"SELECT BillingPeriodStart, BillingCurrency, {', '.join(cols)}, SUM(uw) AS uw FROM ({source}) AS s "
        f"GROUP BY BillingPeriodStart, BillingCurrency, {', '.join(cols)}"
    )
    same = " AND ".join(
        ["u.BillingPeriodStart = o.BillingPeriodStart", "u.BillingCurrency = o.BillingCurrency"]
        + [f"u.{c} IS NOT DISTINCT FROM o.{c}" for c in cols]
    )
    picked = ", ".join(f"o.{c}" for c in cols)
    return (
        f"SELECT o.BillingPeriodStart, o.BillingCurrency, {picked}, COALESCE(u.uw, CAST(0 AS {D0})) AS pw "
        f"FROM ({owners}) AS o LEFT JOIN ({usage}) AS u ON {same}"
    )


def _job_usage(keys: list[str], periods: str) -> str:
    split = UsageSplitRule(name="pool", kind="usage_split", usage="jobs")
    weight = job_weight(split).replace("ChargePeriod", "BillingPeriod")
    cols = ", ".join(
        f"j.{q(k)} AS {q('x_' + k)}"
        if k in _JOB_OWNERS
        else f"CAST(NULL AS VARCHAR) AS {q('x_' + k)}"
        for k in keys
    )
    return (
        f"SELECT c.BillingPeriodStart, c.BillingCurrency, {cols}, {weight} AS uw FROM ({periods}) AS c "
        f'JOIN jobs AS j ON j.start < c.BillingPeriodEnd AND (j."end" IS NULL OR j."end" > c.BillingPeriodStart)'
    )


_JOB_OWNERS = ("team", "project", "model", "model_version", "run", "environment", "user")
_LLM_OWNERS = (*_JOB_OWNERS, "feature", "customer", "api_key_id")


def _llm_usage(rule: SharedPoolRule, keys: list[str], periods: str) -> str:
    tokens = " + ".join(
        f"COALESCE(l.{c}, 0)"
        for c in (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
            "reasoning_tokens",
        )
    )
    weight = (
        f"CAST(COALESCE(l.request_count, 1) AS {D0})"
        if rule.by == "requests"
        else f"CAST({tokens} AS {D0})"
    )
    cols = ", ".join(
        f"l.{q(k)} AS {q('x_' + k)}"
        if k in _LLM_OWNERS
        else f"CAST(NULL AS VARCHAR) AS {q('x_' + k)}"
        for k in keys
    )
    return (
        f"SELECT c.BillingPeriodStart, c.BillingCurrency, {cols}, {weight} AS uw FROM ({periods}) AS c "
        f"JOIN llm AS l ON l.time >= c.BillingPeriodStart AND l.time < c.BillingPeriodEnd"
    )


def pool_shares_sql(rules: Rules, rule: SharedPoolRule, owners: str) -> str:
    """Shares of every row the pool claims; rows with no weighted owner become unallocated."""
    keys = _keys(rules, rule)
    cols = [
        f"o.{q('x_' + k)}" if k in keys else f"CAST(NULL AS VARCHAR) AS {q('x_' + k)}"
        for k in rules.owner_keys
    ]
    matched = (
        f"SELECT c.x_id, {', '.join(cols)}, {lit(rule.name)} AS x_rule, "
        f"{lit('shared_pool:' + rule.by)} AS x_method, o.pw AS w, CAST(0 AS BIGINT) AS x_usage_count "
        f"FROM cc_claimed AS c JOIN (SELECT * FROM (SELECT *, MAX(pw) OVER (PARTITION BY BillingPeriodStart, "
        f"BillingCurrency) AS top FROM {owners}) AS t WHERE top > 0) AS o "
        f"ON o.BillingPeriodStart = c.BillingPeriodStart AND o.BillingCurrency = c.BillingCurrency "
        f"WHERE c.split_rule = {lit(rule.name)}"
    )
    none = ", ".join(f"'__unallocated__' AS {q('x_' + k)}" for k in rules.owner_keys)
    orphans = (
        f"SELECT c.x_id, {none}, {lit(rule.name)} AS x_rule, "
        f"'shared_pool:none' AS x_method, CAST(1 AS {D0}) AS w, CAST(0 AS BIGINT) AS x_usage_count "
        f"FROM cc_claimed AS c WHERE c.split_rule = {lit(rule.name)} AND NOT EXISTS "
        f"(SELECT 1 FROM {owners} AS o WHERE o.pw > 0 AND o.BillingPeriodStart = c.BillingPeriodStart "
        f"AND o.BillingCurrency = c.BillingCurrency)"
    )
    return f"{matched} UNION ALL {orphans}"
