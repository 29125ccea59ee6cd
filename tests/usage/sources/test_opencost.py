"""The opencost usage source: rates from hours, sentinels, sanitised labels and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from costcouncil.errors import FormatError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources.opencost import read

DAY = {"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z"}


def _allocation(name: str, **fields: Any) -> dict[str, Any]:
    props = {"cluster": "c1", "node": "node-1", "namespace": "ns", "pod": name}
    props |= fields.pop("properties", {})
    return {
        "name": name,
        "properties": props,
        "window": DAY,
        "start": "2024-05-01T00:00:00Z",
        "end": "2024-05-01T06:00:00Z",
        **fields,
    }


def _read(
    tmp_path: Path, *steps: list[dict[str, Any]], options: SourceOptions | None = None
) -> Any:
    body = {"code": 200, "data": [{a["name"]: a for a in step} for step in steps]}
    path = tmp_path / "allocation.json"
    path.write_text(json.dumps(body))
    return read(path, options or SourceOptions()).to_pylist()


def test_counts_are_hours_over_the_span(tmp_path: Path) -> None:
    alloc = _allocation(
        "a", gpuHours=9, gpuCount=1.5, cpuCoreHours=12, cpuCores=2, ramByteHours=6 * 2**31
    )
    [row] = _read(tmp_path, [alloc])
    assert (row["accelerator_count"], row["cpu_cores"], row["memory_gib"]) == (1.5, 2.0, 2.0)
    assert row["job_id"] == "a@2024-05-01T00:00:00Z"
    assert row["status"] is None


def test_averages_when_hours_are_missing_or_the_span_is_empty(tmp_path: Path) -> None:
    no_hours = _allocation("a", gpuCount=2, cpuCores=3, ramBytes=2**30)
    empty = _allocation("b", gpuHours=0, gpuCount=1, end="2024-05-01T00:00:00Z")
    rows = {r["job_id"].split("@")[0]: r for r in _read(tmp_path, [no_hours, empty])}
    assert (rows["a"]["accelerator_count"], rows["a"]["cpu_cores"]) == (2.0, 3.0)
    assert rows["a"]["memory_gib"] == 1.0
    assert rows["b"]["accelerator_count"] == 1.0


def test_idle_and_unmounted_are_skipped_unallocated_is_kept(tmp_path: Path) -> None:
    step = [
        _allocation("__idle__", gpuHours=10),
        _allocation("node-1/__idle__", gpuHours=10),
        _allocation("__unmounted__", pvCost=3.0),
        _allocation("__unallocated__", gpuHours=6),
    ]
    [row] = _read(tmp_path, step)
    assert row["job_id"].startswith("__unallocated__@")
    assert row["accelerator_count"] == 1.0


def test_steps_give_one_row_each(tmp_path: Path) -> None:
    day2 = {"start": "2024-05-02T00:00:00Z", "end": "2024-05-03T00:00:00Z"}
    second = _allocation("a", window=day2, start=day2["start"], end=day2["end"], gpuHours=24)
    rows = _read(tmp_path, [_allocation("a", gpuHours=6)], [second])
    assert [r["job_id"] for r in rows] == ["a@2024-05-01T00:00:00Z", "a@2024-05-02T00:00:00Z"]
    assert [r["accelerator_count"] for r in rows] == [1.0, 1.0]


def test_resource_type_and_attributes(tmp_path: Path) -> None:
    with_id = _allocation(
        "a",
        properties={"providerID": "i-0abc"},
        gpuAllocation={"gpuModel": "NVIDIA A100-SXM4-80GB", "isGPUShared": False},
        gpuCost=12.5,
        totalCost=14.0,
    )
    rows = _read(tmp_path, [with_id, _allocation("b")])
    assert [r["resource_id"] for r in rows] == ["i-0abc", "node-1"]
    assert rows[0]["accelerator_type"] == "A100"
    attributes = json.loads(rows[0]["attributes"])
    assert (attributes["gpuCost"], attributes["totalCost"]) == (12.5, 14.0)
    assert (attributes["cluster"], attributes["pod"], attributes["window"]) == ("c1", "a", DAY)


def test_sanitised_labels_pods_over_namespaces(tmp_path: Path) -> None:
    pod = _allocation(
        "a",
        properties={
            "labels": {"app_kubernetes_io_part_of": "shop", "costcouncil_io_team": "web"},
            "namespaceLabels": {"team": "ns-team", "env": "prod"},
        },
    )
    bare = _allocation("b", properties={"namespaceLabels": {"team": "ns-team"}})
    rows = _read(tmp_path, [pod, bare])
    assert [(r["team"], r["project"], r["environment"]) for r in rows] == [
        ("web", "shop", "prod"),
        ("ns-team", None, None),
    ]


def test_the_users_labels_are_tried_sanitised_and_first(tmp_path: Path) -> None:
    labels = {"example_com_squad": "squad-7", "team": "web"}
    alloc = _allocation("a", properties={"labels": labels})
    options = SourceOptions(labels={"team": ("example.com/squad",), "project": ("cluster",)})
    [row] = _read(tmp_path, [alloc], options=options)
    assert (row["team"], row["project"]) == ("squad-7", "c1")


def test_bad_cells_name_file_row_column_and_value(tmp_path: Path) -> None:
    good = _allocation("good", gpuHours=1)
    bad = _allocation("bad", gpuHours="lots", start="yesterday")
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, [good, bad])
    message = str(info.value)
    assert "allocation.json, row 2, column data[0][\"bad\"].gpuHours = 'lots'" in message
    assert "row 2, column start = 'yesterday'" in message
    assert "row 1" not in message


@pytest.mark.parametrize(
    "body, hint",
    [
        ("{not json", "not JSON"),
        ('{"code": 500, "message": "boom"}', "OpenCost answered code 500: boom"),
        ('{"code": 200, "data": "x"}', "expected OpenCost's /allocation response"),
        ('{"code": 200, "data": [["x"]]}', r"data\[0\] is not an object"),
    ],
)
def test_unreadable_files_are_format_errors(tmp_path: Path, body: str, hint: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(body)
    with pytest.raises(FormatError, match=hint) as info:
        read(path, SourceOptions())
    assert str(path) in str(info.value)
