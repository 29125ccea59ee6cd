"""The command line end to end: init, ingest, status, report, export, formats, errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from tests.factories import Charge, total, write_focus

runner = CliRunner()
TAGGED = [
    Charge(cost="10", day=1, tags={"team": "vision", "project": "detector"}),
    Charge(cost="5", day=2, tags={"Team": "Vision ", "project": "detector"}),
    Charge(cost="2.5", day=3, tags={"owner": "search"}),
    Charge(cost="1", day=4),
    Charge(cost="4", period="2026-11", day=1, tags={"team": "search"}),
]


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    assert run("init", root)[0] == 0
    path = write_focus(tmp_path / "bill.csv.gz", TAGGED)
    code, out = run("ingest", root, path)
    assert code == 0, out
    return root


def test_init_writes_the_workspace(tmp_path: Path) -> None:
    code, out = run("init", tmp_path / "acme", "--name", "Acme AI", "--currency", "EUR")
    assert code == 0 and "Workspace Acme AI" in out
    config = (tmp_path / "acme" / "costcouncil.yaml").read_text()
    assert "name: Acme AI" in config and "currency: EUR" in config
    assert (tmp_path / "acme" / "lake").is_dir()


def test_status_json(ws: Path) -> None:
    code, out = run("status", ws, "--json")
    assert code == 0
    data = json.loads(out)
    assert [(p["period"], p["rows"], p["billed"]["USD"]) for p in data["periods"]] == [
        ("2026-10", 4, "18.500000000000"),
        ("2026-11", 1, "4.000000000000"),
    ]


def test_report_by_owner_key_normalises_tags_and_aliases(ws: Path) -> None:
    code, out = run("report", ws, "--by", "x_team", "--period", "2026-10", "--json")
    assert code == 0
    rows = {r["x_team"]: Decimal(r["BilledCost"]) for r in json.loads(out)["rows"]}
    assert rows == {"vision": Decimal(15), "search": Decimal("2.5"), "(none)": Decimal(1)}


def test_report_by_focus_column_and_raw_tag(ws: Path) -> None:
    code, out = run("report", ws, "--by", "servicecategory,tag:project", "--json")
    assert code == 0
    data = json.loads(out)
    assert Decimal(data["totals"]["USD"]) == total(TAGGED)
    assert {(r["ServiceCategory"], r["tag:project"]) for r in data["rows"]} == {
        ("Compute", "detector"),
        ("Compute", "(none)"),
    }


def test_report_table_and_unknown_key(ws: Path) -> None:
    code, out = run("report", ws, "--by", "period")
    assert code == 0 and "2026-10" in out and "Total: 22.50 USD" in out
    code, out = run("report", ws, "--by", "Servicecategori")
    assert code == 1 and "Did you mean ServiceCategory" in out


def test_ingest_reports_refused_files_with_exit_1(ws: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b\n1;2\n")
    code, out = run("ingest", ws, bad, "--json")
    assert code == 1
    [outcome] = json.loads(out[out.index("[") :])
    assert outcome["status"] == "refused" and "bad.csv, row 0" in outcome["error"]


def test_ingest_of_a_file_whose_every_row_is_rejected_exits_1(ws: Path, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "naive.csv", TAGGED[:2])
    path.write_text(path.read_text().replace("T00:00:00Z", " 00:00:00").replace("T01:00:00Z", ""))
    code, out = run("ingest", ws, path, "--json")
    assert code == 1
    [outcome] = json.loads(out[out.index("[") :])
    assert (outcome["status"], outcome["rows"], outcome["rejected"]) == ("rejected", 0, 2)
    assert "--assume-utc" in outcome["error"]
    code, out = run("ingest", ws, path)
    assert code == 1 and "rejected" in out and "Run it again with --assume-utc" in out
    code, out = run("ingest", ws, path, "--assume-utc")
    assert code == 0 and "ingested" in out


@pytest.mark.shared_data
def test_ingest_of_the_focus_1_0_sample_needs_assume_utc(ws: Path, shared_data: Path) -> None:
    sample = shared_data / "billing" / "focus_1.0_sample.csv"
    code, out = run("ingest", ws, sample)
    assert code == 1 and "rejected" in out and "Run it again with --assume-utc" in out
    code, out = run("ingest", ws, sample, "--assume-utc")
    assert code == 0 and "ingested" in out


def test_not_a_workspace(tmp_path: Path) -> None:
    code, out = run("status", tmp_path)
    assert code == 1 and "not a CostCouncil workspace" in out and "costcouncil init" in out


def test_formats_lists_every_converter() -> None:
    code, out = run("formats")
    assert code == 0
    for name in ("focus-1.2", "aws-cur", "azure-ea", "oci-cost-report", "gcp-billing"):
        assert name in out


def test_the_installed_entry_point_runs(ws: Path) -> None:
    exe = Path(sys.executable).parent / "costcouncil"
    result = subprocess.run(
        [str(exe), "status", str(ws)], capture_output=True, text=True, check=True
    )
    assert "2026-10" in result.stdout
