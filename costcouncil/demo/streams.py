"""Streams: the unit of the cost plan. One stream is one billed resource or meter over a window.

A stream emits one cost row per unit (hour or day) of its window ``[start, stop)``; its string
FOCUS columns are fixed (``columns``) and its quantity per row follows ``qty_kind``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from costcouncil.demo.catalog import Owner

Q_HOURS, Q_STORAGE, Q_TRANSFER, Q_TOKENS = 0, 1, 2, 3
#: Month-on-month growth of the fleet and of LLM traffic.
GROWTH = 1.04


@dataclass(frozen=True)
class Stream:
    """One resource or meter of the plan, with what jobs and the ground truth need to know."""

    provider: str
    group: str
    unit_hours: int
    start: int
    stop: int
    qty_kind: int
    base: float
    price: int
    columns: dict[str, str | None]
    eff_price: int = 0
    commitment: int = -1
    app: int = -1
    token_kind: int = 0
    owner: Owner | None = None
    tag_state: str = "clean"
    instance: str | None = None
    role: str = ""
    llm_model: int = -1

    @property
    def resource_id(self) -> str:
        return self.columns["ResourceId"] or ""


@dataclass(frozen=True)
class Streams:
    """The streams of one provider at one granularity, as arrays plus a table of strings."""

    provider: str
    unit_hours: int
    start: NDArray[np.int64]
    stop: NDArray[np.int64]
    qty_kind: NDArray[np.int64]
    base: NDArray[np.float64]
    price: NDArray[np.int64]
    eff_price: NDArray[np.int64]
    commitment: NDArray[np.int64]
    app: NDArray[np.int64]
    token_kind: NDArray[np.int64]
    llm_model: NDArray[np.int64]
    spend: NDArray[np.bool_]
    static: pa.RecordBatch = field(compare=False)


def _ints(records: list[Stream], name: str) -> NDArray[np.int64]:
    return np.array([getattr(r, name) for r in records], dtype=np.int64)


def to_streams(records: list[Stream]) -> Streams:
    """Pack records (same provider and granularity) into arrays."""
    names = sorted({k for r in records for k in r.columns})
    static = pa.record_batch(
        {n: pa.array([r.columns.get(n) for r in records], pa.string()) for n in names}
    )
    return Streams(
        provider=records[0].provider,
        unit_hours=records[0].unit_hours,
        start=_ints(records, "start"),
        stop=_ints(records, "stop"),
        qty_kind=_ints(records, "qty_kind"),
        base=np.array([r.base for r in records], dtype=np.float64),
        price=_ints(records, "price"),
        eff_price=np.array([r.eff_price or r.price for r in records], dtype=np.int64),
        commitment=_ints(records, "commitment"),
        app=_ints(records, "app"),
        token_kind=_ints(records, "token_kind"),
        llm_model=_ints(records, "llm_model"),
        spend=np.array([r.columns.get("CommitmentDiscountCategory") == "Spend" for r in records]),
        static=static,
    )


def hex_id(seed: int, *parts: object, size: int = 8) -> str:
    """A stable hexadecimal identifier for ``parts`` under ``seed``."""
    text = ":".join(str(p) for p in (seed, *parts))
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def windows(
    rng: np.random.Generator, budget: float, span: int, unit_hours: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Windows inside ``[0, span)`` units whose lengths add up to about ``budget`` units.

    A small budget gives a few short-lived resources. Otherwise every resource runs to the end
    of the span and starts are drawn so that the fleet grows about 4 % a month: a core that
    runs all year plus resources added at an exponentially increasing rate.
    """
    if budget < 2 * span:
        return _short_windows(rng, budget, span, 24 // unit_hours)
    rate = np.log(GROWTH) * unit_hours / 730.0
    core = np.exp(-rate * span)
    mean = (1 - core) / rate
    n = max(2, round(budget / mean))
    q = (np.arange(n) + rng.uniform(size=n)) / n
    start = np.where(q < core, 0.0, span + np.log(np.maximum(q, core)) / rate)
    length = span - np.floor(start)
    length = np.minimum(span, np.floor(length * budget / length.sum())).astype(np.int64)
    return span - length, np.full(n, span, dtype=np.int64)


def _short_windows(
    rng: np.random.Generator, budget: float, span: int, min_len: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n = max(1, int(np.ceil(budget / (0.8 * span))))
    weight = rng.uniform(0.75, 1.0, n)
    length = np.clip(np.floor(weight / weight.sum() * budget), min(min_len, span), span)
    length = length.astype(np.int64)
    anywhere = np.floor(rng.uniform(size=n) * (span - length + 1)).astype(np.int64)
    start = np.where(rng.uniform(size=n) < 0.6, span - length, anywhere)
    return start, start + length


def owner_tags(owner: Owner, extra: dict[str, str] | None = None) -> dict[str, str]:
    tags = {"team": owner.team, "project": owner.project, "environment": owner.environment}
    if owner.model:
        tags["model"] = owner.model
    return {**tags, **(extra or {})}


def messy_tags(tags: dict[str, str], state: str, u: float) -> str | None:
    """Tags as written on the resource: clean, untagged (null or ``{}``), or mis-tagged."""
    if state == "untagged":
        return None if u < 0.5 else "{}"
    if state == "mistagged":
        tags = dict(tags)
        team = tags.pop("team")
        if u < 0.25:
            tags["Team"] = team
        elif u < 0.5:
            tags["owner"] = team
        elif u < 0.75:
            tags["team"] = team.capitalize() + " "
        else:
            tags["team"] = team.upper()
    return json.dumps(tags, sort_keys=True, separators=(",", ":"))


def tag_state(u: float) -> str:
    """About 8 % of resources are untagged and 5 % mis-tagged."""
    return "untagged" if u < 0.08 else "mistagged" if u < 0.13 else "clean"
