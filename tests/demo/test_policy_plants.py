"""The planted policy breaches of the demo: in the data with their owners, in the ground truth,
judged by the demo's policies.yaml; and (once the workspace evaluation exists) found exactly."""

from __future__ import annotations

import importlib.util
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costcouncil.demo import DemoSpec, generate_costs, generate_jobs, generate_llm_requests
from costcouncil.demo.catalog import INSTANCES
from costcouncil.demo.plan import build_plan
from costcouncil.demo.planted_policy import APP_PLANTS, MACHINE_PLANTS
from costcouncil.demo.policies import demo_policies, limits
from costcouncil.demo.truth import ground_truth
from costcouncil.demo.truth_policy import policy_truth
from costcouncil.policy import parse_policies

SPEC = DemoSpec(rows=5_000)
PLANTS = {p.id: p for p in MACHINE_PLANTS}


@pytest.fixture(scope="module")
def costs() -> pa.Table:
    return pa.Table.from_batches([b for _, _, b in generate_costs(SPEC)])


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return ground_truth(SPEC)


def _rows(table: pa.Table, column: str, value: str) -> pa.Table:
    return table.filter(pc.equal(table[column], value))


def _planted_stream(plant_id: str) -> Any:
    return next(s for p, s in build_plan(SPEC).policy.machines if p.id == plant_id)


def test_a_5000_row_demo_plants_every_breach() -> None:
    plan = build_plan(SPEC)
    assert [p.id for p, _ in plan.policy.machines] == [p.id for p in MACHINE_PLANTS]
    assert [p.id for p, _ in plan.policy.apps] == [p.id for p in APP_PLANTS]


def test_the_untagged_gpu_instance_is_billed_without_tags_and_its_jobs_name_the_owner(
    costs: pa.Table,
) -> None:
    s = _planted_stream("untagged-gpu-instance")
    rows = _rows(costs, "ResourceId", s.resource_id)
    assert rows.num_rows == PLANTS["untagged-gpu-instance"].days * 24
    assert rows["Tags"].null_count == rows.num_rows
    assert json.loads(rows["SkuPriceDetails"][0].as_py())["x_Accelerator"] == "A10G"
    jobs = _rows(generate_jobs(SPEC), "resource_id", s.resource_id)
    assert jobs.num_rows > 0 and set(jobs["team"].to_pylist()) == {"search"}


def test_the_experiments_are_tagged_with_their_exp_projects(costs: pa.Table) -> None:
    for plant_id in ("experiment-over-cap", "experiment-within-cap"):
        s = _planted_stream(plant_id)
        rows = _rows(costs, "ResourceId", s.resource_id)
        tags = {json.loads(t)["project"] for t in rows["Tags"].to_pylist()}
        assert tags == {PLANTS[plant_id].owner.project}
        jobs = _rows(generate_jobs(SPEC), "resource_id", s.resource_id)
        assert set(jobs["project"].to_pylist()) == {PLANTS[plant_id].owner.project}


def test_the_idle_node_is_billed_for_its_last_week_and_runs_no_job(costs: pa.Table) -> None:
    s = _planted_stream("idle-gpu-node")
    rows = _rows(costs, "ResourceId", s.resource_id)
    assert rows.num_rows == 7 * 24
    assert pc.max(rows["ChargePeriodEnd"]).as_py() == pc.max(costs["ChargePeriodEnd"]).as_py()
    assert _rows(generate_jobs(SPEC), "resource_id", s.resource_id).num_rows == 0


def test_the_disallowed_model_is_called_in_prod_and_only_there() -> None:
    llm = generate_llm_requests(SPEC)
    allowed = limits(build_plan(SPEC)).prod_models
    prod = _rows(llm, "environment", "prod")
    outside = prod.filter(pc.invert(pc.is_in(prod["model"], pa.array(allowed))))
    assert set(outside["feature"].to_pylist()) == {"faq-drafts"}
    assert set(outside["model"].to_pylist()) == {"meta.llama3-1-70b-instruct"}
    assert set(outside["team"].to_pylist()) == {"assistant"}


def _unit_costs(llm: pa.Table) -> dict[str, Decimal]:
    sums = llm.group_by("feature").aggregate(
        [("cost", "sum"), ("input_tokens", "sum"), ("output_tokens", "sum")]
    )
    return {
        r["feature"]: r["cost_sum"]
        / Decimal(r["input_tokens_sum"] + r["output_tokens_sum"])
        * 10**6
        for r in sums.to_pylist()
    }


def test_only_the_planted_feature_costs_more_than_the_ceiling_per_1m_tokens() -> None:
    ceiling = limits(build_plan(SPEC)).unit_max
    costs = _unit_costs(generate_llm_requests(SPEC))
    assert {f for f, c in costs.items() if c > ceiling} == {"report-writer"}
    assert costs["report-writer"] > ceiling * Decimal("1.2")


def test_the_truth_lists_every_planted_breach_with_its_owner(truth: dict[str, Any]) -> None:
    assert truth["version"] == 4
    by_id = {b["id"]: b for b in truth["policy_breaches"]}
    expected = {
        "untagged-gpu-instance": ("gpu-tags", "search"),
        "experiment-over-cap": ("experiments", "research"),
        "idle-gpu-node": ("idle-gpus", "vision"),
        "disallowed-prod-model": ("prod-models", "assistant"),
        "unit-cost-over-ceiling": ("feature-unit-cost", "research"),
    }
    assert {k: (by_id[k]["policy"], by_id[k]["owner"]) for k in expected} == expected
    assert "experiment-within-cap" not in by_id
    assert all(Decimal(b["at_stake"]) > 0 for b in truth["policy_breaches"])


def test_the_truth_names_the_fleets_own_untagged_gpu_resources_too() -> None:
    """Ordinary untagged GPU machines billed in the window are breaches as well (id null)."""
    plan = build_plan(DemoSpec(rows=200_000))
    found = [b for b in policy_truth(plan) if b["policy"] == "gpu-tags"]
    untagged = {
        s.resource_id
        for s in plan.streams
        if s.tag_state == "untagged" and s.instance in INSTANCES and s.stop > plan.hours - 30 * 24
    }
    assert {b["subject"].removeprefix("resource=") for b in found} == untagged
    assert any(b["id"] is None for b in found)


def test_the_demo_policies_parse_against_the_catalog() -> None:
    policies = parse_policies(demo_policies(SPEC), "policies.yaml", instance_types=set(INSTANCES))
    assert sorted(p.kind for p in policies) == sorted(
        ["required_tags", "allowed_models", "experiment_cap", "idle_gpu", "unit_cost"]
    )


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), rows=st.sampled_from([500, 2_000, 5_000]))
def test_every_plant_that_fits_is_a_breach_of_the_policies_with_its_owner(
    seed: int, rows: int
) -> None:
    plan = build_plan(DemoSpec(rows=rows, seed=seed))
    truth = {b["id"]: b for b in policy_truth(plan)}
    for plant, stream in plan.policy.machines:
        if plant.kind:
            assert truth[plant.id]["owner"] == plant.owner.team
            subject = (
                f"project={plant.owner.project}"
                if plant.kind == "experiment_cap"
                else f"resource={stream.resource_id}"
            )
            assert truth[plant.id]["subject"] == subject
    for app_plant, app in plan.policy.apps:
        assert truth[app_plant.id]["owner"] == app.use.owner.team
    parse_policies(demo_policies(plan.spec), "policies.yaml", instance_types=set(INSTANCES))


def _evaluation_exists() -> bool:
    names = ("costcouncil.workspace.policy.run", "costcouncil.workspace.policy.inputs")
    try:
        return all(importlib.util.find_spec(n) is not None for n in names)
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(
    not _evaluation_exists(),
    reason="costcouncil.workspace.policy.run.evaluate_workspace / build_inputs not written yet",
)
def test_the_evaluation_finds_exactly_the_planted_breaches(tmp_path: Path) -> None:
    from costcouncil.appdb.db import open_database
    from costcouncil.workspace.demo.run import run
    from costcouncil.workspace.policy.run import evaluate_workspace
    from costcouncil.workspace.policy.store import Violations

    ws = run(tmp_path / "demo", rows=SPEC.rows, seed=SPEC.seed, say=lambda _: None).workspace
    truth = json.loads((ws.root / "ground_truth.json").read_text())["policy_breaches"]
    store = Violations(open_database(f"sqlite:///{tmp_path}/app.db"))
    try:
        evaluate_workspace(ws, store, as_of=date(2026, 10, 31))
        found = {(v.policy, v.subject): v.team for v in store.list(state="open", limit=10_000)}
    finally:
        store.close()
    assert found == {(b["policy"], b["subject"]): b["owner"] for b in truth}
