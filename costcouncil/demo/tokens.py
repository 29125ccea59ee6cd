"""Daily tokens and unit prices of the LLM apps, with the planted changes applied.

Tokens are a pure function of (seed, app, lane, day, factor), so invoices (``costs``) and
request logs (``llm_logs``) computed separately agree to the token, and the ground truth can
compute the same day without one planted change (``skip``: its tag).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from costcouncil.demo.apps import MODEL_NAMES, Volumes
from costcouncil.demo.arrays import F64, I64, money_units, noise
from costcouncil.demo.catalog import TOKEN_KINDS
from costcouncil.demo.twists import OUTPUT, REASONING, REQUESTS, TOKENS_PER_REQUEST


def base(v: Volumes, app: I64, kind: I64, day: I64) -> F64:
    """Tokens of ``kind`` (0-3) that ``app``'s usual traffic would use on ``day``, unrounded."""
    growth = 1.04 ** (day / 30.44)
    weekend = (v.weekday0 + day) % 7 >= 5
    season = np.where(weekend & v.weekday_only[app], 0.55, 1.0)
    daily = v.volume[app] * growth * season * adoption(v, app, day) * noise(v.seed, 0.12, app, day)
    ratio: F64 = v.ratios[app, kind] * noise(v.seed + 11, 0.05, app, day, kind)
    return daily * ratio


def adoption(v: Volumes, app: I64, day: I64) -> F64:
    """The share of its full traffic ``app`` has reached on ``day`` (1 once adopted)."""
    if v.start is None or v.ramp is None:
        return np.ones(np.broadcast(app, day).shape)
    ramp = v.ramp[app]
    grown = (np.asarray(day) - v.start[app] + 1) / np.maximum(ramp, 1)
    out: F64 = np.where(ramp > 0, np.clip(grown, 0.0, 1.0), 1.0)
    return out


def _in(day: I64, start: int, stop: int) -> NDArray[np.bool_]:
    return (day >= start) & (day < stop)


def lane_tokens(
    v: Volumes, lane: ArrayLike, app: ArrayLike, factor: ArrayLike, day: ArrayLike, skip: str = ""
) -> I64:
    """Tokens of ``factor`` (or requests) that ``lane`` of ``app`` used on ``day``.

    Lane -1 is the app's usual traffic (with its twists); lane k >= 0 is ``changes.lanes[k]``.
    """
    lane, app, factor, day = (np.asarray(x, dtype=np.int64) for x in (lane, app, factor, day))
    kind = np.where(factor == REASONING, OUTPUT, np.where(factor == REQUESTS, 0, factor))
    mult = np.where((lane < 0) & (factor != REASONING), 1.0, 0.0)
    for t in v.changes.twists:
        if t.tag != skip:
            hit = (lane < 0) & (app == t.app) & _in(day, t.start, t.stop)
            mult = np.where(hit, np.asarray(t.scale)[factor], mult)
    for k, ln in enumerate(v.changes.lanes):
        if ln.tag != skip:
            mult = np.where(
                (lane == k) & _in(day, ln.start, ln.stop), np.asarray(ln.scale)[factor], mult
            )
    x = base(v, app, kind, day) * mult
    requests = np.floor(x / TOKENS_PER_REQUEST) + (x > 0)
    out: I64 = np.rint(np.where(factor == REQUESTS, requests, x)).astype(np.int64)
    return out


def meter_tokens(
    v: Volumes, app: ArrayLike, model: ArrayLike, kind: ArrayLike, day: ArrayLike, skip: str = ""
) -> I64:
    """Tokens an invoice meter (app, model code, kind 0-3) billed on ``day``: every lane of
    the app on that model; the output meter includes reasoning tokens."""
    app, model, kind, day = (np.asarray(x, dtype=np.int64) for x in (app, model, kind, day))
    out = np.zeros(np.broadcast(app, model, kind, day).shape, dtype=np.int64)
    lanes = [(-1, v.models[app] == model)]
    lanes += [
        (k, (app == ln.app) & (model == _code(ln.model))) for k, ln in enumerate(v.changes.lanes)
    ]
    for lane, mine in lanes:
        if np.any(mine):
            n = lane_tokens(v, lane, app, kind, day, skip)
            n += np.where(kind == OUTPUT, lane_tokens(v, lane, app, REASONING, day, skip), 0)
            out += np.where(mine, n, 0)
    return out


def _code(model: str) -> int:
    return MODEL_NAMES.index(model)


def unit_prices(
    v: Volumes,
    app: ArrayLike,
    model: ArrayLike,
    kind: ArrayLike,
    day: ArrayLike,
    price: ArrayLike,
    skip: str = "",
) -> I64:
    """``price`` (1e-10 USD per 1M tokens) where no planted repricing applies, else the new one."""
    app, model, kind, day = (np.asarray(x, dtype=np.int64) for x in (app, model, kind, day))
    out: I64 = np.broadcast_to(
        np.asarray(price, dtype=np.int64), np.broadcast(app, day).shape
    ).copy()
    for r in v.changes.reprices:
        if r.tag == skip:
            continue
        table = dict(r.prices)
        new = np.array([money_units(table[k]) if k in table else -1 for k in TOKEN_KINDS])
        hit = np.isin(app, r.apps) & (model == _code(r.model)) & _in(day, r.start, r.stop)
        out = np.where(hit & (new[kind] >= 0), new[kind], out)
    return out
