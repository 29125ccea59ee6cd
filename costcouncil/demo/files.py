"""Writing a demo to disk: monthly FOCUS CSV exports per provider, usage Parquet, ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.parquet as pq

from costcouncil.demo.costs import generate_costs
from costcouncil.demo.jobs import generate_jobs
from costcouncil.demo.llm_logs import generate_llm_requests
from costcouncil.demo.spec import DemoSpec
from costcouncil.demo.truth import ground_truth
from costcouncil.schema.focus import FOCUS_1_2


@dataclass(frozen=True)
class DemoFiles:
    """The files :func:`write_demo` wrote."""

    exports: tuple[Path, ...]
    jobs: Path
    llm: Path
    ground_truth: Path


_SECONDS = pa.timestamp("s", tz="UTC")
#: A FOCUS 1.2 export holds the 1.2 columns only (the lake's 1.3 extras are all null here).
CSV_COLUMNS = tuple(c.name for c in FOCUS_1_2)


def _iso(column: pa.Array) -> pa.Array:
    return pc.strftime(column.cast(_SECONDS), format="%Y-%m-%dT%H:%M:%SZ")


def csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The FOCUS 1.2 columns, timestamps as ISO-8601 UTC strings ending in ``Z``."""
    columns = [batch.column(name) for name in CSV_COLUMNS]
    arrays = [_iso(c) if pa.types.is_timestamp(c.type) else c for c in columns]
    return pa.RecordBatch.from_arrays(arrays, names=list(CSV_COLUMNS))


def _write_exports(directory: Path, spec: DemoSpec) -> tuple[Path, ...]:
    paths: list[Path] = []
    writer: csv.CSVWriter | None = None
    sink: pa.CompressedOutputStream | None = None
    for provider, period, batch in generate_costs(spec):
        path = directory / "exports" / provider / f"{period}.csv.gz"
        out = csv_batch(batch)
        if not paths or paths[-1] != path:
            if writer is not None and sink is not None:
                writer.close()
                sink.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            sink = pa.CompressedOutputStream(str(path), "gzip")
            writer = csv.CSVWriter(sink, out.schema)
            paths.append(path)
        assert writer is not None
        writer.write_batch(out)
    if writer is not None and sink is not None:
        writer.close()
        sink.close()
    return tuple(paths)


def write_demo(directory: Path, spec: DemoSpec) -> DemoFiles:
    """Write the demo for ``spec`` under ``directory`` and return the paths."""
    directory = Path(directory)
    exports = _write_exports(directory, spec)
    usage = directory / "usage"
    usage.mkdir(parents=True, exist_ok=True)
    pq.write_table(generate_jobs(spec), usage / "jobs.parquet")
    pq.write_table(generate_llm_requests(spec), usage / "llm.parquet")
    truth = directory / "ground_truth.json"
    truth.write_text(json.dumps(ground_truth(spec), indent=2, sort_keys=True) + "\n")
    return DemoFiles(exports, usage / "jobs.parquet", usage / "llm.parquet", truth)
