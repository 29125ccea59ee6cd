"""forecast_csv: a series CSV in, the forecast CSV out, bad input named by row."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from costcouncil.schema.series import SeriesError
from costcouncil.workspace.forecast.series_file import OUTPUT_COLUMNS, forecast_csv


def write_series(path: Path, series: dict[str, list[float]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["series", "timestamp", "value"])
        for key, values in series.items():
            for i, v in enumerate(values):
                w.writerow([key, str(np.datetime64("2026-01-01") + i), v])
    return path


def test_every_series_gets_horizon_rows_with_intervals(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    long = list(100 + 10 * np.sin(np.arange(90) * 2 * np.pi / 7) + rng.normal(0, 2, 90))
    src = write_series(tmp_path / "in.csv", {"gpu": long, "=HYPERLINK(1)": [1.0, 2.0]})
    result = forecast_csv(src, 14, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == OUTPUT_COLUMNS and result.rows == len(rows) == 28
    assert rows[0]["series"] == "gpu" and rows[0]["date"] == "2026-04-01"
    assert rows[14]["series"] == "'=HYPERLINK(1)"  # neutralised for spreadsheets
    for r in rows:
        lo95, lo80, v, hi80, hi95 = (float(r[c]) for c in ("lo95", "lo80", "value", "hi80", "hi95"))
        assert 0 <= lo95 <= lo80 <= v <= hi80 <= hi95
    gpu, short = result.series
    assert gpu.fallback is None and gpu.mase is not None and gpu.history == 90
    assert short.method == "recent_mean" and short.fallback and "too short" in short.fallback


def test_bad_rows_are_all_named(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(
        "series,timestamp,value\na,2026-01-01,1\na,2026-01-03,2\nb,2026-01-01,-1\n"
        "b,2026-01-02,x\nc,2026-01-01,1\nd,2026-01-01,1\nd,2026-01-01,2\n"
    )
    with pytest.raises(SeriesError) as e:
        forecast_csv(src, 7, tmp_path / "out.csv")
    text = str(e.value)
    for needle in ("row 3", "gap", "row 4", "negative", "row 5", "not a number", "only one row"):
        assert needle in text
    assert "already has this time" in text and not (tmp_path / "out.csv").exists()


def test_hourly_input_is_refused_for_daily_forecasts(tmp_path: Path) -> None:
    src = tmp_path / "h.csv"
    src.write_text("series,timestamp,value\na,2026-01-01T00:00,1\na,2026-01-01T01:00,2\n")
    with pytest.raises(SeriesError, match="one row per day"):
        forecast_csv(src, 7, tmp_path / "out.csv")
