"""Attribution a group of periods at a time gives what one run over every period gives."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from costcouncil.lake import manifest as mf
from costcouncil.workspace.allocate.run import AllocateOptions, AllocationOutcome, allocate
from costcouncil.workspace.common.inputs import MAX_SPLIT_PARTS, period_chunks, split_parts
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.demo.run import build as build_demo


def test_period_chunks_group_consecutive_periods_up_to_the_limit() -> None:
    rows = {"2026-03": 5, "2026-01": 4, "2026-02": 3, "2026-04": 20, "2026-05": 1}
    assert period_chunks(rows, 8) == [["2026-01", "2026-02"], ["2026-03"], ["2026-04"], ["2026-05"]]
    assert period_chunks(rows, 100) == [["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]]
    assert period_chunks(rows, 0) == [[p] for p in sorted(rows)]
    assert period_chunks({}, 10) == []


def test_a_group_larger_than_the_limit_runs_its_jobs_join_in_parts() -> None:
    assert split_parts(3, 8) == 1 and split_parts(8, 8) == 1
    assert split_parts(9, 8) == 2 and split_parts(33_000_000, 4_000_000) == 9
    assert split_parts(10**12, 1) == MAX_SPLIT_PARTS


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo organisation (GPU splits with idle, LLM invoices by tokens, shared pools), ingested."""
    folder = tmp_path_factory.mktemp("demo") / "org"
    build_demo(folder, rows=6_000, say=lambda _: None)
    return folder


def _allocations(ws: Workspace) -> list[tuple[object, ...]]:
    manifest = ws.lake.read()
    files = [str(ws.lake.root / f) for f in manifest.data_files("allocations")]
    con = duckdb.connect()
    rows = con.execute(
        "SELECT * FROM read_parquet(?, union_by_name = true) ORDER BY ALL",
        [files],
    ).fetchall()
    con.close()
    return rows


def _run(
    demo: Path,
    target: Path,
    chunk_rows: int,
    monkeypatch: pytest.MonkeyPatch,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Workspace, AllocationOutcome]:
    shutil.copytree(demo, target)
    ws = Workspace.open(target)
    monkeypatch.setenv("COSTCOUNCIL_ALLOCATE_CHUNK_ROWS", str(chunk_rows))
    return ws, allocate(ws, AllocateOptions(), progress)


def test_one_period_at_a_time_equals_one_run(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_ws, whole = _run(demo, tmp_path / "whole", 10**9, monkeypatch)
    seen: list[tuple[str, int, int]] = []
    # each period alone (each has ~500 rows), its jobs join in two parts
    split_ws, split = _run(demo, tmp_path / "split", 300, monkeypatch, lambda *a: seen.append(a))
    periods = whole_ws.lake.read().periods("costs")
    assert len(periods) >= 3
    assert _allocations(split_ws) == _allocations(whole_ws)
    for field in ("cost_rows", "allocation_rows", "totals", "owned", "by_rule", "reconciliation"):
        assert getattr(split, field) == getattr(whole, field), field
    assert any(r["x_method"].startswith("usage_split") for r in whole.by_rule)
    assert any(r["x_method"].startswith("shared_pool") for r in whole.by_rule)
    assert whole.reconciliation
    manifest: mf.Manifest = split_ws.lake.read()
    assert manifest.periods("allocations") == periods
    assert not any((split_ws.lake.root / ".allocate").iterdir())
    # the split rows apportioned in two parts, each spooled and checked on its own
    views = {view.split(" ", 1)[-1] for view, _, _ in seen}
    assert {"cc_alloc_split_p1", "cc_alloc_split_check_p1"} <= views, sorted(views)
    # one progress bar over the whole run: each period's stages, labelled, in order
    [total] = {total for _, _, total in seen}
    assert total % 1000 == 0 and total > 1000  # several groups, 1,000 steps each
    steps = [index for _, index, _ in seen]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] < total
    labels = [view.split(" ")[0] for view, _, _ in seen]
    assert labels == sorted(labels) and len(set(labels)) == total // 1000
    assert labels[0].startswith(periods[0]) and labels[-1].endswith(periods[-1])
