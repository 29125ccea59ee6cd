"""LLM request logs (the ``llm`` usage schema), as a gateway would write them.

Rows are pre-aggregated (``request_count`` > 1): each app's day is split into a few time slices.
Tokens per app, day and kind are exactly the tokens the provider invoiced (see
:func:`costcouncil.demo.apps.tokens`), and ``cost`` is those tokens at list price, so logs and
invoices reconcile to the cent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.demo.apps import LOG_PROVIDER, App, tokens
from costcouncil.demo.arrays import F64, I64, decimals, money_units, segments, timestamps, uniform
from costcouncil.demo.catalog import LLM_MODELS, TOKEN_KINDS
from costcouncil.demo.plan import Plan, build_plan
from costcouncil.demo.spec import HOUR_US, DemoSpec, epoch_us
from costcouncil.schema.usage import LLM_SCHEMA

#: At most this many log rows, whatever the size of the cost data.
MAX_LOG_ROWS = 500_000
_TOKEN_COLUMNS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cached": "cached_input_tokens",
    "cache_write": "cache_write_tokens",
}


def generate_llm_requests(spec: DemoSpec) -> pa.Table:
    """About ``rows / 10`` log rows (capped) for every LLM app and active day."""
    plan = build_plan(spec)
    apps = list(plan.apps)
    app_days = np.array([a.stop - a.start for a in apps], dtype=np.int64)
    app, day = segments(np.array([a.start for a in apps], dtype=np.int64), app_days)
    slices = int(np.clip(round(min(spec.rows // 10, MAX_LOG_ROWS) / app.size), 1, 24))
    row_app, piece = segments(np.zeros(app.size, dtype=np.int64), np.full(app.size, slices))
    cum = _cumulative_weights(spec.seed, row_app.size, slices)
    columns = _token_columns(plan, app[row_app], day[row_app], cum, slices)
    columns |= _time_columns(plan, app[row_app], day[row_app], piece, slices)
    columns |= _app_columns(apps, app[row_app])
    return pa.table({f.name: columns[f.name] for f in LLM_SCHEMA}, schema=LLM_SCHEMA)


def _cumulative_weights(seed: int, n: int, slices: int) -> F64:
    """Per slice, the share of the day's traffic up to and including it (last slice: 1.0)."""
    w = (0.5 + uniform(seed, 61, np.arange(n))).reshape(-1, slices)
    cum = np.cumsum(w, axis=1)
    return (cum / cum[:, -1:]).reshape(-1)


def _split(total: I64, cum: F64, slices: int) -> I64:
    """Integer parts of ``total`` by cumulative shares; the parts add up to ``total`` exactly."""
    upto = np.floor(total * cum).astype(np.int64).reshape(-1, slices)
    upto[:, -1] = total.reshape(-1, slices)[:, -1]
    return np.diff(upto, axis=1, prepend=0).reshape(-1)


def _token_columns(plan: Plan, app: I64, day: I64, cum: F64, slices: int) -> dict[str, pa.Array]:
    columns: dict[str, pa.Array] = {}
    cost = np.zeros(app.size, dtype=np.int64)
    for k, kind in enumerate(TOKEN_KINDS):
        price = _price_table(plan.apps, kind)
        n = np.where(price[app] >= 0, _split(tokens(plan.volumes, app, k, day), cum, slices), 0)
        cost += n * np.maximum(price[app], 0) // 1_000_000
        columns[_TOKEN_COLUMNS[kind]] = pa.array(n)
    requests = tokens(plan.volumes, app, 0, day) // 1200 + 1
    columns["request_count"] = pa.array(np.maximum(_split(requests, cum, slices), 1))
    columns["reasoning_tokens"] = pa.array(np.zeros(app.size, dtype=np.int64))
    columns["cost"] = decimals(cost, 10)
    return columns


def _price_table(apps: tuple[App, ...], kind: str) -> I64:
    """Price per 1M tokens of ``kind`` for each app in 1e-10 USD; -1 where the model has none."""
    prices = [dict(LLM_MODELS[a.use.model].prices).get(kind) for a in apps]
    return np.array([money_units(p) if p else -1 for p in prices], dtype=np.int64)


def _time_columns(plan: Plan, app: I64, day: I64, piece: I64, slices: int) -> dict[str, pa.Array]:
    u = uniform(plan.spec.seed, 67, np.arange(app.size))
    hours = day * 24 + (piece + u) * 24 / slices
    us = epoch_us(plan.spec.start) + np.floor(hours * HOUR_US).astype(np.int64)
    ids = pc.cast(pa.array(np.arange(app.size)), pa.string())
    return {"time": timestamps(us), "request_id": pc.binary_join_element_wise("req", ids, "-")}


def _app_columns(apps: list[App], app: I64) -> dict[str, pa.Array]:
    def col(values: Sequence[str | None]) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[app], pa.string())

    owners = [a.use.owner for a in apps]
    attrs = [
        json.dumps({"project_id": a.resource_id, "owner_model": a.use.owner.model}) for a in apps
    ]
    n = app.size
    return {
        "source": pa.repeat("litellm", n),
        "provider": col([LOG_PROVIDER[a.provider] for a in apps]),
        "model": col([a.use.model for a in apps]),
        "service_tier": col([a.use.tier for a in apps]),
        "team": col([o.team for o in owners]),
        "project": col([o.project for o in owners]),
        "model_version": pa.nulls(n, pa.string()),
        "run": pa.nulls(n, pa.string()),
        "environment": col([o.environment for o in owners]),
        "user": pa.nulls(n, pa.string()),
        "feature": col([a.use.feature for a in apps]),
        "customer": pa.nulls(n, pa.string()),
        "api_key_id": col([a.api_key for a in apps]),
        "attributes": col(attrs),
    }
