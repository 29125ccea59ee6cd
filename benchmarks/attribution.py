"""Attribution speed and memory: CostCouncil's full attribution against DuckDB floors and pandas.

Run: ``.venv/bin/python benchmarks/attribution.py --rows 20000000 --jobs 2000000``. It generates
(seeded, vectorised) a FOCUS-like cost dataset of hourly rows — a quarter of them GPU node-hours on
a few thousand GPU nodes, ``Tags`` with owner tags in messy spellings, a support service — and a
jobs dataset running on those nodes, as Parquet files under ``--workdir``. Then, each in a fresh
subprocess so that every line's peak memory (peak RSS of that process) is its own, it times

* ``floor: scan`` — DuckDB reads every column the attribution reads, once
  (``SELECT sum(hash(<columns>))`` over costs and over jobs);
* ``floor: copy`` — DuckDB reads the same columns and writes them to Parquet once
  (``COPY (SELECT <columns> ...) TO ...``): a read and a write, the shape of an attribution run.
  The ratios are against this floor;
* ``CostCouncil`` — ``build_plan`` + ``run_plan`` for the rules in :data:`RULES_YAML` (tags with a
  values map, a GPU-seconds usage split with capacity and ``idle: keep``, a support pool by direct
  cost), conservation check included, then the allocations written as ``allocate`` writes them
  (one streaming query per billing period, directly owned rows streamed from the cost files);
* ``Spark`` (with ``--spark``) — the same plan on ``SparkEngine("local[2]")``, as
  ``allocate --engine spark`` runs it, allocations written the same way;
* ``pandas`` — the same rules written plainly in pandas (floats, not exact decimals), reading the
  same Parquet columns and writing its allocations to Parquet; it asserts that its allocations sum
  to the input within 1e-6 relative, per metric. Afterwards the two outputs are joined to check
  that both made the same shares with the same weights.

The engine is ``costcouncil.engine.duckdb.DuckDBEngine``. Timings exclude data generation and interpreter start-up. Options: ``--workdir``
(default ``/tmp``), ``--reuse`` (data generated before), ``--skip-pandas``, ``--spark``, ``--clean``.
Documented with its last figures in docs/benchmarks.md.

Goals (issue 11): CostCouncil within 2x of the floor and faster than pandas, peak memory at most
3 GB at 2M and 20M rows, and ``--rows 100000000 --jobs 10000000
--skip-pandas`` completing on a 24 GB machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from costcouncil.schema.arrow import DECIMAL, TIMESTAMP
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA

RULES_YAML = """\
version: 1
owner_keys: [team, project, model, run]
require: [team]
rules:
  - name: tags
    kind: tag
    aliases:
      team: [owner, Owner, OWNER]
      project: [proj]
    values:
      team:
        vision-team: vision
        cv: vision
        search-team: search
        ml-plat: ml-platform
        mlplatform: ml-platform
        ml-platform-team: ml-platform
        recsys-team: recsys
        data-engineering: data-eng
  - name: gpu-nodes
    kind: usage_split
    usage: jobs
    match: {ResourceType: Node}
    capacity: SkuPriceDetails.x_AcceleratorCount
  - name: idle-gpus
    kind: idle
    policy: keep
  - name: support
    kind: shared_pool
    match: {ServiceName: "AWS Support (Business)"}
    by: direct_cost
"""

#: The cost columns the attribution reads for these rules (cc_tagmap and cc_rows read nothing else).
COST_COLUMNS = [
    "x_source_file",
    "x_source_row",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingCurrency",
    "ProviderName",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "Tags",
    "ResourceType",
    "ResourceId",
    "ServiceName",
    "SkuPriceDetails",
]
#: The jobs columns the usage split reads.
JOB_COLUMNS = [
    "resource_id",
    "start",
    "end",
    "accelerator_count",
    "team",
    "project",
    "model",
    "run",
]
METRICS = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]
OWNER_KEYS = ["team", "project", "model", "run"]
SUPPORT = "AWS Support (Business)"

PRICES_SCHEMA = pa.schema(
    [
        ("provider", pa.string()),
        ("model", pa.string()),
        ("service_tier", pa.string()),
        ("valid_from", TIMESTAMP),
        ("valid_to", TIMESTAMP),
        ("input_per_mtok", DECIMAL),
        ("cached_input_per_mtok", DECIMAL),
        ("cache_write_per_mtok", DECIMAL),
        ("output_per_mtok", DECIMAL),
        ("reasoning_per_mtok", DECIMAL),
        ("currency", pa.string()),
        ("source", pa.string()),
        ("catalog_model", pa.string()),
    ]
)

# --------------------------------------------------------------------------------------------
# Data generation
# --------------------------------------------------------------------------------------------

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR_US = 3_600_000_000
MONTH_DAYS = (31, 28, 31)  # January to March 2026: three billing periods
HOURS = 24 * sum(MONTH_DAYS)
END_US = START_US + HOURS * HOUR_US
FILE_ROWS = 1_500_000
JOB_FILE_ROWS = 1_000_000

TEAMS = {  # canonical team -> raw spellings seen in tags (slugged, then mapped by the values map)
    "vision": ["vision", "Vision", "VISION", "vision-team", "Vision Team", "cv", "CV"],
    "search": ["search", "Search", "search_team", " search "],
    "ml-platform": ["ml-platform", "ML Platform", "ml_platform", "MLPlatform", "ml-plat"],
    "recsys": ["recsys", "RecSys", "recsys-team"],
    "speech": ["speech", "Speech"],
    "nlp": ["nlp", "NLP"],
    "ads": ["ads", "Ads"],
    "data-eng": ["data-eng", "Data Engineering", "data_eng"],
    "infra": ["infra", "Infra", "INFRA"],
    "research": ["research", "Research"],
    "safety": ["safety"],
    "growth": ["growth", "Growth"],
}
TEAM_KEYS = ["team", "Team", "TEAM", "owner", "Owner", "teams", "Team "]  # the last two: typos
PROJECT_KEYS = ["project", "Project", "proj"]
N_TAGS = 3000


def _tag_pool(rng: np.random.Generator) -> list[str | None]:
    """A few thousand distinct ``Tags`` strings, messy like real ones; index 0 is untagged."""
    teams = list(TEAMS)
    pool: list[str | None] = [None, "{}"]
    seen: set[str] = set()
    while len(pool) < N_TAGS:
        team = teams[rng.integers(len(teams))]
        tags: dict[str, str] = {}
        if rng.random() < 0.93:
            key = TEAM_KEYS[min(rng.geometric(0.45) - 1, len(TEAM_KEYS) - 1)]
            spellings = TEAMS[team]
            tags[key] = spellings[rng.integers(len(spellings))]
        if rng.random() < 0.7:
            key = PROJECT_KEYS[rng.integers(len(PROJECT_KEYS))]
            tags[key] = f"{team}-{['core', 'serving', 'training', 'eval', 'data'][rng.integers(5)]}"
        if rng.random() < 0.2:
            tags["model"] = f"model-{rng.integers(40)}"
        tags["env"] = ["prod", "staging", "dev"][rng.integers(3)]
        tags["cost-center"] = f"cc-{rng.integers(1000, 1400)}"
        items = list(tags.items())
        rng.shuffle(items)  # type: ignore[arg-type]
        text = json.dumps(dict(items))
        if text not in seen:
            seen.add(text)
            pool.append(text)
    return pool


def _resources(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """Per-resource attributes: about a quarter GPU nodes, a few support subscriptions."""
    n_gpu = max(1, round(n * 0.25))
    n_support = max(1, round(n * 0.002))
    kind = np.array(["gpu"] * n_gpu + ["support"] * n_support + ["other"] * (n - n_gpu - n_support))
    kind = kind[rng.permutation(n)]
    tag_pool = _tag_pool(rng)
    others = [  # provider, service, category, resource type, $/hour (median), currency
        ("AWS", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machine", 0.4, "USD"),
        ("AWS", "Amazon Simple Storage Service", "Storage", "Bucket", 0.05, "USD"),
        ("AWS", "Amazon Relational Database Service", "Databases", "DB Instance", 0.7, "USD"),
        ("AWS", "Amazon Virtual Private Cloud", "Networking", "NAT Gateway", 0.045, "USD"),
        ("AWS", "Amazon SageMaker", "AI and Machine Learning", "Endpoint", 1.2, "USD"),
        ("Google Cloud", "Compute Engine", "Compute", "Virtual Machine", 0.35, "USD"),
        ("Google Cloud", "Cloud Storage", "Storage", "Bucket", 0.04, "USD"),
        ("Google Cloud", "BigQuery", "Analytics", "Dataset", 0.9, "USD"),
        ("Microsoft", "Virtual Machines", "Compute", "Virtual Machine", 0.38, "EUR"),
        ("Microsoft", "Storage", "Storage", "Storage Account", 0.06, "EUR"),
    ]
    gpus = [  # provider, service, accelerator, count, $/GPU-hour, currency, id prefix
        (
            "AWS",
            "Amazon Elastic Compute Cloud",
            "H100",
            8,
            4.10,
            "USD",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-",
        ),
        (
            "AWS",
            "Amazon Elastic Compute Cloud",
            "A10G",
            4,
            1.42,
            "USD",
            "arn:aws:ec2:us-west-2:123456789012:instance/i-",
        ),
        (
            "Google Cloud",
            "Kubernetes Engine",
            "A100",
            8,
            3.67,
            "USD",
            "projects/ml-prod/zones/us-central1-a/instances/gke-gpu-",
        ),
        (
            "Microsoft",
            "Virtual Machines",
            "A100",
            8,
            3.40,
            "EUR",
            "/subscriptions/0b1c/resourceGroups/ml/providers/Microsoft.Compute/virtualMachines/gpu-",
        ),
        (
            "AWS",
            "Amazon Elastic Compute Cloud",
            "L4",
            1,
            0.80,
            "USD",
            "arn:aws:ec2:eu-west-1:123456789012:instance/i-",
        ),
    ]
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "ProviderName",
            "ServiceName",
            "ServiceCategory",
            "ResourceType",
            "ResourceId",
            "BillingCurrency",
            "SkuPriceDetails",
            "Tags",
            "rate",
            "capacity",
            "accelerator",
        )
    }
    tag_ix = rng.integers(0, len(tag_pool), n)
    tag_ix[rng.random(n) < 0.1] = 0  # 10 % untagged
    rate_jitter = rng.lognormal(0.0, 0.8, n)
    gpu_choice = rng.choice(len(gpus), n, p=[0.45, 0.15, 0.2, 0.1, 0.1])
    other_choice = rng.integers(0, len(others), n)
    for i in range(n):
        if kind[i] == "gpu":
            prov, svc, acc, count, per_gpu, cur, prefix = gpus[gpu_choice[i]]
            values = (prov, svc, "Compute", "Node", f"{prefix}{i:017x}", cur)
            sku = json.dumps({"x_AcceleratorCount": count, "x_AcceleratorType": acc})
            rate, cap = count * per_gpu, count
        elif kind[i] == "support":
            values = ("AWS", SUPPORT, "Management and Governance", None, None, "USD")
            sku, rate, cap, acc = None, 2.0 + 18.0 * rng.random(), 0, None
        else:
            prov, svc, cat, rtype, median, cur = others[other_choice[i]]
            values = (
                prov,
                svc,
                cat,
                rtype,
                f"{prov[:3].lower()}-{rtype.replace(' ', '-').lower()}-{i:08d}",
                cur,
            )
            sku = json.dumps({"x_vCPU": int(2 ** rng.integers(1, 6))}) if cat == "Compute" else None
            rate, cap, acc = median * rate_jitter[i], 0, None
        for key, value in zip(
            (
                "ProviderName",
                "ServiceName",
                "ServiceCategory",
                "ResourceType",
                "ResourceId",
                "BillingCurrency",
            ),
            values,
            strict=True,
        ):
            cols[key].append(value)
        cols["SkuPriceDetails"].append(sku)
        cols["Tags"].append(tag_pool[tag_ix[i]] if kind[i] != "support" else None)
        cols["rate"].append(rate)
        cols["capacity"].append(cap)
        cols["accelerator"].append(acc if kind[i] == "gpu" else None)
    out: dict[str, Any] = {
        k: pa.array(v, pa.string()) for k, v in cols.items() if k not in ("rate", "capacity")
    }
    out["rate"] = np.array(cols["rate"])
    out["capacity"] = np.array(cols["capacity"], dtype=np.float64)
    out["kind"] = kind
    out["discount"] = np.where(rng.random(n) < 0.6, 1.0 - 0.4 * rng.random(n), 1.0)
    out["contracted_null"] = np.array([p == "Microsoft" for p in cols["ProviderName"]])
    out["jitter"] = kind == "other"
    return out


def _decimal(units: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """decimal128(38, 12) from int64 counts of 1e-12 (two's complement, little-endian)."""
    raw = np.empty((units.size, 2), dtype=np.int64)
    raw[:, 0] = units
    raw[:, 1] = units >> 63
    validity = None
    if null is not None and null.any():
        validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(DECIMAL, units.size, [validity, pa.py_buffer(raw)])


def _timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(us, type=pa.int64()).view(TIMESTAMP)


def _month_bounds() -> tuple[np.ndarray, np.ndarray]:
    starts, ends, t = [], [], START_US
    for days in MONTH_DAYS:
        end = t + days * 24 * HOUR_US
        starts += [t] * (days * 24)
        ends += [end] * (days * 24)
        t = end
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def generate_costs(rows: int, seed: int, folder: Path) -> dict[str, Any]:
    """Hourly cost rows, hour-major (every resource's row for an hour, then the next hour)."""
    rng = np.random.default_rng(seed)
    n_res = -(-rows // HOURS)
    res = _resources(n_res, rng)
    month_start, month_end = _month_bounds()
    folder.mkdir(parents=True, exist_ok=True)
    for f, first in enumerate(range(0, rows, FILE_ROWS)):
        idx = np.arange(first, min(first + FILE_ROWS, rows), dtype=np.int64)
        n = idx.size
        hour, r = idx // n_res, idx % n_res
        take = pa.array(r)
        cps = START_US + hour * HOUR_US
        factor = np.where(res["jitter"][r], 0.3 + 1.4 * rng.random(n), 1.0)
        list_cost = res["rate"][r] * factor
        effective = list_cost * res["discount"][r]
        units = {
            "ListCost": list_cost,
            "EffectiveCost": effective,
            "BilledCost": effective,
            "ContractedCost": list_cost * 0.85,
        }
        fingerprint = hashlib.blake2b(f"{seed}/{f}".encode(), digest_size=16).hexdigest()
        columns: dict[str, pa.Array] = {
            "x_source_format": pa.array(np.full(n, "focus-1.2", dtype=object), pa.string()),
            "x_source_file": pa.array(np.full(n, fingerprint, dtype=object), pa.string()),
            "x_source_row": pa.array(idx - first + 1),
            "BillingAccountId": pa.array(np.full(n, "123456789012", dtype=object), pa.string()),
            "BillingPeriodStart": _timestamps(month_start[hour]),
            "BillingPeriodEnd": _timestamps(month_end[hour]),
            "ChargePeriodStart": _timestamps(cps),
            "ChargePeriodEnd": _timestamps(cps + HOUR_US),
            "BillingCurrency": res["BillingCurrency"].take(take),
            **{
                m: _decimal(
                    np.rint(v * 1e10).astype(np.int64) * 100,  # 10 decimals, like real CURs
                    res["contracted_null"][r] if m == "ContractedCost" else None,
                )
                for m, v in units.items()
            },
            "ChargeCategory": pa.array(np.full(n, "Usage", dtype=object), pa.string()),
            "ProviderName": res["ProviderName"].take(take),
            "ServiceName": res["ServiceName"].take(take),
            "ServiceCategory": res["ServiceCategory"].take(take),
            "ResourceId": res["ResourceId"].take(take),
            "ResourceType": res["ResourceType"].take(take),
            "SkuPriceDetails": res["SkuPriceDetails"].take(take),
            "Tags": res["Tags"].take(take),
        }
        pq.write_table(pa.table(columns), folder / f"part-{f:04d}.parquet")
    gpu = res["kind"] == "gpu"
    return {
        "resources": n_res,
        "gpu_ids": res["ResourceId"].filter(pa.array(gpu)),
        "gpu_capacity": res["capacity"][gpu],
        "gpu_accelerator": res["accelerator"].filter(pa.array(gpu)),
    }


def _strings(prefix: str, values: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")


def generate_jobs(n: int, seed: int, costs: dict[str, Any], folder: Path) -> None:
    """Jobs on the GPU nodes: lognormal durations (median 2 h), 0.5-8 GPUs, owned by runs.

    A job that would end after the data does is still running: its ``end`` is null.
    """
    rng = np.random.default_rng(seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    n_gpu = len(costs["gpu_ids"])
    n_runs = max(1, n // 6)
    teams = np.array(list(TEAMS))
    for f, first in enumerate(range(0, n, JOB_FILE_ROWS)):
        m = min(JOB_FILE_ROWS, n - first)
        node = rng.integers(0, n_gpu, m)
        start_s = START_US // 1_000_000 + rng.integers(0, HOURS * 3600 - 60, m)
        duration = np.clip(rng.lognormal(np.log(7200.0), 1.0, m), 60, 72 * 3600).astype(np.int64)
        end_s = start_s + duration
        running = end_s >= END_US // 1_000_000  # still running when the data ends: no end yet
        count = rng.choice([0.5, 1.0, 2.0, 4.0, 8.0], m, p=[0.1, 0.3, 0.25, 0.2, 0.15])
        count = np.minimum(count, costs["gpu_capacity"][node])
        run = rng.integers(0, n_runs, m)
        team = teams[run % len(teams)]
        take = pa.array(node)
        status = np.where(running, "running", np.where(rng.random(m) < 0.06, "failed", "succeeded"))
        columns = {
            "job_id": _strings("job-", np.arange(first, first + m)),
            "source": pa.array(np.where(node % 3 == 0, "slurm", "kubernetes"), pa.string()),
            "resource_id": costs["gpu_ids"].take(take),
            "start": _timestamps(start_s * 1_000_000),
            "end": pc.if_else(
                pa.array(running), pa.scalar(None, TIMESTAMP), _timestamps(end_s * 1_000_000)
            ),
            "accelerator_type": costs["gpu_accelerator"].take(take),
            "accelerator_count": pa.array(count),
            "cpu_cores": pa.array(count * 12.0),
            "memory_gib": pa.array(count * 96.0),
            "status": pa.array(status, pa.string()),
            "kind": pa.array(np.where(run % 4 == 0, "inference", "training"), pa.string()),
            "team": pa.array(team, pa.string()),
            "project": pc.binary_join_element_wise(
                pa.array(team, pa.string()), _strings("p", run % 5), "-"
            ),
            "model": _strings("model-", run % 60),
            "model_version": pa.nulls(m, pa.string()),
            "run": _strings("run-", run),
            "environment": pa.nulls(m, pa.string()),
            "user": pa.nulls(m, pa.string()),
            "attributes": pa.nulls(m, pa.string()),
        }
        table = pa.table(columns).cast(JOBS_SCHEMA)
        pq.write_table(table, folder / f"jobs-{f:04d}.parquet")


def generate(rows: int, jobs: int, seed: int, data: Path) -> float:
    if data.exists():
        shutil.rmtree(data)
    t = time.perf_counter()
    costs = generate_costs(rows, seed, data / "costs")
    generate_jobs(jobs, seed, costs, data / "jobs")
    took = time.perf_counter() - t
    (data / "complete.json").write_text(
        json.dumps({"rows": rows, "jobs": jobs, "seed": seed, "resources": costs["resources"]})
    )
    return took


# --------------------------------------------------------------------------------------------
# Measurements (each runs in its own process: ``--measure NAME``)
# --------------------------------------------------------------------------------------------


def _parquet(data: Path, what: str) -> str:
    return f"read_parquet('{data / what}/*.parquet')"


class _DuckDBPeak:
    """Samples DuckDB's own memory (buffer manager) and spill use every 50 ms."""

    def __init__(self, con: Any) -> None:
        self.cursor = con.cursor()
        self.memory = self.spill = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        sql = "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM duckdb_memory()"
        while not self.stop.wait(0.05):
            used, spilled = self.cursor.execute(sql).fetchone()
            self.memory, self.spill = max(self.memory, used or 0), max(self.spill, spilled or 0)

    def __enter__(self) -> _DuckDBPeak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def measure_floor(kind: str, data: Path, out: Path) -> dict[str, Any]:
    from costcouncil.engine.duckdb import connect

    con = connect(temp_dir=out / "spill")
    costs = ", ".join(f'"{c}"' for c in COST_COLUMNS)
    jobs = ", ".join(f'"{c}"' for c in JOB_COLUMNS)
    if kind == "scan":
        sql = [
            f"SELECT sum(hash({costs})) FROM {_parquet(data, 'costs')}",
            f"SELECT sum(hash({jobs})) FROM {_parquet(data, 'jobs')}",
        ]
    else:
        sql = [
            f"COPY (SELECT {costs} FROM {_parquet(data, 'costs')}) TO '{out / 'floor-costs.parquet'}' (FORMAT parquet)",
            f"COPY (SELECT {jobs} FROM {_parquet(data, 'jobs')}) TO '{out / 'floor-jobs.parquet'}' (FORMAT parquet)",
        ]
    with _DuckDBPeak(con) as peak:
        t = time.perf_counter()
        for s in sql:
            con.execute(s).fetchall()
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "duckdb_peak": peak.memory, "duckdb_spill": peak.spill}


def _run_product(engine: Any, data: Path, out: Path, folder: str) -> dict[str, Any]:
    """Attribute and write as ``allocate`` does on ``engine``, timing each stage: the billing
    periods in groups of at most ``allocate_chunk_rows`` cost rows, each group's plan run, its
    allocations (and reconciliation) written one file per period, and its views dropped."""
    from costcouncil.attribution import build_plan, parse_rules, release_plan, run_plan
    from costcouncil.settings import get_settings
    from costcouncil.workspace.common.inputs import (
        period_bounds,
        period_chunks,
        split_parts,
        write_outputs,
    )

    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    cost_files = sorted((data / "costs").glob("*.parquet"))
    cost_schema = pq.read_schema(cost_files[0])
    engine.load_parquet("costs_all", cost_files, cost_schema)
    engine.load_parquet("jobs", sorted((data / "jobs").glob("*.parquet")), JOBS_SCHEMA)
    engine.load_arrow("llm", LLM_SCHEMA.empty_table())
    engine.load_arrow("prices", PRICES_SCHEMA.empty_table())
    counts = engine.fetch(
        "SELECT strftime(BillingPeriodStart, '%Y-%m') AS p, COUNT(*) AS n FROM costs_all GROUP BY 1"
    ).to_pylist()
    rows = {r["p"]: r["n"] for r in counts}
    limit = get_settings().allocate_chunk_rows
    chunks = period_chunks(rows, limit)
    rules = parse_rules(RULES_YAML, "rules.yaml")
    target = out / folder
    target.mkdir(parents=True, exist_ok=True)
    allocations = 0
    last = [time.perf_counter(), "period counts"]

    def progress(view: str, i: int, total: int) -> None:
        now = time.perf_counter()
        stages[str(last[1])] = stages.get(str(last[1]), 0.0) + now - float(last[0])
        last[:] = [now, view]
        print(f"  [{now - t0:7.1f} s] {i + 1}/{total} {view}", file=sys.stderr, flush=True)

    for chunk in chunks:
        start, end = period_bounds(chunk[0])[0], period_bounds(chunk[-1])[1]
        engine.create(
            "costs",
            f"SELECT * FROM costs_all WHERE BillingPeriodStart >= {start} AND BillingPeriodStart < {end}",
        )
        progress("build plan", -1, 0)
        plan = build_plan(
            rules, {}, cost_schema.names, split_parts(sum(rows[p] for p in chunk), limit)
        )
        spool = out / f"{folder}-spool"
        spool.mkdir(exist_ok=True)
        run_plan(engine, plan, progress, spool)
        progress("write allocations (per period)", -1, 0)
        written = write_outputs(engine, chunk, target)
        allocations += sum(o["allocations"][1] for o in written.values())
        release_plan(engine, plan)
        shutil.rmtree(spool, ignore_errors=True)
    progress("done", -1, 0)
    print(f"  {len(chunks)} group(s) of periods: {chunks}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "stages": list(stages.items()), "allocations": allocations}


def measure_costcouncil(data: Path, out: Path) -> dict[str, Any]:
    from costcouncil.engine.duckdb import DuckDBEngine
    from costcouncil.workspace.common.inputs import attribution_connection

    con = attribution_connection(out / "spill")  # as `allocate` opens it
    with _DuckDBPeak(con) as peak:
        result = _run_product(DuckDBEngine(con), data, out, "cc_allocations")
    return {
        **result,
        "duckdb_peak": peak.memory,
        "duckdb_spill": peak.spill,
        "engine": "DuckDBEngine",
    }


def measure_spark(data: Path, out: Path) -> dict[str, Any]:
    """The same plan on ``SparkEngine("local[2]")``, as ``allocate --engine spark`` runs it."""
    from costcouncil.engine.spark import SparkEngine, stop_spark

    engine = SparkEngine("local[2]")
    result = _run_product(engine, data, out, "spark_allocations")
    engine.close()
    stop_spark()
    return {**result, "engine": "Spark"}


# ---- the pandas baseline --------------------------------------------------------------------

_SPELLINGS = {  # the spec's order: key, Key, KEY, then the rule's aliases
    "team": ["team", "Team", "TEAM", "owner", "Owner", "OWNER"],
    "project": ["project", "Project", "PROJECT", "proj"],
    "model": ["model", "Model", "MODEL"],
    "run": ["run", "Run", "RUN"],
}
_TEAM_VALUES = {
    "vision-team": "vision",
    "cv": "vision",
    "search-team": "search",
    "ml-plat": "ml-platform",
    "mlplatform": "ml-platform",
    "ml-platform-team": "ml-platform",
    "recsys-team": "recsys",
    "data-engineering": "data-eng",
}


def _tag_owner(text: str) -> dict[str, str | None]:
    tags = json.loads(text)
    found: dict[str, str | None] = {}
    for key, names in _SPELLINGS.items():
        value = None
        for name in names:
            raw = tags.get(name)
            if isinstance(raw, str) and raw.strip(" "):
                value = raw.strip(" ")
                break
        if value is not None:
            value = re.sub(r"[\s_]+", "-", value.lower())
            if key == "team":
                value = _TEAM_VALUES.get(value, value)
        found[key] = value
    return found


def _recode(values: list[str | None], codes: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes into the distinct non-null ``values``, for rows whose category code is ``codes``."""
    cats = sorted({v for v in values if v is not None})
    where = {v: i for i, v in enumerate(cats)}
    per_cat = np.array([where[v] if v is not None else -1 for v in values] + [-1], dtype=np.int64)
    return per_cat[codes], cats  # code -1 (missing category) picks the trailing -1


def pandas_attribution(data: Path, out: Path) -> dict[str, Any]:
    """The same rules in plain pandas, with float amounts (not exact decimals)."""
    import pandas as pd

    t0 = time.perf_counter()
    strings = [
        c for c in COST_COLUMNS if c not in METRICS and c != "x_source_row" and "Period" not in c
    ]
    table = pq.read_table(data / "costs", columns=COST_COLUMNS, read_dictionary=strings)
    df = _frame(table)  # strings as categoricals, decimals as float64, timestamps as epoch ms
    del table
    totals = {m: float(df[m].sum()) for m in METRICS}
    writer = _Writer(out / "pandas_allocations.parquet")
    period, currency = df["BillingPeriodStart"].to_numpy(), df["BillingCurrency"].array
    pool_owners = []  # (period, currency, team) -> EffectiveCost of each part's owned allocations

    # Owner rules: parse each distinct Tags string once, map the rows by category code.
    tags = df["Tags"].array
    parsed = [_tag_owner(s) for s in tags.categories]
    owner = {k: _recode([p[k] for p in parsed], tags.codes) for k in OWNER_KEYS}
    owned = owner["team"][0] >= 0

    # Which split rule claims each row (the first that matches).
    gpu = (df["ResourceType"] == "Node").to_numpy()
    pool = ~gpu & (df["ServiceName"] == SUPPORT).to_numpy()
    direct = ~gpu & ~pool

    # Direct rows: one share each, the tags' owner or unallocated.
    unalloc = "__unallocated__"
    d = df.loc[direct, ["x_source_file", "x_source_row", *METRICS]]
    mine = owned[direct]
    for key in OWNER_KEYS:
        codes, cats = owner[key]
        d[f"x_{key}"] = pd.Categorical.from_codes(
            np.where(mine, codes[direct], len(cats)), [*cats, unalloc]
        )
    d["x_rule"] = pd.Categorical.from_codes(mine.astype(np.int8), ["unallocated", "tags"])
    d["x_method"] = pd.Categorical.from_codes(mine.astype(np.int8), ["unallocated", "tag"])
    d["x_weight"] = 1.0
    writer.write(d)
    keep = direct & owned
    pool_owners.append(
        _owner_cost(
            period[keep],
            currency[keep],
            d["x_team"].array[mine],
            df["EffectiveCost"].to_numpy()[keep],
        )
    )
    del d

    # GPU nodes: split by GPU-milliseconds of the jobs that ran in each node-hour, idle kept.
    nodes = df.loc[gpu].reset_index(drop=True)
    sku = nodes["SkuPriceDetails"].array
    caps = [float(json.loads(s).get("x_AcceleratorCount", "nan")) for s in sku.categories]
    capacity = np.array([*caps, np.nan])[sku.codes]
    jobs = _frame(
        pq.read_table(
            data / "jobs", columns=JOB_COLUMNS, read_dictionary=["resource_id", *OWNER_KEYS]
        )
    )
    hour = HOUR_US // 1000
    data_end = int(nodes["ChargePeriodEnd"].max())
    start = jobs["start"].to_numpy()
    job_end = jobs["end"].to_numpy(dtype="float64", na_value=np.nan)  # NaN: still running
    end = np.minimum(np.nan_to_num(job_end, nan=data_end), data_end).astype(np.int64)
    first, n_hours = start // hour, np.maximum(-(-end // hour) - start // hour, 0)
    rep = np.repeat(np.arange(len(jobs)), n_hours)  # one row per (job, hour it touches)
    step = np.arange(rep.size) - np.repeat(np.cumsum(n_hours) - n_hours, n_hours)
    node_ids = nodes["ResourceId"].array
    rid = pd.Categorical(jobs["resource_id"], categories=node_ids.categories).codes
    pairs = pd.DataFrame(
        {"rid": rid[rep], "ChargePeriodStart": (first[rep] + step) * hour, "job": rep}
    )
    del rep, step
    node_keys = pd.DataFrame(
        {
            "rid": node_ids.codes,
            "ChargePeriodStart": nodes["ChargePeriodStart"].to_numpy(),
            "row": np.arange(len(nodes)),
        }
    )
    hits = pairs.merge(node_keys, on=["rid", "ChargePeriodStart"])
    del pairs, node_keys
    job, row = hits["job"].to_numpy(), hits["row"].to_numpy()
    cps, cpe = nodes["ChargePeriodStart"].to_numpy()[row], nodes["ChargePeriodEnd"].to_numpy()[row]
    overlap = np.minimum(np.nan_to_num(job_end[job], nan=np.inf), cpe) - np.maximum(start[job], cps)
    ran = overlap > 0
    milli = np.rint(jobs["accelerator_count"].fillna(0).to_numpy() * 1000).astype(np.int64)
    used = pd.DataFrame(
        {
            "row": row[ran],
            **{f"x_{k}": jobs[k].array.take(job[ran]) for k in OWNER_KEYS},
            "w": milli[job[ran]] * overlap[ran].astype(np.int64),
            "x_usage_count": 1,
        }
    )
    del hits, job, row, cps, cpe, overlap
    by = ["row", *(f"x_{k}" for k in OWNER_KEYS)]
    shares = used.groupby(by, sort=False, dropna=False, observed=True).sum().reset_index()
    del used
    used_w = np.bincount(shares["row"], weights=shares["w"], minlength=len(nodes))
    any_use = np.bincount(shares["row"], minlength=len(nodes)) > 0
    span = (nodes["ChargePeriodEnd"] - nodes["ChargePeriodStart"]).to_numpy()
    idle_w = np.where(any_use, np.maximum(np.rint(capacity * 1000) * span - used_w, 0), 1.0)
    total_w = used_w + idle_w
    row = shares["row"].to_numpy()
    shares["x_weight"] = shares["w"].to_numpy() / total_w[row]
    _amounts(shares, nodes, row, "gpu-nodes", "usage_split:gpu_seconds")
    writer.write(shares.drop(columns=["row", "w", "x_usage_count"]))
    real = shares["x_team"].notna().to_numpy()
    pool_owners.append(
        _owner_cost(
            period[gpu][row[real]],
            currency[gpu][row[real]],
            shares["x_team"].array[real],
            shares["EffectiveCost"].to_numpy()[real],
        )
    )
    del shares
    idle_rows = np.flatnonzero(idle_w > 0)
    idle = pd.DataFrame({"x_weight": idle_w[idle_rows] / total_w[idle_rows]})
    for key in OWNER_KEYS:
        idle[f"x_{key}"] = pd.Categorical.from_codes(
            np.zeros(len(idle_rows), np.int8), ["__idle__"]
        )
    _amounts(idle, nodes, idle_rows, "gpu-nodes", "idle")
    writer.write(idle)
    del idle, nodes

    # The support pool: each row split over its billing period's teams by their direct cost.
    owners_df = (
        pd.concat(pool_owners)
        .groupby(["BillingPeriodStart", "BillingCurrency", "x_team"])
        .sum()
        .reset_index()
    )
    owners_df["pw"] = np.rint(np.maximum(owners_df.pop("EffectiveCost"), 0) * 1e6)
    owners_df = owners_df[owners_df["pw"] > 0]
    rows = df.loc[
        pool, ["x_source_file", "x_source_row", "BillingPeriodStart", "BillingCurrency", *METRICS]
    ]
    rows = rows.astype({"BillingCurrency": "object"}).reset_index(drop=True)
    rows["id"] = np.arange(len(rows))
    shared = rows.merge(owners_df, on=["BillingPeriodStart", "BillingCurrency"], how="left")
    none = shared["pw"].isna().to_numpy()
    shared["pw"] = shared["pw"].fillna(1.0)
    shared["x_weight"] = shared["pw"] / shared.groupby("id")["pw"].transform("sum")
    for m in METRICS:
        shared[m] = shared[m] * shared["x_weight"]
    shared["x_team"] = shared["x_team"].where(~none, unalloc)
    for key in OWNER_KEYS[1:]:
        shared[f"x_{key}"] = np.where(none, unalloc, None)
    shared["x_rule"] = "support"
    shared["x_method"] = np.where(none, "shared_pool:none", "shared_pool:direct_cost")
    writer.write(shared)
    writer.close()
    seconds = time.perf_counter() - t0
    for m in METRICS:
        error = abs(writer.sums[m] - totals[m]) / max(abs(totals[m]), 1e-300)
        assert error < 1e-6, f"pandas allocations of {m} are off by {error:.2e} relative"
    return {"seconds": seconds, "allocations": writer.rows}


def _frame(table: pa.Table) -> Any:
    """A pandas frame: dictionary strings -> categoricals, decimals -> float64, times -> epoch ms."""
    cols = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_decimal(col.type):
            col = pc.cast(col, pa.float64())
        elif pa.types.is_timestamp(col.type):
            col = pc.divide(pc.cast(col, pa.int64()), 1000)  # integer division
        cols[name] = col
    return pa.table(cols).to_pandas()


def _owner_cost(period: np.ndarray, currency: Any, team: Any, cost: np.ndarray) -> Any:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "BillingPeriodStart": period,
            "BillingCurrency": currency,
            "x_team": team,
            "EffectiveCost": cost,
        }
    )
    keys = ["BillingPeriodStart", "BillingCurrency", "x_team"]
    summed = frame.groupby(keys, observed=True).sum().reset_index()
    return summed.astype({"BillingCurrency": "object", "x_team": "object"})


def _amounts(part: Any, nodes: Any, row: np.ndarray, rule: str, method: str) -> None:
    """Fill a split part's key, rule, method and metric columns from its node rows."""
    import pandas as pd

    weight = part["x_weight"].to_numpy()
    for m in METRICS:
        part[m] = nodes[m].to_numpy()[row] * weight
    part["x_source_file"] = nodes["x_source_file"].array.take(row)
    part["x_source_row"] = nodes["x_source_row"].to_numpy()[row]
    part["x_rule"] = pd.Categorical.from_codes(np.zeros(len(row), np.int8), [rule])
    part["x_method"] = pd.Categorical.from_codes(np.zeros(len(row), np.int8), [method])


class _Writer:
    """Allocation parts to one Parquet file; keeps each metric's running sum."""

    SCHEMA = pa.schema(
        [("x_source_file", pa.string()), ("x_source_row", pa.int64())]
        + [(f"x_{k}", pa.string()) for k in OWNER_KEYS]
        + [("x_rule", pa.string()), ("x_method", pa.string()), ("x_weight", pa.float64())]
        + [(m, pa.float64()) for m in METRICS]
    )

    def __init__(self, path: Path) -> None:
        self.writer = pq.ParquetWriter(path, self.SCHEMA)
        self.sums = dict.fromkeys(METRICS, 0.0)
        self.rows = 0

    def write(self, part: Any) -> None:
        for m in METRICS:
            self.sums[m] += float(part[m].sum())
        self.rows += len(part)
        arrow = pa.Table.from_pandas(part[self.SCHEMA.names], preserve_index=False)
        self.writer.write_table(
            pa.table([pc.cast(arrow[f.name], f.type) for f in self.SCHEMA], schema=self.SCHEMA)
        )

    def close(self) -> None:
        self.writer.close()


def _measure(name: str, data: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if name in ("scan", "copy"):
        result = measure_floor(name, data, out)
    elif name == "costcouncil":
        result = measure_costcouncil(data, out)
    elif name == "spark":
        result = measure_spark(data, out)
    else:
        result = pandas_attribution(data, out)
    print("RESULT " + json.dumps(result), flush=True)


def run_measurement(name: str, data: Path, out: Path) -> dict[str, Any]:
    """Run one measurement in a fresh process; add its own peak RSS (``wait4``) in MB."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", name]
    cmd += ["--data", str(data), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = proc.stdout.read().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"measurement {name!r} failed (exit {proc.returncode})")
    result = json.loads(next(x for x in reversed(lines) if x.startswith("RESULT "))[7:])
    result["peak_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _cross_check(out: Path) -> list[str]:
    """Do CostCouncil and pandas make the same shares with the same weights?

    Amounts are not compared row by row: CostCouncil's are whole cents (the largest-remainder
    rounding moves up to one unit per share), pandas' are floats.
    """
    import duckdb

    con = duckdb.connect(config={"memory_limit": "4GB"})
    con.execute(f"SET temp_directory = '{out / 'spill-check'}'")
    key = ["x_source_file", "x_source_row", "x_rule", "x_method"]
    key += [f"coalesce(x_{k}, '<null>') AS x_{k}" for k in OWNER_KEYS]
    cols = ", ".join(key)
    using = ", ".join(
        ["x_source_file", "x_source_row", "x_rule", "x_method", *(f"x_{k}" for k in OWNER_KEYS)]
    )
    sql = (
        "SELECT count(*) FILTER (c.x_weight IS NULL OR p.x_weight IS NULL), "
        "max(abs(c.x_weight - p.x_weight)), count(*) FROM "
        f"(SELECT {cols}, x_weight FROM '{out / 'cc_allocations'}/allocations-*.parquet') AS c FULL JOIN "
        f"(SELECT {cols}, x_weight FROM '{out / 'pandas_allocations.parquet'}') AS p USING ({using})"
    )
    unmatched, worst, n = con.execute(sql).fetchone()
    shares = (
        f"{'same' if unmatched == 0 else 'DIFFERENT'} shares: {n:,} allocation rows, {unmatched:,} "
        f"in only one of them; largest x_weight difference {worst or 0:.1e}"
    )
    sql = (
        "SELECT max(abs(c.v - p.v) / c.n), max(abs(c.v - p.v) / abs(c.v)) FROM "
        f"(SELECT x_team, sum(EffectiveCost)::DOUBLE AS v, count(*) AS n FROM '{out / 'cc_allocations'}/allocations-*.parquet' GROUP BY 1) c "
        f"JOIN (SELECT x_team, sum(EffectiveCost) AS v FROM '{out / 'pandas_allocations.parquet'}' GROUP BY 1) p "
        "ON c.x_team IS NOT DISTINCT FROM p.x_team"
    )
    per_row, relative = con.execute(sql).fetchone()
    teams = (
        f"EffectiveCost per team differs by at most {relative:.1e} relative "
        f"({per_row:.4f} per allocation row: CostCouncil's amounts are rounded to cents)"
    )
    return [shares, teams]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--jobs", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"), help="where data goes")
    parser.add_argument("--reuse", action="store_true", help="reuse data generated before")
    parser.add_argument("--skip-pandas", action="store_true", help="leave out the pandas baseline")
    parser.add_argument(
        "--spark", action="store_true", help="also run the same plan on Spark local[2]"
    )
    parser.add_argument("--clean", action="store_true", help="delete the generated data at the end")
    parser.add_argument("--keep-output", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(args.measure, args.data, args.out)
        return

    root = args.workdir / "cc-bench-attribution"
    data = root / f"rows{args.rows}-jobs{args.jobs}-seed{args.seed}"
    took = 0.0
    if args.reuse and (data / "complete.json").exists():
        print(f"reusing {data}")
    else:
        took = generate(args.rows, args.jobs, args.seed, data)
        size = sum(p.stat().st_size for p in data.rglob("*.parquet")) / 1e9
        print(
            f"generated {args.rows:,} cost rows and {args.jobs:,} jobs in {took:.1f} s "
            f"({size:.2f} GB of Parquet in {data})"
        )
    out = root / "out"
    shutil.rmtree(out, ignore_errors=True)

    steps: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("floor: scan", "scan", lambda: run_measurement("scan", data, out / "scan")),
        ("floor: copy", "copy", lambda: run_measurement("copy", data, out / "copy")),
        ("CostCouncil", "costcouncil", lambda: run_measurement("costcouncil", data, out)),
    ]
    if args.spark:
        steps.append(("Spark", "spark", lambda: run_measurement("spark", data, out)))
    if not args.skip_pandas:
        steps.append(("pandas", "pandas", lambda: run_measurement("pandas", data, out)))
    results: dict[str, dict[str, Any]] = {}
    for label, key, action in steps:
        print(f"measuring {label} ...", flush=True)
        results[key] = action()
        print(
            f"  {results[key]['seconds']:.1f} s, peak {results[key]['peak_mb']:,.0f} MB", flush=True
        )

    cc = results["costcouncil"]
    print(f"\nCostCouncil stages ({cc['engine']}; {cc['allocations']:,} allocation rows):")
    for stage, seconds in cc["stages"]:
        print(f"  {stage:<32} {seconds:8.2f} s {100 * seconds / cc['seconds']:5.1f} %")

    floor, scan = results["copy"]["seconds"], results["scan"]["seconds"]
    pandas = results.get("pandas", {}).get("seconds")
    made = f"generated in {took:.1f} s, not timed below" if took else "data reused"
    print(f"\n{args.rows:,} cost rows, {args.jobs:,} jobs ({made})")
    header = (
        f"{'step':<12} {'seconds':>8} {'peak MB':>8} {'DuckDB MB (spilled)':>20} "
        f"{'x floor':>8} {'x scan':>7} {'pandas / step':>14}"
    )
    print(header)
    print("-" * len(header))
    for label, key, _ in steps:
        r = results[key]
        duck = "-"
        if "duckdb_peak" in r:
            duck = f"{r['duckdb_peak'] / 2**20:,.0f} ({r['duckdb_spill'] / 2**20:,.0f})"
        vs = f"{pandas / r['seconds']:.2f}" if pandas else "-"
        print(
            f"{label:<12} {r['seconds']:>8.2f} {r['peak_mb']:>8,.0f} {duck:>20} "
            f"{r['seconds'] / floor:>8.2f} {r['seconds'] / scan:>7.2f} {vs:>14}"
        )
    ratio = cc["seconds"] / floor
    print(
        f"\ngoal: CostCouncil within 2x of the floor (copy): {ratio:.2f}x, {'met' if ratio <= 2 else 'NOT met'}"
    )
    peak = cc["peak_mb"]
    print(
        f"goal: CostCouncil peak memory at most 3 GB: {peak:,.0f} MB, {'met' if peak <= 3072 else 'NOT met'}"
    )
    if pandas:
        speedup = pandas / cc["seconds"]
        print(
            f"goal: CostCouncil faster than pandas: {speedup:.2f}x, {'met' if speedup > 1 else 'NOT met'}"
        )
        for line in _cross_check(out):
            print(f"check: {line}")
    if not args.keep_output:
        shutil.rmtree(out, ignore_errors=True)
    if args.clean:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
