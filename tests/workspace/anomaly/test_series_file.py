"""detect_csv: flagged points written as series,timestamp,score,expected,actual; bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from costcouncil.errors import ConfigError
from costcouncil.schema.series import SeriesError
from costcouncil.workspace.anomaly.series_file import detect_csv


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("series,timestamp,value\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return path


def five_minutes(key: str, spike: int | None, n: int = 288 * 4) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(5)
    t0 = np.datetime64("2026-02-01T00:00:00", "s")
    values = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 0.5, n) - 30
    if spike is not None:
        values[spike] += 40
    return [
        (key, f"{t0 + i * np.timedelta64(300, 's')}Z", f"{v:.4f}") for i, v in enumerate(values)
    ]


def test_writes_one_row_per_flagged_point(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", five_minutes("cpu", 900) + five_minutes("=mem", None))
    summary = detect_csv(src, tmp_path / "out" / "flags.csv")
    assert (summary.series, summary.points, summary.flagged, summary.events) == (2, 2304, 1, 1)
    table = pacsv.read_csv(tmp_path / "out" / "flags.csv")
    assert table.column_names == ["series", "timestamp", "score", "expected", "actual"]
    row = table.to_pylist()[0]
    assert row["series"] == "cpu" and str(row["timestamp"]).startswith("2026-02-04 03:00:00")
    assert row["score"] > 5 and row["actual"] - row["expected"] > 30


def test_bad_input_names_row_and_value(tmp_path: Path) -> None:
    src = write(
        tmp_path / "bad.csv",
        [("a", "2026-01-01", "1"), ("a", "2026-01-03", "x"), ("b", "2026-01-01", "2")],
    )
    with pytest.raises(SeriesError) as caught:
        detect_csv(src, tmp_path / "o.csv")
    text = str(caught.value)
    assert "row 2" in text and "'x'" in text and "only one row" in text


def test_unreadable_file_is_a_series_error(tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match="cannot read"):
        detect_csv(tmp_path / "missing.csv", tmp_path / "o.csv")


def test_direction_writes_one_side(tmp_path: Path) -> None:
    rows = five_minutes("cpu", 900)
    dip = five_minutes("io", None)
    dip[700] = (dip[700][0], dip[700][1], str(float(dip[700][2]) - 40))
    src = write(tmp_path / "in.csv", rows + dip)
    up = detect_csv(src, tmp_path / "up.csv", direction="up")
    down = detect_csv(src, tmp_path / "down.csv", direction="down")
    both = detect_csv(src, tmp_path / "both.csv")
    assert (up.flagged, down.flagged, both.flagged) == (1, 1, 2)
    assert pacsv.read_csv(tmp_path / "up.csv").column("series").to_pylist() == ["cpu"]
    assert pacsv.read_csv(tmp_path / "down.csv").column("series").to_pylist() == ["io"]
    with pytest.raises(ConfigError, match="direction 'in'"):
        detect_csv(src, tmp_path / "x.csv", direction="in")
