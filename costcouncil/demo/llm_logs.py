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

from costcouncil.demo.apps import LOG_PROVIDER, MODEL_NAMES
from costcouncil.demo.arrays import F64, I64, decimals, money_units, segments, timestamps, uniform
from costcouncil.demo.catalog import LLM_MODELS, TOKEN_KINDS
from costcouncil.demo.plan import Plan, build_plan
from costcouncil.demo.spec import HOUR_US, DemoSpec, epoch_us
from costcouncil.demo.tokens import lane_tokens, unit_prices
from costcouncil.demo.twists import REASONING, REQUESTS
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
    """About ``rows / 10`` log rows (capped) for every LLM app and active day, and for every
    planted lane (another model or client of an app) and day of its window."""
    plan = build_plan(spec)
    lane, app, day = _lane_days(plan)
    slices = int(np.clip(round(min(spec.rows // 10, MAX_LOG_ROWS) / app.size), 1, 24))
    row, piece = segments(np.zeros(app.size, dtype=np.int64), np.full(app.size, slices))
    cum = _cumulative_weights(spec.seed, row.size, slices)
    rows = (lane[row], app[row], day[row])
    columns = _token_columns(plan, rows, cum, slices)
    columns |= _time_columns(plan, app[row], day[row], piece, slices)
    columns |= _app_columns(plan, lane[row], app[row])
    return pa.table({f.name: columns[f.name] for f in LLM_SCHEMA}, schema=LLM_SCHEMA)


def _lane_days(plan: Plan) -> tuple[I64, I64, I64]:
    """(lane, app, day) of every app's active days (lane -1), then of every planted lane's."""
    lanes = plan.volumes.changes.lanes
    starts = np.array([a.start for a in plan.apps] + [ln.start for ln in lanes], dtype=np.int64)
    stops = np.array([a.stop for a in plan.apps] + [ln.stop for ln in lanes], dtype=np.int64)
    which, day = segments(starts, stops - starts)
    n = len(plan.apps)
    owner = np.array([a.index for a in plan.apps] + [ln.app for ln in lanes], dtype=np.int64)
    return np.where(which < n, -1, which - n), owner[which], day


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


def _models(plan: Plan, lane: I64, app: I64) -> I64:
    """Model code of each row: the lane's model, or the app's own."""
    lanes = plan.volumes.changes.lanes
    own = plan.volumes.models[app]
    codes = np.array([MODEL_NAMES.index(ln.model) for ln in lanes] + [0], dtype=np.int64)
    return np.where(lane < 0, own, codes[lane])


def _token_columns(
    plan: Plan, rows: tuple[I64, I64, I64], cum: F64, slices: int
) -> dict[str, pa.Array]:
    lane, app, day = rows
    v, model = plan.volumes, _models(plan, lane, app)
    columns: dict[str, pa.Array] = {}
    cost = np.zeros(app.size, dtype=np.int64)
    for k, kind in enumerate(TOKEN_KINDS):
        price = unit_prices(v, app, model, k, day, _PRICES[model, k])
        n = np.where(price >= 0, _split(lane_tokens(v, lane, app, k, day), cum, slices), 0)
        if kind == "output":
            r = np.where(
                price >= 0, _split(lane_tokens(v, lane, app, REASONING, day), cum, slices), 0
            )
            columns["reasoning_tokens"] = pa.array(r)
            cost += r * np.maximum(price, 0) // 1_000_000
        cost += n * np.maximum(price, 0) // 1_000_000
        columns[_TOKEN_COLUMNS[kind]] = pa.array(n)
    requests = _split(lane_tokens(v, lane, app, REQUESTS, day), cum, slices)
    columns["request_count"] = pa.array(np.maximum(requests, 1))
    columns["cost"] = decimals(cost, 10)
    return columns


def _price_table() -> I64:
    """Price per 1M tokens by (model code, kind) in 1e-10 USD; -1 where the model has none."""
    table = [[dict(LLM_MODELS[m].prices).get(k) for k in TOKEN_KINDS] for m in MODEL_NAMES]
    return np.array([[money_units(p) if p else -1 for p in row] for row in table], dtype=np.int64)


_PRICES = _price_table()


def _time_columns(plan: Plan, app: I64, day: I64, piece: I64, slices: int) -> dict[str, pa.Array]:
    u = uniform(plan.spec.seed, 67, np.arange(app.size))
    hours = day * 24 + (piece + u) * 24 / slices
    us = epoch_us(plan.spec.start) + np.floor(hours * HOUR_US).astype(np.int64)
    ids = pc.cast(pa.array(np.arange(app.size)), pa.string())
    return {"time": timestamps(us), "request_id": pc.binary_join_element_wise("req", ids, "-")}


def _by_lane(
    lane: I64, app: I64, usual: Sequence[str | None], extra: Sequence[str | None]
) -> pa.Array:
    """Per row: the planted lane's value where it has one, else the app's usual value."""
    lanes = np.array([*extra, None], dtype=object)[lane]
    own = np.array(usual, dtype=object)[app]
    return pa.array(np.where((lane >= 0) & (lanes != None), lanes, own), pa.string())  # noqa: E711


def _app_columns(plan: Plan, lane: I64, app: I64) -> dict[str, pa.Array]:
    apps, lanes = plan.apps, plan.volumes.changes.lanes

    def col(values: Sequence[str | None]) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[app], pa.string())

    owners = [a.use.owner for a in apps]
    attrs = [
        json.dumps({"project_id": a.resource_id, "owner_model": a.use.owner.model}) for a in apps
    ]
    n = app.size
    none = [None] * len(apps)
    return {
        "source": pa.repeat("litellm", n),
        "provider": col([LOG_PROVIDER[a.provider] for a in apps]),
        "model": pa.array(
            np.array(MODEL_NAMES, dtype=object)[_models(plan, lane, app)], pa.string()
        ),
        "service_tier": col([a.use.tier for a in apps]),
        "team": col([o.team for o in owners]),
        "project": col([o.project for o in owners]),
        "model_version": pa.nulls(n, pa.string()),
        "run": pa.nulls(n, pa.string()),
        "environment": col([o.environment for o in owners]),
        "user": _by_lane(lane, app, none, [ln.user for ln in lanes]),
        "feature": col([a.use.feature for a in apps]),
        "customer": _by_lane(lane, app, none, [ln.customer for ln in lanes]),
        "api_key_id": _by_lane(lane, app, [a.api_key for a in apps], [ln.api_key for ln in lanes]),
        "attributes": col(attrs),
    }
