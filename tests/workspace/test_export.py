"""FOCUS export: gated by conformance, and what it writes ingests back to the same lake."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from costcouncil.errors import ExportError
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import ingest
from costcouncil.workspace.reports.export import export_focus
from tests.conftest import lake_rows
from tests.factories import Charge, write_focus

ROWS = [Charge(cost=str(d * 1.5), day=d, tags={"team": "vision"}) for d in range(1, 8)]
NOV = [Charge(cost="4", period="2026-11", day=2)]


@pytest.fixture
def stocked(workspace: Workspace, tmp_path: Path) -> Workspace:
    bad = [
        {},
        {},
        {"ChargeFrequency": "Monthly"},
    ]  # kept with a warning; the export gate refuses it
    ingest(workspace, [write_focus(tmp_path / "bill.csv", ROWS + NOV, overrides=bad)])
    return workspace


def test_conformant_rows_export_without_force(stocked: Workspace, tmp_path: Path) -> None:
    result = export_focus(stocked, tmp_path / "nov.parquet", period="2026-11")
    assert result.conformance.ok and result.rows == 1


def test_nonconformant_rows_are_refused_and_nothing_is_written(
    stocked: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(ExportError) as caught:
        export_focus(stocked, out, period="2026-10")
    assert "FOCUS-ChargeFrequency-AllowedValues: 1 row" in str(caught.value)
    assert "--force" in str(caught.value)
    assert not out.exists()


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_export_ingests_back_to_the_same_rows(
    stocked: Workspace, tmp_path: Path, name: str
) -> None:
    result = export_focus(stocked, tmp_path / name, period="2026-10", force=True)
    assert result.rows == len(ROWS) and not result.conformance.ok
    again = Workspace.init(tmp_path / "again")
    [outcome] = ingest(again, [result.path])
    assert (outcome.status, outcome.format, outcome.rejected) == ("ingested", "focus-1.2", 0)
    query = (
        "SELECT ChargePeriodStart::VARCHAR, BilledCost, Tags, ServiceCategory FROM costs "
        "ORDER BY ChargePeriodStart"
    )
    original = lake_rows(
        stocked, query.replace("FROM costs", "FROM costs WHERE BillingPeriodStart < '2026-11-01'")
    )
    assert lake_rows(again, query) == original


def test_csv_timestamps_are_iso_utc(stocked: Workspace, tmp_path: Path) -> None:
    out = export_focus(stocked, tmp_path / "o.csv.gz", with_extensions=True, force=True).path
    with gzip.open(out, "rt") as f:
        first = next(csv.DictReader(f))
    assert first["ChargePeriodStart"] == "2026-10-01T00:00:00Z"
    assert first["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    assert first["x_source_row"] == "1"


def test_export_needs_a_known_suffix(stocked: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"name the file \.csv, \.csv\.gz or \.parquet"):
        export_focus(stocked, tmp_path / "out.xlsx")
