"""The conservation check fails a run whose apportioned amounts lose or invent a cent, or that
leaves a claimed row with no share; the run then writes nothing (run_plan raises)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from costcouncil.attribution import build_plan, check_conservation, parse_rules, run_plan
from costcouncil.attribution.controlled import changes_schema
from costcouncil.attribution.owners import METRICS
from costcouncil.engine.base import Engine
from costcouncil.errors import AttributionError
from tests.attribution import harness
from tests.attribution.cases import load_case

CASE = Path(__file__).parents[1] / "cases" / "attribution" / "shared_pool_direct_cost.yaml"
TAMPERED = (
    "SELECT x_id, sid, CASE WHEN sid = 1 THEN BilledCost + CAST('0.01' AS DECIMAL(38,12)) "
    "ELSE BilledCost END AS BilledCost, * EXCLUDE (x_id, sid, BilledCost) FROM {kept}"
)


def _run(engine: Engine) -> None:
    case = load_case(CASE)
    harness.run(engine, case.tables(), case.rules, case.owner_keys, case.aliases)
    check_conservation(engine)  # the untouched run conserves


def test_a_cent_too_many_is_caught(engine: Engine) -> None:
    _run(engine)
    engine.create("kept", "SELECT * FROM cc_alloc_pool_amounts", materialize=True)
    engine.create("cc_alloc_pool_amounts", TAMPERED.format(kept="kept"), materialize=True)
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


def test_a_part_is_checked_before_its_amounts_are_dropped(engine: Engine, tmp_path: Path) -> None:
    """In a run apportioned in parts, each part's check runs as soon as the part is spooled: a
    cent invented in a part's amounts stops the run there."""
    case = load_case(CASE.with_name("largest_remainder_ties.yaml"))
    for name, table in case.tables().items():
        engine.load_arrow(name, table)
    rules = parse_rules(yaml.safe_dump(case.rules, sort_keys=False), "rules.yaml", case.owner_keys)
    plan = build_plan(rules, case.aliases, case.tables()["costs"].column_names, split_parts=2)
    checks = [s.view for s in plan.stages if s.check]
    assert checks == [
        "cc_alloc_split_check_p0",
        "cc_alloc_split_check_p1",
        "cc_alloc_split_fix_check",
        "cc_alloc_pool_fix_check",
    ]
    for stage in plan.stages:
        if stage.view.startswith("cc_alloc_split_amounts_p"):
            stage.sql = TAMPERED.format(kept=f"({stage.sql}) AS t")
    with pytest.raises(AttributionError, match=r"cost not conserved .*: largest_remainder_ties"):
        run_plan(engine, plan, spool=tmp_path)


def test_unit_moves_that_do_not_cancel_stop_the_run(engine: Engine) -> None:
    """The controlled rounding's moves must cancel within each row: a unit added to one share
    of a row without being taken from another stops the run (its fix check), naming the row."""
    case = load_case(CASE.with_name("largest_remainder_ties.yaml"))
    for name, table in case.tables().items():
        engine.load_arrow(name, table)
    rules = parse_rules(yaml.safe_dump(case.rules, sort_keys=False), "rules.yaml", case.owner_keys)
    plan = build_plan(rules, case.aliases, case.tables()["costs"].column_names)
    [fix] = [s for s in plan.stages if s.view == "cc_alloc_split_fix"]

    def one_unit_too_many(engine: Engine, sql: str) -> pa.Table:
        first = engine.fetch(f"SELECT x_id, sid FROM ({sql}) AS c ORDER BY 1, 2 LIMIT 1")
        assert first.num_rows == 1, "the case has a share with a fraction of a unit"
        row = first.to_pylist()[0]
        schema = changes_schema(METRICS)
        one = {"x_id": [row["x_id"]], "sid": [row["sid"]], **{f"k_{m}": [1] for m in METRICS}}
        return pa.table(one, schema=schema)

    fix.compute = one_unit_too_many
    with pytest.raises(AttributionError, match=r"cost not conserved .*: largest_remainder_ties"):
        run_plan(engine, plan)
