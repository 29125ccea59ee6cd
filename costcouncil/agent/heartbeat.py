"""From a GPU snapshot to one ``job_heartbeat`` per job, and the agent's sampling loop.

For each job (the processes :class:`~costcouncil.agent.jobs.Resolver` maps to it):

=====================  ==========================================================================
heartbeat field        derived from
=====================  ==========================================================================
``accelerator_count``  the number of distinct GPUs the job's processes use
``accelerator_type``   the GPUs' product name, shortened (``NVIDIA H100 80GB HBM3`` → ``H100``);
                       the most common one when a job spans different models
``gpu_utilization``    mean over those GPUs of the job's SM share on each (its processes' shares
                       summed, at most 1); where the driver gives no per-process share, the
                       device's utilisation
``gpu_memory_gib``     GPU memory its processes hold, summed
``resource_id``        ``--resource-id`` when given
``attributes``         ``host``, ``job_id_from`` (which check named the job), ``pids``, and
                       ``gpus``: per GPU index, uuid, name, utilization, ``utilization_from``
                       (``process`` or ``device``), memory_gib and pids
=====================  ==========================================================================
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any

from costcouncil.agent.jobs import JobRef
from costcouncil.agent.sampler import Gpu, GpuProcess, Sampler, Snapshot, gpu_model
from costcouncil.sdk import CostCouncil
from costcouncil.sdk.events import HeartbeatFields, timestamp

log = logging.getLogger("costcouncil.agent")


@dataclass(frozen=True)
class Beat:
    """One heartbeat to send: the job and the event's fields."""

    job_id: str
    fields: HeartbeatFields


def heartbeats(
    snapshot: Snapshot,
    resolve: Callable[[int], JobRef],
    *,
    host: str,
    resource_id: str | None = None,
) -> list[Beat]:
    """One :class:`Beat` per job seen in ``snapshot``, in job id order."""
    gpus = {g.uuid: g for g in snapshot.gpus}
    refs: dict[int, JobRef] = {}
    jobs: dict[str, list[GpuProcess]] = defaultdict(list)
    for process in snapshot.processes:
        if process.gpu_uuid in gpus:
            ref = refs.setdefault(process.pid, resolve(process.pid))
            jobs[ref.job_id].append(process)
    return [
        _beat(job_id, processes, gpus, refs[processes[0].pid], snapshot, host, resource_id)
        for job_id, processes in sorted(jobs.items())
    ]


def _beat(
    job_id: str,
    processes: list[GpuProcess],
    gpus: dict[str, Gpu],
    ref: JobRef,
    snapshot: Snapshot,
    host: str,
    resource_id: str | None,
) -> Beat:
    per_gpu = [_on_gpu(gpus[uuid], ps) for uuid, ps in _by_gpu(processes).items()]
    shares = [g["utilization"] for g in per_gpu if g["utilization"] is not None]
    memory = [g["memory_gib"] for g in per_gpu if g["memory_gib"] is not None]
    fields: HeartbeatFields = {
        "time": timestamp(snapshot.time),
        "accelerator_count": len(per_gpu),
        "accelerator_type": Counter(gpu_model(g["name"]) for g in per_gpu).most_common(1)[0][0],
        "attributes": {
            "host": host,
            "job_id_from": ref.source,
            "pids": sorted({p.pid for p in processes}),
            "gpus": per_gpu,
        },
    }
    if shares:
        fields["gpu_utilization"] = round(sum(shares) / len(shares), 4)
    if memory:
        fields["gpu_memory_gib"] = round(sum(memory), 3)
    if resource_id:
        fields["resource_id"] = resource_id
    return Beat(job_id, fields)


def _by_gpu(processes: list[GpuProcess]) -> dict[str, list[GpuProcess]]:
    grouped: dict[str, list[GpuProcess]] = defaultdict(list)
    for process in processes:
        grouped[process.gpu_uuid].append(process)
    return grouped


def _on_gpu(gpu: Gpu, processes: list[GpuProcess]) -> dict[str, Any]:
    shares = [p.utilization for p in processes if p.utilization is not None]
    memory = [p.memory_gib for p in processes if p.memory_gib is not None]
    share = min(1.0, sum(shares)) if shares else gpu.utilization
    return {
        "index": gpu.index,
        "uuid": gpu.uuid,
        "name": gpu.name,
        "utilization": None if share is None else round(share, 4),
        "utilization_from": "process" if shares else "device",
        "memory_gib": round(sum(memory), 3) if memory else None,
        "pids": sorted({p.pid for p in processes}),
    }


def tick(
    sampler: Sampler,
    cc: CostCouncil,
    resolve: Callable[[int], JobRef],
    *,
    host: str,
    resource_id: str | None = None,
) -> list[Beat]:
    """Sample once and record one heartbeat per job; a failed sample is logged, not raised."""
    try:
        snapshot = sampler.sample()
    except Exception as e:  # a GPU fell off the bus, the driver restarted …
        log.warning("costcouncil agent: sampling failed: %s", e)
        return []
    beats = heartbeats(snapshot, resolve, host=host, resource_id=resource_id)
    for beat in beats:
        cc.job_heartbeat(beat.job_id, **beat.fields)
    log.info(
        "costcouncil agent: %d GPUs, %d processes, %d jobs",
        len(snapshot.gpus),
        len(snapshot.processes),
        len(beats),
    )
    return beats


def run(
    sampler: Sampler,
    cc: CostCouncil,
    resolve: Callable[[int], JobRef],
    *,
    host: str,
    interval: float,
    stop: threading.Event,
    once: bool = False,
    resource_id: str | None = None,
) -> int:
    """Tick every ``interval`` seconds until ``stop`` is set (or once); returns beats recorded."""
    recorded = 0
    while True:
        started = monotonic()
        recorded += len(tick(sampler, cc, resolve, host=host, resource_id=resource_id))
        if once or stop.wait(max(0.0, interval - (monotonic() - started))):
            return recorded
