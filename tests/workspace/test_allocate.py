"""allocate / explain / report --allocated / export --allocated on a real workspace lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costcouncil.errors import ConfigError, ValidationError
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.allocate.explain import explain
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import ingest_usage
from costcouncil.workspace.reports.export import export_focus
from costcouncil.workspace.reports.report import report
from tests.factories import Charge, write_focus

RULES = """\
version: 1
rules:
  - name: tags
    kind: tag
  - name: gpu
    kind: usage_split
    usage: jobs
    match: {ResourceId: "i-gpu*"}
    capacity: 8
  - name: llm
    kind: usage_split
    usage: llm
    match: {ServiceName: OpenAI API}
    on: {ResourceId: attributes.project_id}
  - name: support
    kind: shared_pool
    match: {ServiceName: AWS Support}
    by: even
"""


def _t(hour: int, day: int = 1) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def _jobs(path: Path) -> Path:
    rows = [
        {"job_id": "a", "source": "mlflow", "resource_id": "i-gpu1", "start": _t(0), "end": _t(1), "accelerator_count": 4.0, "team": "vision", "model": "detector-v3", "run": "r1"},
        {"job_id": "b", "source": "mlflow", "resource_id": "i-gpu1", "start": _t(0), "end": _t(1), "accelerator_count": 2.0, "team": "search", "model": "ranker", "run": "r2"},
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=JOBS_SCHEMA), path)
    return path


def _llm(path: Path) -> Path:
    rows = [
        {"request_id": f"q{i}", "source": "litellm", "provider": "openai", "model": "gpt-4o", "time": _t(0),
         "input_tokens": 1_000_000 * (i + 1), "output_tokens": 100_000, "request_count": 10, "team": team,
         "attributes": json.dumps({"project_id": "proj_1"})}
        for i, team in enumerate(["assistant", "search"])
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=LLM_SCHEMA), path)
    return path


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    charges = [
        Charge(cost="10.00", resource="i-web", tags={"Team": "Vision "}),
        Charge(cost="5.00", resource="i-untagged"),
        Charge(cost="30.00", resource="i-gpu1", tags={"team": "platform"}),
        Charge(cost="20.00", resource="proj_1", service="OpenAI API", category="AI and Machine Learning", provider="OpenAI"),
        Charge(cost="1.00", resource="support", service="AWS Support", category="Other"),
    ]  # fmt: skip
    write_focus(tmp_path / "bill.csv", charges)
    assert ingest(workspace, [tmp_path / "bill.csv"], IngestOptions())[0].status == "ingested"
    ingest_usage(workspace, "jobs", [_jobs(tmp_path / "jobs.parquet")])
    ingest_usage(workspace, "llm", [_llm(tmp_path / "llm.parquet")])
    (workspace.root / "rules.yaml").write_text(RULES)
    return workspace


def _by_team(ws: Workspace) -> dict[str, Decimal]:
    result = report(ws, ["team"], "2026-10", "billed", allocated=True)
    return {str(r[0]): Decimal(str(r[2])) for r in result.rows}


def test_allocate_conserves_and_attributes(ws: Workspace) -> None:
    outcome = allocate(ws, AllocateOptions())
    assert outcome.written and outcome.periods == ["2026-10"]
    assert outcome.totals["BilledCost"] == Decimal("66.00")
    teams = _by_team(ws)
    assert sum(teams.values()) == Decimal("66.00")
    # GPU node: 4 + 2 of 8 GPUs for the hour -> 15.00 / 7.50 / idle 7.50
    assert teams["__idle__"] == Decimal("7.50")
    assert teams["__unallocated__"] == Decimal("5.00")
    assert teams["vision"] > Decimal("25.00")  # 10.00 tag + 15.00 GPU + a share of support and LLM
    assert outcome.coverage("BilledCost") == pytest.approx((66 - 12.5) / 66)


def test_report_by_team_and_model_and_explain(ws: Workspace) -> None:
    allocate(ws, AllocateOptions())
    rows = report(ws, ["team", "model"], "2026-10", "billed", allocated=True).rows
    assert ("vision", "detector-v3", "USD", Decimal("15.000000000000"), 1) in rows
    e = explain(ws, {"team": "vision", "model": "detector-v3"}, "2026-10", "BilledCost")
    assert e.total == Decimal("15.00") and e.rows == 1
    [top] = e.allocations
    assert top["x_rule"] == "gpu" and top["x_weight"] == pytest.approx(0.5)
    assert [u["id"] for u in top["usage"]] == ["a"]


def test_llm_invoice_split_by_priced_tokens_and_reconciled(ws: Workspace) -> None:
    outcome = allocate(ws, AllocateOptions())
    teams = _by_team(ws)
    # gpt-4o input 2.50/M, output 10/M: assistant 2.5 + 1 = 3.5, search 5 + 1 = 6 -> 20.00 split 7:12
    # support (1.00, by: even) goes to the period's owners vision, search, assistant: the leftover
    # cent of 0.33 × 3 to the smallest owner tuple, assistant
    assert teams["assistant"] == Decimal("7.37") + Decimal("0.34")
    [row] = [r for r in outcome.reconciliation if r["x_rule"] == "llm" and r["model"] == "gpt-4o"]
    assert row["invoiced"] == Decimal("20.00") and row["priced"] == Decimal("9.5")
    assert row["gap"] == Decimal("10.5") and row["requests"] == 20


def test_dry_run_diffs_without_writing(ws: Workspace, tmp_path: Path) -> None:
    allocate(ws, AllocateOptions())
    before = ws.lake.manifest_path.read_text()
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(RULES.replace("    by: even", "    by: weights\n    weights: {vision: 1}"))
    outcome = allocate(ws, AllocateOptions(rules_path=proposed, dry_run=True))
    assert not outcome.written and ws.lake.manifest_path.read_text() == before
    deltas = {d.owner["team"]: d.delta for d in outcome.diff}
    assert deltas == {
        "vision": Decimal("0.67"),
        "assistant": Decimal("-0.34"),
        "search": Decimal("-0.33"),
    }


def test_price_change_restates_and_is_recorded(ws: Workspace) -> None:
    allocate(ws, AllocateOptions())
    (ws.root / "prices.yaml").write_text(
        "version: 1\noverrides:\n  - provider: openai\n    model: gpt-4o\n    from: 2026-09-01\n"
        "    prices: {input: 10, output: 10}\n"
    )
    outcome = allocate(ws, AllocateOptions())
    assert {d.owner["team"] for d in outcome.diff} == {"assistant", "search"}
    run = ws.lake.read().runs[-1]
    assert run["restated_owners"] == 2 and run["periods"] == ["2026-10"]


def test_bad_rules_report_every_problem_with_lines(ws: Workspace) -> None:
    (ws.root / "rules.yaml").write_text(
        "version: 1\nrules:\n  - name: a\n    kind: usage_split\n    usage: jobs\n    weight: gpu_hours\n"
        "  - name: a\n    kind: tag\n    keys: [squad]\n"
    )
    with pytest.raises(ConfigError) as info:
        allocate(ws, AllocateOptions())
    text = str(info.value)
    assert "rules.yaml:6: rules[0].weight" in text and "did you mean 'gpu_seconds'" in text
    assert "rules.yaml:7: rules[1].name: duplicate rule name 'a'" in text
    assert ws.lake.read().data_files("allocations") == []


def test_cross_reference_problems_are_listed_together(ws: Workspace) -> None:
    (ws.root / "rules.yaml").write_text(
        "version: 1\nrules:\n  - name: a\n    kind: tag\n    keys: [squad]\n  - name: a\n    kind: idle\n"
        "    policy: keep\n    of: [nope]\n"
    )
    with pytest.raises(ConfigError) as info:
        allocate(ws, AllocateOptions())
    text = str(info.value)
    assert "3 problem(s)" in text and "rules.yaml:6: rules[1].name" in text
    assert "'squad' is not an owner key" in text and "'nope' is not a usage_split rule" in text


def test_unknown_column_in_match_is_named(ws: Workspace) -> None:
    (ws.root / "rules.yaml").write_text(
        "version: 1\nrules:\n  - name: r\n    kind: resource\n    match: {ResourceID: x}\n    set: {team: a}\n"
    )
    with pytest.raises(ConfigError, match="has no column 'ResourceID' — did you mean 'ResourceId'"):
        allocate(ws, AllocateOptions())


def test_export_allocated_passes_conformance(ws: Workspace, tmp_path: Path) -> None:
    allocate(ws, AllocateOptions())
    result = export_focus(ws, tmp_path / "out.parquet", "2026-10", allocated=True)
    assert result.conformance.ok
    table = pq.read_table(tmp_path / "out.parquet")
    assert {"x_team", "x_rule", "x_method", "x_weight"} <= set(table.column_names)
    assert sum(table.column("BilledCost").to_pylist()) == Decimal("66.00")


def test_usage_file_with_bad_cells_is_refused_whole(workspace: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "jobs.csv"
    bad.write_text(
        "job_id,source,start,accelerator_count\nj1,csv,2026-10-01T00:00:00Z,2\nj2,csv,yesterday,x\n"
    )
    with pytest.raises(ValidationError) as info:
        ingest_usage(workspace, "jobs", [bad])
    text = str(info.value)
    assert "row 2, column start = 'yesterday'" in text and "column accelerator_count = 'x'" in text
    assert workspace.lake.read().data_files("jobs") == []


def test_allocate_unknown_period_is_refused(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="no costs for period"):
        allocate(ws, AllocateOptions(periods=("2025-01",)))


def test_cli_allocate_dry_run_explain_and_report(ws: Workspace) -> None:
    from typer.testing import CliRunner

    from costcouncil.cli.main import app

    runner = CliRunner()
    done = runner.invoke(app, ["allocate", str(ws.root), "--period", "2026-10", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["written"] and summary["totals"]["BilledCost"] == "66.000000000000"
    dry = runner.invoke(app, ["allocate", str(ws.root), "--dry-run"])
    assert dry.exit_code == 0 and "Dry run (nothing written)" in dry.output
    traced = runner.invoke(
        app, ["explain", str(ws.root), "--team", "vision", "--owner", "model=detector-v3", "--json"]
    )
    assert traced.exit_code == 0 and json.loads(traced.output)["total"] == "15.000000000000"
    table = runner.invoke(app, ["report", str(ws.root), "--by", "team,model", "--allocated"])
    assert table.exit_code == 0 and "detector-v3" in table.output
    bad = runner.invoke(app, ["explain", str(ws.root), "--owner", "squad=x"])
    assert bad.exit_code == 1
