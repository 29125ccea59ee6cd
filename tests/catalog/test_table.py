"""The price table from the real genai-prices data: values, tiers, history, spellings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

import costcouncil.catalog as catalog
from costcouncil.catalog import PACKAGE_SOURCE, PRICES_SCHEMA, build_price_table
from costcouncil.schema.usage import SERVICE_TIERS
from tests.catalog.helpers import assert_chained, price, rows

D = Decimal
RANGE = ("valid_from", "valid_to")


def test_public_api_is_exactly_all() -> None:
    public = {n for n in dir(catalog) if not n.startswith("_")} - {"annotations"}
    modules = {"firsts", "history", "overrides", "prices", "resolve", "spans", "table", "yamldoc"}
    assert public - modules == set(catalog.__all__)


def test_schema_columns_and_types() -> None:
    assert PRICES_SCHEMA.names == [
        "provider",
        "model",
        "service_tier",
        "valid_from",
        "valid_to",
        "input_per_mtok",
        "cached_input_per_mtok",
        "cache_write_per_mtok",
        "output_per_mtok",
        "reasoning_per_mtok",
        "currency",
        "source",
        "catalog_model",
        "before_first_price",
    ]
    assert PRICES_SCHEMA.field("valid_from").type == pa.timestamp("us", tz="UTC")
    money = [f for f in PRICES_SCHEMA if f.name.endswith("_per_mtok")]
    assert {f.type for f in money} == {pa.decimal128(38, 12)}
    assert not any(pa.types.is_floating(f.type) for f in PRICES_SCHEMA)


def test_gpt_4o_standard_rows() -> None:
    table = build_price_table([("openai", "gpt-4o")]).table
    assert table.schema == PRICES_SCHEMA
    early, row = rows(table, "openai", "gpt-4o")
    assert (row["valid_from"], row["valid_to"]) == (datetime(2024, 5, 13, tzinfo=UTC), None)
    assert [price(row, k) for k in catalog.KINDS] == [D("2.5"), D("1.25"), None, D("10"), None]
    assert row["currency"] == "USD"
    assert row["source"] == PACKAGE_SOURCE and PACKAGE_SOURCE.startswith("genai-prices 0.")
    assert row["catalog_model"] == "openai/gpt-4o" and row["before_first_price"] is False
    # before gpt-4o's first price (2024-05-13) the same price holds, flagged
    assert (early["valid_from"], early["valid_to"]) == (None, row["valid_from"])
    assert early["before_first_price"] is True
    assert {k: v for k, v in early.items() if k not in RANGE} == {
        **{k: v for k, v in row.items() if k not in RANGE},
        "before_first_price": True,
    }


def test_gpt_4o_batch_is_half_until_the_package_has_a_batch_variant() -> None:
    table = build_price_table([("openai", "gpt-4o")]).table
    early, half, variant = rows(table, "openai", "gpt-4o", "batch")
    assert early["before_first_price"] and price(early, "input") == D("1.25")
    assert (price(half, "input"), price(half, "cached_input"), price(half, "output")) == (
        D("1.25"),
        D("0.625"),
        D("5"),
    )
    # From the variant's start date the package's batch price applies; the variant does not
    # price cached input, so the package (and the catalog) charge the standard price for it.
    assert variant["valid_from"] == half["valid_to"] == datetime(2026, 10, 14, tzinfo=UTC)
    assert (price(variant, "input"), price(variant, "output")) == (D("1.25"), D("5"))
    assert price(variant, "cached_input") == D("1.25")


def test_priority_and_flex_fall_back_to_standard_and_provisioned_has_no_rows() -> None:
    table = build_price_table([("anthropic", "claude-sonnet-4")]).table
    standard = rows(table, "anthropic", "claude-sonnet-4")
    strip = [{k: v for k, v in r.items() if k != "service_tier"} for r in standard]
    for tier in ("priority", "flex"):
        assert [
            {k: v for k, v in r.items() if k != "service_tier"}
            for r in rows(table, "anthropic", "claude-sonnet-4", tier)
        ] == strip
    assert rows(table, "anthropic", "claude-sonnet-4", "provisioned") == []
    [_, batch] = rows(table, "anthropic", "claude-sonnet-4", "batch")
    assert price(batch, "cache_write") == D("1.875")


def test_price_history_gives_chained_rows() -> None:
    table = build_price_table([("openai", "o3")]).table
    early, before, after = rows(table, "openai", "o3")
    assert_chained([(r["valid_from"], r["valid_to"]) for r in (early, before, after)])
    assert before["valid_from"] == datetime(2025, 4, 16, tzinfo=UTC)
    assert before["valid_to"] == datetime(2025, 6, 10, tzinfo=UTC)
    assert (price(before, "input"), price(before, "output")) == (D("10"), D("40"))
    assert (price(after, "input"), price(after, "output")) == (D("2"), D("8"))


def test_package_priority_variant_starts_its_own_row() -> None:
    table = build_price_table([("openai", "o3")]).table
    priority = rows(table, "openai", "o3", "priority")
    assert [r["valid_from"] for r in priority][1:] == [
        datetime(2025, 4, 16, tzinfo=UTC),
        datetime(2025, 6, 10, tzinfo=UTC),
        datetime(2026, 10, 12, tzinfo=UTC),
    ]
    assert price(priority[-1], "input") == D("3.5")


@pytest.mark.parametrize(
    "provider,model,catalog_model",
    [
        ("openai", "gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("azure-openai", "gpt-4o", "openai/gpt-4o"),
        ("azure-openai", "azure/gpt-4o", "openai/gpt-4o"),
        ("openai", "azure/gpt-4o", "openai/gpt-4o"),
        ("anthropic", "claude-sonnet-4", "anthropic/claude-sonnet-4-0"),
        (
            "bedrock",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "aws/regional.anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        ("bedrock", "meta.llama3-1-70b-instruct", "aws/meta.llama3-1-70b-instruct-v1:0"),
        ("bedrock", "amazon.titan-embed-text-v2", "aws/amazon.titan-embed-text-v2:0"),
        ("google", "gemini-1.5-pro", "google/gemini-1.5-pro"),
        ("some-gateway", "gpt-4o", "openai/gpt-4o"),
    ],
)
def test_usage_spellings_resolve(provider: str, model: str, catalog_model: str) -> None:
    result = build_price_table([(provider, model)])
    assert result.unpriced == ()
    assert set(result.table.column("catalog_model").to_pylist()) == {catalog_model}
    assert set(result.table.column("provider").to_pylist()) == {provider}
    assert set(result.table.column("model").to_pylist()) == {model}


def test_azure_borrowing_openai_prices_ignores_openai_variants() -> None:
    table = build_price_table([("azure-openai", "gpt-4o")]).table
    [early, batch] = rows(table, "azure-openai", "gpt-4o", "batch")
    assert (price(batch, "input"), price(batch, "cached_input")) == (D("1.25"), D("0.625"))
    assert early["before_first_price"] and early["valid_to"] == batch["valid_from"]
    assert len(rows(table, "azure-openai", "gpt-4o", "priority")) == 2


def test_an_embedding_model_prices_input_only() -> None:
    [row] = rows(
        build_price_table([("bedrock", "amazon.titan-embed-text-v2")]).table,
        "bedrock",
        "amazon.titan-embed-text-v2",
    )
    assert price(row, "input") == D("0.02") and price(row, "output") is None


def test_unknown_and_unpriceable_pairs_are_reported_not_priced() -> None:
    result = build_price_table(
        [
            ("openai", "gpt-4o"),
            ("openai", "gpt-nonexistent-9"),
            ("self-hosted", "llama-3-70b"),
            ("openai", "whisper-1"),
            ("openai", "gpt-4o"),
        ]
    )
    reported = {(u.provider, u.model): u.reason for u in result.unpriced}
    assert set(reported) == {
        ("openai", "gpt-nonexistent-9"),
        ("self-hosted", "llama-3-70b"),
        ("openai", "whisper-1"),
    }
    assert "no genai-prices model" in reported[("openai", "gpt-nonexistent-9")]
    assert "gpu_hour" in reported[("self-hosted", "llama-3-70b")]
    assert reported[("openai", "whisper-1")] == "openai/whisper-1 has no token prices"
    assert set(result.table.column("model").to_pylist()) == {"gpt-4o"}
    # per tier a flagged row before gpt-4o's first price, a row from it; batch and priority
    # have a package variant from 2026-10
    assert result.table.num_rows == 2 * len(set(SERVICE_TIERS) - {"provisioned"}) + 2


def test_tiered_prices_take_the_base_tier() -> None:
    table = build_price_table([("anthropic", "claude-sonnet-4-6")]).table
    assert {price(r, "input") for r in rows(table, "anthropic", "claude-sonnet-4-6")} == {D("3")}


def test_time_of_day_prices_take_the_price_in_force_at_noon_utc() -> None:
    # deepseek-chat: $0.27 from 00:30 to 16:30 UTC, $0.135 off-peak.
    [row] = rows(
        build_price_table([("deepseek", "deepseek-chat")]).table, "deepseek", "deepseek-chat"
    )
    assert price(row, "input") == D("0.27")


def test_empty_input_gives_an_empty_table() -> None:
    result = build_price_table([])
    assert result.table.num_rows == 0 and result.table.schema == PRICES_SCHEMA
    assert result.unpriced == () and result.unused_overrides == ()


def test_prices_refuse_floats() -> None:
    with pytest.raises(TypeError, match="never float"):
        catalog.Prices(input=0.1)  # type: ignore[arg-type]
    assert catalog.Prices(input=D("0.1234567890123456")).input == D("0.123456789012")
