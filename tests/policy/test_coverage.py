"""required_tags coverage: invariants over random allocation rows, against a plain-Python oracle."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.policy import RequiredTagsParams, ai_rows, coverage
from costcouncil.policy.tables import with_teams
from tests.policy.build import costs

KEYS = ("team", "project")
PARAMS = RequiredTagsParams(keys=KEYS)

rows = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.just(date(2026, 3, 1)),
            "resource_id": st.sampled_from(["r1", "r2", "r3", None]),
            "team": st.sampled_from(["a", "b", None, ""]),
            "service_category": st.sampled_from(["AI and Machine Learning", "Compute", "Storage"]),
            "accelerator_type": st.sampled_from([None, "", "H100"]),
            "tag_keys": st.lists(st.sampled_from(["team", "project", "env"]), max_size=3),
            "cost": st.decimals(min_value=0, max_value=10_000, places=2),
        }
    ),
    max_size=30,
)


def oracle(drawn: list[dict[str, Any]]) -> dict[str, tuple[Decimal, Decimal]]:
    """Per team, (AI spend, tagged spend), the obvious way."""
    out: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in drawn:
        is_ai = row["service_category"] == "AI and Machine Learning" or bool(
            row["accelerator_type"]
        )
        if not is_ai:
            continue
        team = row["team"] or "__unallocated__"
        out[team][0] += row["cost"]
        if all(k in row["tag_keys"] for k in KEYS):
            out[team][1] += row["cost"]
    return {team: (ai, tagged) for team, (ai, tagged) in out.items()}


@settings(deadline=None)
@given(rows)
def test_coverage_matches_the_oracle_and_parts_add_up(drawn: list[dict[str, Any]]) -> None:
    found = coverage(ai_rows(with_teams(costs(*drawn)), PARAMS))
    assert {c.team: (c.ai_spend, c.tagged) for c in found} == oracle(drawn)
    for c in found:
        assert c.tagged + c.untagged == c.ai_spend
        assert 0 <= c.percent <= 100


@settings(deadline=None)
@given(rows)
def test_without_gpu_rows_only_the_categories_count(drawn: list[dict[str, Any]]) -> None:
    params = RequiredTagsParams(keys=KEYS, include_gpu=False)
    found = ai_rows(costs(*drawn), params)
    expected = sum(1 for r in drawn if r["service_category"] == "AI and Machine Learning")
    assert found.num_rows == expected
