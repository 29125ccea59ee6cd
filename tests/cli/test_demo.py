"""`costcouncil demo` prints the time of each step; `make demo` hands it the install time."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_the_time_of_each_step(tmp_path: Path) -> None:
    args = ["demo", str(tmp_path / "demo"), "--rows", "1000", "--no-serve"]
    result = CliRunner().invoke(app, [*args, "--install-seconds", "42"])
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("Demo steps") :]
    for step in ("install", "generate", "ingest", "allocate", "summary", "total"):
        assert step in table
    assert "│ 42 " in table


def test_demo_without_make_says_install_was_not_measured(tmp_path: Path) -> None:
    args = ["demo", str(tmp_path / "demo"), "--rows", "1000", "--no-serve"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "not measured" in result.output


def _make_demo(tmp_path: Path, stamp: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "costcouncil"  # stands in for the real command: prints what make passes
    fake.write_text('#!/bin/sh\necho "ARGS: $*"\n')
    fake.chmod(0o755)
    (tmp_path / "stamp").write_text(stamp)
    os.utime(tmp_path / "stamp")  # newer than pyproject.toml: make installs nothing
    variables = [f"BIN={bin_dir}", f"STAMP={tmp_path / 'stamp'}", "MAKE_STARTED=1000"]
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "demo", *variables],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize(
    "stamp,seconds",
    [("73 1000\n", "73"), ("73 999\n", "0"), ("", "0")],
    ids=["installed-by-this-make", "installed-earlier", "old-empty-stamp"],
)
def test_make_demo_passes_the_install_seconds_of_this_run_only(
    tmp_path: Path, stamp: str, seconds: str
) -> None:
    assert f"--install-seconds {seconds}" in _make_demo(tmp_path, stamp)
