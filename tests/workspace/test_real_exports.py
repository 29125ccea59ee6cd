"""Real exports end to end: the shared billing samples and focus-data-toolkit's provider files.

Every cost is kept: the lake's sum of BilledCost per currency equals the source's own cost column.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from costcouncil.ingest.sources import REGISTRY
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import ingest
from tests.conftest import lake_rows

SAMPLES = {
    "aws_cur_sample_anonymous.csv": "aws-cur",
    "azure_ea_sample_anonymous.csv": "azure-ea",
    "oci_cost_report_sample.csv": "oci-cost-report",
}


def _source_totals(path: Path, fmt: str) -> dict[str, Decimal]:
    c = REGISTRY[fmt]
    sql = (
        f"SELECT {c.source_currency}, sum(TRY_CAST({c.source_cost} AS DECIMAL(38,12))) "
        f"FROM read_csv('{path}', all_varchar=true, nullstr=['', 'NULL']) GROUP BY 1"
    )
    return {str(k): Decimal(v) for k, v in duckdb.sql(sql).fetchall()}


@pytest.mark.shared_data
@pytest.mark.parametrize("name,fmt", sorted(SAMPLES.items()))
def test_converted_samples_keep_every_cost(
    workspace: Workspace, shared_data: Path, name: str, fmt: str
) -> None:
    path = shared_data / "billing" / name
    [outcome] = ingest(workspace, [path])
    assert (outcome.status, outcome.format, outcome.rejected) == ("ingested", fmt, 0)
    lake = dict(
        lake_rows(workspace, "SELECT BillingCurrency, sum(BilledCost) FROM costs GROUP BY 1")
    )
    assert lake == _source_totals(path, fmt)


def _toolkit() -> str:
    exe = shutil.which("focus-toolkit", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("focus-data-toolkit is not installed (pip install -e '.[test]')")
    return exe


@pytest.mark.parametrize(
    "provider,version",
    [("aws", "1.2"), ("azure", "1.2"), ("gcp", "1.2"), ("aws", "1.3"), ("gcp", "1.3")],
)
def test_focus_data_toolkit_files_ingest_with_their_totals(
    workspace: Workspace, tmp_path: Path, provider: str, version: str
) -> None:
    out = tmp_path / "gen"
    subprocess.run(
        [
            _toolkit(),
            "generate",
            "--provider",
            provider,
            "--focus-version",
            version,
            "--rows",
            "400",
            "--seed",
            "11",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    [path] = list(out.glob("*cost_and_usage*.csv"))
    [outcome] = ingest(workspace, [path])
    assert (outcome.status, outcome.format, outcome.rejected) == ("ingested", f"focus-{version}", 0)
    source = duckdb.sql(
        f"SELECT count(*), sum(BilledCost::DECIMAL(38,12)) FROM read_csv('{path}', "
        "all_varchar=true)"
    ).fetchall()
    assert lake_rows(workspace) == [tuple(source[0])]
