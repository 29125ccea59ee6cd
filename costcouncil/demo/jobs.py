"""GPU jobs that ran on the plan's instances and cluster nodes (the ``jobs`` usage schema).

Dedicated instances run their owner's jobs back to back with short gaps (training runs,
inference deployments, notebooks); shared cluster nodes run one to three concurrent pods from
any team with whole or fractional (0.5) GPU shares. About 6 % of jobs fail and 3 % are killed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.demo.arrays import F64, I64, segments, timestamps, uniform
from costcouncil.demo.catalog import INSTANCES, TEAMS, USERS, Owner
from costcouncil.demo.plan import Plan, build_plan
from costcouncil.demo.spec import DemoSpec, epoch_us
from costcouncil.demo.streams import Stream
from costcouncil.schema.usage import JOBS_SCHEMA

#: Role -> (tile length in hours, source, kinds to draw from, gap as a share of the tile).
_ROLES: dict[str, tuple[int, str, tuple[str, ...], float]] = {
    "training": (36, "mlflow", ("training", "training", "fine-tune", "evaluation"), 0.15),
    "inference": (168, "agent", ("inference",), 0.01),
    "notebook": (8, "agent", ("notebook",), 0.3),
    "node": (12, "kubernetes", ("training", "fine-tune", "evaluation", "inference", "batch"), 0.1),
    "runaway": (10**9, "mlflow", ("training",), 0.0),
    "region": (24, "mlflow", ("training", "fine-tune"), 0.03),
    "restart": (3, "mlflow", ("training",), 0.03),
    "batch": (24, "kubernetes", ("batch",), 0.03),
}
_SHARES = np.array([0.5, 1.0, 2.0, 4.0])


def generate_jobs(spec: DemoSpec) -> pa.Table:
    """The jobs of the demo organisation, as a table with :data:`JOBS_SCHEMA`."""
    plan = build_plan(spec)
    parts = [_role_jobs(plan, role) for role in _ROLES]
    parts.append(_idle_jobs(plan))
    table = pa.concat_tables([p for p in parts if p.num_rows])
    ids = pc.binary_join_element_wise(table["source"], _seq(table.num_rows), "-")
    table = table.set_column(0, "job_id", ids)
    return pa.Table.from_arrays(table.columns, schema=JOBS_SCHEMA)


def _seq(n: int) -> pa.Array:
    return pc.cast(pa.array(np.arange(1, n + 1)), pa.string())


def _tiles(streams: list[Stream], length: int) -> tuple[I64, F64, F64]:
    """Split every stream's window into equal tiles about ``length`` hours long."""
    start = np.array([s.start for s in streams], dtype=np.int64)
    dur = np.array([s.stop - s.start for s in streams], dtype=np.int64)
    k = np.maximum(1, dur // length)
    run, j = segments(np.zeros_like(k), k)
    tile = dur[run] / k[run]
    return run, start[run] + j * tile, tile


def _role_jobs(plan: Plan, role: str) -> pa.Table:
    streams = [s for s in plan.streams if s.role == role]
    if not streams:
        return pa.table({})
    length, source, kinds, gap = _ROLES[role]
    run, tile_start, tile = _tiles(streams, length)
    if role == "node":
        run, tile_start, tile, width = _pods(plan.spec.seed, streams, run, tile_start, tile)
    else:
        width = np.array([INSTANCES[s.instance or ""].accelerator_count for s in streams])[run]
    u = uniform(plan.spec.seed, list(_ROLES).index(role), np.arange(run.size))
    start = tile_start + tile * gap * u
    end = tile_start + tile * (1 - gap * (1 - u) / 2)
    return _table(plan, streams, run, (start, end), width.astype(np.float64), source, kinds, role)


def _pods(
    seed: int, streams: list[Stream], run: I64, start: F64, tile: F64
) -> tuple[I64, F64, F64, F64]:
    """One to three concurrent pods per tile, each with a share of the node's GPUs."""
    m = 1 + np.floor(uniform(seed, 31, np.arange(run.size)) * 3).astype(np.int64)
    tile_idx, _ = segments(np.zeros_like(m), m)
    gpus = np.array([INSTANCES[s.instance or ""].accelerator_count for s in streams])[run]
    pick = np.floor(uniform(seed, 37, np.arange(tile_idx.size)) * _SHARES.size).astype(np.int64)
    width = np.minimum(_SHARES[pick], gpus[tile_idx] / m[tile_idx])
    return run[tile_idx], start[tile_idx], tile[tile_idx], width


def _status(plan: Plan, end_hour: F64, n: int) -> tuple[pa.Array, pa.Array]:
    """Statuses and end times (null while running: jobs that reach the end of the span)."""
    u = uniform(plan.spec.seed, 41, np.arange(n))
    running = end_hour >= plan.hours - 1
    status = np.where(u < 0.06, "failed", np.where(u < 0.09, "killed", "succeeded"))
    status = np.where(running, "running", status)
    end_us = epoch_us(plan.spec.start) + np.rint(end_hour * 3600).astype(np.int64) * 1_000_000
    end = pc.if_else(pa.array(running), pa.scalar(None, end_type()), timestamps(end_us))
    return pa.array(status), end


def end_type() -> pa.DataType:
    return JOBS_SCHEMA.field("end").type


def _owners(streams: list[Stream], role: str) -> list[Owner]:
    """Dedicated machines run their owner's jobs; cluster pods belong to any team."""
    if role != "node":
        return [s.owner or TEAMS[0] for s in streams]
    return list(TEAMS)


def _machine_columns(streams: list[Stream], run: I64, width: F64) -> dict[str, pa.Array]:
    inst = [INSTANCES[s.instance or ""] for s in streams]
    share = width / np.array([i.accelerator_count for i in inst])[run]
    return {
        "resource_id": pa.array(np.array([s.resource_id for s in streams])[run]),
        "accelerator_type": pa.array(np.array([i.accelerator for i in inst])[run]),
        "accelerator_count": pa.array(width),
        "cpu_cores": pa.array(np.array([float(i.vcpu) for i in inst])[run] * share),
        "memory_gib": pa.array(np.array([float(i.memory_gib) for i in inst])[run] * share),
    }


def _table(
    plan: Plan,
    streams: list[Stream],
    run: I64,
    times: tuple[F64, F64],
    width: F64,
    source: str,
    kinds: tuple[str, ...],
    role: str,
) -> pa.Table:
    n, seed = run.size, plan.spec.seed
    start, end = times
    owners = _owners(streams, role)
    pick = np.floor(uniform(seed, 43, np.arange(n)) * len(TEAMS)).astype(np.int64)
    who = pick if role == "node" else run
    status, end_col = _status(plan, end, n)
    kind = np.array(kinds)[np.floor(uniform(seed, 47, np.arange(n)) * len(kinds)).astype(np.int64)]
    if role == "runaway":
        status = pa.array(np.full(n, "killed"))
    if role == "restart":  # every attempt of the run crashes and is restarted
        status = pa.array(np.full(n, "failed"))
    origin = epoch_us(plan.spec.start)
    columns = {
        "job_id": pa.nulls(n, pa.string()),
        "source": pa.repeat(source, n),
        "start": timestamps(origin + np.rint(start * 3600).astype(np.int64) * 1_000_000),
        "end": end_col,
        "status": status,
        "kind": pa.array(kind),
    }
    columns |= _machine_columns(streams, run, width)
    columns |= _owner_columns(owners, who, seed)
    columns |= _run_columns(columns["model"], start, role)
    attrs = [json.dumps({"instance_type": s.instance, "role": role}) for s in streams]
    columns["attributes"] = pa.array(np.array(attrs)[run])
    if role == "restart":
        columns |= _restarts(run, streams)
    return pa.table({f.name: columns[f.name] for f in JOBS_SCHEMA})


def _owner_columns(owners: list[Owner], who: I64, seed: int) -> dict[str, pa.Array]:
    def col(values: Sequence[str | None]) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[who], pa.string())

    n = who.size
    user = np.array(USERS)[np.floor(uniform(seed, 53, np.arange(n)) * len(USERS)).astype(np.int64)]
    return {
        "team": col([o.team for o in owners]),
        "project": col([o.project for o in owners]),
        "model": col([o.model for o in owners]),
        "environment": col([o.environment for o in owners]),
        "user": pa.array(user),
    }


def _run_columns(model: pa.Array, start: F64, role: str) -> dict[str, pa.Array]:
    """Each job is one run; a model gets a new version every 30 days of the span."""
    names = np.array(model.to_pylist(), dtype=object)
    version = np.char.add("v", (1 + np.floor(start / (24 * 30))).astype(np.int64).astype(str))
    index = np.arange(names.size).astype(str)
    run = np.char.add(np.char.add(names.astype(str), f"-{role}-"), index)
    missing = pa.array([n is None for n in names])
    return {
        "model_version": pc.if_else(missing, pa.scalar(None, pa.string()), pa.array(version)),
        "run": pc.if_else(missing, pa.scalar(None, pa.string()), pa.array(run)),
    }


def _restarts(run: I64, streams: list[Stream]) -> dict[str, pa.Array]:
    """Restarted attempts share their run; ``attributes`` counts the attempts."""
    first = np.searchsorted(run, run)
    attempt = np.arange(run.size) - first + 1
    names = np.array(
        [f"{s.owner.model if s.owner else 'run'}-training-oom-{i}" for i, s in enumerate(streams)]
    )
    attrs = [
        json.dumps(
            {
                "instance_type": streams[r].instance,
                "role": "restart",
                "attempt": int(a),
                "error": "CUDA out of memory",
            }
        )
        for r, a in zip(run.tolist(), attempt.tolist(), strict=True)
    ]
    return {"run": pa.array(names[run]), "attributes": pa.array(attrs)}


def _idle_jobs(plan: Plan) -> pa.Table:
    """The forgotten instance ran one evaluation at the start of its window, then nothing."""
    s = plan.idle
    run = np.zeros(1, dtype=np.int64)
    times = (np.array([float(s.start)]), np.array([float(plan.idle_busy_until)]))
    width = np.array([float(INSTANCES[s.instance or ""].accelerator_count)])
    return _table(plan, [s], run, times, width, "mlflow", ("evaluation",), "idle")
