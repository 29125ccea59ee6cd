"""Which job a GPU process belongs to, read from ``/proc``.

For each pid, in order: the environment variables ``COSTCOUNCIL_JOB_ID``, ``MLFLOW_RUN_ID`` and
``SLURM_JOB_ID`` of ``/proc/<pid>/environ`` (the environment the process started with; reading
another user's needs root or the same user) — a Slurm job is named as ``sacct`` and the ``slurm``
usage source name it: ``<SLURM_CLUSTER_NAME>:<JobID>``, an array task's JobID being
``<SLURM_ARRAY_JOB_ID>_<SLURM_ARRAY_TASK_ID>`` — then the Kubernetes pod UID in
``/proc/<pid>/cgroup`` (``…/kubepods/…/pod<uid>/…``, or ``…-pod<uid_with_underscores>.slice`` under
the systemd driver), else ``<hostname>:<pid>``. A forced id (``--job-id``) wins over all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Environment variables naming the job, first found wins.
ENV_KEYS = ("COSTCOUNCIL_JOB_ID", "MLFLOW_RUN_ID", "SLURM_JOB_ID")
PROC = Path("/proc")

_POD = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


@dataclass(frozen=True)
class JobRef:
    """A job id and where it came from (an env variable name, ``kubernetes``, ``pid``, ``forced``)."""

    job_id: str
    source: str


def read_environ(pid: int, proc: Path = PROC) -> dict[str, str] | None:
    """The start-up environment of ``pid``; ``None`` when it is gone or not ours to read."""
    try:
        raw = (proc / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    pairs = (item.decode("utf-8", "replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def pod_uid(pid: int, proc: Path = PROC) -> str | None:
    """The Kubernetes pod UID in ``pid``'s cgroup path, if it runs in a pod."""
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    match = _POD.search(text)
    return match.group(1).replace("_", "-") if match else None


def slurm_job_id(environ: dict[str, str]) -> str:
    """A Slurm job's id as ``sacct`` prints it, prefixed with its cluster when known."""
    array, task = environ.get("SLURM_ARRAY_JOB_ID"), environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else environ["SLURM_JOB_ID"]
    cluster = environ.get("SLURM_CLUSTER_NAME")
    return f"{cluster}:{job}" if cluster else job


class Resolver:
    """Maps pids to jobs for one host; ``forced`` reports every process as one job."""

    def __init__(self, hostname: str, *, proc: Path = PROC, forced: str | None = None) -> None:
        self.hostname = hostname
        self.proc = proc
        self.forced = forced

    def __call__(self, pid: int) -> JobRef:
        if self.forced:
            return JobRef(self.forced, "forced")
        environ = read_environ(pid, self.proc) or {}
        for key in ENV_KEYS:
            if environ.get(key):
                job_id = slurm_job_id(environ) if key == "SLURM_JOB_ID" else environ[key]
                return JobRef(job_id, key)
        uid = pod_uid(pid, self.proc)
        if uid:
            return JobRef(uid, "kubernetes")
        return JobRef(f"{self.hostname}:{pid}", "pid")
