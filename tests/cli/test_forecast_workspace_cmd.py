"""`costcouncil forecast DIR`: every scope saved, named scopes shown, daily points as CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from tests.workspace.anomaly.test_run import _org

runner = CliRunner()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(_org(tmp_path_factory.mktemp("fc")).root)


def test_named_scopes_with_their_month_end_and_points(org: str, tmp_path: Path) -> None:
    out = tmp_path / "points.csv"
    result = runner.invoke(app, ["forecast", org, "--scope", "team=a", "--scope", "org",
                                 "--output", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert set(shown["scopes"]) == {"team=a", "org"} and shown["first_day"] == "2026-11-01"
    team = shown["scopes"]["team=a"]
    assert team["month"] == "2026-11" and 2_500 < team["month_end"]["value"] < 4_000
    rows = list(csv.DictReader(out.open()))
    assert {r["scope"] for r in rows} == {"team=a", "org"} and len(rows) == 2 * 366
    assert rows[0].keys() >= {"date", "value", "lo80", "hi80", "lo95", "hi95", "method"}


def test_the_table_and_a_bad_scope(org: str) -> None:
    table = runner.invoke(app, ["forecast", org, "--scope", "team=a"])
    assert table.exit_code == 0 and "team=a" in table.output and "Forecasts (USD)" in table.output
    bad = runner.invoke(app, ["forecast", org, "--scope", "taem=a"])
    assert bad.exit_code == 1 and "did you mean 'team'" in bad.output


def test_an_empty_workspace_says_what_to_do(tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path / "w")]).exit_code == 0
    result = runner.invoke(app, ["forecast", str(tmp_path / "w")])
    assert result.exit_code == 0 and "nothing to forecast yet" in result.output
