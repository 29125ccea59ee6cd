"""A kill -9 at any point of an ingest leaves the lake exactly as it was before."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import ingest
from tests.conftest import lake_rows
from tests.factories import Charge, restated, total, write_focus

BASE = [Charge(cost="2.00", day=d) for d in range(1, 8)]
OTHER = [Charge(cost="5.00", day=d, account="222222222222") for d in range(1, 4)]


def _snapshot(workspace: Workspace) -> tuple[str, list[tuple[object, ...]]]:
    manifest = workspace.lake.manifest_path.read_bytes()
    return hashlib.sha256(manifest).hexdigest(), lake_rows(workspace)


def _ingest_and_die(root: Path, files: list[Path], point: str) -> int:
    code = "import sys; from costcouncil.cli.main import app; app(sys.argv[1:])"
    env = os.environ | {"COSTCOUNCIL_CRASHPOINT": point}
    args = [sys.executable, "-c", code, "ingest", str(root), *map(str, files)]
    return subprocess.run(args, env=env, capture_output=True, timeout=120).returncode


@pytest.mark.parametrize("point", ["placed", "slice-placed", "before-commit"])
def test_kill_before_commit_leaves_the_lake_as_before(
    workspace: Workspace, tmp_path: Path, point: str
) -> None:
    ingest(workspace, [write_focus(tmp_path / "v1.csv", BASE)])
    before = _snapshot(workspace)
    newer = write_focus(tmp_path / "v2.csv", restated(BASE, "3"))
    os.utime(newer, (2_000_000_000, 2_000_000_000))
    extra = write_focus(tmp_path / "other.csv", OTHER)
    assert _ingest_and_die(workspace.root, [newer, extra], point) == -9
    assert _snapshot(workspace) == before
    assert len(list((workspace.lake.root / "costs").rglob("*.parquet"))) > len(
        workspace.lake.data_paths()
    ), "the killed writer left orphans for the next one to clean"
    ingest(workspace, [newer, extra])
    assert lake_rows(workspace) == [(10, total(BASE) * 3 + total(OTHER))]
    assert sorted((workspace.lake.root / "costs").rglob("*.parquet")) == sorted(
        workspace.lake.data_paths()
    )


def test_kill_after_commit_keeps_the_new_state(workspace: Workspace, tmp_path: Path) -> None:
    ingest(workspace, [write_focus(tmp_path / "v1.csv", BASE)])
    extra = write_focus(tmp_path / "other.csv", OTHER)
    assert _ingest_and_die(workspace.root, [extra], "after-commit") == -9
    assert lake_rows(workspace) == [(10, total(BASE) + total(OTHER))]
    [again] = ingest(workspace, [extra])
    assert again.status == "already ingested"
