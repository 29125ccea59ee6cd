"""The LLM side of the plan: API uses (apps) by provider, their daily token volumes and the
invoice meters (one stream per app and token kind).

Daily tokens are a pure function of (seed, app, day, kind), so invoices (``costs``) and request
logs (``usage``) computed separately agree to the token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from costcouncil.demo.arrays import money_units, noise, uniform
from costcouncil.demo.catalog import (
    AWS_ACCOUNTS,
    LLM_APPS,
    LLM_MODELS,
    PROVIDERS,
    TOKEN_KINDS,
    TOKEN_RATIOS,
)
from costcouncil.demo.catalog import LlmApp as CatalogApp
from costcouncil.demo.fleet import aws_columns
from costcouncil.demo.streams import Q_TOKENS, Stream, hex_id, messy_tags, owner_tags, tag_state

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


@dataclass(frozen=True)
class Spike:
    """A planted token spike: ``factor`` times the usual tokens of ``app`` on days [start, stop)."""

    app: int
    start: int
    stop: int
    factor: float = 6.0


@dataclass(frozen=True)
class Volumes:
    """Everything :func:`tokens` needs, as arrays indexed by app."""

    seed: int
    weekday0: int
    volume: NDArray[np.float64]
    weekday_only: NDArray[np.bool_]
    spike: Spike


def _kinds(use: CatalogApp) -> int:
    return len(LLM_MODELS[use.model].prices)


def plan_apps(seed: int, rng: np.random.Generator, budget: float, days: int) -> list[App]:
    """Apps whose (days x token kinds) add up to about ``budget`` rows; all run to the end."""
    per_app = np.mean([_kinds(a) for a in LLM_APPS])
    n = int(np.clip(np.ceil(budget / (per_app * 0.6 * days)), 4, 48))
    uses = [LLM_APPS[i % len(LLM_APPS)] for i in range(n)]
    weight = rng.uniform(0.2, 1.0, n)
    kinds = np.array([_kinds(u) for u in uses])
    length = np.clip(np.floor(weight / (weight * kinds).sum() * budget), min(14, days), days)
    volume = rng.lognormal(0.0, 0.3, n)
    return [_app(seed, i, uses[i], days - int(length[i]), days, float(volume[i])) for i in range(n)]


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


def volumes(seed: int, weekday0: int, apps: list[App], spike: Spike) -> Volumes:
    return Volumes(
        seed,
        weekday0,
        np.array([a.volume for a in apps], dtype=np.float64),
        np.array([a.use.weekday_only for a in apps], dtype=np.bool_),
        spike,
    )


def tokens(
    v: Volumes, app: ArrayLike, kind: ArrayLike, day: ArrayLike, spiked: bool = True
) -> NDArray[np.int64]:
    """Tokens of ``kind`` that ``app`` used on ``day`` (days since the span start)."""
    app, kind, day = np.asarray(app), np.asarray(kind), np.asarray(day)
    growth = 1.04 ** (day / 30.44)
    weekend = (v.weekday0 + day) % 7 >= 5
    season = np.where(weekend & v.weekday_only[app], 0.55, 1.0)
    daily = v.volume[app] * growth * season * noise(v.seed, 0.12, app, day)
    ratio = np.asarray(TOKEN_RATIOS)[kind] * noise(v.seed + 11, 0.05, app, day, kind)
    s = v.spike
    bump = (app == s.app) & (day >= s.start) & (day < s.stop) if spiked else False
    out: NDArray[np.int64] = np.rint(daily * ratio * np.where(bump, s.factor, 1.0)).astype(np.int64)
    return out


def _columns(app: App, kind: str, seed: int) -> tuple[dict[str, str | None], str]:
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
    return columns | _meter_columns(app, kind), state


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


def _meter_columns(app: App, kind: str) -> dict[str, str | None]:
    model = app.use.model
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


def meter_streams(seed: int, apps: list[App]) -> list[Stream]:
    """One daily stream per app and priced token kind."""
    out = []
    for app in apps:
        for kind, price in LLM_MODELS[app.use.model].prices:
            columns, state = _columns(app, kind, seed)
            out.append(
                Stream(
                    app.provider,
                    "tokens",
                    24,
                    app.start,
                    app.stop,
                    Q_TOKENS,
                    0.0,
                    money_units(price),
                    columns,
                    app=app.index,
                    token_kind=TOKEN_KINDS.index(kind),
                    owner=app.use.owner,
                    tag_state=state,
                    role="tokens",
                )
            )
    return out
