"""Enforce CostCouncil budgets in a LiteLLM proxy: reserve before each call, settle after it.

A LiteLLM ``CustomLogger`` (docs.litellm.ai: "Modify / Reject Incoming Requests" and "Custom
Callbacks"). Before a call, ``async_pre_call_hook`` reserves an estimate — ``max_tokens`` × the
model's output price + the prompt's tokens (about 4 characters each) × its input price, from the
``prices`` table — on the budgets whose scope the request matches, and refuses the call with a
429 when a hard budget would be exceeded. After it, ``async_log_success_event`` settles the
reservation with the cost of the tokens the response used and posts them as the call's
``llm_call`` usage event (once); ``async_log_failure_event`` releases it.

The scope keys come from the request: ``team`` (the key's team alias, else its team id, else
``metadata.team``), ``project``, ``feature``, ``customer``, ``environment`` and ``user`` from the
request's ``metadata``, ``api_key_id`` (the key's alias), and ``model``.

Use it from ``proxy_config.yaml``::

    litellm_settings:
      callbacks: litellm_budget_hook.proxy_handler_instance

with ``COSTCOUNCIL_URL`` and ``COSTCOUNCIL_TOKEN`` (a token with the ``events:write`` scope) in
the proxy's environment, and ``COSTCOUNCIL_BUDGET_FAILURE=open`` to let calls through while
CostCouncil is unreachable (the default, ``closed``, refuses them). Edit ``PRICES`` to yours.

It imports without LiteLLM installed (the class then derives from ``object``), so it can be
tested by calling its methods with LiteLLM-shaped dicts.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import HTTPException

from costcouncil.sdk import BudgetDenied, CostCouncil, Reservation, openai_usage

try:  # the proxy has LiteLLM; tests and docs builds need not
    from litellm.integrations.custom_logger import CustomLogger as _Base
except ImportError:  # pragma: no cover - depends on the environment
    _Base = object  # type: ignore[assignment,misc]

MILLION = Decimal(1_000_000)
CHARS_PER_TOKEN = 4
#: Request metadata keys that are budget scope keys as they are.
METADATA_KEYS = ("team", "project", "feature", "customer", "environment", "user")
#: The reservation's id in the request's metadata (LiteLLM hands it to the log events).
RESERVATION = "costcouncil_reservation"


@dataclass(frozen=True)
class Price:
    """A model's price per million tokens, in the workspace currency."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None

    def cost(self, usage: Mapping[str, Any]) -> Decimal:
        """The cost of ``usage`` (``llm_call`` token fields, as ``openai_usage`` gives them)."""
        cached = self.cached_input if self.cached_input is not None else self.input
        tokens = (
            usage.get("input_tokens", 0) * self.input
            + usage.get("cached_input_tokens", 0) * cached
            + (usage.get("output_tokens", 0) + usage.get("reasoning_tokens", 0)) * self.output
        )
        return tokens / MILLION


#: An example price table; use your contract's prices.
PRICES = {
    "gpt-4o": Price(Decimal("2.50"), Decimal("10.00"), Decimal("1.25")),
    "gpt-4o-mini": Price(Decimal("0.15"), Decimal("0.60"), Decimal("0.075")),
}


class CostCouncilBudgetHook(_Base):  # type: ignore[misc,valid-type]
    """Reserve an estimate before a LiteLLM call, settle with its usage after, refuse past a
    hard budget.

    Args:
        client: the CostCouncil SDK client (its ``budget_failure`` decides while the server is
            unreachable).
        prices: price per million tokens for each model name the proxy is called with.
        provider: the ``provider`` of the usage events (when LiteLLM does not say).
        default_max_tokens: the output estimate when a request sets no ``max_tokens``.
        ttl: seconds a reservation is held before it lapses (longer than your slowest call).
    """

    def __init__(
        self,
        client: CostCouncil,
        prices: Mapping[str, Price],
        *,
        provider: str = "openai",
        default_max_tokens: int = 4096,
        ttl: float = 600.0,
    ) -> None:
        self.client, self.prices, self.provider = client, dict(prices), provider
        self.default_max_tokens, self.ttl = default_max_tokens, ttl
        self.open: dict[str, Reservation] = {}

    # -- LiteLLM's hooks ---------------------------------------------------------------------

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: str
    ) -> dict[str, Any]:
        """Reserve the call's estimate; a refusal is an ``HTTPException`` 429 to the caller."""
        reservation = self.client.reserve(self.estimate(data), ttl=self.ttl,
                                          **self.keys(user_api_key_dict, data))  # fmt: skip
        try:
            await asyncio.to_thread(reservation.start)
        except BudgetDenied as e:
            raise HTTPException(429, _refusal(e)) from e
        if reservation.id is not None:  # None: unreachable and failing open
            self.open[reservation.id] = reservation
            data.setdefault("metadata", {})[RESERVATION] = reservation.id
        return data

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Settle with the cost of the response's usage and post its usage event."""
        reservation = self._take(kwargs)
        usage = openai_usage(response_obj)
        if reservation is None or usage is None:
            return
        price = self.prices.get(str(kwargs.get("model") or usage["model"]))
        actual = price.cost(usage) if price is not None else reservation.cost
        provider = kwargs.get("custom_llm_provider") or self.provider
        await asyncio.to_thread(reservation.settle, actual, {**usage, "provider": provider})

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Give the reservation back: the call failed."""
        reservation = self._take(kwargs)
        if reservation is not None:
            await asyncio.to_thread(reservation.release)

    # -- the parts ---------------------------------------------------------------------------

    def estimate(self, data: Mapping[str, Any]) -> Decimal:
        """``max_tokens`` × output price + the prompt's estimated tokens × input price."""
        model = str(data.get("model", ""))
        price = self.prices.get(model)
        if price is None:
            raise HTTPException(400, f"no price for model {model!r} in the budget hook's table")
        out = data.get("max_tokens") or data.get("max_completion_tokens") or self.default_max_tokens
        prompt = sum(len(str(m.get("content", ""))) for m in data.get("messages") or [])
        tokens_in = -(-prompt // CHARS_PER_TOKEN)
        return (int(out) * price.output + tokens_in * price.input) / MILLION

    def keys(self, key: Any, data: Mapping[str, Any]) -> dict[str, str]:
        """The budget scope keys of a request made with the API key ``key``."""
        metadata = data.get("metadata") or {}
        keys = {k: str(metadata[k]) for k in METADATA_KEYS if metadata.get(k)}
        team = _get(key, "team_alias") or _get(key, "team_id")
        if team:
            keys["team"] = str(team)
        if alias := _get(key, "key_alias"):
            keys["api_key_id"] = str(alias)
        if data.get("model"):
            keys["model"] = str(data["model"])
        return keys

    def _take(self, kwargs: Mapping[str, Any]) -> Reservation | None:
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        hold = metadata.get(RESERVATION)
        return self.open.pop(hold, None) if hold else None


def _get(obj: Any, name: str) -> Any:
    """``obj.name`` (LiteLLM's ``UserAPIKeyAuth``) or ``obj[name]`` (a dict)."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _refusal(denied: BudgetDenied) -> dict[str, Any]:
    decision = denied.decision
    return {
        "error": "budget exceeded" if decision.reachable else "budget server unreachable",
        "budgets": [b["budget"] for b in decision.budgets if not b.get("allow")],
        "remaining": None if decision.remaining is None else str(decision.remaining),
    }


proxy_handler_instance = CostCouncilBudgetHook(
    CostCouncil(
        os.environ.get("COSTCOUNCIL_URL", "http://127.0.0.1:8000"),
        os.environ.get("COSTCOUNCIL_TOKEN"),
        budget_failure="open"
        if os.environ.get("COSTCOUNCIL_BUDGET_FAILURE") == "open"
        else "closed",
    ),
    PRICES,
)
