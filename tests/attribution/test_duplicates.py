"""A cost row seen twice (same source file and row) is refused before anything is attributed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from costcouncil.engine.base import Engine
from costcouncil.errors import AttributionError
from tests.attribution import harness
from tests.attribution.cases import charge_row, costs_table, jobs_table, llm_table, prices_table

RULES = {"version": 1, "rules": [{"name": "tags", "kind": "tag"}]}


def _tables(charges: list[dict[str, object]]) -> dict[str, pa.Table]:
    return {
        "costs": costs_table(charges),
        "jobs": jobs_table([]),
        "llm": llm_table([]),
        "prices": prices_table([]),
    }


def test_a_row_seen_twice_is_named(engine: Engine) -> None:
    web = {"BilledCost": "10.00", "Tags": '{"team": "vision"}'}
    charges = [
        charge_row(web, "bill-a.csv", 1),
        charge_row(web, "bill-b.csv", 1),
        charge_row(web, "bill-b.csv", 2),
        charge_row(web, "bill-b.csv", 2),
    ]
    with pytest.raises(AttributionError, match=r"bill-b\.csv row 2 \(2×\)") as raised:
        harness.run(engine, _tables(charges), RULES, ["team"], {})
    assert "bill-a.csv" not in str(raised.value)
    assert "row 1" not in str(raised.value)


def test_the_same_row_number_in_two_files_is_not_a_duplicate(engine: Engine) -> None:
    web = {"BilledCost": "10.00", "Tags": '{"team": "vision"}'}
    charges = [charge_row(web, "bill-a.csv", 1), charge_row(web, "bill-b.csv", 1)]
    allocations, _ = harness.run(engine, _tables(charges), RULES, ["team"], {})
    assert sorted(a["x_source_file"] for a in allocations) == ["bill-a.csv", "bill-b.csv"]
