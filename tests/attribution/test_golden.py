"""Golden cases (tests/cases/attribution/*.yaml) on every engine: DuckDB and Spark.

One conformance suite, parametrised over engines: the same expected allocations, to the cent, and
engine == engine for every case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from costcouncil.engine.base import Engine
from tests.attribution import harness
from tests.attribution.cases import Case, all_cases, load_case

CASES = all_cases()


def _run(engine: Engine, case: Case) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return harness.run(engine, case.tables(), case.rules, case.owner_keys, case.aliases)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(engine: Engine, path: Path) -> None:
    case = load_case(path)
    allocations, reconciliation = _run(engine, case)
    harness.assert_matches(allocations, case.expected, case.keys)
    if case.expected_reconciliation is not None:
        assert _recon(reconciliation) == _recon(case.expected_reconciliation)


def _recon(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    fields = ("x_rule", "ProviderName", "model", "day", "invoiced", "priced", "gap", "requests")
    out = []
    for r in rows:
        out.append(tuple(harness._norm(r.get(f)) if f in r else None for f in fields))
    return sorted(out, key=str)


def test_there_are_enough_golden_cases() -> None:
    assert len(CASES) >= 15
