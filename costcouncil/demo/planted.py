"""The planted anomalies and normal events of a demo year, and where they go on the calendar.

Each anomaly is placed at a fixed fraction of the span (so a year spreads them out), never in
the first six weeks (detectors need history), never overlapping another anomaly of the same
scope, and only where it fits: with fewer months or a small organisation some are left out.
The LLM anomalies are changes of traffic (:mod:`costcouncil.demo.twists`); the GPU and AWS ones
are extra resources (:mod:`costcouncil.demo.planted_gpu`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from costcouncil.demo.apps import App
from costcouncil.demo.catalog import GPT4O_0513_PRICES, LLM_APPS, LLM_MODELS
from costcouncil.demo.streams import Stream
from costcouncil.demo.twists import Lane, Reprice, Twist, Twists, scale

#: No anomaly starts before this day: detectors need history.
MIN_HISTORY_DAYS = 42
#: An LLM anomaly hits apps that ran at least this many days before it.
APP_HISTORY_DAYS = 21
#: Anomalies of one scope are at least this many days apart.
GAP_DAYS = 7


@dataclass(frozen=True)
class Planted:
    """One planted anomaly: what, where (``scope``: dimension and value), when (hours, half-open)
    and which resources; ``streams`` (GPU) or ``apps`` (LLM) carry its excess cost."""

    id: str
    kind: str
    cause: str
    scope: tuple[str, str]
    provider: str
    start: int
    stop: int
    resource_ids: tuple[str, ...]
    description: str
    evidence: dict[str, object] = field(compare=False)
    streams: tuple[Stream, ...] = ()
    apps: tuple[int, ...] = ()


@dataclass(frozen=True)
class Normal:
    """A normal event that must not be flagged: ``windows`` in hours, half-open."""

    id: str
    kind: str
    scope: tuple[str, str]
    windows: tuple[tuple[int, int], ...]
    label: str
    description: str
    resource_ids: tuple[str, ...]
    #: The scopes a user would annotate it on (none: not annotated).
    annotate: tuple[tuple[str, str], ...] = ()


@dataclass
class Calendar:
    """The windows taken so far, by scope."""

    days: int
    taken: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)

    def window(self, at: float, length: int) -> tuple[int, int] | None:
        """Days [start, stop) at fraction ``at`` of the span, or None where it does not fit."""
        start = round(at * self.days)
        if start < MIN_HISTORY_DAYS or start + length > self.days:
            return None
        return start, start + length

    def free(self, scope: tuple[str, str], start: int, stop: int) -> bool:
        spans = self.taken.get(scope, [])
        return all(stop + GAP_DAYS * 24 <= a or b + GAP_DAYS * 24 <= start for a, b in spans)

    def take(self, scope: tuple[str, str], start: int, stop: int) -> None:
        """Reserve hours [start, stop) of ``scope``."""
        self.taken.setdefault(scope, []).append((start, stop))


@dataclass(frozen=True)
class LlmPlan:
    """An LLM anomaly to plant: on the apps of ``use`` (an index of ``LLM_APPS``)."""

    id: str
    cause: str
    use: int
    at: float
    days: int
    scope: str
    description: str


LLM_PLANS = (
    LlmPlan(
        "prompt-cache-broken",
        "cache_hit_down",
        1,
        0.22,
        7,
        "model",
        "a timestamp added to the system prompt broke prompt caching: cached input "
        "tokens became full-price input",
    ),
    LlmPlan(
        "model-mix-shift",
        "model_mix_shift",
        6,
        0.31,
        10,
        "team",
        "a config change sent 30 % of the traffic from gpt-4o-mini to gpt-4o",
    ),
    LlmPlan(
        "price-change",
        "price_change",
        2,
        0.52,
        12,
        "provider",
        "the deployment was moved to the gpt-4o 2024-05-13 version, priced $5/$15 per 1M "
        "tokens instead of $2.50/$10: same tokens, higher unit prices",
    ),
    LlmPlan(
        "prompt-growth",
        "tokens_per_request_up",
        5,
        0.66,
        14,
        "model",
        "retrieved context added to every prompt: 4x the input tokens per request",
    ),
    LlmPlan(
        "reasoning-turned-on",
        "output_tokens_up",
        8,
        0.79,
        6,
        "model",
        "extended thinking turned on: 3 reasoning tokens (billed as output) per output token",
    ),
    LlmPlan(
        "new-customer-bulk-import",
        "new_client",
        3,
        0.9,
        5,
        "model",
        "a new customer's bulk import through a new API key: 3x the usual traffic",
    ),
)
_PROVIDER_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "azure": "Microsoft", "aws": "AWS"}


def provider_name(key: str) -> str:
    """The FOCUS ``ProviderName`` of a provider key (what a ``provider=`` scope names)."""
    return _PROVIDER_NAMES[key]


def _targets(apps: list[App], use: int, start: int, length: int) -> tuple[int, list[App]]:
    """The apps of ``use`` with history before the window (moving it later where needed)."""
    mine = [a for a in apps if a.use is LLM_APPS[use]]
    if not mine:
        return start, []
    start = max(start, min(a.start for a in mine) + APP_HISTORY_DAYS)
    return start, [
        a for a in mine if a.start + APP_HISTORY_DAYS <= start < start + length <= a.stop
    ]


def llm_plants(apps: list[App], cal: Calendar) -> tuple[Twists, list[Planted]]:
    """The LLM anomalies that fit, with the traffic changes that make them."""
    changes, planted = Twists(), []
    for p in LLM_PLANS:
        window = cal.window(p.at, p.days)
        if window is None:
            continue
        start, hit = _targets(apps, p.use, window[0], p.days)
        app = hit[0] if hit else None
        scope = _scope(p, app) if app else ("", "")
        if not hit or not cal.free(scope, start * 24, (start + p.days) * 24):
            continue
        cal.take(scope, start * 24, (start + p.days) * 24)
        change = _changes(p, hit, start, start + p.days)
        changes += change
        planted.append(_planted(p, hit, scope, start, change))
    return changes, planted


def _scope(p: LlmPlan, app: App) -> tuple[str, str]:
    value = {
        "model": app.use.model,
        "team": app.use.owner.team,
        "provider": provider_name(app.provider),
    }[p.scope]
    return p.scope, value


def _changes(p: LlmPlan, hit: list[App], start: int, stop: int) -> Twists:
    def twists(s: tuple[float, ...]) -> Twists:
        return Twists(twists=tuple(Twist(p.id, a.index, start, stop, s) for a in hit))  # type: ignore[arg-type]

    if p.cause == "cache_hit_down":
        return twists(scale(input=1 + 0.9 * hit[0].use.cached, cached=0.1))
    if p.cause == "tokens_per_request_up":
        return twists(scale(input=4.0))
    if p.cause == "output_tokens_up":
        return twists(scale(reasoning=3.0))
    if p.cause == "price_change":
        return Twists(
            reprices=(
                Reprice(
                    p.id,
                    hit[0].use.model,
                    tuple(a.index for a in hit),
                    start,
                    stop,
                    GPT4O_0513_PRICES,
                ),
            )
        )
    if p.cause == "model_mix_shift":
        lanes = tuple(Lane(p.id, a.index, "gpt-4o", start, stop, scale(all=0.3)) for a in hit)
        return twists(scale(all=0.7)) + Twists(lanes=lanes)
    lanes = tuple(
        Lane(
            p.id,
            a.index,
            a.use.model,
            start,
            stop,
            scale(all=3.0),
            customer="globex",
            api_key=f"key-globex-import-{a.index:02d}",
        )
        for a in hit
    )
    return Twists(lanes=lanes)


def _evidence(p: LlmPlan, app: App, change: Twists) -> dict[str, object]:
    model = app.use.model
    table: dict[str, dict[str, object]] = {
        "cache_hit_down": {
            "model": model,
            "cached_input_share_from": round(app.use.cached / (1 + app.use.cached), 2),
            "cached_input_share_to": round(0.1 * app.use.cached / (1 + app.use.cached), 2),
        },
        "tokens_per_request_up": {"model": model, "input_tokens_per_request": "x4"},
        "output_tokens_up": {"model": model, "reasoning_tokens_per_output_token": 3.0},
        "price_change": {
            "model": model,
            "unit_prices_from": dict(LLM_MODELS[model].prices),
            "unit_prices_to": dict(GPT4O_0513_PRICES),
        },
        "model_mix_shift": {"model_from": model, "model_to": "gpt-4o", "share_moved": 0.3},
        "new_client": {
            "column": "customer",
            "value": "globex",
            "api_key_id": change.lanes[0].api_key if change.lanes else None,
            "traffic": "x4",
        },
    }
    return table[p.cause]


def _planted(
    p: LlmPlan, hit: list[App], scope: tuple[str, str], start: int, change: Twists
) -> Planted:
    app = hit[0]
    return Planted(
        p.id,
        p.cause,
        p.cause,
        scope,
        app.provider,
        start * 24,
        (start + p.days) * 24,
        tuple(dict.fromkeys(a.resource_id for a in hit)),
        f"{app.use.feature} ({app.use.owner.team}, {app.use.model}): {p.description}",
        _evidence(p, app, change),
        apps=tuple(a.index for a in hit),
    )
