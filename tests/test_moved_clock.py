"""The moved-clock run (``make test-clock``) really moves the clock of the processes a test starts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

FOLDER = Path(__file__).parent / "moved_clock"
SHOW = "import datetime; print(datetime.datetime.now(datetime.UTC).isoformat())"


def _now_in_child(clock: str, **extra: str) -> datetime:
    env = {**os.environ, "COSTCOUNCIL_TEST_CLOCK": clock, "PYTHONPATH": str(FOLDER), **extra}
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return datetime.fromisoformat(out.stdout.strip())


def test_a_child_runs_a_year_ahead() -> None:
    moved = _now_in_child("+365d")
    real = datetime.fromtimestamp(float(_real_epoch()), UTC)
    assert 364 * 86400 < (moved - real).total_seconds() < 366 * 86400


def test_a_child_starts_at_the_moment_named() -> None:
    moved = _now_in_child("2027-01-31 23:30:00")
    assert moved.date().isoformat() == "2027-01-31" and moved.hour == 23


def test_a_child_with_libfaketime_keeps_its_own_clock() -> None:
    child = _now_in_child("2027-01-31 23:30:00", FAKETIME="@2027-03-01 00:30:00")
    # No LD_PRELOAD here, so the child runs on the real clock: the variable alone turns us off.
    real = datetime.fromtimestamp(float(_real_epoch()), UTC)
    assert abs((child - real).total_seconds()) < 600


def _real_epoch() -> str:
    """The wall clock of a process that is not Python (so never moved by this module)."""
    return subprocess.run(["date", "+%s"], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(not os.environ.get("COSTCOUNCIL_TEST_CLOCK"), reason="not a moved-clock run")
def test_this_run_is_moved() -> None:
    moved = datetime.now(UTC)
    real = datetime.fromtimestamp(float(_real_epoch()), UTC)
    assert abs((moved - real).total_seconds()) > 3600, "the moved-clock run did not move the clock"
