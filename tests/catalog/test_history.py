"""Every model's price history is one timeline per tier: ranges chain, never overlap."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from genai_prices.data import providers
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.catalog import Resolved, build_price_table
from costcouncil.catalog.history import package_spans
from costcouncil.catalog.spans import EARLIEST, LATEST, Span, merge, overlay, remap
from costcouncil.schema.usage import SERVICE_TIERS
from tests.catalog.helpers import assert_chained, assert_disjoint, timelines

PROVIDER_IDS = [p.id for p in providers]


@pytest.mark.parametrize("provider", PROVIDER_IDS)
def test_every_models_history_chains_in_every_tier(provider: str) -> None:
    [owner] = [p for p in providers if p.id == provider]
    for model in owner.models:
        found = Resolved(model, f"{owner.id}/{model.id}", via_fallback=False)
        for tier in SERVICE_TIERS:
            spans = package_spans(found, tier)
            if spans:
                assert_chained([(_open(s.start), _open(s.end)) for s in spans])
                assert all(a.value != b.value for a, b in itertools.pairwise(spans))


def test_some_models_have_a_price_history() -> None:
    table = build_price_table([(p.id, m.id) for p in providers for m in p.models]).table
    changed = [key for key, ranges in timelines(table).items() if len(ranges) >= 2]
    assert len(changed) > 50
    for ranges in timelines(table).values():
        assert_disjoint(ranges)


def _open(moment: datetime) -> datetime | None:
    return None if moment in (EARLIEST, LATEST) else moment


DAY0 = datetime(2025, 1, 1, tzinfo=UTC)
days = st.integers(min_value=0, max_value=30).map(lambda n: DAY0 + timedelta(days=n))
ranges = st.tuples(days, days).filter(lambda r: r[0] < r[1])


@given(st.lists(st.tuples(st.sampled_from(["overlay", "remap"]), ranges), max_size=12))
def test_overlay_and_remap_keep_a_timeline_whole_and_disjoint(
    steps: list[tuple[str, tuple[datetime, datetime]]],
) -> None:
    timeline = [Span(EARLIEST, LATEST, 0)]
    for i, (op, (start, end)) in enumerate(steps, start=1):
        if op == "overlay":
            timeline = overlay(timeline, Span(start, end, i))
        else:
            timeline = remap(timeline, start, end, lambda v, i=i: v + 100 * i)
        assert_chained([(_open(s.start), _open(s.end)) for s in timeline])
    merged = merge(timeline)
    assert_chained([(_open(s.start), _open(s.end)) for s in merged])
    assert all(a.value != b.value for a, b in itertools.pairwise(merged))


@given(ranges, days)
def test_an_overlay_decides_every_instant_it_covers(
    window: tuple[datetime, datetime], at: datetime
) -> None:
    start, end = window
    timeline = overlay([Span(EARLIEST, LATEST, "package")], Span(start, end, "override"))
    [holding] = [s for s in timeline if s.start <= at < s.end]
    assert holding.value == ("override" if start <= at < end else "package")
