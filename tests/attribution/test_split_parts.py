"""Every golden case with a jobs split gives the same rows when the join runs in parts, on both
engines (allocate runs it in parts when a group of periods is larger than its chunk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from costcouncil.engine.base import Engine
from tests.attribution import harness
from tests.attribution.cases import all_cases, load_case

JOBS_CASES = [p for p in all_cases() if "usage: jobs" in p.read_text()]


def test_there_are_jobs_cases() -> None:
    assert len(JOBS_CASES) >= 5


@pytest.mark.parametrize("path", JOBS_CASES, ids=[p.stem for p in JOBS_CASES])
def test_jobs_split_in_parts_matches_the_golden_rows(engine: Engine, path: Path) -> None:
    case = load_case(path)
    allocations, _ = harness.run(
        engine, case.tables(), case.rules, case.owner_keys, case.aliases, split_parts=3
    )
    harness.assert_matches(allocations, case.expected, case.keys)


@pytest.mark.parametrize("path", JOBS_CASES[:3], ids=[p.stem for p in JOBS_CASES[:3]])
def test_parts_spooled_to_files_match_the_golden_rows(
    engine: Engine, path: Path, tmp_path: Path
) -> None:
    """As ``allocate`` runs a large period: each part's allocation rows written to a file and
    read back, its conservation checked while its amounts are still there."""
    case = load_case(path)
    allocations, _ = harness.run(
        engine,
        case.tables(),
        case.rules,
        case.owner_keys,
        case.aliases,
        split_parts=3,
        spool=tmp_path,
    )
    harness.assert_matches(allocations, case.expected, case.keys)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"cc_alloc_split{kind}_p{k}.parquet" for k in range(3) for kind in ("", "_cells")
    )
