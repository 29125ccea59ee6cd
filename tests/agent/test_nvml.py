"""The NVML sampler's reading of driver answers, with a hand-written stand-in for ``pynvml``.

Real NVML needs an NVIDIA GPU and driver; this stand-in answers the same calls with the shapes
``nvidia-ml-py`` documents (structs with ``pid``/``usedGpuMemory``, samples with ``pid``,
``timeStamp``, ``smUtil``; ``NVMLError_NotFound`` when no sample is newer than the timestamp).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from costcouncil.agent.nvml import GIB, NvmlSampler


class NVMLError(Exception):
    pass


class NVMLError_NotFound(NVMLError):  # pynvml's name
    pass


class NVMLError_NotSupported(NVMLError):  # pynvml's name
    pass


class Driver:
    """Two H100s: GPU 0 keeps per-process samples, GPU 1 does not."""

    NVMLError = NVMLError
    NVMLError_NotFound = NVMLError_NotFound

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []
        self.samples: list[Any] = [
            SimpleNamespace(pid=10, timeStamp=1_000, smUtil=40),
            SimpleNamespace(pid=10, timeStamp=2_000, smUtil=60),
            SimpleNamespace(pid=99, timeStamp=1_500, smUtil=5),  # a process that has ended
        ]
        self.shut = False

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUUID(self, handle: int) -> str | bytes:
        return f"GPU-{handle}" if handle else b"GPU-0"  # older bindings return bytes

    def nvmlDeviceGetName(self, handle: int) -> str:
        return "NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=[70, 35][handle], memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(total=80 * GIB, used=0, free=0)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[Any]:
        if handle == 0:
            return [
                SimpleNamespace(pid=10, usedGpuMemory=4 * GIB),
                SimpleNamespace(pid=11, usedGpuMemory=None),
            ]
        return [SimpleNamespace(pid=20, usedGpuMemory=GIB // 2)]

    def nvmlDeviceGetProcessUtilization(self, handle: int, since: int) -> list[Any]:
        if handle == 1:
            raise NVMLError_NotSupported()
        self.asked.append((handle, since))
        newer = [s for s in self.samples if s.timeStamp > since]
        if not newer:
            raise NVMLError_NotFound()
        return newer

    def nvmlShutdown(self) -> None:
        self.shut = True


@pytest.fixture
def driver() -> Driver:
    return Driver()


def test_processes_shares_and_fallback(driver: Driver) -> None:
    sampler = NvmlSampler(driver, 2)  # type: ignore[arg-type]
    snapshot = sampler.sample()
    assert [(g.uuid, g.utilization, g.memory_total_gib) for g in snapshot.gpus] == [
        ("GPU-0", 0.7, 80.0),
        ("GPU-1", 0.35, 80.0),
    ]
    by_pid = {p.pid: p for p in snapshot.processes}
    assert by_pid[10].utilization == 0.5 and by_pid[10].memory_gib == 4.0
    assert by_pid[11].utilization == 0.0 and by_pid[11].memory_gib is None  # no samples: idle
    assert by_pid[20].utilization is None and by_pid[20].memory_gib == 0.5  # unsupported
    assert 99 not in by_pid


def test_later_samples_only_and_none_newer_means_idle(driver: Driver) -> None:
    sampler = NvmlSampler(driver, 2)  # type: ignore[arg-type]
    sampler.sample()
    second = sampler.sample()
    assert driver.asked == [(0, 0), (0, 2_000)]
    assert {p.pid: p.utilization for p in second.processes if p.gpu_uuid == "GPU-0"} == {
        10: 0.0,
        11: 0.0,
    }
    sampler.close()
    assert driver.shut
