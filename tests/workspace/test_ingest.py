"""Ingest into the lake: totals, idempotence, restatement, rejects, strict mode, traceability."""

from __future__ import annotations

import csv
import os
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costcouncil.errors import WorkspaceError
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.conftest import lake_rows
from tests.factories import Charge, restated, total, write_focus

OCT = [Charge(cost="10.50", day=d, tags={"team": "vision"}) for d in range(1, 6)]
NOV = [Charge(cost="3.25", period="2026-11", day=d) for d in range(1, 4)]


def test_ingests_focus_rows_with_exact_totals(workspace: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "aws.csv", OCT + NOV)
    [outcome] = ingest(workspace, [path])
    assert (outcome.status, outcome.format, outcome.rows, outcome.rejected) == (
        "ingested",
        "focus-1.2",
        8,
        0,
    )
    assert lake_rows(workspace) == [(8, total(OCT + NOV))]
    periods = sorted(s.period for s in workspace.lake.read().slices.values())
    assert periods == ["2026-10", "2026-11"]


def test_reingesting_the_same_file_is_a_no_op(workspace: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "aws.csv.gz", OCT)
    ingest(workspace, [path])
    before = workspace.lake.manifest_path.read_text()
    [again] = ingest(workspace, [path])
    assert again.status == "already ingested"
    assert workspace.lake.manifest_path.read_text() == before
    assert lake_rows(workspace) == [(5, total(OCT))]


def test_newer_export_replaces_only_its_period(workspace: Workspace, tmp_path: Path) -> None:
    first = write_focus(tmp_path / "v1.csv", OCT + NOV)
    ingest(workspace, [first], IngestOptions(as_of=datetime(2026, 11, 2, tzinfo=UTC)))
    newer = write_focus(tmp_path / "v2.csv", restated(OCT, "2"))
    [outcome] = ingest(workspace, [newer], IngestOptions(as_of=datetime(2026, 11, 5, tzinfo=UTC)))
    assert outcome.status == "ingested"
    by_period = lake_rows(
        workspace,
        "SELECT strftime(BillingPeriodStart, '%Y-%m') p, "
        "sum(BilledCost) FROM costs GROUP BY p ORDER BY p",
    )
    assert by_period == [("2026-10", total(OCT) * 2), ("2026-11", total(NOV))]


def test_older_export_does_not_replace_a_newer_one(workspace: Workspace, tmp_path: Path) -> None:
    newer = write_focus(tmp_path / "v2.csv", restated(OCT, "2"))
    ingest(workspace, [newer], IngestOptions(as_of=datetime(2026, 11, 5, tzinfo=UTC)))
    older = write_focus(tmp_path / "v1.csv", OCT)
    [outcome] = ingest(workspace, [older], IngestOptions(as_of=datetime(2026, 11, 2, tzinfo=UTC)))
    assert outcome.status == "superseded"
    assert lake_rows(workspace) == [(5, total(OCT) * 2)]


def test_parts_of_one_export_in_one_batch_are_kept_together(
    workspace: Workspace, tmp_path: Path
) -> None:
    a = write_focus(tmp_path / "part-1.csv", OCT[:2])
    b = write_focus(tmp_path / "part-2.csv", OCT[2:])
    ingest(workspace, [a, b])
    assert lake_rows(workspace) == [(5, total(OCT))]
    [s] = workspace.lake.read().slices.values()
    assert len(s.export) == 2 and Decimal(s.totals["USD"]["billed"]) == total(OCT)


def test_bad_rows_go_to_rejects_and_good_rows_are_kept(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_focus(
        tmp_path / "mixed.csv",
        OCT,
        overrides=[{}, {"BilledCost": "twelve"}, {}, {"Tags": "{team: x"}],
    )
    [outcome] = ingest(workspace, [path])
    assert (outcome.rows, outcome.rejected) == (3, 2)
    assert lake_rows(workspace) == [(3, total(OCT) - Decimal("21.00"))]
    assert outcome.rejects_path is not None
    with outcome.rejects_path.open() as f:
        rejects = [(r["row"], r["column"], r["value"]) for r in csv.DictReader(f)]
    assert rejects == [("2", "BilledCost", "twelve"), ("4", "Tags", "{team: x")]


def test_strict_refuses_the_whole_file_and_keeps_the_lake(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest(workspace, [write_focus(tmp_path / "good.csv", NOV)])
    before = workspace.lake.manifest_path.read_text()
    bad = write_focus(tmp_path / "bad.csv", OCT, overrides=[{}, {"BilledCost": "n/a"}])
    [outcome] = ingest(workspace, [bad], IngestOptions(strict=True))
    assert outcome.status == "refused"
    assert "bad.csv, row 2, column BilledCost = 'n/a': is not a decimal number" in outcome.error
    assert workspace.lake.manifest_path.read_text() == before
    assert lake_rows(workspace) == [(3, total(NOV))]


def test_rows_trace_back_to_their_source_row(workspace: Workspace, tmp_path: Path) -> None:
    charges = [Charge(cost=str(i), day=1 + i % 28) for i in range(1, 41)]
    ingest(workspace, [write_focus(tmp_path / "trace.csv", charges)])
    rows = lake_rows(workspace, "SELECT x_source_row, BilledCost FROM costs ORDER BY 1")
    assert rows == [(i, Decimal(i)) for i in range(1, 41)]


def test_one_writer_at_a_time(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.lake.writer(), pytest.raises(WorkspaceError, match="another ingest"):
        ingest(workspace, [write_focus(tmp_path / "a.csv", OCT)])


def test_file_time_decides_newer_without_as_of(workspace: Workspace, tmp_path: Path) -> None:
    old = write_focus(tmp_path / "old.csv", OCT)
    new = write_focus(tmp_path / "new.csv", restated(OCT, "3"))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_800_000_000, 1_800_000_000))
    ingest(workspace, [new])
    ingest(workspace, [old])
    assert lake_rows(workspace) == [(5, total(OCT) * 3)]


@pytest.mark.shared_data
def test_real_focus_sample_ingests_with_its_totals(workspace: Workspace, shared_data: Path) -> None:
    sample = shared_data / "billing" / "focus_1.0_sample.csv"
    [outcome] = ingest(workspace, [sample], IngestOptions(assume_utc=True))
    assert (outcome.status, outcome.format, outcome.rows, outcome.rejected) == (
        "ingested",
        "focus-1.0",
        1000,
        0,
    )
    assert lake_rows(workspace) == [(1000, Decimal("20.520226728990"))]
    by_provider = dict(lake_rows(workspace, "SELECT ProviderName, count(*) FROM costs GROUP BY 1"))
    assert by_provider == {"AWS": 942, "Microsoft": 51, "Oracle": 7}


def _naive(path: Path) -> Path:
    """The same file with every timestamp's zone dropped (``2026-10-01 00:00:00``)."""
    text = re.sub(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)Z", r"\1 \2", path.read_text())
    path.write_text(text)
    return path


def test_a_file_whose_every_row_is_rejected_is_rejected_and_names_the_fix(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest(workspace, [write_focus(tmp_path / "kept.csv", NOV)])
    before = lake_rows(workspace)
    path = _naive(write_focus(tmp_path / "naive.csv", OCT))
    [outcome] = ingest(workspace, [path])
    assert (outcome.status, outcome.rows, outcome.rejected, outcome.failed) == (
        "rejected",
        0,
        5,
        True,
    )
    assert "naive.csv: all 5 row(s) were rejected, so nothing was stored" in outcome.error
    assert "One reason covers them all: a value has no time zone" in outcome.error
    assert "Run it again with --assume-utc to store them." in outcome.error
    assert lake_rows(workspace) == before
    assert outcome.rejects_path is not None and outcome.rejects_path.exists()
    [again] = ingest(workspace, [path])  # still rejected, not a silent no-op
    assert (again.status, again.failed) == ("rejected", True)
    [fixed] = ingest(workspace, [path], IngestOptions(assume_utc=True))
    assert (fixed.status, fixed.rows, fixed.rejected) == ("ingested", 5, 0)
    assert lake_rows(workspace) == [(8, total(OCT + NOV))]


def test_all_rows_rejected_for_one_reason_without_a_fix(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_focus(tmp_path / "cost.csv", OCT[:2], overrides=[{"BilledCost": "n/a"}] * 2)
    [outcome] = ingest(workspace, [path])
    assert outcome.status == "rejected"
    assert (
        "One reason covers them all: a value is not a decimal number "
        "(in BilledCost; row 1: 'n/a')." in outcome.error
    )
    assert "--assume-utc" not in outcome.error


def test_all_rows_rejected_for_several_reasons(workspace: Workspace, tmp_path: Path) -> None:
    overrides = [{"BilledCost": "n/a"}, {"Tags": "{x"}]
    [outcome] = ingest(workspace, [write_focus(tmp_path / "bad.csv", OCT[:2], overrides=overrides)])
    assert outcome.status == "rejected"
    assert "The reasons differ from row to row; see the rejects file." in outcome.error


def test_some_rows_rejected_still_store_the_good_ones(workspace: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "mixed.csv", OCT, overrides=[{"BilledCost": "n/a"}])
    [outcome] = ingest(workspace, [path])
    assert (outcome.status, outcome.rows, outcome.rejected, outcome.failed) == (
        "ingested",
        4,
        1,
        False,
    )
    assert outcome.error == ""


def test_a_header_only_file_is_empty(workspace: Workspace, tmp_path: Path) -> None:
    [outcome] = ingest(workspace, [write_focus(tmp_path / "none.csv", [])])
    assert (outcome.status, outcome.rows, outcome.failed) == ("empty", 0, False)


@pytest.mark.shared_data
def test_real_focus_1_0_sample_without_assume_utc_is_rejected(
    workspace: Workspace, shared_data: Path
) -> None:
    sample = shared_data / "billing" / "focus_1.0_sample.csv"
    [outcome] = ingest(workspace, [sample])
    assert (outcome.status, outcome.rows, outcome.rejected) == ("rejected", 0, 1000)
    assert "Run it again with --assume-utc to store them." in outcome.error
    assert workspace.lake.read().slices == {}
