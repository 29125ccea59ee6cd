"""The bad-input corpus: each file gets a clear error naming file, row, column or value, and
nothing already stored is lost."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import FileOutcome, IngestOptions, ingest
from tests.conftest import lake_rows
from tests.factories import HEADER, Charge, total, write_focus

KEPT = [Charge(cost="7.00", period="2026-09", day=d) for d in range(1, 4)]
ROWS = [Charge(cost="1.50", day=d) for d in range(1, 6)]


@pytest.fixture
def stocked(workspace: Workspace, tmp_path: Path) -> Workspace:
    ingest(workspace, [write_focus(tmp_path / "kept.csv", KEPT)])
    return workspace


def _one(workspace: Workspace, path: Path, **options: object) -> FileOutcome:
    before = workspace.lake.manifest_path.read_text()
    [outcome] = ingest(workspace, [path], IngestOptions(**options))  # type: ignore[arg-type]
    if outcome.status == "refused":
        assert workspace.lake.manifest_path.read_text() == before
    assert lake_rows(
        workspace, "SELECT sum(BilledCost) FROM costs WHERE BillingPeriodStart < '2026-10-01'"
    ) == [(total(KEPT),)]
    return outcome


def test_truncated_gzip(stocked: Workspace, tmp_path: Path) -> None:
    big = write_focus(
        tmp_path / "big.csv.gz",
        [Charge(cost=str(i), day=1 + i % 28, resource=f"i-{i:032d}") for i in range(40000)],
    )
    data = big.read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) * 3 // 4])
    outcome = _one(stocked, cut)
    assert outcome.status == "refused"
    assert "cut.csv.gz" in outcome.error and "gzip" in outcome.error.lower()


def test_wrong_delimiter(stocked: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "semi.csv", ROWS, delimiter=";")
    outcome = _one(stocked, path, delimiter=",")
    assert outcome.status == "refused"
    assert "semi.csv, row 0" in outcome.error and "wrong delimiter?" in outcome.error


def test_other_delimiters_are_detected(stocked: Workspace, tmp_path: Path) -> None:
    outcome = _one(stocked, write_focus(tmp_path / "semi.csv", ROWS, delimiter=";"))
    assert (outcome.status, outcome.rows) == ("ingested", 5)


def test_missing_mandatory_column(stocked: Workspace, tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "BillingCurrency"]
    path = write_focus(tmp_path / "nocur.csv", ROWS, header=header)
    outcome = _one(stocked, path, format="focus-1.2")
    assert outcome.status == "refused"
    assert "nocur.csv, row 0: missing mandatory column(s) for FOCUS 1.2" in outcome.error
    assert "BillingCurrency" in outcome.error


def test_non_numeric_cost(stocked: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "cost.csv", ROWS, overrides=[{}, {}, {"BilledCost": "1,5"}])
    outcome = _one(stocked, path, strict=True)
    assert "cost.csv, row 3, column BilledCost = '1,5': is not a decimal number" in outcome.error


def test_naive_timestamps(stocked: Workspace, tmp_path: Path) -> None:
    naive = {"ChargePeriodStart": "2026-10-01 00:00:00"}
    outcome = _one(
        stocked, write_focus(tmp_path / "naive.csv", ROWS, overrides=[naive]), strict=True
    )
    assert (
        "naive.csv, row 1, column ChargePeriodStart = '2026-10-01 00:00:00': has no time zone"
        in outcome.error
    )
    assert "--assume-utc" in outcome.error


def test_broken_tags_json(stocked: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "tags.csv", ROWS, overrides=[{}, {"Tags": '{"team": "a"'}])
    outcome = _one(stocked, path)
    assert (outcome.rows, outcome.rejected) == (4, 1)
    assert outcome.rejects_path is not None
    assert (
        'tags.csv,2,Tags,"{""team"": ""a""",is not a JSON object'
        in outcome.rejects_path.read_text()
    )


def test_mixed_currencies(stocked: Workspace, tmp_path: Path) -> None:
    rows = [*ROWS[:3], Charge(cost="9", day=9, currency="EUR")]
    outcome = _one(stocked, write_focus(tmp_path / "fx.csv", rows))
    assert outcome.status == "refused"
    assert "fx.csv, row 4, column BillingCurrency = 'EUR'" in outcome.error
    assert "billed in EUR, USD in period 2026-10" in outcome.error


def test_unknown_currency_code(stocked: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "usd.csv", ROWS, overrides=[{"BillingCurrency": "US$"}])
    outcome = _one(stocked, path, strict=True)
    assert "column BillingCurrency = 'US$': is not an ISO 4217 currency code" in outcome.error


@pytest.mark.slow
def test_a_two_gigabyte_line(stocked: Workspace, tmp_path: Path) -> None:
    path = write_focus(tmp_path / "huge.csv", ROWS[:1])
    with path.open("r+b") as f:  # a sparse 2 GiB quoted field: no disk, one endless line
        f.seek(0, 2)
        f.write(b'"')
        f.seek(2 * 1024**3, 1)
        f.write(b'"\n')
    outcome = _one(stocked, path)
    assert outcome.status == "refused"
    assert "huge.csv" in outcome.error and "a line is longer than 8,388,608 bytes" in outcome.error


def test_empty_file(stocked: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    outcome = _one(stocked, path)
    assert "empty.csv: the file is empty" in outcome.error


def test_unknown_format_suggests_the_closest(stocked: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv.gz"
    path.write_bytes(gzip.compress(b"BilledCosts,ChargeCategory,BillingPeriodStart\n1,Usage,x\n"))
    outcome = _one(stocked, path)
    assert "odd.csv.gz, row 0: not a cost export" in outcome.error
    assert "did you mean 'BilledCosts'?" in outcome.error
