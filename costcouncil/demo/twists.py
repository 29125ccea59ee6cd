"""Planted changes of LLM traffic, as data the token functions apply.

- a :class:`Lane` is extra traffic of an app: another model (a model-mix shift) or another
  client (a retry loop, a new customer), billed on the app's project;
- a :class:`Twist` scales an app's usual traffic in a window (prompt growth, reasoning turned
  on, a broken prompt cache);
- a :class:`Reprice` bills a model at other unit prices in a window (a catalog price change).

Scales are per *factor*: the four token kinds, then reasoning tokens (billed as output, logged
apart) and requests. Every change carries the ``tag`` of the planted anomaly, so the ground
truth can compute the same day without it.
"""

from __future__ import annotations

from dataclasses import dataclass

FACTORS = ("input", "output", "cached", "cache_write", "reasoning", "requests")
OUTPUT, REASONING, REQUESTS = 1, 4, 5
#: A scale per factor, in :data:`FACTORS` order.
Scale = tuple[float, float, float, float, float, float]
#: Input tokens per request of an app's usual traffic.
TOKENS_PER_REQUEST = 1200


def scale(
    *,
    all: float = 1.0,
    input: float | None = None,
    output: float | None = None,
    cached: float | None = None,
    reasoning: float = 0.0,
    requests: float | None = None,
) -> Scale:
    """A scale: ``all`` for every factor (reasoning 0) unless a factor is named."""

    def pick(value: float | None) -> float:
        return all if value is None else value

    return (pick(input), pick(output), pick(cached), all, reasoning, pick(requests))


@dataclass(frozen=True)
class Lane:
    """Extra traffic of ``app`` on days [start, stop): ``scale`` times its usual volume."""

    tag: str
    app: int
    model: str
    start: int
    stop: int
    scale: Scale
    user: str | None = None
    customer: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class Twist:
    """The usual traffic of ``app`` times ``scale`` on days [start, stop)."""

    tag: str
    app: int
    start: int
    stop: int
    scale: Scale


@dataclass(frozen=True)
class Reprice:
    """``model`` billed at ``prices`` ($ per 1M tokens by kind) for ``apps`` on days [start, stop)."""

    tag: str
    model: str
    apps: tuple[int, ...]
    start: int
    stop: int
    prices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Twists:
    """Every planted change of LLM traffic and prices."""

    lanes: tuple[Lane, ...] = ()
    twists: tuple[Twist, ...] = ()
    reprices: tuple[Reprice, ...] = ()

    def __add__(self, other: Twists) -> Twists:
        return Twists(
            self.lanes + other.lanes,
            self.twists + other.twists,
            self.reprices + other.reprices,
        )
