"""What a GPU sampler reports, and the protocol every sampler follows.

The NVML sampler (:mod:`costcouncil.agent.nvml`) is the only one that needs hardware; the
heartbeat logic reads :class:`Snapshot` values and never talks to a driver, so it runs (and is
tested) with any object that has ``sample()`` and ``close()``.

Utilisation is a fraction (0..1), memory is GiB; ``None`` means the driver did not say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class Gpu:
    """One device: NVML index, UUID, product name, device-wide utilisation and memory."""

    index: int
    uuid: str
    name: str
    utilization: float | None = None
    memory_total_gib: float | None = None


@dataclass(frozen=True)
class GpuProcess:
    """One process using one GPU: its SM utilisation share and the GPU memory it holds."""

    pid: int
    gpu_uuid: str
    memory_gib: float | None = None
    utilization: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Every GPU and every process on them at one moment."""

    gpus: tuple[Gpu, ...]
    processes: tuple[GpuProcess, ...]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


class Sampler(Protocol):
    """A source of :class:`Snapshot` values."""

    def sample(self) -> Snapshot:
        """The GPUs and their processes now."""
        ...

    def close(self) -> None:
        """Release the driver."""
        ...


_MODEL = re.compile(
    r"(GB200|GB300|GH200|B200|B300|B100|H200|H100|H20|H800|A100|A800|A10G|A10|A30|A40|L40S|"
    r"L40|L4|T4|V100|P100|P40|P4|K80|M60|RTX\s?PRO\s?6000|RTX\s?A\d000|RTX\s?6000|RTX\s?\d{4})"
    r"(?![0-9])",
    re.IGNORECASE,
)


def gpu_model(name: str) -> str:
    """A short accelerator type from an NVML product name.

    ``NVIDIA H100 80GB HBM3`` -> ``H100``, ``NVIDIA A100-SXM4-80GB`` -> ``A100``,
    ``Tesla V100-SXM2-16GB`` -> ``V100``; an unknown name loses only its ``NVIDIA`` prefix.
    (The same short names as ``costcouncil.usage.base.gpu_model``, without its imports.)
    """
    match = _MODEL.search(name)
    if match:
        return re.sub(r"\s", "", match.group(1)).upper()
    return re.sub(r"^NVIDIA\s+", "", name.strip(), flags=re.IGNORECASE)
