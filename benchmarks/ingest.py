"""Ingest speed: rows/s for CSV and Parquet ingest of demo data, against DuckDB's plain copy.

Run: ``.venv/bin/python benchmarks/ingest.py --rows 10000000`` (``make bench``). In one process it
generates the demo organisation's FOCUS rows into one CSV file and one Parquet file, then times

* the floor: DuckDB's plain ``COPY (SELECT * FROM read_csv(...)) TO '...parquet'`` of the same file
  with every column read as text (the cheapest parse), and the same from Parquet: it parses
  and writes but types and checks nothing;
* CostCouncil's ingest of the same file into a fresh workspace (detect, type, validate every
  column, stage, split by slice, commit),

and prints rows/s and the ratio ingest / floor. The goal is a ratio within 1.5.

Then the demo organisation's many small exports (``costcouncil demo``'s 48 gzipped CSV files):
their ingest in one batch against the floor copy of each file, and the **fixed cost per file**,
measured as the time to ingest one batch of the same files cut to their header and first data row,
divided by the number of files. The goal is at most 0.2 s per file.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from costcouncil.demo import DemoSpec, generate_costs
from costcouncil.demo.files import write_demo
from costcouncil.schema.arrow import TIMESTAMP
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import ingest


def generate(rows: int, seed: int, folder: Path) -> tuple[Path, Path, int]:
    """Write the demo rows once as CSV (ISO UTC timestamps) and once as Parquet."""
    csv_path, parquet_path = folder / "demo.csv", folder / "demo.parquet"
    csv_writer: pacsv.CSVWriter | None = None
    parquet_writer: pq.ParquetWriter | None = None
    total = 0
    for _, _, batch in generate_costs(DemoSpec(rows=rows, seed=seed)):
        parquet_writer = parquet_writer or pq.ParquetWriter(parquet_path, batch.schema)
        parquet_writer.write_batch(batch)
        text = _iso(batch)
        csv_writer = csv_writer or pacsv.CSVWriter(csv_path, text.schema)
        csv_writer.write_batch(text)
        total += batch.num_rows
    assert csv_writer is not None and parquet_writer is not None
    csv_writer.close()
    parquet_writer.close()
    return csv_path, parquet_path, total


def _iso(batch: pa.RecordBatch) -> pa.RecordBatch:
    import pyarrow.compute as pc

    arrays = [
        pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ") if col.type == TIMESTAMP else col
        for col in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def floor(source: str, out: Path) -> float:
    con = duckdb.connect()
    return timed(lambda: con.execute(f"COPY (SELECT * FROM {source}) TO '{out}' (FORMAT parquet)"))


def ours(path: Path, folder: Path) -> float:
    workspace = Workspace.init(folder)

    def run() -> None:
        [outcome] = ingest(workspace, [path])
        assert outcome.status == "ingested", outcome.error

    return timed(run)


def demo_exports(folder: Path, rows: int, seed: int) -> list[Path]:
    """The demo organisation's export files, as ``costcouncil demo`` writes them."""
    write_demo(folder, DemoSpec(rows=rows, seed=seed))
    return sorted((folder / "exports").rglob("*.csv*"))


def one_row_copies(files: list[Path], folder: Path) -> list[Path]:
    """Each file cut to its header and first data row (same name, same compression)."""
    out = []
    for n, path in enumerate(files):
        with gzip.open(path, "rt", newline="") as f:
            head = f.readline() + f.readline()
        target = folder / f"{n:02d}-{path.name}"
        with gzip.open(target, "wt", newline="") as f:
            f.write(head)
        out.append(target)
    return out


def batch(paths: list[Path], folder: Path) -> float:
    workspace = Workspace.init(folder)

    def run() -> None:
        outcomes = ingest(workspace, paths)
        assert all(o.status == "ingested" for o in outcomes), [o.error for o in outcomes]

    return timed(run)


def demo_figures(folder: Path, rows: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = demo_exports(folder / "org", rows, seed)
    con = duckdb.connect()
    floor_s = sum(
        timed(
            lambda p=p: con.execute(
                f"COPY (SELECT * FROM read_csv('{p}', all_varchar=true)) "
                f"TO '{folder / 'floor-demo.parquet'}' (FORMAT parquet)"
            )
        )
        for p in files
    )
    ingest_s = batch(files, folder / "ws-demo")
    (folder / "one-row").mkdir()
    fixed_s = batch(one_row_copies(files, folder / "one-row"), folder / "ws-one-row")
    print(
        f"demo exports: {len(files)} files ({rows:,} rows): floor {floor_s:.2f} s, "
        f"ingest {ingest_s:.2f} s, ratio {ingest_s / floor_s:.2f}; "
        f"fixed cost per file {fixed_s / len(files):.3f} s (goal <= 0.2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument("--demo-rows", type=int, default=200_000, help="rows of the demo's exports")
    parser.add_argument("--reuse", action="store_true", help="reuse demo.csv/.parquet in --dir")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="cc-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "demo", ignore_errors=True)
    for done in ("ws-csv", "ws-parquet"):
        shutil.rmtree(folder / done, ignore_errors=True)
    demo_figures(folder / "demo", args.demo_rows, args.seed)
    t = time.perf_counter()
    csv_path, parquet_path = folder / "demo.csv", folder / "demo.parquet"
    if args.reuse and csv_path.exists() and parquet_path.exists():
        rows = pq.read_metadata(parquet_path).num_rows
    else:
        csv_path, parquet_path, rows = generate(args.rows, args.seed, folder)
    print(
        f"generated {rows:,} rows in {time.perf_counter() - t:.1f} s "
        f"(CSV {csv_path.stat().st_size / 1e9:.2f} GB, Parquet {parquet_path.stat().st_size / 1e9:.2f} GB)"
    )
    results = [
        (
            "CSV",
            floor(f"read_csv('{csv_path}', all_varchar=true)", folder / "floor-csv.parquet"),
            ours(csv_path, folder / "ws-csv"),
        ),
        (
            "Parquet",
            floor(f"read_parquet('{parquet_path}')", folder / "floor-pq.parquet"),
            ours(parquet_path, folder / "ws-parquet"),
        ),
    ]
    print(
        f"{'input':<8} {'floor s':>8} {'ingest s':>9} {'floor rows/s':>13} "
        f"{'ingest rows/s':>14} {'ratio':>6}"
    )
    for name, base, mine in results:
        print(
            f"{name:<8} {base:>8.2f} {mine:>9.2f} {rows / base:>13,.0f} {rows / mine:>14,.0f} "
            f"{mine / base:>6.2f}"
        )
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
