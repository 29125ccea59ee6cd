"""Root causes from LLM usage: request volume and clients, model mix, tokens per request, cache.

A model's cost per request is modelled from its tokens and prices,
``c = i·(1−k)·p_in + i·k·p_cached + o·p_out`` (``i``, ``o`` tokens per request, ``k`` the share of
input read from cache), with the catalog prices scaled so that the baseline's modelled cost equals
its recorded cost (a negotiated discount keeps its proportions). The change of a model's cost per
day is then split step by step — input tokens, output tokens, cache — and the change of requests
across the scope into volume and mix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from costcouncil.anomaly.causes_base import Found
from costcouncil.anomaly.frames import Frame, LlmGroup

#: A client sends "new" traffic when it had none before or at least this times its old rate.
CLIENT_GROWTH = 2.0
#: ... and when it sends at least this share of the added requests.
CLIENT_SHARE = 0.5
#: The ways a request names who sent it, most specific first.
CLIENT_KEYS = ("client", "customer", "user", "feature")


@dataclass(frozen=True)
class Model:
    """One model's requests and tokens per day in a window, and its (scaled) prices."""

    requests: float
    input: float
    output: float
    cached: float
    cost: float
    p_in: float
    p_out: float
    p_cached: float

    def per_request(self, i: float, o: float, k: float) -> float:
        return i * (1 - k) * self.p_in + i * k * self.p_cached + o * self.p_out

    @property
    def shape(self) -> tuple[float, float, float]:
        """Input and output tokens per request, and the cache hit share of input."""
        r = max(self.requests, 1e-12)
        return self.input / r, self.output / r, (self.cached / self.input if self.input else 0.0)

    @property
    def cost_per_request(self) -> float:
        return self.cost / self.requests if self.requests else 0.0


def llm_causes(baseline: Frame, window: Frame) -> list[Found]:
    """The LLM usage causes (empty without LLM usage in both windows).

    A client behind most of the added requests is taken out first (its requests at its models'
    costs), so its traffic is not also counted as a mix shift or a change of tokens per request.
    """
    if not _models(baseline) or not _models(window):
        return []
    client = _client(baseline, window)
    found = []
    if client is not None:
        found.append(client)
        by, name = client.evidence["by"], client.evidence["client"]
        baseline, window = _without(baseline, by, name), _without(window, by, name)
    before, now = _models(baseline), _models(window)
    if before and now:
        found += _volume_and_mix(before, now)
        found += _shape(before, now)
    return [f for f in found if abs(f.per_day) > 1e-9]


def _without(frame: Frame, by: str, client: str) -> Frame:
    return replace(frame, llm=tuple(g for g in frame.llm if getattr(g, by) != client))


def _models(frame: Frame) -> dict[str, Model]:
    """Each model's requests, tokens and cost per day; when the requests carry no cost, the
    modelled costs are scaled to the window's LLM charges (the cost lines of kind ``llm``)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * 5)
    prices: dict[str, tuple[float, float, float]] = {}
    for g in frame.llm:
        key = _key(g)
        row = sums[key]
        for j, v in enumerate(
            (g.requests, g.input_tokens, g.output_tokens, g.cached_tokens, g.cost)
        ):
            row[j] += v / frame.days
        prices.setdefault(key, (g.price_input, g.price_output, g.price_cached))
    models = {k: _model(v, prices[k]) for k, v in sums.items() if v[0] > 0}
    if any(v[4] > 0 for v in sums.values()):
        return models
    charged = sum(g.cost for g in frame.costs if g.kind == "llm") / frame.days
    modelled = sum(m.cost for m in models.values())
    if charged <= 0 or modelled <= 0:
        return models
    f = charged / modelled
    return {k: replace(m, cost=m.cost * f, p_in=m.p_in * f, p_out=m.p_out * f, p_cached=m.p_cached * f)
            for k, m in models.items()}  # fmt: skip


def _model(v: list[float], prices: tuple[float, float, float]) -> Model:
    p_in, p_out, p_cached = prices
    if p_in <= 0 and p_out <= 0:
        p_in, p_out, p_cached = 1.0, 4.0, 0.25  # typical proportions when no price is known
    if p_cached <= 0:
        p_cached = p_in
    modelled = (v[1] - v[3]) * p_in + v[3] * p_cached + v[2] * p_out
    scale = v[4] / modelled if v[4] > 0 and modelled > 0 else 1.0
    cost = v[4] if v[4] > 0 else modelled
    return Model(v[0], v[1], v[2], v[3], cost, p_in * scale, p_out * scale, p_cached * scale)


def _key(g: LlmGroup) -> str:
    return f"{g.provider}/{g.model}"


def _shape(before: dict[str, Model], now: dict[str, Model]) -> list[Found]:
    """Tokens per request, output tokens and cache, per model present in both windows."""
    totals = {"tokens_per_request_up": 0.0, "output_tokens_up": 0.0, "cache_hit_down": 0.0}
    evidence: dict[str, dict[str, dict[str, float]]] = {k: {} for k in totals}
    for key in before.keys() & now.keys():
        b, w = before[key], now[key]
        (ib, ob, kb), (iw, ow, kw) = b.shape, w.shape
        steps = {
            "tokens_per_request_up": w.per_request(iw, ob, kb) - w.per_request(ib, ob, kb),
            "output_tokens_up": w.per_request(iw, ow, kb) - w.per_request(iw, ob, kb),
            "cache_hit_down": w.per_request(iw, ow, kw) - w.per_request(iw, ow, kb),
        }
        facts = {
            "tokens_per_request_up": {"before": round(ib, 1), "now": round(iw, 1)},
            "output_tokens_up": {"before": round(ob, 1), "now": round(ow, 1)},
            "cache_hit_down": {"before": round(kb, 4), "now": round(kw, 4)},
        }
        for cause, delta in steps.items():
            totals[cause] += delta * w.requests
            evidence[cause][key] = facts[cause]
    return [Found(c, v, _shape_summary(c, evidence[c]), {"models": evidence[c]})
            for c, v in totals.items()]  # fmt: skip


def _shape_summary(cause: str, facts: dict[str, dict[str, float]]) -> str:
    what = {"tokens_per_request_up": "input tokens per request",
            "output_tokens_up": "output tokens per request",
            "cache_hit_down": "prompt-cache hit share"}[cause]  # fmt: skip
    parts = [f"{m}: {f['before']:,} → {f['now']:,}" for m, f in list(facts.items())[:3]]
    return f"{what} — " + "; ".join(parts)


def _volume_and_mix(before: dict[str, Model], now: dict[str, Model]) -> list[Found]:
    tb = sum(m.requests for m in before.values())
    tw = sum(m.requests for m in now.values())
    cost_b = {k: m.cost_per_request for k, m in before.items()}
    mix = 0.0
    moved: dict[str, float] = {}
    for k in before.keys() | now.keys():
        sw = now[k].requests / tw if k in now else 0.0
        sb = before[k].requests / tb if k in before else 0.0
        moved[k] = sw - sb
        mix += tw * (sw - sb) * cost_b.get(k, now[k].cost_per_request if k in now else 0.0)
    average = sum(before[k].requests / tb * cost_b[k] for k in before)
    return [
        Found("model_mix_shift", mix, _mix_summary(moved),
              {"share_change": {k: round(v, 4) for k, v in moved.items() if abs(v) > 0.005}}),
        Found("requests_up", (tw - tb) * average, f"requests per day {tb:,.0f} → {tw:,.0f}",
              {"before": round(tb, 1), "now": round(tw, 1)}),
    ]  # fmt: skip


def _mix_summary(moved: dict[str, float]) -> str:
    ordered = sorted(moved.items(), key=lambda kv: kv[1])
    down, up = ordered[0], ordered[-1]
    return f"traffic share {up[0]} {up[1]:+.0%}, {down[0]} {down[1]:+.0%}"


def _client(baseline: Frame, window: Frame) -> Found | None:
    """One client behind most of the added requests, new or at least twice its old rate — named
    by API key, customer, user or feature, whichever one value explains the most; its added
    requests priced at its models' cost per request before (or now, for a new model)."""
    added = _requests(window) - _requests(baseline)
    if added <= 0:
        return None
    best: tuple[float, str, str, float, float] | None = None
    for by in CLIENT_KEYS:
        before = _per_client(baseline.llm, baseline.days, by)
        now = _per_client(window.llm, window.days, by)
        for name, rate in now.items():
            old, delta = before.get(name, 0.0), rate - before.get(name, 0.0)
            new_enough = old == 0 or rate >= CLIENT_GROWTH * old
            if (
                name
                and new_enough
                and delta >= CLIENT_SHARE * added
                and (best is None or delta > best[3])
            ):
                best = (delta, by, name, delta, old)
    if best is None:
        return None
    _, by, name, delta, old = best
    prices = _models(baseline)
    added_cost = _client_cost(window, by, name, prices) - _client_cost(baseline, by, name, prices)
    what = f"new {by}" if old == 0 else by
    return Found("new_client", added_cost,
                 f"{what} {name}: {old:,.0f} → {old + delta:,.0f} requests a day",
                 {"client": name, "by": by, "before": round(old, 1), "now": round(old + delta, 1)})  # fmt: skip


def _requests(frame: Frame) -> float:
    return sum(g.requests for g in frame.llm) / frame.days


def _client_cost(frame: Frame, by: str, client: str, prices: dict[str, Model]) -> float:
    """The client's cost per day in ``frame``, each model's requests at its cost per request in
    ``prices`` (the baseline's) where known, else at its own."""
    mine = replace(frame, llm=tuple(g for g in frame.llm if getattr(g, by) == client))
    total = 0.0
    for key, m in _models(mine).items():
        known = prices.get(key)
        total += m.requests * (known.cost_per_request if known else m.cost_per_request)
    return total


def _per_client(groups: Iterable[LlmGroup], days: float, by: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for g in groups:
        out[getattr(g, by)] += g.requests / days
    return dict(out)
