"""The conservation check fails a run whose apportioned amounts lose or invent a cent, or that
leaves a claimed row with no share; the run then writes nothing (run_plan raises)."""

from __future__ import annotations

from pathlib import Path

import pytest

from costcouncil.attribution import check_conservation
from costcouncil.engine.base import Engine
from costcouncil.errors import AttributionError
from tests.attribution import harness
from tests.attribution.cases import load_case

CASE = Path(__file__).parents[1] / "cases" / "attribution" / "shared_pool_direct_cost.yaml"


def _run(engine: Engine) -> None:
    case = load_case(CASE)
    harness.run(engine, case.tables(), case.rules, case.owner_keys, case.aliases)
    check_conservation(engine)  # the untouched run conserves


def test_a_cent_too_many_is_caught(engine: Engine) -> None:
    _run(engine)
    engine.create("kept", "SELECT * FROM cc_alloc_pool_amounts", materialize=True)
    engine.create(
        "cc_alloc_pool_amounts",
        "SELECT x_id, sid, CASE WHEN sid = 1 THEN BilledCost + CAST('0.01' AS DECIMAL(38,12)) "
        "ELSE BilledCost END AS BilledCost, EffectiveCost, ListCost, ContractedCost FROM kept",
        materialize=True,
    )
    with pytest.raises(
        AttributionError, match=r"cost not conserved .*: shared_pool_direct_cost\.yaml row 9"
    ):
        check_conservation(engine)


def test_a_row_left_without_shares_is_caught(engine: Engine) -> None:
    _run(engine)
    engine.create("kept", "SELECT * FROM cc_alloc_pool_m", materialize=True)
    engine.create("cc_alloc_pool_m", "SELECT * FROM kept WHERE FALSE", materialize=True)
    with pytest.raises(AttributionError, match=r"shared_pool_direct_cost\.yaml row 9"):
        check_conservation(engine)
