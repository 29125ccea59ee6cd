"""The LLM side of the plan: API uses (apps) by provider, their daily token volumes and the
invoice meters (one stream per app and token kind).

Daily tokens are a pure function of (seed, app, day, kind), so invoices (``costs``) and request
logs (``usage``) computed separately agree to the token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from costcouncil.demo.arrays import money_units, uniform
from costcouncil.demo.catalog import (
    AWS_ACCOUNTS,
    LAUNCH_APP,
    LLM_APPS,
    LLM_MODELS,
    PROVIDERS,
    TOKEN_KINDS,
    TOKEN_RATIOS,
)
from costcouncil.demo.catalog import LlmApp as CatalogApp
from costcouncil.demo.fleet import aws_columns
from costcouncil.demo.streams import Q_TOKENS, Stream, hex_id, messy_tags, owner_tags, tag_state
from costcouncil.demo.twists import Lane, Twists

#: Models by code (the index used in arrays).
MODEL_NAMES = tuple(LLM_MODELS)

#: An app that starts during the year is adopted over this many days (its users arrive over
#: weeks, not overnight): its traffic grows linearly from nothing to its full volume.
ADOPTION_DAYS = 56
#: One app in this many is adopted during the year (the rest run from the start).
NEW_EVERY = 8

#: Token meters are priced per million tokens (FOCUS UnitFormat ``<unit-quantity> <plural-units>``).
TOKEN_UNIT = "1000000 Tokens"

LOG_PROVIDER = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure-openai",
    "aws": "bedrock",
}


@dataclass(frozen=True)
class App:
    """One planned LLM use with its active days ``[start, stop)``."""

    index: int
    use: CatalogApp
    provider: str
    start: int
    stop: int
    resource_id: str
    api_key: str
    volume: float
    #: Days its traffic takes to grow from nothing to ``volume`` after ``start`` (0: there from
    #: the start).
    ramp: int = 0


@dataclass(frozen=True)
class Spike:
    """A planted token spike: ``factor`` times the usual tokens of ``app`` on days [start, stop)."""

    app: int
    start: int
    stop: int
    factor: float = 6.0


@dataclass(frozen=True)
class Volumes:
    """Everything the token functions (:mod:`costcouncil.demo.tokens`) need, by app."""

    seed: int
    weekday0: int
    volume: NDArray[np.float64]
    weekday_only: NDArray[np.bool_]
    ratios: NDArray[np.float64]
    models: NDArray[np.int64]
    spike: Spike
    changes: Twists
    #: Each app's first day and ramp (days; 0: at full volume from its first day).
    start: NDArray[np.int64] | None = None
    ramp: NDArray[np.int64] | None = None


def token_kinds(use: CatalogApp) -> int:
    """How many priced token kinds (invoice meters) a use of ``use``'s model has."""
    return len(LLM_MODELS[use.model].prices)


def plan_apps(seed: int, rng: np.random.Generator, budget: float, days: int) -> list[App]:
    """Apps whose (days x token kinds) add up to about ``budget`` rows; all run to the end.

    Most run the whole span (the budget allowing; a small demo shortens them all alike). One in
    :data:`NEW_EVERY` is a use adopted during the year instead: it starts at an even spread of
    days through the span's middle and grows over :data:`ADOPTION_DAYS`.
    """
    rows = np.cumsum([token_kinds(LLM_APPS[i % len(LLM_APPS)]) * days for i in range(48)])
    n = int(np.clip(np.searchsorted(rows, budget, side="right"), 4, 48))
    uses = [LLM_APPS[i % len(LLM_APPS)] for i in range(n)]
    kinds = np.array([token_kinds(u) for u in uses])
    length = int(np.clip(np.floor(budget / kinds.sum()), min(14, days), days))
    volume = rng.lognormal(0.0, 0.3, n)
    late = list(range(NEW_EVERY - 1, n, NEW_EVERY)) if length == days else []
    starts = {i: int(days * (0.2 + 0.6 * (k + 0.5) / len(late))) for k, i in enumerate(late)}
    out = []
    for i in range(n):
        start = starts.get(i, days - length)
        app = _app(seed, i, uses[i], start, days, float(volume[i]))
        out.append(replace(app, ramp=ADOPTION_DAYS) if i in starts else app)
    return out


def launch_app(seed: int, index: int, start: int, stop: int, ramp: int) -> App:
    """The use launched during the year (:data:`~costcouncil.demo.catalog.LAUNCH_APP`), growing
    to its full traffic over ``ramp`` days."""
    return replace(_app(seed, index, LAUNCH_APP, start, stop, 1.0), ramp=ramp)


def plant_app(seed: int, index: int, use: CatalogApp, start: int, stop: int) -> App:
    """A planted use (:mod:`costcouncil.demo.planted_policy`) on days [start, stop)."""
    return _app(seed, index, use, start, stop, 1.0)


def _app(seed: int, i: int, use: CatalogApp, start: int, stop: int, scale: float) -> App:
    provider = LLM_MODELS[use.model].provider
    ident, account = hex_id(seed, "app", i), AWS_ACCOUNTS[use.owner.environment][0]
    rid = {
        "openai": f"proj_{ident}",
        "anthropic": f"wrkspc_{ident}",
        "azure": f"/subscriptions/{ident[:8]}-acme/resourceGroups/rg-{use.owner.team}"
        f"/providers/Microsoft.CognitiveServices/accounts/aoai-{use.feature}-{i}",
        "aws": f"arn:aws:bedrock:us-east-1:{account}:application-inference-profile/{ident}",
    }[provider]
    key = f"key-{use.owner.team}-{use.feature}-{i:02d}"
    return App(i, use, provider, start, stop, rid, key, use.volume * scale)


def spike_for(apps: list[App]) -> Spike:
    """Three days (one for short windows) two thirds into the first app's window."""
    app = apps[0]
    length = 3 if app.stop - app.start >= 9 else 1
    start = app.start + (app.stop - app.start) * 2 // 3
    return Spike(app.index, start, start + length)


def volumes(seed: int, weekday0: int, apps: list[App], spike: Spike, changes: Twists) -> Volumes:
    ratios = np.array([TOKEN_RATIOS] * len(apps), dtype=np.float64)
    ratios[:, TOKEN_KINDS.index("cached")] = [a.use.cached for a in apps]
    ratios[:, TOKEN_KINDS.index("output")] = [a.use.output for a in apps]
    return Volumes(
        seed,
        weekday0,
        np.array([a.volume for a in apps], dtype=np.float64),
        np.array([a.use.weekday_only for a in apps], dtype=np.bool_),
        ratios,
        np.array([MODEL_NAMES.index(a.use.model) for a in apps], dtype=np.int64),
        spike,
        changes,
        np.array([a.start for a in apps], dtype=np.int64),
        np.array([a.ramp for a in apps], dtype=np.int64),
    )


def _columns(app: App, model: str, kind: str, seed: int) -> tuple[dict[str, str | None], str]:
    owner, state = app.use.owner, "n/a"
    if app.provider == "aws":
        columns = aws_columns(owner.environment, "us-east-1", "") | {"AvailabilityZone": None}
        columns |= {"ServiceName": "Amazon Bedrock", "ResourceType": "Inference Profile"}
    else:
        columns = api_columns(app)
    if app.provider in ("aws", "azure"):
        u = float(uniform(seed, 77, app.index)[0])
        state = tag_state(u)
        columns["Tags"] = messy_tags(owner_tags(owner), state, u * 10 % 1)
    return columns | _meter_columns(app, model, kind), state


def api_columns(app: App) -> dict[str, str | None]:
    p, owner = PROVIDERS[app.provider], app.use.owner
    azure = app.provider == "azure"
    return {
        "BillingAccountId": p.account_id,
        "BillingAccountName": p.account_name,
        "BillingAccountType": p.account_type,
        "BillingCurrency": "USD",
        "PricingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        "InvoiceIssuerName": p.issuer,
        "ProviderName": p.name,
        "PublisherName": p.publisher,
        "ServiceName": p.service,
        "RegionId": "eastus" if azure else None,
        "RegionName": "East US" if azure else None,
        "SubAccountId": app.resource_id.split("/resourceGroups")[0] if azure else None,
        "SubAccountName": f"acme-{owner.team}-{owner.environment}" if azure else None,
        "SubAccountType": "Subscription" if azure else None,
        "ResourceType": {"openai": "Project", "anthropic": "Workspace"}.get(
            app.provider, "Account"
        ),
    }


def _meter_columns(app: App, model: str, kind: str) -> dict[str, str | None]:
    details = {"x_Model": model, "x_TokenKind": kind, "x_ServiceTier": app.use.tier}
    return {
        "ServiceCategory": "AI and Machine Learning",
        "ServiceSubcategory": "Generative AI",
        "ChargeDescription": f"{model} {kind.replace('_', ' ')} tokens ({app.use.tier})",
        "PricingUnit": TOKEN_UNIT,
        "ConsumedUnit": TOKEN_UNIT,
        "SkuId": f"{model}:{kind}",
        "SkuPriceId": f"{model}:{kind}:{app.use.tier}",
        "SkuMeter": f"{kind} tokens",
        "SkuPriceDetails": json.dumps(details),
        "ResourceId": app.resource_id,
        "ResourceName": f"{app.use.owner.team}-{app.use.feature}",
    }


def meter_streams(seed: int, apps: list[App], lanes: tuple[Lane, ...]) -> list[Stream]:
    """One daily stream per app, model it used and priced token kind.

    An app's own model is metered over the app's window; a lane on another model (a model-mix
    shift) over the lane's window, on the app's project.
    """
    out = []
    for app in apps:
        out += _meters(seed, app, app.use.model, (app.start, app.stop))
    for lane in lanes:
        app = apps[lane.app]
        if lane.model != app.use.model:
            out += _meters(seed, app, lane.model, (lane.start, lane.stop))
    return out


def _meters(seed: int, app: App, model: str, window: tuple[int, int]) -> list[Stream]:
    out = []
    for kind, price in LLM_MODELS[model].prices:
        columns, state = _columns(app, model, kind, seed)
        out.append(
            Stream(
                app.provider,
                "tokens",
                24,
                window[0],
                window[1],
                Q_TOKENS,
                0.0,
                money_units(price),
                columns,
                app=app.index,
                token_kind=TOKEN_KINDS.index(kind),
                owner=app.use.owner,
                tag_state=state,
                role="tokens",
                llm_model=MODEL_NAMES.index(model),
            )
        )
    return out
