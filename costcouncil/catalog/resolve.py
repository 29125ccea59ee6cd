"""Which genai-prices model a usage (provider, model) spelling means.

Matching is the package's own (``DataSnapshot.find_provider_model``: each model's ``match``
clauses, compact-date normalisation, a provider's ``fallback_model_providers`` such as Azure →
OpenAI). What is ours is declared here: how our provider names map to the package's provider ids,
and the second spelling tried when a model name carries a routing prefix (``azure/gpt-4o``).
"""

from __future__ import annotations

from dataclasses import dataclass

from genai_prices import types as gp
from genai_prices.data_snapshot import DataSnapshot, find_provider_by_id, get_snapshot

#: Our provider spellings → genai-prices provider ids. ``None``: never priced from the package
#: (self-hosted models cost GPU time; price them with a ``gpu_hour`` override). A provider not
#: listed here is looked up by the package itself (its ids and ``provider_match`` rules); if the
#: package does not know it either, the provider is inferred from the model name.
PROVIDER_IDS: dict[str, str | None] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure-openai": "azure",
    "azure": "azure",
    "bedrock": "aws",
    "aws-bedrock": "aws",
    "aws": "aws",
    "google": "google",
    "vertex": "google",
    "vertex-ai": "google",
    "gemini": "google",
    "self-hosted": None,
    "on-prem": None,
    "vllm": None,
    "ollama": None,
}


@dataclass(frozen=True)
class Resolved:
    """A usage spelling's catalog model."""

    model: gp.ModelInfo
    catalog_model: str
    """``<provider id>/<model id>`` of the provider that lists the model, e.g. ``openai/gpt-4o``."""
    via_fallback: bool
    """True when the provider borrows another provider's model (Azure → OpenAI). The package then
    ignores that model's price variants (batch, priority, flex), and so do we."""


def resolve_model(provider: str, model: str) -> Resolved | None:
    """The catalog model of a usage (provider, model) spelling, or ``None`` when there is none."""
    key = provider.strip().lower()
    if key in PROVIDER_IDS and PROVIDER_IDS[key] is None:
        return None
    snapshot = get_snapshot()
    provider_id = _provider_id(snapshot, key)
    for ref in model_refs(model):
        if found := _find(snapshot, ref, provider_id):
            return found
    return None


def model_refs(model: str) -> list[str]:
    """The spellings tried in turn: the model as given, then without a ``prefix/``."""
    refs = [model.strip()]
    if "/" in refs[0]:
        refs.append(refs[0].split("/", 1)[1])
    return refs


def _provider_id(snapshot: DataSnapshot, key: str) -> str | None:
    wanted = PROVIDER_IDS.get(key, key)
    return wanted if wanted and find_provider_by_id(snapshot.providers, wanted) else None


def _find(snapshot: DataSnapshot, ref: str, provider_id: str | None) -> Resolved | None:
    try:
        provider, model = snapshot.find_provider_model(ref, None, provider_id, None)
    except LookupError:
        return None
    owner = next(p for p in snapshot.providers if any(m is model for m in p.models))
    return Resolved(model, f"{owner.id}/{model.id}", via_fallback=owner is not provider)
