"""The kubernetes usage source: quantities, accelerators, pod lifecycles, owners and bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from costcouncil.errors import FormatError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources.kubernetes import accelerator_weight, parse_quantity, read

GI = 1024**3


def _pod(
    name: str = "p",
    *,
    phase: str = "Succeeded",
    containers: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "startTime": "2024-05-01T00:00:00Z"}
    if phase in ("Succeeded", "Failed"):
        done = {"terminated": {"exitCode": 0, "finishedAt": "2024-05-01T01:00:00Z"}}
        status["containerStatuses"] = [{"name": "main", "state": done}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": labels or {}},
        "spec": {"nodeName": "node-1", "containers": containers or [{"name": "main"}], **spec},
        "status": status,
    }


def _limits(**resources: Any) -> dict[str, Any]:
    return {"name": "main", "resources": {"limits": resources}}


def _read(tmp_path: Path, *pods: dict[str, Any], options: SourceOptions | None = None) -> Any:
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(pods)}))
    return read(path, options or SourceOptions()).to_pylist()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("16Gi", Decimal(16 * GI)),
        ("512Mi", Decimal(512 * 1024**2)),
        ("1.5Ki", Decimal(1536)),
        ("1G", Decimal(10**9)),
        ("100k", Decimal(100_000)),
        ("250u", Decimal("0.000250")),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("2e-3", Decimal("0.002")),
        ("1E", Decimal(10**18)),
        ("+1", Decimal(1)),
    ],
)
def test_quantities(text: Any, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "16gb", "1.2.3", "Gi", "1 Gi", "1KiB", True])
def test_bad_quantities(text: Any) -> None:
    with pytest.raises(ValueError, match="Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize(
    "resource, replicas, expected",
    [
        ("nvidia.com/gpu", None, Decimal(1)),
        ("amd.com/gpu", None, Decimal(1)),
        ("nvidia.com/mig-1g.5gb", None, Decimal(1) / 7),
        ("nvidia.com/mig-3g.40gb", None, Decimal(3) / 7),
        ("nvidia.com/mig-7g.80gb", None, Decimal(1)),
        ("nvidia.com/mig-1g.10gb+me", None, Decimal(1) / 7),
        ("nvidia.com/mig-1g.6gb", None, Decimal(1) / 4),  # A30: four slices
        ("nvidia.com/mig-4g.24gb", None, Decimal(1)),
        ("nvidia.com/gpu.shared", Decimal(4), Decimal("0.25")),
        ("nvidia.com/gpu.shared", None, Decimal(1)),
        ("cpu", None, None),
        ("nvidia.com/mig-bogus", None, None),
    ],
)
def test_accelerator_weights(resource: str, replicas: Decimal | None, expected: Any) -> None:
    assert accelerator_weight(resource, replicas) == expected


def test_a_pod_gets_its_gpus_type_and_times(tmp_path: Path) -> None:
    pod = _pod(
        containers=[_limits(**{"nvidia.com/gpu": 4, "cpu": "8", "memory": "32Gi"})],
        nodeSelector={"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"},
    )
    [row] = _read(tmp_path, pod)
    assert row["job_id"] == "uid-p"
    assert row["resource_id"] == "node-1"
    assert (row["accelerator_type"], row["accelerator_count"]) == ("H100", 4.0)
    assert (row["cpu_cores"], row["memory_gib"]) == (8.0, 32.0)
    assert (row["end"] - row["start"]).total_seconds() == 3600
    assert row["status"] == "succeeded"


def test_mig_slices_add_up_to_a_fraction(tmp_path: Path) -> None:
    pod = _pod(containers=[_limits(**{"nvidia.com/mig-1g.10gb": 2, "nvidia.com/mig-2g.20gb": 1})])
    [row] = _read(tmp_path, pod)
    assert row["accelerator_count"] == pytest.approx(4 / 7)
    assert json.loads(row["attributes"])["accelerator_resources"] == {
        "nvidia.com/mig-1g.10gb": 2,
        "nvidia.com/mig-2g.20gb": 1,
    }


def test_init_containers_run_alone_and_sidecars_add(tmp_path: Path) -> None:
    pod = _pod(
        containers=[{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
        initContainers=[
            {"name": "warm", "resources": {"requests": {"cpu": "3", "memory": "512Mi"}}},
            {
                "name": "proxy",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
            },
        ],
        overhead={"cpu": "250m"},
    )
    [row] = _read(tmp_path, pod)
    # containers + sidecar = 1.5 cpu / 2 GiB; the plain init container alone wants 3 cpu.
    assert (row["cpu_cores"], row["memory_gib"]) == (3.25, 2.0)


def test_pod_level_resources_replace_the_containers(tmp_path: Path) -> None:
    pod = _pod(
        containers=[{"name": "a", "resources": {"requests": {"cpu": "1"}}}],
        resources={"requests": {"cpu": "6", "memory": "8Gi"}},
    )
    [row] = _read(tmp_path, pod)
    assert (row["cpu_cores"], row["memory_gib"]) == (6.0, 8.0)


def test_requests_win_over_limits(tmp_path: Path) -> None:
    container = {"name": "a", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "4"}}}
    [row] = _read(tmp_path, _pod(containers=[container]))
    assert row["cpu_cores"] == 2.0


def test_lifecycles(tmp_path: Path) -> None:
    running = _pod("running", phase="Running")
    scheduled = _pod("scheduled", phase="Pending")
    unscheduled = _pod("unscheduled", phase="Pending")
    del unscheduled["spec"]["nodeName"]
    evicted = _pod("evicted", phase="Failed")
    evicted["status"] |= {"reason": "Evicted", "containerStatuses": []}
    evicted["metadata"]["deletionTimestamp"] = "2024-05-01T00:30:00Z"
    found = _read(tmp_path, running, scheduled, unscheduled, evicted)
    rows = {json.loads(r["attributes"])["name"]: r for r in found}
    assert set(rows) == {"running", "scheduled", "evicted"}  # unscheduled: it used nothing
    assert rows["running"]["status"] == rows["scheduled"]["status"] == "running"
    assert rows["running"]["end"] is None
    assert rows["evicted"]["status"] == "killed"
    assert rows["evicted"]["end"].isoformat() == "2024-05-01T00:30:00+00:00"


def test_a_single_pod_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(_pod(containers=[_limits(**{"amd.com/gpu": 1})])))
    [row] = read(path, SourceOptions()).to_pylist()
    assert row["accelerator_count"] == 1.0


def test_no_uid_falls_back_to_namespace_and_name(tmp_path: Path) -> None:
    pod = _pod("web")
    del pod["metadata"]["uid"]
    [row] = _read(tmp_path, pod)
    assert row["job_id"] == "ns/web"


def test_labels_name_owners_and_the_users_labels_come_first(tmp_path: Path) -> None:
    labels = {
        "team": "from-team-label",
        "squad": "from-squad",
        "app.kubernetes.io/part-of": "shop",
        "env": "staging",
    }
    pod = _pod(labels=labels)
    [default] = _read(tmp_path, pod)
    assert (default["team"], default["project"], default["environment"]) == (
        "from-team-label",
        "shop",
        "staging",
    )
    options = SourceOptions(labels={"team": ("squad",), "environment": ("namespace",)})
    [chosen] = _read(tmp_path, pod, options=options)
    assert (chosen["team"], chosen["environment"]) == ("from-squad", "ns")


def test_ours_win_over_ecosystem_labels(tmp_path: Path) -> None:
    labels = {"app.kubernetes.io/part-of": "shop", "costcouncil.io/project": "checkout"}
    [row] = _read(tmp_path, _pod(labels=labels))
    assert row["project"] == "checkout"


def test_a_pods_own_label_wins_over_an_annotation_of_another_name(tmp_path: Path) -> None:
    pod = _pod(labels={"costcouncil.io/team": "search"})
    pod["metadata"]["annotations"] = {"team": "annotated"}
    [row] = _read(tmp_path, pod)
    assert row["team"] == "search"


def test_bad_cells_name_file_row_column_and_value(tmp_path: Path) -> None:
    good = _pod("good")
    bad = _pod("bad", containers=[{"name": "a", "resources": {"requests": {"cpu": "lots"}}}])
    bad["status"]["startTime"] = "yesterday"
    bad["metadata"]["labels"] = {"costcouncil.io/kind": "party"}
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, good, bad)
    message = str(info.value)
    assert "pods.json, row 2, column spec.containers[0].resources.requests.cpu = 'lots'" in message
    assert "row 2, column start = 'yesterday'" in message
    assert "column label costcouncil.io/kind = 'party': not a job kind" in message
    assert "row 1" not in message


def test_a_finished_pod_without_a_finish_time_is_a_problem(tmp_path: Path) -> None:
    pod = _pod(phase="Failed")
    pod["status"]["containerStatuses"] = []
    with pytest.raises(ValidationError, match=r"row 1, column status\.containerStatuses"):
        _read(tmp_path, pod)


def test_something_else_than_a_pod_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="row 1, column kind = 'Deployment': not a Pod"):
        _read(tmp_path, {"kind": "Deployment", "metadata": {"name": "d"}})


@pytest.mark.parametrize(
    "text, hint",
    [("{not json", "not valid JSON"), ('{"kind": "Service"}', "expected a Pod, a PodList")],
)
def test_unreadable_files_are_format_errors(tmp_path: Path, text: str, hint: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(FormatError, match=hint) as info:
        read(path, SourceOptions())
    assert str(path) in str(info.value)
