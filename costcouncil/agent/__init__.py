"""The GPU telemetry agent: per-job GPU utilisation and memory, sent as live heartbeats.

::

    sampler (NVML, or any Sampler)  ->  Snapshot  ->  heartbeats(): one per job  ->  SDK  ->  server
                                         pid -> job: Resolver (/proc environ, cgroup, host:pid)

Importing this package does not import ``pynvml``; :func:`open_nvml` does.
"""

from __future__ import annotations

from costcouncil.agent.heartbeat import Beat, heartbeats, run, tick
from costcouncil.agent.jobs import ENV_KEYS, JobRef, Resolver
from costcouncil.agent.nvml import NvmlSampler, NvmlUnavailable, open_nvml
from costcouncil.agent.sampler import Gpu, GpuProcess, Sampler, Snapshot, gpu_model

__all__ = [
    "ENV_KEYS",
    "Beat",
    "Gpu",
    "GpuProcess",
    "JobRef",
    "NvmlSampler",
    "NvmlUnavailable",
    "Resolver",
    "Sampler",
    "Snapshot",
    "gpu_model",
    "heartbeats",
    "open_nvml",
    "run",
    "tick",
]
