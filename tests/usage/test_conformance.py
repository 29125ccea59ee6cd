"""One conformance suite over every usage source: the same assertions for each.

Each case is ``tests/cases/usage/<source>/<case>.yaml``::

    source: kubernetes          # the --source name
    input: pods.json            # a file beside the YAML (omitted for server-backed sources)
    setup: tests.usage.sources.mlflow_setup:build   # optional: builds the input, returns options
    options: {labels: {team: [squad]}, mapping: helios.yaml, assume_utc: true}
    kind: jobs                  # jobs or llm
    source_value: kubernetes    # what the rows' ``source`` column holds (default: the name)
    rows: 4
    owners: {team: [search, vision]}  # distinct non-null values of each named owner key
    gpu_seconds: 86400.0        # jobs: sum of accelerator_count x (end - start) over ended jobs
    tokens: {input: 10, output: 5}    # llm: sums of <kind>_tokens
    requests: 3                 # llm: sum of request_count (null counts as 1)

The expected figures are worked out by hand from the input, so a case checks that GPU-seconds
or tokens are conserved between the source's own records and the usage table.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from costcouncil.usage.base import SCHEMAS, SourceOptions
from costcouncil.usage.sources import REGISTRY
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.usage import ingest_source

CASES = Path(__file__).resolve().parents[1] / "cases" / "usage"
TOKEN_KINDS = ("input", "output", "cached_input", "cache_write", "reasoning")


def _cases() -> list[Any]:
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in sorted(CASES.glob("*/*.yaml"))]


def _options(case: Path, spec: dict[str, Any], tmp_path: Path) -> tuple[Path | None, SourceOptions]:
    raw = dict(spec.get("options") or {})
    if "labels" in raw:
        raw["labels"] = {k: tuple(v) for k, v in raw["labels"].items()}
    if "mapping" in raw:
        raw["mapping"] = case.parent / raw["mapping"]
    if "experiments" in raw:
        raw["experiments"] = tuple(raw["experiments"])
    if "setup" in spec:
        module, _, name = spec["setup"].partition(":")
        raw.update(getattr(importlib.import_module(module), name)(tmp_path))
    path = case.parent / spec["input"] if "input" in spec else None
    return path, SourceOptions(**raw)


@pytest.mark.parametrize("case", _cases())
def test_source_conformance(case: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(case.read_text())
    source = REGISTRY[spec["source"]]
    path, options = _options(case, spec, tmp_path)
    table = source.read(path, options)
    kind = spec["kind"]
    assert source.kind in (kind, None)
    assert table.schema.equals(SCHEMAS[kind]), table.schema
    assert table.num_rows == spec["rows"]
    assert set(table.column("source").to_pylist()) == {spec.get("source_value", source.name)}
    key = "job_id" if kind == "jobs" else "request_id"
    assert pc.count_distinct(table.column(key)).as_py() == table.num_rows, "ids are unique"
    for owner, values in (spec.get("owners") or {}).items():
        found = {v for v in table.column(owner).to_pylist() if v is not None}
        assert sorted(found) == sorted(values), owner
    if kind == "jobs":
        _jobs_totals(table, spec)
    else:
        _llm_totals(table, spec)
    _round_trip(tmp_path, source.name, path, options, table)


def _round_trip(
    tmp_path: Path, name: str, path: Path | None, options: SourceOptions, table: pa.Table
) -> None:
    """Through the workspace: stored as one slice, read back equal; ingesting again is a no-op."""
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    first = ingest_source(ws, name, [path] if path else [], options)
    again = ingest_source(ws, name, [path] if path else [], options)
    assert [o.status for o in first] == ["ingested"]
    assert [o.status for o in again] == ["already ingested" if path else "unchanged"]
    kind = "jobs" if table.schema.equals(SCHEMAS["jobs"]) else "llm"
    files = [ws.lake.root / f for f in ws.lake.read().data_files(kind)]
    assert len(files) == 1
    assert pq.read_table(files[0]).equals(table)


def _jobs_totals(table: pa.Table, spec: dict[str, Any]) -> None:
    if "gpu_seconds" not in spec:
        return
    total = 0.0
    for row in table.select(["start", "end", "accelerator_count"]).to_pylist():
        if row["end"] is not None and row["accelerator_count"] is not None:
            total += row["accelerator_count"] * (row["end"] - row["start"]).total_seconds()
    assert total == pytest.approx(spec["gpu_seconds"], rel=1e-9, abs=1e-6)


def _llm_totals(table: pa.Table, spec: dict[str, Any]) -> None:
    for kind, expected in (spec.get("tokens") or {}).items():
        assert kind in TOKEN_KINDS, kind
        assert (pc.sum(table.column(f"{kind}_tokens")).as_py() or 0) == expected, kind
    if "requests" in spec:
        counts = pc.fill_null(table.column("request_count"), 1)
        assert (pc.sum(counts).as_py() or 0) == spec["requests"]
