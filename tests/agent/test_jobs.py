"""pid -> job from /proc: the real environ of a child process, and hand-written cgroup files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from costcouncil.agent import ENV_KEYS, JobRef, Resolver
from costcouncil.agent.jobs import pod_uid, read_environ, slurm_job_id

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


@pytest.fixture
def spawn() -> Iterator[Callable[..., int]]:
    children: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> int:
        clean = {
            k: v for k, v in os.environ.items() if k not in ENV_KEYS and not k.startswith("SLURM_")
        }
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
            env={**clean, **env},
            stdout=subprocess.PIPE,
        )
        children.append(child)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"  # exec is done
        return child.pid

    yield start
    for child in children:
        child.kill()
        child.communicate()


def test_a_child_process_job_id_comes_from_its_environment(spawn: Callable[..., int]) -> None:
    resolve = Resolver("gpu-node-1")
    pid = spawn(COSTCOUNCIL_JOB_ID="train-42", MLFLOW_RUN_ID="r1", SLURM_JOB_ID="77")
    assert resolve(pid) == JobRef("train-42", "COSTCOUNCIL_JOB_ID")
    pid = spawn(MLFLOW_RUN_ID="5f2c", SLURM_JOB_ID="77")
    assert resolve(pid) == JobRef("5f2c", "MLFLOW_RUN_ID")
    pid = spawn(SLURM_JOB_ID="77")
    assert resolve(pid) == JobRef("77", "SLURM_JOB_ID")
    environ = read_environ(pid)
    assert environ is not None and environ["SLURM_JOB_ID"] == "77"


@pytest.mark.parametrize(
    "environ,job_id",
    [
        ({"SLURM_JOB_ID": "77"}, "77"),
        ({"SLURM_JOB_ID": "77", "SLURM_CLUSTER_NAME": "hpc"}, "hpc:77"),
        (
            {
                "SLURM_JOB_ID": "81",
                "SLURM_ARRAY_JOB_ID": "80",
                "SLURM_ARRAY_TASK_ID": "1",
                "SLURM_CLUSTER_NAME": "hpc",
            },
            "hpc:80_1",
        ),
    ],
)
def test_slurm_jobs_are_named_as_sacct_names_them(environ: dict[str, str], job_id: str) -> None:
    assert slurm_job_id(environ) == job_id


def test_without_a_job_the_pid_names_it(spawn: Callable[..., int]) -> None:
    pid = spawn()
    expected = pod_uid(pid)  # when the tests themselves run in a Kubernetes pod
    ref = Resolver("gpu-node-1")(pid)
    assert ref == (
        JobRef(expected, "kubernetes") if expected else JobRef(f"gpu-node-1:{pid}", "pid")
    )


def test_a_forced_id_wins_and_a_gone_pid_is_host_pid(tmp_path: Path) -> None:
    assert Resolver("h", forced="nightly")(1) == JobRef("nightly", "forced")
    assert Resolver("h", proc=tmp_path)(123) == JobRef("h:123", "pid")


def fake_proc(root: Path, pid: int, *, environ: bytes | None = None, cgroup: str = "") -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    if environ is not None:
        (folder / "environ").write_bytes(environ)
    (folder / "cgroup").write_text(cgroup)


@pytest.mark.parametrize(
    "cgroup",
    [
        # cgroup v1, cgroupfs driver
        "12:memory:/kubepods/burstable/pod0f6c5a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b/3c4d5e6f7a8b\n"
        "11:cpu,cpuacct:/kubepods/burstable/pod0f6c5a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b/3c4d5e6f7a8b\n",
        # cgroup v2, systemd driver: dashes of the uid become underscores
        "0::/kubepods.slice/kubepods-besteffort.slice/"
        "kubepods-besteffort-pod0f6c5a2e_1b3d_4e5f_8a9b_0c1d2e3f4a5b.slice/"
        "cri-containerd-9a8b7c6d.scope\n",
    ],
    ids=["v1-cgroupfs", "v2-systemd"],
)
def test_kubernetes_pod_uid_from_cgroup(tmp_path: Path, cgroup: str) -> None:
    fake_proc(tmp_path, 4242, cgroup=cgroup)  # environ unreadable, as for another user's process
    ref = Resolver("node", proc=tmp_path)(4242)
    assert ref == JobRef("0f6c5a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b", "kubernetes")


def test_environment_wins_over_the_pod(tmp_path: Path) -> None:
    fake_proc(
        tmp_path,
        7,
        environ=b"PATH=/usr/bin\0MLFLOW_RUN_ID=abc=def\0\0",
        cgroup="0::/kubepods/pod0f6c5a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b/x\n",
    )
    assert Resolver("node", proc=tmp_path)(7) == JobRef("abc=def", "MLFLOW_RUN_ID")
    fake_proc(tmp_path, 8, environ=b"COSTCOUNCIL_JOB_ID=\0", cgroup="0::/user.slice\n")
    assert Resolver("node", proc=tmp_path)(8) == JobRef("node:8", "pid")
