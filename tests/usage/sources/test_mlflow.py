"""The ``mlflow`` usage source against real tracking stores: SQLite and a local ``mlflow server``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from costcouncil.errors import ConfigError, IngestError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources import REGISTRY
from costcouncil.usage.sources import mlflow as source
from tests.usage.sources.mlflow_setup import (
    T0,
    build,
    experiment,
    free_port,
    register,
    run,
    server,
    sqlite_store,
)

H = timedelta(hours=1)


def _read(uri: str, **options: Any) -> list[dict[str, Any]]:
    table = REGISTRY["mlflow"].read(None, SourceOptions(tracking_uri=uri, **options))
    return sorted(table.to_pylist(), key=lambda r: r["start"])


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {json.loads(r["attributes"])["run_name"]: r for r in rows}


@pytest.fixture(scope="module")
def http_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``mlflow server`` for this module, on a SQLite store, stopped at teardown."""
    with server(tmp_path_factory.mktemp("mlflow-server")) as started:
        yield started.ready()


def test_declared_as_a_server_snapshot_source() -> None:
    declared = REGISTRY["mlflow"]
    assert (declared.kind, declared.needs_file, declared.replaces) == ("jobs", False, True)


def test_runs_become_jobs(tmp_path: Path) -> None:
    uri = build(tmp_path)["tracking_uri"]
    runs = _by_name(_read(uri))
    assert sorted(runs) == [
        "eval-detector",
        "finetune-ranker",
        "notebook-explore",
        "train-detector",
    ]
    train = runs["train-detector"]
    assert train["job_id"] == train["run"] and len(train["job_id"]) == 32
    assert (train["source"], train["status"], train["kind"]) == ("mlflow", "succeeded", "training")
    assert (train["start"], train["end"]) == (T0, T0 + 2 * H)
    assert (train["accelerator_type"], train["accelerator_count"]) == ("H100", 8.0)
    assert (train["team"], train["project"]) == ("vision", "detector")  # experiment tags
    assert (train["model"], train["model_version"]) == ("detector", "1")  # the registry
    attributes = json.loads(train["attributes"])
    assert attributes["experiment"] == "vision-training"
    assert attributes["model_versions"] == ["detector/1"] and attributes["tracking_uri"] == uri
    assert (
        runs["eval-detector"]["status"] == "failed"
        and runs["eval-detector"]["kind"] == "evaluation"
    )
    assert runs["eval-detector"]["accelerator_count"] == 1.0  # param num_gpus
    assert (
        runs["notebook-explore"]["status"] == "running" and runs["notebook-explore"]["end"] is None
    )
    ranker = runs["finetune-ranker"]
    assert (ranker["status"], ranker["kind"], ranker["team"]) == ("killed", "fine-tune", "search")
    assert ranker["accelerator_count"] == 2.0  # system/gpu_0_*, system/gpu_1_*
    assert json.loads(ranker["attributes"])["accelerator_count_from"] == "system metrics"


def test_run_tags_win_over_experiment_tags_and_labels_are_tried_first(tmp_path: Path) -> None:
    uri = sqlite_store(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    exp = experiment(client, "exp", tmp_path, {"team": "vision", "cost-center": "cc-9"})
    tags = {"costcouncil.team": "search", "squad": "ranking", "mlflow.user": "ada", "costcouncil.model": "ranker", "costcouncil.kind": "Fine_Tune", "costcouncil.resource_id": "i-0gpu"}  # fmt: skip
    run_id = run(client, exp, "anything", T0, T0 + H, tags=tags, params={"lr": "0.1"})
    register(client, "other-model", run_id)
    [row] = _read(uri)
    assert (row["team"], row["user"], row["model"], row["kind"]) == (
        "search",
        "ada",
        "ranker",
        "fine-tune",
    )
    assert row["model_version"] is None  # a model tag wins; its version is not the registry's
    assert row["resource_id"] == "i-0gpu"
    assert json.loads(row["attributes"])["params"] == {"lr": "0.1"}
    [labelled] = _read(uri, labels={"team": ("squad",), "project": ("cost-center",)})
    assert (labelled["team"], labelled["project"]) == ("ranking", "cc-9")


def test_bad_tag_values_name_the_store_run_and_tag(tmp_path: Path) -> None:
    uri = sqlite_store(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    exp = experiment(client, "exp", tmp_path)
    run(client, exp, "fine", T0, T0 + H, tags={"gpus": "4"})
    bad = run(client, exp, "bad", T0 + H, T0 + 2 * H, tags={"costcouncil.gpus": "eight", "costcouncil.kind": "pretraining"})  # fmt: skip
    with pytest.raises(ValidationError) as e:
        _read(uri)
    problems = {(p.file, p.row, p.column, p.value) for p in e.value.problems}
    assert problems == {
        (uri, 2, "tags.costcouncil.gpus", "eight"),
        (uri, 2, "tags.costcouncil.kind", "pretraining"),
    }
    assert bad in str(e.value) and "fine-tune" in str(e.value)


def test_experiments_by_name_or_id_and_unknown_ones(tmp_path: Path) -> None:
    uri = sqlite_store(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    a, b = experiment(client, "a", tmp_path), experiment(client, "b", tmp_path)
    run(client, a, "in-a", T0, T0 + H)
    run(client, b, "in-b", T0, T0 + H)
    assert len(_read(uri)) == 2
    assert list(_by_name(_read(uri, experiments=("a",)))) == ["in-a"]
    assert list(_by_name(_read(uri, experiments=(b,)))) == ["in-b"]  # by id
    with pytest.raises(ConfigError, match=r"no MLflow experiment named 'c'.*'Default', 'a', 'b'"):
        _read(uri, experiments=("c",))


def test_reads_every_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = sqlite_store(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    exp = experiment(client, "exp", tmp_path)
    for i in range(5):
        run(client, exp, f"r{i}", T0 + i * H, T0 + (i + 1) * H, tags={"gpus": "1"})
    monkeypatch.setattr(source, "PAGE", 2)
    assert [json.loads(r["attributes"])["run_name"] for r in _read(uri)] == [
        f"r{i}" for i in range(5)
    ]


def test_needs_a_tracking_uri_and_a_reachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="--tracking-uri"):
        REGISTRY["mlflow"].read(None, SourceOptions())
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retry setting
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(IngestError, match=f"{url}: cannot read MLflow runs"):
        _read(url)


def test_server_store_reads_the_same_as_sqlite(http_uri: str, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=http_uri)
    exp = experiment(client, "served", tmp_path, {"team": "vision"})
    run_id = run(
        client, exp, "train-served", T0, T0 + 3 * H, tags={"num_gpus": "4", "accelerator": "A100"}
    )
    run(client, exp, "still-running", T0 + H, None, params={"gpus": "0.5"})
    register(client, "served-model", run_id)
    rows = _by_name(_read(http_uri, experiments=("served",)))
    train = rows["train-served"]
    assert (train["accelerator_count"], train["accelerator_type"], train["team"]) == (
        4.0,
        "A100",
        "vision",
    )
    assert (train["model"], train["model_version"], train["end"]) == (
        "served-model",
        "1",
        T0 + 3 * H,
    )
    assert (
        rows["still-running"]["accelerator_count"] == 0.5 and rows["still-running"]["end"] is None
    )


def test_a_password_in_the_uri_is_not_shown() -> None:
    assert (
        source.shown_uri("https://ada:s3cret@mlflow.example:8443/x")
        == "https://ada:***@mlflow.example:8443/x"
    )
    assert source.shown_uri("sqlite:///tmp/m.db") == "sqlite:///tmp/m.db"


def test_without_mlflow_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("mlflow", "mlflow.tracking", "mlflow.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)  # what `import` sees when it is absent
    with pytest.raises(ConfigError, match=r"pip install 'costcouncil\[mlflow\]'"):
        _read("http://mlflow.example:5000")
