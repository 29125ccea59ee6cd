"""build_inputs: the policy engine's tables from a real allocated lake.

The small organisation of ``tests/web/org.py`` has figures small enough to work out by hand (a GPU
node billed 24.00 an hour with 8 GPUs in the rules, jobs of 4 + 2 GPUs for an hour in September
and 4 + 1 in October, a 12.00 LLM invoice a day split over two teams' equal requests); a small demo
organisation checks the same invariants at scale and the end-to-end required_tags finding against
its ground truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.budgets import Amount, Budget
from costcouncil.demo import DemoSpec, write_demo
from costcouncil.engine.duckdb import connect
from costcouncil.policy import SCHEMAS, Inputs, evaluate, parse_policies
from costcouncil.schema.sql import lit
from costcouncil.workspace.allocate.run import RULES_FILE, AllocateOptions, allocate
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.demo.run import demo_rules_text
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import ingest_usage
from costcouncil.workspace.policy.inputs import build_inputs
from costcouncil.workspace.policy.inputs_costs import tag_keys_of
from tests.factories import Charge, write_focus
from tests.web.org import RULES, build_org
from tests.web.org import _llm as org_llm

OCT_31 = date(2026, 10, 31)
EXTRA_KEYS = ("model_version", "customer")


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_org(tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="module")
def org_inputs(org: Workspace) -> Inputs:
    return build_inputs(org, as_of=OCT_31)


@dataclass(frozen=True)
class Demo:
    workspace: Workspace
    truth: dict[str, Any]
    as_of: date


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    spec = DemoSpec(rows=8_000)
    write_demo(folder, spec)
    ws = Workspace.init(folder, name="demo")
    assert all(
        not o.failed
        for o in ingest(ws, sorted((folder / "exports").rglob("*.csv*")), IngestOptions())
    )
    for kind in ("jobs", "llm"):
        ingest_usage(ws, kind, [folder / "usage" / f"{kind}.parquet"])
    (folder / RULES_FILE).write_text(demo_rules_text())
    allocate(ws, AllocateOptions())
    truth = json.loads((folder / "ground_truth.json").read_text())
    return Demo(ws, truth, _last_day(ws))


# -- oracles: read the lake directly ---------------------------------------------------------------


def _files(ws: Workspace, dataset: str) -> list[str]:
    manifest = ws.lake.read()
    return [
        str(ws.lake.root / f)
        for s in manifest.slices.values()
        if s.dataset == dataset
        for f in s.files
    ]


def _query(sql: str) -> list[tuple[Any, ...]]:
    con = connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _listed(files: list[str]) -> str:
    return "[" + ", ".join(lit(f) for f in files) + "]"


def _allocated_total(ws: Workspace, as_of: date) -> Decimal:
    """Σ EffectiveCost of the lake's allocation rows charged up to ``as_of`` (USD)."""
    files = _listed(_files(ws, "allocations"))
    rows = _query(
        f"SELECT SUM(EffectiveCost) FROM read_parquet({files}, union_by_name = true) "
        f"WHERE BillingCurrency = 'USD' AND CAST(ChargePeriodStart AS DATE) <= DATE '{as_of}'"
    )
    return Decimal(rows[0][0])


def _lake_jobs(ws: Workspace, as_of: date) -> int:
    """Distinct jobs (source, id) in the lake's usage that started by the end of ``as_of``."""
    files = _listed(_files(ws, "jobs"))
    rows = _query(
        f"SELECT COUNT(DISTINCT (source, job_id)) FROM read_parquet({files}, union_by_name = true) "
        f"WHERE CAST(start AS DATE) <= DATE '{as_of}'"
    )
    return int(rows[0][0])


def _last_day(ws: Workspace) -> date:
    files = _listed(_files(ws, "costs"))
    return _query(f"SELECT CAST(max(ChargePeriodStart) AS DATE) FROM read_parquet({files})")[0][0]  # type: ignore[no-any-return]


def _rows(table: pa.Table, **where: Any) -> list[dict[str, Any]]:
    return [r for r in table.to_pylist() if all(r[k] == v for k, v in where.items())]


def _total(table: pa.Table) -> Decimal:
    return Decimal(pc.sum(table["cost"]).as_py() or 0)


# -- every table, exactly typed --------------------------------------------------------------------


def _assert_schemas(inputs: Inputs) -> None:
    for name, schema in SCHEMAS.items():
        table = getattr(inputs, name)
        assert table.schema.names[: len(schema)] == schema.names, name
        for f in schema:
            assert table.schema.field(f.name).type == f.type, (name, f.name)
    assert inputs.costs.schema.names[len(SCHEMAS["costs"]) :] == list(EXTRA_KEYS)


def test_org_tables_have_the_engine_schemas_and_the_other_owner_keys(org_inputs: Inputs) -> None:
    _assert_schemas(org_inputs)
    assert org_inputs.costs.num_rows and org_inputs.gpu.num_rows and org_inputs.jobs.num_rows


def test_costs_total_is_the_lakes_allocated_total_for_the_same_days(org: Workspace,
                                                                    org_inputs: Inputs) -> None:  # fmt: skip
    # September: 60.00 a day for 3 days and a 6.00 fee; October: 77.00 a day and the fee
    assert _total(org_inputs.costs) == _allocated_total(org, OCT_31) == Decimal("423.00")
    early = build_inputs(org, as_of=date(2026, 9, 2))
    assert _total(early.costs) == _allocated_total(org, date(2026, 9, 2))
    assert max(early.costs["day"].to_pylist()) == date(2026, 9, 2)


def test_an_untagged_resource_lacks_every_key_whoever_the_rules_gave_it_to(
    org_inputs: Inputs,
) -> None:
    costs = org_inputs.costs
    assert {tuple(r["tag_keys"]) for r in _rows(costs, resource_id="i-untagged")} == {()}
    assert {tuple(r["tag_keys"]) for r in _rows(costs, resource_id="i-web")} == {
        ("model", "project", "team")
    }
    # the GPU node's only tag is `cluster`: its usage-split slices have owners but the bill lacks them
    gpu_rows = _rows(costs, resource_id="i-gpu1")
    assert {r["team"] for r in gpu_rows} == {"vision", "search", "__idle__"}
    assert {tuple(r["tag_keys"]) for r in gpu_rows} == {("cluster",)}
    # the LLM invoice (no tags) split over request logs
    assert {tuple(r["tag_keys"]) for r in _rows(costs, resource_id="proj_1")} == {()}


def test_gpu_node_capacity_busy_cost_and_owner_per_day(org_inputs: Inputs) -> None:
    rows = org_inputs.gpu.to_pylist()
    assert [r["day"].isoformat() for r in rows] == [
        "2026-09-01", "2026-09-02", "2026-09-03", "2026-10-01", "2026-10-02", "2026-10-03"
    ]  # fmt: skip
    for r in rows:
        # one billed hour a day at capacity 8 (rules.yaml); jobs 4 + 2 GPUs (Sep), 4 + 1 (Oct)
        assert r["resource_id"] == "i-gpu1" and r["capacity_hours"] == 8.0
        assert r["busy_hours"] == (6.0 if r["day"].month == 9 else 5.0)
        assert r["cost"] == Decimal("24")
        assert r["team"] is None  # the tag `cluster` names no owner: __unallocated__ to the engine


def test_jobs_are_the_lakes_with_their_runs_allocated_cost(
    org: Workspace, org_inputs: Inputs
) -> None:
    jobs = org_inputs.jobs
    assert jobs.num_rows == _lake_jobs(org, OCT_31) == 12
    # 24.00 an hour over 8 GPUs: 3.00 per GPU-hour
    cost = {r["job_id"]: r["cost"] for r in jobs.to_pylist()}
    assert (
        cost["t91"] == Decimal("12")
        and cost["i91"] == Decimal("6")
        and cost["i101"] == Decimal("3")
    )
    assert _rows(jobs, job_id="t92")[0]["team"] == "vision"


def test_llm_cost_is_the_allocated_invoice_in_the_window(
    org: Workspace, org_inputs: Inputs
) -> None:
    # the 30 days ending 31 Oct hold 2 and 3 October: 12.00 a day, equal requests for two teams
    rows = org_inputs.llm.to_pylist()
    assert [(r["day"].day, r["team"]) for r in rows] == [
        (2, "search"),
        (2, "vision"),
        (3, "search"),
        (3, "vision"),
    ]
    assert {r["cost"] for r in rows} == {Decimal("6")}
    assert {(r["requests"], r["input_tokens"], r["output_tokens"]) for r in rows} == {
        (100, 1_000_000, 100_000)
    }
    everything = build_inputs(org, as_of=OCT_31, days=400).llm
    assert everything.num_rows == 12 and _total(everything) == Decimal("72")


def test_llm_cost_without_an_invoice_split_is_the_usages_priced_cost(tmp_path: Path) -> None:
    ws = build_org(tmp_path)
    rules = RULES.replace(
        "  - name: llm\n    kind: usage_split\n    usage: llm\n", "  - name: llm\n    kind: tag\n"
    )
    (ws.root / RULES_FILE).write_text(
        rules.replace("    on: {ResourceId: attributes.project_id}\n", "")
    )
    allocate(ws, AllocateOptions())
    rows = build_inputs(ws, as_of=OCT_31).llm.to_pylist()
    priced = {r["cost"] for r in rows}
    # the catalog prices 1M input and 100k output tokens of gpt-4o alike for every row, not as 6.00
    assert len(rows) == 4 and len(priced) == 1 and priced.pop() not in (Decimal(0), Decimal(6))


def test_budgets_current_period_as_the_budget_service_reads_it(tmp_path: Path) -> None:
    ws = build_org(tmp_path)
    assert build_inputs(ws, as_of=OCT_31).budgets.num_rows == 0
    store = BudgetStore.open(ws)
    store.save(ws, Budget("vision-monthly", "team=vision", Amount("fixed", Decimal(50)), team="vision",
                          owner="ana@example.com"))  # fmt: skip
    store.close()
    inputs = build_inputs(ws, as_of=OCT_31)
    (row,) = inputs.budgets.to_pylist()
    october = inputs.costs.filter(pc.and_(pc.equal(inputs.costs["team"], "vision"),
                                          pc.greater_equal(inputs.costs["day"], date(2026, 10, 1))))  # fmt: skip
    assert (
        row["name"] == "vision-monthly"
        and row["team"] == "vision"
        and row["owner"] == "ana@example.com"
    )
    assert row["amount"] == Decimal(50) and row["spent"] == _total(october) > 50
    assert (row["window_start"], row["window_end"]) == (date(2026, 10, 1), date(2026, 11, 1))


# -- tag keys --------------------------------------------------------------------------------------

SPELLINGS = {
    "team": ["team", "Team", "TEAM", "owner"],
    "project": ["project", "Project", "PROJECT"],
}
_values = st.sampled_from(["", "  ", "vision", "A", None, 3])


@given(st.dictionaries(st.sampled_from(["team", "Team", "owner", "project", "PROJECT", "cluster", "cost-center"]),
                       _values))  # fmt: skip
def test_tag_keys_are_the_keys_with_a_value_under_any_spelling(tags: dict[str, Any]) -> None:
    found = tag_keys_of(json.dumps(tags), SPELLINGS)
    given_ = {k for k, v in tags.items() if v is not None and str(v).strip()}
    for key, names in SPELLINGS.items():
        assert (key in found) == bool(given_ & set(names))
    assert set(found) - set(SPELLINGS) == {k for k in given_ if k in ("cluster", "cost-center")}
    assert found == sorted(found)


@pytest.mark.parametrize("text", [None, "", "{}", "null", "[1]", "not json", '"team"'])
def test_no_tag_object_carries_no_keys(text: str | None) -> None:
    assert tag_keys_of(text, SPELLINGS) == []


# -- a small demo organisation ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_inputs(demo: Demo) -> Iterator[Inputs]:
    yield build_inputs(demo.workspace, as_of=demo.as_of)


def test_demo_tables_reconcile_with_the_lake(demo: Demo, demo_inputs: Inputs) -> None:
    _assert_schemas(demo_inputs)
    assert _total(demo_inputs.costs) == _allocated_total(demo.workspace, demo.as_of)
    assert demo_inputs.jobs.num_rows == _lake_jobs(demo.workspace, demo.as_of) > 0
    gpu = demo_inputs.gpu
    known = gpu.filter(pc.is_valid(gpu["capacity_hours"]))
    assert known.num_rows == gpu.num_rows > 0
    assert pc.all(pc.less_equal(known["busy_hours"], known["capacity_hours"])).as_py()
    assert pc.sum(known["busy_hours"]).as_py() > 0
    nodes = set(gpu["resource_id"].to_pylist())
    assert set(demo.truth["shared_resources"]) & nodes  # the cluster nodes are GPU nodes


def _ai_resources(ws: Workspace) -> set[str]:
    """Resources whose bill is AI spend by the required_tags defaults: the AI service category, or
    an accelerator in their SKU details."""
    files = _listed(_files(ws, "costs"))
    rows = _query(
        f"SELECT DISTINCT ResourceId FROM read_parquet({files}) WHERE ServiceCategory = "
        "'AI and Machine Learning' OR json_extract_string(SkuPriceDetails, '$.x_Accelerator') IS NOT NULL"
    )
    return {r[0] for r in rows}


def test_required_tags_finds_the_demos_untagged_ai_resources(
    demo: Demo, demo_inputs: Inputs
) -> None:
    policies = parse_policies(
        "version: 1\npolicies:\n  - {name: tags, kind: required_tags, params: {report: [resource]}}\n",
        "policies.yaml",
    )
    found = evaluate(policies, demo_inputs, as_of=demo.as_of, days=400)
    flagged = {v.evidence["resource_id"] for v in found}
    ai = _ai_resources(demo.workspace)
    untagged = {u["resource_id"] for u in demo.truth["untagged"]} & ai
    assert len(untagged) >= 3
    assert untagged <= flagged
    # mis-tagged resources (Team, owner) carry the keys once aliases are read
    assert not flagged & {m["resource_id"] for m in demo.truth["mistagged"]}


def test_a_lake_not_yet_allocated_has_usage_but_no_cost_tables(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "acme", name="acme")
    write_focus(tmp_path / "bill.csv", [Charge(cost="3.00", period="2026-10", day=2)])
    ingest(ws, [tmp_path / "bill.csv"], IngestOptions())
    ingest_usage(ws, "llm", [org_llm(tmp_path / "llm.parquet")])
    inputs = build_inputs(ws, as_of=OCT_31, days=400)
    _assert_schemas(inputs)
    assert inputs.costs.num_rows == inputs.gpu.num_rows == inputs.jobs.num_rows == 0
    assert inputs.llm.num_rows == 12 and pc.all(pc.greater(inputs.llm["cost"], 0)).as_py()
