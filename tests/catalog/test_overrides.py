"""prices.yaml: discounts, explicit and provisioned prices, GPU-hour prices, and their validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.catalog import (
    KINDS,
    PACKAGE_SOURCE,
    PRICES_SCHEMA,
    build_price_table,
    parse_overrides,
)
from costcouncil.catalog.overrides import ENTRY_KEYS, TOP_KEYS
from costcouncil.errors import ConfigError
from costcouncil.schema.usage import SERVICE_TIERS
from tests.catalog.helpers import assert_chained, price, rows, timelines

D = Decimal
DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"


def _table(yaml_text: str, *pairs: tuple[str, str]):  # type: ignore[no-untyped-def]
    return build_price_table(pairs, parse_overrides(yaml_text, "prices.yaml"))


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


DISCOUNT = """\
version: 1
overrides:
  - provider: openai
    discount: 0.15
    from: 2025-01-01
    to: 2025-07-01
"""


def test_a_discount_applies_only_inside_its_range() -> None:
    table = _table(DISCOUNT, ("openai", "gpt-4o")).table
    early, before, during, after = rows(table, "openai", "gpt-4o")
    assert early["before_first_price"] and early["valid_to"] == before["valid_from"]
    assert (before["valid_to"], during["valid_from"]) == (_at(2025, 1, 1), _at(2025, 1, 1))
    assert (during["valid_to"], after["valid_from"], after["valid_to"]) == (
        _at(2025, 7, 1),
        _at(2025, 7, 1),
        None,
    )
    assert [price(r, "input") for r in (before, during, after)] == [D("2.5"), D("2.125"), D("2.5")]
    assert price(during, "cached_input") == D("1.0625") and price(during, "output") == D("8.5")
    assert during["source"] == "override:prices.yaml:3" and before["source"] == PACKAGE_SOURCE
    discounted_batch = rows(table, "openai", "gpt-4o", "batch")[2]
    assert price(discounted_batch, "input") == D("1.0625")


def test_the_most_specific_discount_wins_without_compounding() -> None:
    text = DISCOUNT + "  - {provider: openai, model: gpt-4o, discount: 0.2, from: 2025-03-01}\n"
    table = _table(text, ("openai", "gpt-4o"), ("openai", "o3")).table
    gpt = rows(table, "openai", "gpt-4o")
    assert [price(r, "input") for r in gpt] == [D("2.5"), D("2.5"), D("2.125"), D("2")]
    assert gpt[3]["valid_from"] == _at(2025, 3, 1) and gpt[3]["valid_to"] is None
    o3 = rows(table, "openai", "o3")
    # o3's first price is from 2025-04-16: the discount is cut there, flagged before it
    assert [price(r, "input") for r in o3] == [D("10"), D("8.5"), D("8.5"), D("1.7"), D("2")]
    assert [r["before_first_price"] for r in o3] == [True, True, False, False, False]


def test_a_glob_and_a_tier_narrow_a_discount() -> None:
    text = "version: 1\noverrides:\n  - {provider: openai, model: 'gpt-4o*', service_tier: batch, discount: 0.1}\n"
    pairs = [("openai", "gpt-4o"), ("openai", "gpt-4o-2024-08-06"), ("openai", "gpt-4.1")]
    table = _table(text, *pairs).table
    assert price(rows(table, "openai", "gpt-4o-2024-08-06", "batch")[0], "input") == D("1.125")
    assert price(rows(table, "openai", "gpt-4o")[0], "input") == D("2.5")
    assert {r["source"] for r in rows(table, "openai", "gpt-4.1", "batch")} == {PACKAGE_SOURCE}


EXPLICIT = """\
version: 1
overrides:
  - provider: openai
    discount: 0.15
    from: 2025-01-01
    to: 2025-07-01
  - provider: openai
    model: gpt-4o
    prices: {input: 2.00, output: 8.00}
    from: 2025-03-01
    to: 2025-04-01
"""


def test_explicit_prices_win_in_their_range_and_split_the_package_row() -> None:
    table = _table(EXPLICIT, ("openai", "gpt-4o")).table
    spans = rows(table, "openai", "gpt-4o")
    assert [r["valid_from"] for r in spans] == [
        None,
        _at(2024, 5, 13),
        _at(2025, 1, 1),
        _at(2025, 3, 1),
        _at(2025, 4, 1),
        _at(2025, 7, 1),
    ]
    explicit = spans[3]
    assert (price(explicit, "input"), price(explicit, "output")) == (D("2"), D("8"))
    assert price(explicit, "cached_input") is None  # kinds not listed are not priced
    assert explicit["source"] == "override:prices.yaml:7"
    assert explicit["catalog_model"] == "openai/gpt-4o"
    assert [price(r, "input") for r in spans] == [
        D("2.5"),
        D("2.5"),
        D("2.125"),
        D("2"),
        D("2.125"),
        D("2.5"),
    ]
    # explicit prices are per tier: batch is the flagged row, the discount's three rows, then the
    # package's variant
    assert len(rows(table, "openai", "gpt-4o", "batch")) == 5


def test_a_past_price_change_is_an_entry_with_a_past_from() -> None:
    text = "version: 1\noverrides:\n  - {provider: openai, model: gpt-4o, prices: {input: 5, output: 15}, to: 2024-08-06}\n"
    spans = rows(_table(text, ("openai", "gpt-4o")).table, "openai", "gpt-4o")
    assert [(r["valid_from"], r["valid_to"]) for r in spans] == [
        (None, _at(2024, 8, 6)),
        (_at(2024, 8, 6), None),
    ]
    assert [price(r, "input") for r in spans] == [D("5"), D("2.5")]
    # the user's price covers the time before gpt-4o's first package price: nothing is flagged
    assert [r["before_first_price"] for r in spans] == [False, False]


GPU_HOUR = """\
version: 1
overrides:
  - provider: self-hosted
    model: llama-3-70b
    gpu_hour: 4.10
    tokens_per_gpu_hour: 2000000
    output_weight: 3
"""


def test_self_hosted_models_are_priced_per_gpu_hour() -> None:
    result = _table(GPU_HOUR, ("self-hosted", "llama-3-70b"))
    assert result.unpriced == ()
    [row] = rows(result.table, "self-hosted", "llama-3-70b")
    assert [price(row, k) for k in ("input", "cached_input", "cache_write", "output")] == [
        D("2.05"),
        D("2.05"),
        D("2.05"),
        D("6.15"),
    ]
    assert price(row, "reasoning") is None and row["catalog_model"] is None
    assert result.table.num_rows == 1


def test_gpu_hour_prices_round_half_even_to_12_places() -> None:
    text = GPU_HOUR.replace("2000000", "3000000").replace("output_weight: 3", "output_weight: 1")
    [row] = rows(_table(text, ("self-hosted", "llama-3-70b")).table, "self-hosted", "llama-3-70b")
    assert price(row, "input") == D("1.366666666667") == price(row, "output")


def test_provisioned_rows_come_only_from_overrides() -> None:
    text = """\
version: 1
overrides:
  - provider: azure-openai
    model: gpt-4o
    service_tier: provisioned
    prices: {input: 0.5, cached_input: 0.25, output: 2}
    from: 2025-01-01
"""
    table = _table(text, ("azure-openai", "gpt-4o")).table
    [row] = rows(table, "azure-openai", "gpt-4o", "provisioned")
    assert (row["valid_from"], row["valid_to"], price(row, "output")) == (
        _at(2025, 1, 1),
        None,
        D("2"),
    )
    assert len(rows(table, "azure-openai", "gpt-4o")) == 2  # before and from gpt-4o's first price


def test_unused_overrides_are_reported() -> None:
    text = DISCOUNT + "  - {provider: openai, model: gpt-4o-typo, prices: {input: 1}}\n"
    result = _table(text, ("openai", "gpt-4o"))
    assert result.unused_overrides == ("override:prices.yaml:7",)


def test_numbers_are_exact_decimals() -> None:
    text = "version: 1\noverrides:\n  - {provider: p, model: m, prices: {input: 0.1, output: 1_000.3}}\n"
    [entry] = parse_overrides(text, "prices.yaml").prices
    assert entry.prices.input == D("0.1") and entry.prices.output == D("1000.3")


def test_every_problem_is_reported_at_once_with_its_line() -> None:
    text = """\
version: 2
overrides:
  - provider: openai
    discount: 0.15
  - provider: azure-openai
    model: gpt-4o
    discount: 1.5
    servce_tier: batch
  - provider: openai
    model: gpt-4o
    service_tier: batched
    prices: {input: 2.0, output: -1, cahced_input: 1}
    from: 2025-03-01
    to: 2025-02-01
  - provider: self-hosted
    gpu_hour: 4.10
    tokens_per_gpu_hour: 0
  - {provider: x, model: y}
  - {provider: x, model: y, discount: 0.1, output_weight: 2}
  - {provider: x, discount: true, from: next week}
extras: 1
"""
    with pytest.raises(ConfigError) as caught:
        parse_overrides(text, "prices.yaml")
    message = str(caught.value)
    expected = [
        "prices.yaml:1: version: must be 1 (got 2)",
        "prices.yaml:7: overrides[1].discount: must be between 0 and 1 (got 1.5)",
        "prices.yaml:8: overrides[1].servce_tier: unknown key; did you mean 'service_tier'?",
        "prices.yaml:11: overrides[2].service_tier: 'batched' is not one of standard, batch, "
        "priority, flex, provisioned — did you mean 'batch'?",
        "prices.yaml:12: overrides[2].prices.cahced_input: unknown key; did you mean 'cached_input'?",
        "prices.yaml:12: overrides[2].prices.output: must be 0 or more (got -1)",
        "prices.yaml:14: overrides[2].to: must be after from (2025-03-01T00:00:00+00:00)",
        "prices.yaml:15: overrides[3].model: must be a non-empty string (got None)",
        "prices.yaml:17: overrides[3].tokens_per_gpu_hour: must be more than 0 (got 0)",
        "prices.yaml:18: overrides[4]: give exactly one of discount, prices, gpu_hour (got 0)",
        "prices.yaml:19: overrides[5].output_weight: is only allowed with gpu_hour",
        "prices.yaml:20: overrides[6].discount: must be a number (got True)",
        "prices.yaml:20: overrides[6].from: must be a date like 2025-01-31 (got 'next week')",
        "prices.yaml:21: extras: unknown key; expected one of version, overrides",
    ]
    for line in expected:
        assert line in message
    assert message.startswith(f"prices.yaml: {len(expected)} problem(s):")


def test_a_yaml_syntax_error_names_its_line() -> None:
    with pytest.raises(ConfigError, match=r"^prices\.yaml:4: not valid YAML"):
        parse_overrides("version: 1\noverrides:\n  - a: b\n   c: d\nz: 1\n", "prices.yaml")


def test_a_duplicate_key_is_a_problem() -> None:
    with pytest.raises(
        ConfigError, match=r"prices\.yaml:3: overrides\[0\]\.provider: duplicate key"
    ):
        parse_overrides(
            "version: 1\noverrides:\n  - {provider: a, provider: b, discount: 0}\n", "prices.yaml"
        )


@pytest.mark.parametrize("text", ["", "[1, 2]", "version: 1\noverrides: {}\n"])
def test_a_document_of_the_wrong_shape_is_a_problem(text: str) -> None:
    with pytest.raises(ConfigError, match=r"prices\.yaml:[12]: (\(top level\)|overrides): "):
        parse_overrides(text, "prices.yaml")


def test_no_overrides_is_valid() -> None:
    assert parse_overrides("version: 1\n", "prices.yaml").discounts == ()


def test_the_documented_example_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.S)
    overrides = parse_overrides(blocks[0], "prices.yaml")
    assert overrides.discounts and overrides.prices


DAY0 = datetime(2025, 1, 1, tzinfo=UTC)
moments = st.one_of(st.none(), st.integers(0, 40).map(lambda n: (DAY0 + timedelta(days=n)).date()))
entries = st.tuples(st.booleans(), moments, moments, st.integers(0, 99))


@settings(max_examples=60, deadline=None)
@given(st.lists(entries, max_size=8))
def test_overrides_never_make_ranges_overlap_or_gaps(
    spec: list[tuple[bool, object, object, int]],
) -> None:
    lines = ["version: 1", "overrides:"]
    for is_discount, start, end, n in spec:
        if start is not None and end is not None and end <= start:  # type: ignore[operator]
            continue
        when = "".join(f", {k}: {v}" for k, v in (("from", start), ("to", end)) if v is not None)
        what = f"discount: 0.{n:02d}" if is_discount else f"model: o3, prices: {{input: {n}}}"
        lines.append(f"  - {{provider: openai, {what}{when}}}")
    table = _table("\n".join(lines) + "\n", ("openai", "o3")).table
    for ranges in timelines(table).values():
        assert_chained(ranges)


def test_every_key_and_column_is_documented() -> None:
    text = DOCS.read_text()
    names = [*TOP_KEYS, *ENTRY_KEYS, *KINDS, *PRICES_SCHEMA.names, *SERVICE_TIERS]
    assert [n for n in names if f"`{n}`" not in text] == []
