"""Real MLflow tracking stores for the tests: a migrated SQLite store, and ``mlflow server``.

``build`` is the conformance suite's ``setup:`` for ``tests/cases/usage/mlflow/``: it fills a
fresh SQLite store with two experiments of hand-picked runs and returns the source options.
Creating MLflow's tables takes seconds, so one empty migrated database is made per test process
and copied for every store.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

#: The conformance store's first run starts here (2026-10-05 08:00 UTC).
T0 = datetime(2026, 10, 5, 8, tzinfo=UTC)


@functools.cache
def _template() -> Path:
    """One empty, migrated SQLite tracking database for this process."""
    path = Path(tempfile.mkdtemp(prefix="cc-mlflow-")) / "template.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def sqlite_store(directory: Path) -> str:
    """A fresh SQLite tracking store in ``directory``; its URI."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "mlflow.db"
    shutil.copy(_template(), path)
    return f"sqlite:///{path}"


def experiment(
    client: MlflowClient, name: str, directory: Path, tags: Mapping[str, str] | None = None
) -> str:
    """A new experiment whose artifacts (none are written) would go under ``directory``."""
    location = (directory / "artifacts" / name).as_uri()
    return client.create_experiment(name, artifact_location=location, tags=dict(tags or {}))


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def run(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    start: datetime,
    end: datetime | None,
    status: str = "FINISHED",
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> str:
    """A run as a training script would leave it; ``end`` None leaves it RUNNING."""
    created = client.create_run(
        experiment_id, start_time=ms(start), tags=dict(tags or {}), run_name=name
    )
    run_id: str = created.info.run_id
    stamp = ms(start)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, stamp, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, v) for k, v in (params or {}).items()],
        synchronous=True,
    )
    if end is not None:
        client.set_terminated(run_id, status, end_time=ms(end))
    return run_id


def register(client: MlflowClient, name: str, run_id: str) -> str:
    """Register a model version produced by ``run_id``; its version number."""
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    return str(version.version)


def build(tmp_path: Path) -> dict[str, Any]:
    """The conformance store: 5 runs in 2 experiments, one deleted, one still running.

    ``vision-training`` (experiment tags team=vision, project=detector):
      train-detector   FINISHED 2 h, tag costcouncil.gpus=8, H100     → 57,600 GPU-seconds
      eval-detector    FAILED 30 min, param num_gpus=1                →  1,800
      notebook-explore RUNNING, tag gpus=2                            →  (no end: not counted)
    ``search-ranking`` (experiment tag costcouncil.team=search):
      finetune-ranker  KILLED 1 h, system metrics of GPUs 0 and 1     →  7,200
      scratch          FINISHED, deleted                              →  (not read)
    train-detector produced registered model ``detector`` version 1.
    """
    uri = sqlite_store(tmp_path / "store")
    client = MlflowClient(tracking_uri=uri)
    vision = experiment(
        client, "vision-training", tmp_path, {"team": "vision", "project": "detector"}
    )
    search = experiment(client, "search-ranking", tmp_path, {"costcouncil.team": "search"})
    h = timedelta(hours=1)
    train = run(client, vision, "train-detector", T0, T0 + 2 * h, tags={"costcouncil.gpus": "8", "costcouncil.gpu_type": "NVIDIA-H100-80GB-HBM3"})  # fmt: skip
    register(client, "detector", train)
    run(client, vision, "eval-detector", T0 + 3 * h, T0 + 3.5 * h, "FAILED", params={"num_gpus": "1"})  # fmt: skip
    run(client, vision, "notebook-explore", T0 + 4 * h, None, tags={"gpus": "2"})
    system = {"system/gpu_0_utilization_percentage": 90.0, "system/gpu_1_utilization_percentage": 80.0}  # fmt: skip
    run(client, search, "finetune-ranker", T0, T0 + h, "KILLED", tags={"project": "ranker"}, metrics=system)  # fmt: skip
    client.delete_run(run(client, search, "scratch", T0, T0 + h, tags={"gpus": "64"}))
    return {"tracking_uri": uri}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A started ``mlflow server``; :meth:`ready` waits until ``/health`` answers."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    timeout: float = 120.0

    def ready(self) -> str:
        """The server's URL once it is healthy."""
        _wait_healthy(self.proc, self.url, self.timeout, self.log)
        return self.url


@contextmanager
def server(directory: Path) -> Iterator[Server]:
    """``mlflow server`` on a fresh SQLite store in ``directory``, on a free loopback port.

    It boots while the caller does other work (call ``ready()`` before using it); started in its
    own process group (the server forks uvicorn) and stopped with it. MLflow's job runner is off:
    the tests need none and it forks a dozen worker processes.
    """
    store = sqlite_store(directory)
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", store,
        "--default-artifact-root", (directory / "artifacts").as_uri(),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = directory / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # fmt: skip
        try:
            yield Server(proc, f"http://127.0.0.1:{port}", log)
        finally:
            _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mlflow server not healthy after {timeout} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group; SIGKILL to whatever is left after 15 s."""
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _signal_group(proc.pid, 0):
        proc.poll()
        time.sleep(0.1)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait(5)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True
