"""Forecast workers never run the caller's script again (one without a main guard, or one read
from standard input)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import numpy as np
from costcouncil.forecast import forecast_many
from costcouncil.schema.series import DAY, Series
print("script ran")
series = [Series.of(f"s{i}", "2026-01-01", DAY, 10 + np.arange(60) % 7) for i in range(4)]
print(len(forecast_many(series, 7, methods=["theta"], jobs=2)), "forecasts")
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stdin", "unguarded file"])
def test_workers_start_without_the_callers_script(how: str, tmp_path: Path) -> None:
    if how == "stdin":
        done = subprocess.run([sys.executable, "-"], input=SCRIPT, text=True, capture_output=True,
                              timeout=300, check=False)  # fmt: skip
    else:
        path = tmp_path / "report.py"
        path.write_text(SCRIPT)
        done = subprocess.run([sys.executable, str(path)], text=True, capture_output=True,
                              timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("script ran") == 1 and "4 forecasts" in done.stdout
