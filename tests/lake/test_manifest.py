"""The manifest: round trip, atomic replacement, clear errors for a damaged or newer manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from costcouncil.errors import LakeError
from costcouncil.lake import manifest as mf


def _one() -> mf.Manifest:
    s = mf.Slice(
        "s1",
        "costs",
        "aws",
        "111",
        "2026-10",
        "2026-11-01T00:00:00+00:00",
        ["f1"],
        ["costs/provider=aws/period=2026-10/s1-f1-0.parquet"],
        3,
        {"USD": {"billed": "1.5", "effective": "1.5"}},
        "2026-10-01T00:00:00Z",
        "2026-10-02T00:00:00Z",
    )
    f = mf.SourceFile("f1", "bill.csv", 10, "focus-1.2", s.as_of, s.as_of, 3, 0, 0, slices=["s1"])
    return mf.Manifest(files={"f1": f}, slices={"s1": s})


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    mf.save(_one(), path)
    assert mf.load(path) == _one()
    assert mf.load(path).data_files() == ["costs/provider=aws/period=2026-10/s1-f1-0.parquet"]
    assert not path.with_name("manifest.json.tmp").exists()


def test_missing_manifest_is_an_empty_lake(tmp_path: Path) -> None:
    assert mf.load(tmp_path / "manifest.json") == mf.Manifest()


def test_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"version": 1, "files": ')
    with pytest.raises(LakeError, match=r"manifest\.json: the lake manifest cannot be read"):
        mf.load(path)


def test_newer_manifest_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"version": 2}')
    with pytest.raises(LakeError, match="manifest version 2 is not 1"):
        mf.load(path)


def test_rank_orders_by_as_of_then_export() -> None:
    s = _one().slices["s1"]
    assert s.rank == ("2026-11-01T00:00:00+00:00", "f1")
