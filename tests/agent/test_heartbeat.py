"""Heartbeats from GPU snapshots, with a hand-written in-memory sampler and a real HTTP peer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from costcouncil.agent import Gpu, GpuProcess, JobRef, Resolver, Snapshot, gpu_model, heartbeats
from costcouncil.agent import run as run_agent
from costcouncil.sdk import CostCouncil
from tests.sdk.peer import Peer

H100 = "NVIDIA H100 80GB HBM3"
GPUS = (
    Gpu(0, "GPU-aaaa", H100, utilization=0.9, memory_total_gib=80.0),
    Gpu(1, "GPU-bbbb", H100, utilization=0.6),
    Gpu(2, "GPU-cccc", "NVIDIA A100-SXM4-80GB", utilization=0.25),
)
PROCESSES = (
    GpuProcess(101, "GPU-aaaa", memory_gib=30.0, utilization=0.3),  # job A, two ranks on GPU 0
    GpuProcess(102, "GPU-aaaa", memory_gib=10.0, utilization=0.5),
    GpuProcess(103, "GPU-bbbb", memory_gib=20.0, utilization=0.6),  # job A on GPU 1
    GpuProcess(201, "GPU-cccc", memory_gib=None, utilization=None),  # job B, no per-process data
    GpuProcess(999, "GPU-gone", memory_gib=1.0, utilization=0.1),  # a GPU not in the snapshot
)
JOBS = {101: "A", 102: "A", 103: "A", 201: "B", 999: "C"}
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def resolve(pid: int) -> JobRef:
    return JobRef(JOBS[pid], "COSTCOUNCIL_JOB_ID")


class ListSampler:
    """A sampler that replays snapshots; ``failures`` raise first, like a lost GPU would."""

    def __init__(self, snapshots: list[Snapshot], stop: threading.Event, failures: int = 0) -> None:
        self.snapshots = snapshots
        self.stop = stop
        self.failures = failures
        self.closed = False

    def sample(self) -> Snapshot:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("GPU has fallen off the bus")
        snapshot = self.snapshots.pop(0)
        if not self.snapshots:
            self.stop.set()
        return snapshot

    def close(self) -> None:
        self.closed = True


def test_one_heartbeat_per_job() -> None:
    a, b = heartbeats(Snapshot(GPUS, PROCESSES, AT), resolve, host="node-7", resource_id="i-0abc")
    assert a.job_id == "A" and b.job_id == "B"
    assert a.fields["accelerator_count"] == 2 and a.fields["accelerator_type"] == "H100"
    assert a.fields["gpu_utilization"] == 0.7  # GPU 0: 0.3 + 0.5; GPU 1: 0.6
    assert a.fields["gpu_memory_gib"] == 60.0
    assert a.fields["resource_id"] == "i-0abc" and a.fields["time"] == "2026-03-01T12:00:00.000000Z"
    attributes = dict(a.fields["attributes"])
    assert attributes["host"] == "node-7" and attributes["pids"] == [101, 102, 103]
    assert attributes["job_id_from"] == "COSTCOUNCIL_JOB_ID"
    gpu0 = attributes["gpus"][0]
    assert gpu0 == {
        "index": 0,
        "uuid": "GPU-aaaa",
        "name": H100,
        "utilization": 0.8,
        "utilization_from": "process",
        "memory_gib": 40.0,
        "pids": [101, 102],
    }
    assert b.fields["accelerator_type"] == "A100" and b.fields["gpu_utilization"] == 0.25
    assert "gpu_memory_gib" not in b.fields
    assert dict(b.fields["attributes"])["gpus"][0]["utilization_from"] == "device"


def test_process_shares_on_one_gpu_are_capped_at_one() -> None:
    busy = (GpuProcess(1, "GPU-aaaa", utilization=0.7), GpuProcess(2, "GPU-aaaa", utilization=0.6))
    (beat,) = heartbeats(Snapshot(GPUS, busy), lambda pid: JobRef("j", "forced"), host="h")
    assert beat.fields["gpu_utilization"] == 1.0


def test_no_processes_no_heartbeats() -> None:
    assert heartbeats(Snapshot(GPUS, ()), resolve, host="h") == []


@pytest.mark.parametrize(
    "name,model",
    [
        (H100, "H100"),
        ("NVIDIA H100 NVL", "H100"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A10", "A10"),
        ("NVIDIA A10G", "A10G"),
        ("Tesla V100-SXM2-16GB", "V100"),
        ("Tesla T4", "T4"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA GH200 480GB", "GH200"),
        ("NVIDIA B200", "B200"),
        ("NVIDIA GeForce RTX 4090", "RTX4090"),
        ("NVIDIA RTX A6000", "RTXA6000"),
        ("Quadro P4000", "Quadro P4000"),
        ("NVIDIA Tesla K40m", "Tesla K40m"),
    ],
)
def test_gpu_model(name: str, model: str) -> None:
    assert gpu_model(name) == model


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer().start()
    yield server
    server.stop()


def test_the_loop_sends_heartbeats_each_interval(
    peer: Peer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for pid, env in ((101, b"COSTCOUNCIL_JOB_ID=A\0"), (103, b"SLURM_JOB_ID=9\0")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "environ").write_bytes(env)
    processes = (PROCESSES[0], PROCESSES[2], GpuProcess(55, "GPU-cccc", memory_gib=2.0))
    stop = threading.Event()
    sampler = ListSampler([Snapshot(GPUS, processes)] * 3, stop, failures=1)
    cc = CostCouncil(peer.url, flush_interval=30)
    with caplog.at_level(logging.WARNING, "costcouncil.agent"):
        recorded = run_agent(
            sampler, cc, Resolver("node-7", proc=tmp_path), host="node-7", interval=0.02, stop=stop
        )
    assert recorded == 9 and "GPU has fallen off the bus" in caplog.text
    assert cc.flush(timeout=5)
    events = [e for r in peer.requests for e in r.events]
    assert [e["job_id"] for e in events] == ["9", "A", "node-7:55"] * 3
    assert all(e["type"] == "job_heartbeat" and e["time"].endswith("Z") for e in events)
    assert events[0]["attributes"]["job_id_from"] == "SLURM_JOB_ID"
    assert events[2]["accelerator_type"] == "A100" and events[2]["gpu_memory_gib"] == 2.0
    cc.close()


def test_once_samples_once(peer: Peer) -> None:
    stop = threading.Event()
    sampler = ListSampler([Snapshot(GPUS, PROCESSES[:1])] * 5, stop)
    cc = CostCouncil(peer.url, flush_interval=30)
    assert run_agent(sampler, cc, resolve, host="h", interval=60, stop=stop, once=True) == 1
    assert len(sampler.snapshots) == 4
    cc.close()
