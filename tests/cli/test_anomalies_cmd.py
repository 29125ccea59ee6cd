"""costcouncil anomalies --series-csv: summary, JSON, output file, bad input exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from costcouncil.cli.main import app

runner = CliRunner()


def series_csv(path: Path) -> Path:
    rng = np.random.default_rng(2)
    values = 100 * np.where(np.arange(120) % 7 >= 5, 0.5, 1.0) * rng.lognormal(0, 0.03, 120)
    values[100] = 0
    days = np.datetime64("2026-01-05") + np.arange(120)
    path.write_text(
        "series,timestamp,value\n"
        + "".join(f"team-a,{d},{v:.2f}\n" for d, v in zip(days, values, strict=True))
    )
    return path


def test_summary_and_output(tmp_path: Path) -> None:
    out = tmp_path / "flags.csv"
    result = runner.invoke(
        app,
        ["anomalies", "--series-csv", str(series_csv(tmp_path / "s.csv")), "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "flagged points" in result.output and "anomaly events" in result.output
    lines = out.read_text().splitlines()
    assert lines[0] == '"series","timestamp","score","expected","actual"'
    assert len(lines) == 2 and lines[1].startswith('"team-a",2026-04-15')


def test_json(tmp_path: Path) -> None:
    args = [
        "anomalies",
        "--series-csv",
        str(series_csv(tmp_path / "s.csv")),
        "--output",
        str(tmp_path / "o.csv"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) | {"output": ""} == {
        "output": "",
        "series": 1,
        "points": 120,
        "flagged": 1,
        "events": 1,
    }


def test_bad_input_exits_1_naming_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("series,timestamp,value\na,2026-01-01,1\na,2026-01-02,-\n")
    result = runner.invoke(
        app, ["anomalies", "--series-csv", str(bad), "--output", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 1 and "row 2" in result.output
