"""The NVML sampler: per-process GPU memory and SM utilisation from the NVIDIA driver.

``pynvml`` (the ``nvidia-ml-py`` package) is imported by :func:`open_nvml`, never at module
import. Per device it reads the name, UUID, device utilisation and memory, the compute processes
(``nvmlDeviceGetComputeRunningProcesses``: pid, used memory) and the per-process SM utilisation
samples recorded since the previous call (``nvmlDeviceGetProcessUtilization``). Where the driver
has no per-process samples for a device (the call is unsupported) every process on it gets
``utilization=None`` and the heartbeat falls back to the device's utilisation; where it supports
them but has none newer than the last call (``NVMLError_NotFound``) the processes were idle (0).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from costcouncil.agent.sampler import Gpu, GpuProcess, Snapshot

GIB = 1024**3
T = TypeVar("T")


class NvmlUnavailable(Exception):
    """NVML cannot be used on this machine; the message says which check failed."""


def open_nvml() -> NvmlSampler:
    """Initialise NVML and return a sampler, or raise :class:`NvmlUnavailable` saying why not."""
    try:
        import pynvml
    except ImportError as e:
        raise NvmlUnavailable(
            "the pynvml module is not installed (pip install nvidia-ml-py)"
        ) from e
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound as e:
        raise NvmlUnavailable(
            f"NVML library libnvidia-ml.so.1 not found, no NVIDIA driver installed ({e})"
        ) from e
    except pynvml.NVMLError_DriverNotLoaded as e:
        raise NvmlUnavailable(f"the NVIDIA driver is not loaded ({e})") from e
    except pynvml.NVMLError as e:
        raise NvmlUnavailable(f"NVML initialisation failed: {e}") from e
    count = int(pynvml.nvmlDeviceGetCount())
    if count == 0:
        pynvml.nvmlShutdown()
        raise NvmlUnavailable("NVML found no GPU devices")
    return NvmlSampler(pynvml, count)


class NvmlSampler:
    """Samples every device NVML sees; one instance per agent process."""

    def __init__(self, nvml: ModuleType, count: int) -> None:
        self._nvml = nvml
        self._count = count
        self._last_seen: dict[str, int] = {}

    def sample(self) -> Snapshot:
        gpus: list[Gpu] = []
        processes: list[GpuProcess] = []
        for index in range(self._count):
            handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
            gpu = self._gpu(index, handle)
            gpus.append(gpu)
            processes += self._processes(handle, gpu.uuid)
        return Snapshot(tuple(gpus), tuple(processes))

    def close(self) -> None:
        self._nvml.nvmlShutdown()

    def _gpu(self, index: int, handle: Any) -> Gpu:
        nvml = self._nvml
        return Gpu(
            index=index,
            uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
            name=_text(nvml.nvmlDeviceGetName(handle)),
            utilization=self._try(lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100),
            memory_total_gib=self._try(lambda: nvml.nvmlDeviceGetMemoryInfo(handle).total / GIB),
        )

    def _processes(self, handle: Any, uuid: str) -> list[GpuProcess]:
        running = self._try(lambda: self._nvml.nvmlDeviceGetComputeRunningProcesses(handle)) or []
        shares = self._shares(handle, uuid)
        return [
            GpuProcess(
                pid=int(p.pid),
                gpu_uuid=uuid,
                memory_gib=None if p.usedGpuMemory is None else p.usedGpuMemory / GIB,
                utilization=None if shares is None else shares.get(int(p.pid), 0.0),
            )
            for p in running
        ]

    def _shares(self, handle: Any, uuid: str) -> dict[int, float] | None:
        """Mean SM utilisation per pid since the last call; ``None`` when unsupported."""
        nvml = self._nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, self._last_seen.get(uuid, 0))
        except nvml.NVMLError_NotFound:
            return {}
        except nvml.NVMLError:
            return None
        per_pid: dict[int, list[int]] = {}
        for s in samples:
            per_pid.setdefault(int(s.pid), []).append(int(s.smUtil))
            self._last_seen[uuid] = max(self._last_seen.get(uuid, 0), int(s.timeStamp))
        return {pid: sum(v) / len(v) / 100 for pid, v in per_pid.items()}

    def _try(self, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except self._nvml.NVMLError:
            return None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
