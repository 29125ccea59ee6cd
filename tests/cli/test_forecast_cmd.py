"""``costcouncil forecast --series-csv``: table, JSON, output file, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costcouncil.cli.main import app

runner = CliRunner()


def series_csv(path: Path) -> Path:
    lines = ["series,timestamp,value"]
    lines += [f"team-a,2026-02-{d:02d},{100 + (d % 7) * 5}" for d in range(1, 29)]
    lines += ["team-b,2026-02-27,3", "team-b,2026-02-28,4"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_forecast_prints_a_table_and_writes_the_csv(tmp_path: Path) -> None:
    src, out = series_csv(tmp_path / "s.csv"), tmp_path / "f.csv"
    args = ["forecast", "--series-csv", str(src), "--horizon", "10", "--output", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "team-a" in result.output and "recent_mean" in result.output
    assert out.read_text().splitlines()[0] == (
        '"series","date","value","lo80","hi80","lo95","hi95","method"'
    )
    assert len(out.read_text().splitlines()) == 1 + 20


def test_forecast_json(tmp_path: Path) -> None:
    src, out = series_csv(tmp_path / "s.csv"), tmp_path / "f.csv"
    args = ["forecast", "--series-csv", str(src), "--horizon", "5", "-o", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["rows"] == 10 and got["horizon_days"] == 5
    a, b = got["series"]
    assert a["series"] == "team-a" and a["fallback"] is None and a["mase"] is not None
    assert b["history"] == 2 and "too short" in b["fallback"]


def test_bad_input_exits_1_with_the_row(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("series,timestamp,value\na,2026-01-01,1\na,2026-01-02,-5\n")
    args = ["forecast", "--series-csv", str(src), "--output", str(tmp_path / "o.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "row 2" in result.output and "negative" in result.output


def test_missing_options_and_bad_horizon_are_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["forecast", "--output", str(tmp_path / "o.csv")])
    assert result.exit_code == 1 and "--series-csv" in result.output
    src = series_csv(tmp_path / "s.csv")
    bad = ["forecast", "--series-csv", str(src), "--horizon", "0", "-o", str(tmp_path / "o.csv")]
    assert runner.invoke(app, bad).exit_code == 2
