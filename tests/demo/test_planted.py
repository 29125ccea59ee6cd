"""Planted anomalies and normal events: the truth covers every root cause, each anomaly's excess
is in the cost files and its evidence in the usage data, the normal events are there."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from costcouncil.demo import (
    DemoSpec,
    generate_costs,
    generate_jobs,
    generate_llm_requests,
    ground_truth,
)
from costcouncil.demo.plan import build_plan
from costcouncil.schema.arrow import focus_schema

CAUSES = {
    "model_mix_shift",
    "tokens_per_request_up",
    "output_tokens_up",
    "cache_hit_down",
    "new_client",
    "idle_gpu_up",
    "training_failures",
    "new_resource",
    "price_change",
    "untagged_spend",
    "runaway_gpu_job",
}
SPEC = DemoSpec(rows=50_000)
KEYS = {"id", "kind", "cause", "scope", "provider", "resource_ids", "start", "end"}
KEYS |= {"expected_excess_cost", "description", "evidence", "monitor", "scopes"}


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return ground_truth(SPEC)


@pytest.fixture(scope="module")
def costs() -> pa.Table:
    batches = [b for _, _, b in generate_costs(SPEC)]
    return pa.Table.from_batches(batches, focus_schema(with_source=False))


@pytest.fixture(scope="module")
def logs() -> pa.Table:
    return generate_llm_requests(SPEC)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _by(truth: dict[str, Any], cause: str) -> list[dict[str, Any]]:
    return [a for a in truth["anomalies"] if a["cause"] == cause]


@pytest.mark.parametrize("rows", [50_000, 200_000])
def test_a_year_plants_every_cause_at_least_twelve_times(rows: int) -> None:
    plan = build_plan(DemoSpec(rows=rows))
    causes = [p.cause for p in plan.planted] + ["runaway_gpu_job", "idle_gpu_up", "new_client"]
    assert len(causes) >= 12 and set(causes) == CAUSES


def test_anomalies_are_spread_out_and_apart_per_scope(truth: dict[str, Any]) -> None:
    span = _t("2025-11-01T00:00:00Z")
    assert all(set(a) >= KEYS for a in truth["anomalies"])
    assert len({a["id"] for a in truth["anomalies"]}) == len(truth["anomalies"])
    by_scope: dict[str, list[tuple[datetime, datetime]]] = {}
    for a in truth["anomalies"]:
        start, end = _t(a["start"]), _t(a["end"])
        assert span + timedelta(days=42) <= start < end <= span + timedelta(days=365)
        assert a["monitor"] in a["scopes"] and "org" in a["scopes"]
        assert Decimal(a["expected_excess_cost"]) > 0
        by_scope.setdefault(a["monitor"], []).append((start, end))
    for windows in by_scope.values():
        windows.sort()
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(windows))
    months = {_t(a["start"]).month for a in truth["anomalies"]}
    assert len(months) >= 8


def _cost(costs: pa.Table, ids: list[str], start: datetime, end: datetime) -> Decimal:
    t = costs.filter(pc.is_in(costs["ResourceId"], pa.array(ids)))
    t = t.filter(
        pc.and_(
            pc.greater_equal(t["ChargePeriodStart"], start), pc.less(t["ChargePeriodStart"], end)
        )
    )
    t = t.filter(pc.equal(t["ChargeCategory"], "Usage"))
    return pc.sum(t["BilledCost"]).as_py() or Decimal(0)


def test_excess_is_in_the_cost_files(truth: dict[str, Any], costs: pa.Table) -> None:
    """Window cost of the anomaly's resources minus their cost over the same weekdays just
    before. AWS anomalies are new machines, so this is exact. LLM apps vary by 12 % a day and
    grow 4 % a month, and the excess is 40 %-300 % of their usual cost over 5-14 days; a third
    of the expected excess bounds that noise."""
    for a in truth["anomalies"]:
        start, end = _t(a["start"]), _t(a["end"])
        shift = timedelta(days=7 * -(-(end - start).days // 7) or 7)
        ids = a["resource_ids"]
        measured = _cost(costs, ids, start, end) - _cost(costs, ids, start - shift, end - shift)
        expected = Decimal(a["expected_excess_cost"])
        if "instance_type" in a["evidence"]:  # machines that only ran for the anomaly
            assert _cost(costs, ids, start, end) == expected, a["id"]
        else:
            assert abs(measured - expected) <= expected / 3, (a["id"], measured, expected)


def test_excess_is_large_on_its_model_or_provider_scope(
    truth: dict[str, Any], costs: pa.Table
) -> None:
    """On a model or provider scope (read straight from the FOCUS rows), the excess is at least
    30 % of the scope's usual spend over the window's days."""
    for a in truth["anomalies"]:
        dim, value = next(iter(a["scope"].items()))
        if dim == "model":
            rows = costs.filter(pc.starts_with(costs["SkuId"], value + ":"))
        elif dim == "provider":
            rows = costs.filter(pc.equal(costs["ProviderName"], value))
        else:
            continue
        start, end = _t(a["start"]), _t(a["end"])
        before = _cost(
            rows, rows["ResourceId"].unique().to_pylist(), start - timedelta(days=28), start
        )
        usual = before / 28 * (end - start).days
        assert Decimal(a["expected_excess_cost"]) >= Decimal("0.3") * usual, a["id"]


def test_aws_anomalies_leave_usage_evidence(truth: dict[str, Any], costs: pa.Table) -> None:
    jobs = generate_jobs(SPEC)
    for a in truth["anomalies"]:
        mine = jobs.filter(pc.is_in(jobs["resource_id"], pa.array(a["resource_ids"])))
        if a["cause"] == "training_failures":
            assert mine.num_rows >= 8 * len(a["resource_ids"])
            assert set(mine["status"].to_pylist()) == {"failed"}
            assert len(set(mine["run"].to_pylist())) == len(a["resource_ids"])
            attempts = [json.loads(x)["attempt"] for x in mine["attributes"].to_pylist()]
            assert max(attempts) >= 8
        if a["id"] == "empty-node-pool":
            assert mine.num_rows == 0
        rows = costs.filter(pc.is_in(costs["ResourceId"], pa.array(a["resource_ids"])))
        if a["cause"] == "untagged_spend":
            assert set(rows["Tags"].to_pylist()) == {None}
        if a["cause"] == "new_resource":
            region = costs.filter(pc.equal(costs["RegionId"], "eu-west-1"))
            assert set(region["ResourceId"].to_pylist()) == set(a["resource_ids"])
            assert pc.min(region["ChargePeriodStart"]).as_py() == _t(a["start"])


def _app_logs(logs: pa.Table, a: dict[str, Any], inside: bool) -> pa.Table:
    projects = [json.loads(x)["project_id"] for x in logs["attributes"].to_pylist()]
    project = pa.array(projects)
    t = logs.filter(pc.is_in(project, pa.array(a["resource_ids"])))
    start, end = _t(a["start"]), _t(a["end"])
    if inside:
        return t.filter(pc.and_(pc.greater_equal(t["time"], start), pc.less(t["time"], end)))
    return t.filter(
        pc.and_(pc.greater_equal(t["time"], start - timedelta(days=21)), pc.less(t["time"], start))
    )


def _ratio(t: pa.Table, num: str, den: str) -> float:
    return float(pc.sum(t[num]).as_py()) / float(pc.sum(t[den]).as_py())


def test_llm_anomalies_leave_usage_evidence(
    truth: dict[str, Any], logs: pa.Table, costs: pa.Table
) -> None:
    for a in [x for x in truth["anomalies"] if x["provider"] != "aws"]:
        now, before = _app_logs(logs, a, True), _app_logs(logs, a, False)
        cause, ev = a["cause"], a["evidence"]
        if cause == "cache_hit_down":
            cached = "cached_input_tokens"
            assert _ratio(now, cached, "input_tokens") < _ratio(before, cached, "input_tokens") / 5
        if cause == "tokens_per_request_up":
            assert _ratio(now, "input_tokens", "request_count") > 3 * _ratio(
                before, "input_tokens", "request_count"
            )
        if cause == "output_tokens_up":
            assert pc.sum(before["reasoning_tokens"]).as_py() == 0
            assert _ratio(now, "reasoning_tokens", "output_tokens") > 2.5
        if cause == "model_mix_shift":
            assert ev["model_to"] in now["model"].to_pylist()
            assert ev["model_to"] not in before["model"].to_pylist()
        if cause == "new_client":
            column = ev["column"]
            assert ev["value"] in now[column].to_pylist()
            assert ev["value"] not in before[column].to_pylist()
        if cause == "price_change":
            rows = costs.filter(pc.is_in(costs["ResourceId"], pa.array(a["resource_ids"])))
            inside = rows.filter(pc.greater_equal(rows["ChargePeriodStart"], _t(a["start"])))
            inside = inside.filter(pc.less(inside["ChargePeriodStart"], _t(a["end"])))
            prices = {Decimal(p) for p in ev["unit_prices_to"].values()}
            assert set(inside["ListUnitPrice"].to_pylist()) == prices


def test_normal_events_are_planted(truth: dict[str, Any], costs: pa.Table) -> None:
    events = {n["kind"]: n for n in truth["normal_events"]}
    assert set(events) == {"month_end_batch", "planned_launch"}
    batch = events["month_end_batch"]
    assert len(batch["windows"]) == SPEC.months
    for w in batch["windows"]:
        end = _t(w["end"])
        assert end.day == 1 and end - _t(w["start"]) == timedelta(days=1)
        assert _cost(costs, batch["resource_ids"], _t(w["start"]), end) > 0
    launch = events["planned_launch"]
    notes = launch["annotations"]
    assert [n["scope"] for n in notes] == [launch["monitor"], "model=gpt-4o-mini"]
    assert launch["monitor"] == "team=search"
    note = notes[0]
    assert note["label"].startswith("planned launch") and note["start"] < note["end"]
    start = _t(note["start"])
    assert _cost(costs, launch["resource_ids"], start - timedelta(days=30), start) == 0
    assert _cost(costs, launch["resource_ids"], start, _t(note["end"])) > 0


def _rows(costs: pa.Table, rid: str, start: datetime, end: datetime) -> int:
    t = costs.filter(pc.equal(costs["ResourceId"], rid))
    t = t.filter(pc.greater_equal(t["ChargePeriodStart"], start))
    return t.filter(pc.less(t["ChargePeriodStart"], end)).num_rows


def test_growth_lists_what_starts_during_the_year(truth: dict[str, Any], costs: pa.Table) -> None:
    """Every resource and LLM use that starts after the first day is listed, with its first cost
    on its start, none before, and the scopes its cost lands on."""
    growth = truth["growth"]
    kinds = {g["kind"] for g in growth}
    assert kinds == {"new_resource", "new_app"}
    planted = {r for a in truth["anomalies"] for r in a["resource_ids"]}
    planted |= {r for n in truth["normal_events"] for r in n["resource_ids"]}
    for g in growth:
        start = _t(g["start"])
        assert g["id"] not in planted and g["scopes"][0] == "org"
        assert any(s.startswith("provider=") for s in g["scopes"])
        assert _rows(costs, g["id"], start - timedelta(days=60), start) == 0, g
        assert _rows(costs, g["id"], start, start + timedelta(days=1)) > 0, g
    day_two = _t(truth["totals"][0]["billing_period"] + "-02T00:00:00Z")
    usage = costs.filter(pc.equal(costs["ChargeCategory"], "Usage"))
    first = usage.filter(pc.less(usage["ChargePeriodStart"], day_two))
    listed = {g["id"] for g in growth}
    late = set(usage.column("ResourceId").to_pylist()) - set(first.column("ResourceId").to_pylist())
    late -= planted | {None}
    assert late <= listed, sorted(late - listed)[:5]
    apps = [g for g in growth if g["kind"] == "new_app"]
    assert apps and all(any(s.startswith("model=") for s in g["scopes"]) for g in apps)


def test_short_spans_plant_only_what_fits() -> None:
    for months in (1, 2, 3):
        spec = DemoSpec(rows=5_000, months=months)
        plan = build_plan(spec)
        for p in plan.planted:
            assert p.start >= 42 * 24 and p.stop <= plan.hours
