"""``costcouncil status`` after every kind of ingest: costs, usage (own schema and sources),
allocations, and a new empty workspace — in the text and the JSON output."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from tests.factories import Charge, write_focus

runner = CliRunner()
CASES = Path(__file__).resolve().parents[1] / "cases" / "usage"
CHARGES = [
    Charge(cost="10", day=1, resource="i-gpu1", tags={"team": "vision"}),
    Charge(cost="5", day=2, tags={"team": "search"}),
    Charge(cost="4", period="2026-11", day=1, tags={"team": "search"}),
]
RULES = "version: 1\nrules:\n  - name: tags\n    kind: tag\n"


def run(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def status_json(ws: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run("status", ws, "--json"))
    return data


def _jobs_csv(path: Path) -> Path:
    rows = [
        {"job_id": "j1", "source": "mlflow", "resource_id": "i-gpu1", "team": "vision",
         "start": "2026-10-01T00:00:00Z", "end": "2026-10-01T02:00:00Z", "accelerator_count": "4"},
        {"job_id": "j2", "source": "mlflow", "resource_id": "i-gpu1", "team": "search",
         "start": "2026-10-03T06:30:00Z", "end": "2026-10-03T07:00:00Z", "accelerator_count": "2"},
    ]  # fmt: skip
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    run("init", root)
    run("ingest", root, write_focus(tmp_path / "bill.csv", CHARGES))
    return root


def test_an_empty_workspace_says_each_section_is_empty(tmp_path: Path) -> None:
    run("init", tmp_path / "new")
    out = run("status", tmp_path / "new")
    assert "Costs: none ingested yet" in out
    assert "Usage: none ingested" in out and "Allocations: none" in out
    data = status_json(tmp_path / "new")
    assert (data["periods"], data["usage"], data["allocations"], data["files"]) == ([], [], [], 0)


def test_costs_only(ws: Path) -> None:
    data = status_json(ws)
    assert [(p["period"], p["provider"], p["rows"], p["billed"]) for p in data["periods"]] == [
        ("2026-10", "aws", 2, {"USD": "15.000000000000"}),
        ("2026-11", "aws", 1, {"USD": "4.000000000000"}),
    ]
    assert (data["usage"], data["allocations"]) == ([], [])
    out = run("status", ws)
    assert "Costs by period" in out and "15.00 USD" in out and "Usage: none ingested" in out


def test_costs_and_jobs_in_our_own_schema(ws: Path, tmp_path: Path) -> None:
    run("ingest", ws, _jobs_csv(tmp_path / "jobs.csv"), "--usage", "jobs")
    data = status_json(ws)
    assert [p["period"] for p in data["periods"]] == ["2026-10", "2026-11"]
    [usage] = data["usage"]
    assert (usage["kind"], usage["source"], usage["files"], usage["rows"]) == (
        "jobs",
        "--usage",
        1,
        2,
    )
    assert (usage["start"], usage["end"]) == (
        "2026-10-01T00:00:00+00:00",
        "2026-10-03T06:30:00+00:00",
    )
    out = run("status", ws)
    assert "Usage" in out and "2026-10-01 00:00" in out and "2026-10-03 06:30" in out


def test_costs_and_llm_from_a_source(ws: Path) -> None:
    """Was: KeyError 'billed' — a source's usage slice was summed as if it were a cost slice."""
    run("ingest", ws, CASES / "litellm" / "spend_logs.csv", "--source", "litellm", "--assume-utc")
    data = status_json(ws)
    assert [(p["period"], p["provider"]) for p in data["periods"]] == [
        ("2026-10", "aws"),
        ("2026-11", "aws"),
    ]
    assert [(u["kind"], u["source"], u["files"], u["rows"]) for u in data["usage"]] == [
        ("llm", "litellm", 1, 4)
    ]
    assert data["usage"][0]["start"].startswith("2024-11-01T10:00:00")
    out = run("status", ws)
    assert "litellm" in out and "2024-11-01 10:00" in out


def test_usage_of_two_kinds_and_sources_is_one_line_each(ws: Path, tmp_path: Path) -> None:
    run("ingest", ws, CASES / "slurm" / "sacct.txt", "--source", "slurm", "--assume-utc")
    run("ingest", ws, _jobs_csv(tmp_path / "jobs.csv"), "--usage", "jobs")
    run("ingest", ws, CASES / "litellm" / "spend_logs.csv", "--source", "litellm", "--assume-utc")
    usage = status_json(ws)["usage"]
    assert [(u["kind"], u["source"], u["rows"]) for u in usage] == [
        ("jobs", "--usage", 2),
        ("jobs", "slurm", 6),
        ("llm", "litellm", 4),
    ]


def test_after_allocate(ws: Path, tmp_path: Path) -> None:
    run("ingest", ws, _jobs_csv(tmp_path / "jobs.csv"), "--usage", "jobs")
    (ws / "rules.yaml").write_text(RULES)
    run("allocate", ws)
    data = status_json(ws)
    assert [p["period"] for p in data["periods"]] == ["2026-10", "2026-11"]
    assert all(p["provider"] == "aws" for p in data["periods"])
    assert [u["kind"] for u in data["usage"]] == ["jobs"]
    allocations = data["allocations"]
    assert [(a["period"], a["rows"]) for a in allocations] == [("2026-10", 2), ("2026-11", 1)]
    run_ids = {a["run"] for a in allocations}
    assert len(run_ids) == 1 and all(run_ids)
    out = run("status", ws)
    assert "Allocations" in out and next(iter(run_ids)) in out
