"""MLflow tracking runs as GPU jobs: one ``jobs`` row per run of a tracking server.

The source reads a tracking server (``--tracking-uri``), not a file: every active run of the
chosen experiments (``--experiment``, names or ids; all active experiments when none), paginated,
in start-time order. A read is a full snapshot of that server (``replaces``), so re-ingesting
picks up runs that finished, were renamed or were deleted since.

It uses only MLflow's client API (``MlflowClient``, ``mlflow.entities``), imported when a read
starts, so ``mlflow-skinny`` (``pip install 'costcouncil[mlflow]'``) is enough for an HTTP
tracking server. How every column is derived, and which tags and params are read, is in
docs/sources/mlflow.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from costcouncil.errors import ConfigError, IngestError
from costcouncil.schema.usage import JOB_KINDS
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, gpu_model, owners

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

#: MLflow run status -> the jobs ``status``.
STATUS = {
    "FINISHED": "succeeded",
    "FAILED": "failed",
    "KILLED": "killed",
    "RUNNING": "running",
    "SCHEDULED": "running",
}

#: Tag names, then param names, read for each column (first non-empty wins).
GPU_COUNT = ("costcouncil.gpus", "costcouncil.accelerator_count", "gpus", "gpu_count", "num_gpus", "n_gpus")  # fmt: skip
GPU_TYPE = ("costcouncil.gpu_type", "costcouncil.accelerator_type", "gpu_type", "accelerator_type", "accelerator")  # fmt: skip
CPU_CORES = ("costcouncil.cpu_cores", "cpu_cores", "num_cpus")
MEMORY_GIB = ("costcouncil.memory_gib", "memory_gib")
RESOURCE = ("costcouncil.resource_id", "resource_id")
KIND = ("costcouncil.kind", "kind")

#: Values of an ``accelerator`` param that name a device class, not a model (Lightning's ``gpu``).
NOT_A_MODEL = frozenset({"gpu", "gpus", "cuda", "auto", "cpu", "tpu", "mps", "hpu", "none"})

#: MLflow system metrics per GPU: ``system/gpu_0_utilization_percentage`` (and per node).
SYSTEM_GPU = re.compile(r"^system/(?:node_(\d+)/)?gpu_(\d+)_")

#: Run and experiment name words -> kind, tried in order; a run matching none is ``training``.
KIND_WORDS = (
    ("fine-tune", re.compile(r"fine[-_ ]?tun|\bsft\b|lora|qlora", re.IGNORECASE)),
    ("evaluation", re.compile(r"eval|benchmark|validat", re.IGNORECASE)),
    ("inference", re.compile(r"infer|predict|scor(e|ing)|serv(e|ing)", re.IGNORECASE)),
    ("batch", re.compile(r"\bbatch\b|\betl\b", re.IGNORECASE)),
    ("notebook", re.compile(r"notebook", re.IGNORECASE)),
)

#: MLflow system tags kept in ``attributes`` (other ``mlflow.*`` tags are MLflow's bookkeeping).
KEPT_SYSTEM_TAGS = (
    "mlflow.parentRunId",
    "mlflow.source.name",
    "mlflow.source.type",
    "mlflow.source.git.commit",
)

PAGE = 1000


def client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient`` for ``tracking_uri``; a clear error when MLflow is not installed."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise ConfigError(
            "reading MLflow needs the MLflow client: pip install 'costcouncil[mlflow]' "
            "(mlflow-skinny; a sqlite:// tracking URI needs the full `mlflow` package)"
        ) from e
    return MlflowClient(tracking_uri=tracking_uri)


def shown_uri(uri: str) -> str:
    """The tracking URI without a password, for messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of a paginated MLflow listing (``PagedList`` with a ``token``)."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def mlflow_errors() -> tuple[type[Exception], ...]:
    """The exceptions an MLflow client call raises for a server-side or connection problem."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # no MLflow: ``client`` has already said how to install it
        return (OSError,)
    return (MlflowException, OSError)


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """Every active run of the chosen experiments as a ``jobs`` table."""
    uri = options.tracking_uri
    if not uri:
        raise ConfigError(
            "the mlflow source reads a tracking server: give --tracking-uri "
            "(e.g. http://mlflow.internal:5000, databricks, or sqlite:///mlflow.db)"
        )
    origin = shown_uri(uri)
    try:
        mlflow = client(uri)
        experiments = resolve_experiments(mlflow, options.experiments, origin)
        versions = model_versions(mlflow)
        rows = Rows("jobs", origin)
        for n, run in enumerate(search(mlflow, list(experiments)), 1):
            add_run(rows, n, run, experiments[run.info.experiment_id], versions, options)
    except mlflow_errors() as e:
        raise IngestError(f"{origin}: cannot read MLflow runs: {e}") from e
    except ImportError as e:  # mlflow-skinny has no SQLAlchemy store
        raise ConfigError(
            f"{origin}: this tracking URI needs the full `mlflow` package ({e})"
        ) from e
    return rows.table()


def resolve_experiments(
    mlflow: MlflowClient, wanted: Iterable[str], origin: str
) -> dict[str, Experiment]:
    """Experiment id -> experiment: each name or id asked for, or every active experiment."""
    wanted = list(wanted)
    if not wanted:
        found = pages(lambda t: mlflow.search_experiments(max_results=PAGE, page_token=t))
        return {e.experiment_id: e for e in found}
    chosen = {}
    for name in wanted:
        experiment = find_experiment(mlflow, name)
        if experiment is None:
            raise ConfigError(
                f"{origin}: no MLflow experiment named {name!r} (or with that id); "
                f"experiments there: {known_experiments(mlflow)}"
            )
        chosen[experiment.experiment_id] = experiment
    return chosen


def find_experiment(mlflow: MlflowClient, name: str) -> Experiment | None:
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None or not name.isdigit():
        return experiment
    try:
        return mlflow.get_experiment(name)
    except MlflowException:
        return None


def known_experiments(mlflow: MlflowClient, limit: int = 20) -> str:
    names = sorted(e.name for e in mlflow.search_experiments(max_results=limit))
    return ", ".join(repr(n) for n in names) or "none"


def search(mlflow: MlflowClient, experiment_ids: list[str]) -> Iterator[Run]:
    """Active (not deleted) runs of the experiments, oldest first."""
    from mlflow.entities import ViewType

    if not experiment_ids:
        return iter(())
    return pages(
        lambda t: mlflow.search_runs(
            experiment_ids,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=PAGE,
            order_by=["attributes.start_time ASC", "attributes.run_id ASC"],
            page_token=t,
        )
    )


def model_versions(mlflow: MlflowClient) -> dict[str, list[tuple[str, str]]]:
    """Source run id -> (registered model, version) of every model version, by name and number.

    A server without a model registry (or one that refuses it) gives none.
    """
    found: dict[str, list[tuple[str, str]]] = {}
    try:
        for v in pages(lambda t: mlflow.search_model_versions(max_results=PAGE, page_token=t)):
            if v.run_id:
                found.setdefault(v.run_id, []).append((v.name, str(v.version)))
    except mlflow_errors():
        return {}
    for listed in found.values():
        listed.sort(key=lambda nv: (nv[0], int(nv[1]) if nv[1].isdigit() else 0))
    return found


def add_run(
    rows: Rows,
    n: int,
    run: Run,
    experiment: Experiment,
    versions: Mapping[str, list[tuple[str, str]]],
    options: SourceOptions,
) -> None:
    """Add run ``n`` (1-based position in the listing); runs never started are skipped."""
    info = run.info
    if info.start_time is None:
        return
    tags, params = dict(run.data.tags), dict(run.data.params)
    found = run_owners(tags, dict(experiment.tags), options)
    produced = versions.get(info.run_id, [])
    model, version = registered(found, produced)
    values = {
        "job_id": info.run_id,
        "source": "mlflow",
        "resource_id": first(tags, RESOURCE),
        "start": from_ms(info.start_time),
        "end": None if STATUS.get(info.status) == "running" else from_ms(info.end_time),
        "accelerator_type": accelerator_type(tags, params),
        "accelerator_count": gpu_count(rows, n, run),
        "cpu_cores": number(rows, n, run, CPU_CORES),
        "memory_gib": number(rows, n, run, MEMORY_GIB),
        "status": STATUS.get(info.status),
        "kind": kind(rows, n, run, experiment),
        **found,
        "model": model,
        "model_version": version,
        "run": info.run_id,
        "user": found["user"] or (info.user_id if info.user_id not in ("", "unknown") else None),
        "attributes": {"tracking_uri": rows.origin, **attributes(run, experiment, produced)},
    }
    rows.add(n, values)


def run_owners(
    tags: Mapping[str, str], experiment_tags: Mapping[str, str], options: SourceOptions
) -> dict[str, str | None]:
    """Owner keys from the run's tags; a key the run lacks comes from its experiment's tags."""
    known = {"user": ["mlflow.user"]}
    mine = owners(tags, "jobs", options, known)
    inherited = owners(experiment_tags, "jobs", options, known)
    return {k: v if v is not None else inherited[k] for k, v in mine.items()}


def registered(
    found: Mapping[str, str | None], produced: list[tuple[str, str]]
) -> tuple[str | None, str | None]:
    """(model, model_version): the tags' when set, else the first model version the run produced."""
    if found["model"] is not None or not produced:
        return found["model"], found["model_version"]
    name, version = produced[0]
    return name, found["model_version"] or version


def first(values: Mapping[str, str], names: Iterable[str]) -> str | None:
    return next((values[k].strip() for k in names if (values.get(k) or "").strip()), None)


def lookup(run: Run, names: Iterable[str], params: bool = True) -> tuple[str, str] | None:
    """(``tags.<name>`` or ``params.<name>``, value) of the first non-empty tag, then param."""
    where = [("tags", run.data.tags)] + ([("params", run.data.params)] if params else [])
    for prefix, values in where:
        for name in names:
            value = (values.get(name) or "").strip()
            if value:
                return f"{prefix}.{name}", value
    return None


def from_ms(ms: int | None) -> datetime | None:
    """An aware UTC datetime from MLflow's epoch milliseconds."""
    return None if ms is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def number(rows: Rows, n: int, run: Run, names: Iterable[str]) -> float | None:
    """The first tag or param of ``names`` as a non-negative number; a bad value is reported."""
    hit = lookup(run, names)
    if hit is None:
        return None
    column, value = hit
    try:
        parsed = float(value)
    except ValueError:
        parsed = -1.0
    if parsed != parsed or parsed in (float("inf"), float("-inf")) or parsed < 0:
        why = f"run {run.info.run_id}: not a non-negative number (e.g. 8, or 0.5 for a shared GPU)"
        rows.problem(n, column, value, why)
        return None
    return parsed


def gpu_count(rows: Rows, n: int, run: Run) -> float | None:
    """The GPU count a tag or param states, else the number of GPUs the system metrics watched."""
    stated = number(rows, n, run, GPU_COUNT)
    return stated if stated is not None or lookup(run, GPU_COUNT) else system_gpus(run)


def system_gpus(run: Run) -> float | None:
    """How many GPUs MLflow's system metrics watched (``system/gpu_<i>_*``), if it logged any."""
    seen = {m.groups() for m in map(SYSTEM_GPU.match, run.data.metrics) if m}
    return float(len(seen)) if seen else None


def accelerator_type(tags: Mapping[str, str], params: Mapping[str, str]) -> str | None:
    for values in (tags, params):
        value = first(values, GPU_TYPE)
        if value and value.lower() not in NOT_A_MODEL:
            return gpu_model(value)
    return None


def kind(rows: Rows, n: int, run: Run, experiment: Experiment) -> str | None:
    """The ``costcouncil.kind`` (or ``kind``) tag, else a guess from the run and experiment names."""
    hit = lookup(run, KIND, params=False)
    if hit is not None:
        value = hit[1].lower().replace("_", "-").replace("finetune", "fine-tune")
        if value in JOB_KINDS:
            return value
        why = f"run {run.info.run_id}: not a job kind (one of {', '.join(JOB_KINDS)})"
        rows.problem(n, hit[0], hit[1], why)
        return None
    for name in (run.info.run_name or "", experiment.name or ""):
        for guess, pattern in KIND_WORDS:
            if pattern.search(name):
                return guess
    return "training"


def attributes(run: Run, experiment: Experiment, produced: list[tuple[str, str]]) -> dict[str, Any]:
    """Everything else a person may want beside the usage columns."""
    tags = run.data.tags
    out: dict[str, Any] = {
        "experiment_id": run.info.experiment_id,
        "experiment": experiment.name,
        "run_name": run.info.run_name,
        "mlflow_status": run.info.status,
        "params": dict(run.data.params),
        "tags": {k: v for k, v in tags.items() if not k.startswith("mlflow.")},
    }
    out.update({k: tags[k] for k in KEPT_SYSTEM_TAGS if tags.get(k)})
    if produced:
        out["model_versions"] = [f"{name}/{version}" for name, version in produced]
    if lookup(run, GPU_COUNT) is None and system_gpus(run) is not None:
        out["accelerator_count_from"] = "system metrics"
    return out


SOURCES = (
    UsageSource(
        name="mlflow",
        kind="jobs",
        title="MLflow tracking runs",
        read=read,
        needs_file=False,
        replaces=True,
    ),
)
