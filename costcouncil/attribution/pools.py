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
    """``(BillingPeriodStart, BillingCurrency, x_<keys>, pw)`` for the pool's candidate owners."""
    if rule.by == "weights":
        return _fixed_owners(rules, rule)
    if rule.by in ("gpu_seconds", "tokens", "requests"):
        return _usage_owners(rules, rule)
    keys = [q("x_" + k) for k in _keys(rules, rule)]
    first = q("x_" + rules.require[0])
    sentinels = ", ".join(lit(s) for s in SENTINELS)
    weight = (
        f"CAST(1 AS {D0})"
        if rule.by == "even"
        else f"CAST(ROUND(GREATEST(SUM(EffectiveCost), CAST(0 AS DECIMAL(38,12))) * 1000000, 0) AS {D0})"
    )
    return (
        f"SELECT BillingPeriodStart, BillingCurrency, {', '.join(keys)}, {weight} AS pw "
        f"FROM cc_alloc_a WHERE {first} NOT IN ({sentinels}) "
        f"GROUP BY BillingPeriodStart, BillingCurrency, {', '.join(keys)}"
    )


def _fixed_owners(rules: Rules, rule: SharedPoolRule) -> str:
    keys = _keys(rules, rule)
    rows = []
    for value, weight in (rule.weights or {}).items():
        cols = [f"{lit(value)} AS {q('x_' + keys[0])}"]
        cols += [f"CAST(NULL AS VARCHAR) AS {q('x_' + k)}" for k in keys[1:]]
        units = round(weight * 1_000_000)
        rows.append(f"SELECT {', '.join(cols)}, CAST({units} AS {D0}) AS pw")
    periods = "SELECT DISTINCT BillingPeriodStart, BillingCurrency FROM cc_rows"
    return f"SELECT p.*, o.* FROM ({periods}) AS p CROSS JOIN ({' UNION ALL '.join(rows)}) AS o"


def _usage_owners(rules: Rules, rule: SharedPoolRule) -> str:
    keys = _keys(rules, rule)
    periods = "SELECT DISTINCT BillingPeriodStart, BillingPeriodEnd, BillingCurrency FROM cc_rows"
    sel = ", ".join(f"{q('x_' + k)}" for k in keys)
    if rule.by == "gpu_seconds":
        source = _job_usage(keys, periods)
    else:
        source = _llm_usage(rule, keys, periods)
    return (
        f"SELECT BillingPeriodStart, BillingCurrency, {sel}, SUM(uw) AS pw FROM ({source}) AS u "
        f"WHERE {q('x_' + keys[0])} IS NOT NULL GROUP BY BillingPeriodStart, BillingCurrency, {sel}"
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
        f"SELECT c.x_source_file, c.x_source_row, {', '.join(cols)}, {lit(rule.name)} AS x_rule, "
        f"{lit('shared_pool:' + rule.by)} AS x_method, o.pw AS w, CAST(0 AS BIGINT) AS x_usage_count "
        f"FROM cc_rows AS c JOIN (SELECT * FROM {owners} WHERE pw > 0) AS o "
        f"ON o.BillingPeriodStart = c.BillingPeriodStart AND o.BillingCurrency = c.BillingCurrency "
        f"WHERE c.split_rule = {lit(rule.name)}"
    )
    none = ", ".join(f"'__unallocated__' AS {q('x_' + k)}" for k in rules.owner_keys)
    orphans = (
        f"SELECT c.x_source_file, c.x_source_row, {none}, {lit(rule.name)} AS x_rule, "
        f"'shared_pool:none' AS x_method, CAST(1 AS {D0}) AS w, CAST(0 AS BIGINT) AS x_usage_count "
        f"FROM cc_rows AS c WHERE c.split_rule = {lit(rule.name)} AND NOT EXISTS "
        f"(SELECT 1 FROM {owners} AS o WHERE o.pw > 0 AND o.BillingPeriodStart = c.BillingPeriodStart "
        f"AND o.BillingCurrency = c.BillingCurrency)"
    )
    return f"{matched} UNION ALL {orphans}"
