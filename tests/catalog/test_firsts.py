"""Prices before a model existed: still priced at its first price, flagged ``before_first_price``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from genai_prices.data import providers

from costcouncil.catalog import FIRST_PRICES, build_price_table, parse_overrides, resolve_model
from costcouncil.catalog.firsts import dated_id, first_price
from tests.catalog.helpers import Row, assert_chained, price, rows, timelines

PRICE_KEYS = ("input_per_mtok", "cached_input_per_mtok", "output_per_mtok", "source")
CATALOG_MODELS = {f"{p.id}/{m.id}" for p in providers for m in p.models}


def _in_force(found: list[Row], at: datetime) -> Row:
    [row] = [
        r
        for r in found
        if (r["valid_from"] is None or r["valid_from"] <= at)  # type: ignore[operator]
        and (r["valid_to"] is None or at < r["valid_to"])  # type: ignore[operator]
    ]
    return row


def test_a_2023_gpt_4o_request_gets_the_earliest_price_flagged() -> None:
    standard = rows(build_price_table([("openai", "gpt-4o")]).table, "openai", "gpt-4o")
    early = _in_force(standard, datetime(2023, 6, 1, 12, tzinfo=UTC))
    later = _in_force(standard, datetime(2024, 6, 1, 12, tzinfo=UTC))
    assert early["before_first_price"] is True and later["before_first_price"] is False
    assert [early[k] for k in PRICE_KEYS] == [later[k] for k in PRICE_KEYS]
    assert early["valid_to"] == later["valid_from"] == datetime(2024, 5, 13, tzinfo=UTC)


def test_the_first_price_date_is_the_first_instant_not_flagged() -> None:
    standard = rows(build_price_table([("openai", "gpt-4o")]).table, "openai", "gpt-4o")
    first = datetime(2024, 5, 13, tzinfo=UTC)
    assert _in_force(standard, first)["before_first_price"] is False
    assert _in_force(standard, datetime(2024, 5, 12, 23, 59, tzinfo=UTC))["before_first_price"]


@pytest.mark.parametrize("catalog_model", sorted(FIRST_PRICES))
def test_every_declared_first_price_is_a_catalog_model(catalog_model: str) -> None:
    assert catalog_model in CATALOG_MODELS


@pytest.mark.parametrize(
    "model_id,day",
    [
        ("regional.anthropic.claude-3-5-sonnet-20240620-v1:0", date(2024, 6, 20)),
        ("o3-2025-04-16", date(2025, 4, 16)),
        ("gpt-4o", None),
        ("mistral-large-2407", None),
        ("model-20240231", None),
        ("build-120240620", None),
    ],
)
def test_a_date_in_the_model_id_is_its_first_price_date(model_id: str, day: date | None) -> None:
    assert dated_id(model_id) == day


def test_a_dated_model_id_flags_what_came_before_it() -> None:
    pair = ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0")
    found = resolve_model(*pair)
    assert found is not None and first_price(found) == datetime(2024, 6, 20, tzinfo=UTC)
    early, *rest = rows(build_price_table([pair]).table, *pair)
    assert early["before_first_price"] and early["valid_to"] == datetime(2024, 6, 20, tzinfo=UTC)
    assert not any(r["before_first_price"] for r in rest)


def test_a_model_with_no_known_first_price_is_never_flagged() -> None:
    [row] = rows(
        build_price_table([("deepseek", "deepseek-chat")]).table, "deepseek", "deepseek-chat"
    )
    assert (row["valid_from"], row["before_first_price"]) == (None, False)


def test_a_discount_before_the_first_price_keeps_the_flag() -> None:
    text = "version: 1\noverrides:\n  - {provider: openai, discount: 0.2, to: 2025-01-01}\n"
    table = build_price_table([("openai", "gpt-4o")], parse_overrides(text, "prices.yaml")).table
    early, discounted, after = rows(table, "openai", "gpt-4o")
    assert early["before_first_price"] and early["source"] == "override:prices.yaml:3"
    assert price(early, "input") == price(discounted, "input") == price(after, "input") * 4 / 5  # type: ignore[operator]
    assert not discounted["before_first_price"] and not after["before_first_price"]


def test_flagged_rows_open_every_timeline_they_are_in() -> None:
    pairs = [("openai", m) for m in ("gpt-4o", "o3", "gpt-4.1", "o1")] + [
        ("anthropic", "claude-3-haiku")
    ]
    table = build_price_table(pairs).table
    for (provider, model, tier), ranges in timelines(table).items():
        assert_chained(ranges)
        flags = [r["before_first_price"] for r in rows(table, provider, model, tier)]
        assert flags[0] and flags == sorted(flags, reverse=True), (provider, model, tier)
