"""``examples/litellm_budget_hook.py`` against a real server, its hooks called as LiteLLM's proxy
calls them (LiteLLM-shaped dicts; LiteLLM itself is not installed): a call within budget goes
through and is settled with its usage, counted once; one past a hard budget is refused; a failed
call gives its hold back.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import HTTPException

from costcouncil.budgets import Amount, Budget
from costcouncil.sdk import CostCouncil
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.web.conftest import bearer, token_for
from tests.web.org import build_org

EXAMPLE = Path(__file__).parents[2] / "examples" / "litellm_budget_hook.py"
KEY = {"key_alias": "vision-bot", "team_alias": "vision", "team_id": "t-123"}  # UserAPIKeyAuth


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("litellm_budget_hook", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Workspace]]:
    ws = build_org(tmp_path_factory.mktemp("litellm"))
    store = BudgetStore.open(ws)
    for feature in ("chat", "flaky"):
        budget = Budget(f"gateway-{feature}", f"team=vision,feature={feature}",
                        Amount("fixed", Decimal("1.00")), hard=True, team="vision")  # fmt: skip
        store.save(ws, budget, actor="tests")
    store.close()
    running = Server(ws.root).start()
    yield running, ws
    running.stop()


@pytest.fixture(scope="module")
def hook(setup: tuple[Server, Workspace]) -> Iterator[Any]:
    server, ws = setup
    example = _load()
    client = CostCouncil(server.url, token_for(ws, "vision@example.com", "gateway"))
    yield example.CostCouncilBudgetHook(client, example.PRICES)
    client.close()


def _request(feature: str, max_tokens: int) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}],
            "max_tokens": max_tokens, "metadata": {"feature": feature}}  # fmt: skip


def _current(setup: tuple[Server, Workspace], name: str) -> tuple[Decimal, Decimal, Decimal]:
    """The budget's spent, held and remaining this period, as the server shows them."""
    server, ws = setup
    with bearer(server.url, token_for(ws, "finance@example.com", "reader")) as finance:
        shown = finance.get(f"/v1/budgets/{name}").json()["current"]
    return Decimal(shown["spent"]), Decimal(shown["held"]), Decimal(shown["remaining"])


def test_it_imports_without_litellm() -> None:
    assert importlib.util.find_spec("litellm") is None
    assert _load().CostCouncilBudgetHook.__mro__[1] is object


def test_a_call_within_budget_goes_through_and_is_settled_once(
    setup: tuple[Server, Workspace], hook: Any
) -> None:
    request = _request("chat", 20_000)
    # 20,000 output tokens at 10.00 + 100 prompt tokens (400 characters) at 2.50, per million
    assert hook.estimate(request) == Decimal("0.20025")
    data = asyncio.run(hook.async_pre_call_hook(KEY, None, request, "completion"))
    hold = data["metadata"]["costcouncil_reservation"]
    assert _current(setup, "gateway-chat")[1] >= Decimal("0.20")
    kwargs = {"model": "gpt-4o", "custom_llm_provider": "openai",
              "litellm_params": {"metadata": data["metadata"]}}  # fmt: skip
    response = {"id": "chatcmpl-1", "model": "gpt-4o", "created": int(time.time()),
                "usage": {"prompt_tokens": 4000, "completion_tokens": 2000}}  # fmt: skip
    asyncio.run(hook.async_log_success_event(kwargs, response, None, None))
    asyncio.run(hook.async_log_success_event(kwargs, response, None, None))  # settled already
    assert _current(setup, "gateway-chat") == (Decimal("0.03"), 0, Decimal("0.97"))
    assert hold not in hook.open
    server, ws = setup
    with bearer(server.url, token_for(ws, "finance@example.com", "reader")) as finance:
        live = finance.get("/v1/live/costs", params={"from": "2000-01-01", "to": "2100-01-01",
                                                     "feature": "chat", "by": "api_key_id"})  # fmt: skip
    rows = live.json()["rows"]
    assert [(r["api_key_id"], r["requests"]) for r in rows] == [("vision-bot", 1)]
    assert Decimal(rows[0]["usage_cost"]) == Decimal("0.03")


def test_a_call_past_a_hard_budget_is_refused(setup: tuple[Server, Workspace], hook: Any) -> None:
    with pytest.raises(HTTPException) as refused:
        asyncio.run(hook.async_pre_call_hook(KEY, None, _request("chat", 100_000), "completion"))
    assert refused.value.status_code == 429
    assert refused.value.detail["budgets"] == ["gateway-chat"]
    assert _current(setup, "gateway-chat")[1] == 0
    with pytest.raises(HTTPException, match="no price"):
        asyncio.run(hook.async_pre_call_hook(KEY, None, {"model": "mystery"}, "completion"))


def test_a_failed_call_gives_its_hold_back(setup: tuple[Server, Workspace], hook: Any) -> None:
    data = asyncio.run(hook.async_pre_call_hook(KEY, None, _request("flaky", 50_000), "completion"))
    assert _current(setup, "gateway-flaky")[1] >= Decimal("0.50")
    kwargs = {"model": "gpt-4o", "litellm_params": {"metadata": data["metadata"]}}
    asyncio.run(hook.async_log_failure_event(kwargs, None, None, None))
    assert _current(setup, "gateway-flaky") == (0, 0, Decimal("1.00"))
