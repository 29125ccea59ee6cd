"""Report an MLflow run as a CostCouncil job: ``with track_run(cc, gpus=8, gpu_type="H100"):``.

The job id and the ``run`` owner key are the MLflow run id. Owner keys come from the run's tags:
for owner key ``k`` the tags ``k``, ``costcouncil.io/k``, ``costcouncil/k`` and ``costcouncil.k``
are tried in that order (the same names the ``mlflow`` usage source reads), ``user`` falls back
to MLflow's ``mlflow.user`` tag, and arguments win over tags. ``mlflow`` is imported only when
:func:`track_run` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

from costcouncil.sdk.client import CostCouncil
from costcouncil.sdk.events import JobOwners, Time
from costcouncil.sdk.job import Job

_PREFIXES = ("", "costcouncil.io/", "costcouncil/", "costcouncil.")


class RunJobFields(TypedDict, total=False):
    """``job_start`` fields :func:`track_run` takes besides the run, GPUs and kind."""

    time: Time
    resource_id: str
    cpu_cores: float
    memory_gib: float
    team: str
    project: str
    model: str
    model_version: str
    environment: str
    user: str
    attributes: Mapping[str, Any]


def owners_from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Owner keys found in an MLflow run's ``tags``."""
    found: dict[str, str] = {}
    for key in JobOwners.__optional_keys__:
        value = next((tags[p + key] for p in _PREFIXES if tags.get(p + key)), None)
        if value:
            found[key] = value
    if "user" not in found and tags.get("mlflow.user"):
        found["user"] = tags["mlflow.user"]
    return found


def track_run(
    cc: CostCouncil,
    run: Any = None,
    *,
    gpus: float | None = None,
    gpu_type: str | None = None,
    kind: str = "training",
    **fields: Unpack[RunJobFields],
) -> Job:
    """A job context manager for an MLflow run (default: the active run).

    ``run`` may be an ``mlflow.entities.Run``, the ``ActiveRun`` of ``mlflow.start_run()``, or
    a run id; without it the active run is read back from the tracking store, so tags set after
    ``start_run()`` count. Raises :class:`ValueError` when there is no run to track.
    """
    import mlflow

    if run is None:
        active = mlflow.active_run()
        if active is None:
            raise ValueError("no active MLflow run: call inside mlflow.start_run(), or pass run=")
        run = active.info.run_id
    if isinstance(run, str):
        run = mlflow.get_run(run)  # the stored run: tags set since start_run() included
    info, tags = run.info, dict(run.data.tags)
    attributes = {
        "mlflow_experiment_id": info.experiment_id,
        "mlflow_run_name": info.run_name,
        **fields.pop("attributes", {}),
    }
    start: dict[str, Any] = {"kind": kind, **owners_from_tags(tags), **fields}
    return cc.job(
        info.run_id,
        run_id=info.run_id,
        gpus=gpus,
        gpu_type=gpu_type,
        attributes=attributes,
        **start,
    )
