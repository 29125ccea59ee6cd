"""OpenCost allocations as GPU jobs: the JSON body of OpenCost's ``/allocation`` API.

``curl -G http://opencost:9003/allocation -d window=7d -d step=1d -d aggregate=pod`` answers
``{"code": 200, "data": [{"<name>": {allocation}, ...}, ...]}``, one object per window step. Each
allocation of each step is one jobs row, covering the part of the step the workload ran
(``start``/``end``). Counts are OpenCost's hours divided by that span (``gpuHours / hours``), so
GPU-seconds are conserved exactly. OpenCost's own costs are kept in ``attributes``, never used as
cost. See ``docs/sources/opencost.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from costcouncil.errors import FormatError
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, gpu_model, parse_time
from costcouncil.usage.sources import _kubelabels

#: Allocation names holding no workload: OpenCost's idle capacity and unmounted volumes. Our
#: own attribution computes idle from the node's cost and the jobs, so these rows are skipped.
SKIPPED = ("__idle__", "__unmounted__")

#: jobs column -> (OpenCost field integrated over the span, its average, divisor to our unit).
RATES: dict[str, tuple[str, str, float]] = {
    "accelerator_count": ("gpuHours", "gpuCount", 1.0),
    "cpu_cores": ("cpuCoreHours", "cpuCores", 1.0),
    "memory_gib": ("ramByteHours", "ramBytes", 1024.0**3),
}

#: Allocation fields that become jobs columns and so are not repeated in ``attributes``.
_CONSUMED = frozenset({"name", "start", "end", "properties"})
_METADATA = ("labels", "annotations", "namespaceLabels", "namespaceAnnotations")


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """One jobs row per allocation per window step of an OpenCost ``/allocation`` response."""
    if path is None:
        raise FormatError("the opencost source reads a file: the JSON body of /allocation")
    rows = Rows("jobs", str(path), assume_utc=options.assume_utc)
    labelled = _kubelabels.user_labels(options, sanitised=True)
    for n, (where, name, allocation) in enumerate(_allocations(path), start=1):
        if not isinstance(allocation, Mapping):
            rows.problem(n, where, allocation, "not an allocation object")
        elif not any(s in str(allocation.get("name") or name) for s in SKIPPED):
            _add(rows, n, where, str(allocation.get("name") or name), allocation, labelled)
    return rows.table()


def _allocations(path: Path) -> Iterator[tuple[str, str, Any]]:
    """(locator, name, allocation) for every allocation of every step, in file order."""
    for step, allocations in enumerate(_steps(path)):
        if not isinstance(allocations, Mapping):
            raise FormatError(f"{path}: data[{step}] is not an object of allocations by name")
        for name, allocation in allocations.items():
            yield f"data[{step}][{json.dumps(name)}]", str(name), allocation


def _steps(path: Path) -> list[Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FormatError(
            f"{path}: not JSON ({e}); expected OpenCost's /allocation response"
        ) from None
    if isinstance(doc, Mapping) and doc.get("code", 200) != 200:
        raise FormatError(f"{path}: OpenCost answered code {doc.get('code')}: {doc.get('message')}")
    data = doc.get("data") if isinstance(doc, Mapping) else doc
    if isinstance(data, Mapping):
        return [data]
    if not isinstance(data, list):
        raise FormatError(
            f"{path}: expected OpenCost's /allocation response "
            '{"code": 200, "data": [{"<name>": {allocation}, ...}, ...]}'
        )
    return [step for step in data if step is not None]


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _add(
    rows: Rows,
    n: int,
    where: str,
    name: str,
    allocation: Mapping[str, Any],
    options: SourceOptions,
) -> None:
    props = _obj(allocation.get("properties"))
    window = _obj(allocation.get("window"))
    start = allocation.get("start") or window.get("start")
    end = allocation.get("end") or window.get("end")
    hours = _hours(start, end, rows.assume_utc)
    layers = _layers(props)
    labels = {k: v for layer in reversed(layers) for k, v in layer.items()}
    values: dict[str, Any] = {
        "job_id": f"{name}@{window.get('start') or start}",
        "source": "opencost",
        "resource_id": props.get("providerID") or props.get("node"),
        "start": start,
        "end": end,
        "accelerator_type": gpu_model(_obj(allocation.get("gpuAllocation")).get("gpuModel")),
        **{c: _rate(rows, n, where, allocation, c, hours) for c in RATES},
        "kind": _kubelabels.job_kind(rows, n, labels, options, sanitised=True),
        **_kubelabels.layered_owners(layers, options, _kubelabels.known(sanitised=True)),
        "attributes": _attributes(name, allocation, props),
    }
    rows.add(n, values)


def _hours(start: Any, end: Any, assume_utc: bool) -> float | None:
    """Hours from start to end; None when either is unreadable (the row builder reports it)."""
    try:
        span = parse_time(end, assume_utc=assume_utc) - parse_time(start, assume_utc=assume_utc)
    except (ValueError, TypeError):
        return None
    return span.total_seconds() / 3600


def _rate(
    rows: Rows,
    n: int,
    where: str,
    allocation: Mapping[str, Any],
    column: str,
    hours: float | None,
) -> float | None:
    """``<x>Hours / hours`` (conserves OpenCost's hours), else OpenCost's own average."""
    integral, average, unit = RATES[column]
    total = _number(rows, n, where, allocation, integral)
    if total is not None and hours:
        return total / hours / unit
    mean = _number(rows, n, where, allocation, average)
    return None if mean is None else mean / unit


def _number(
    rows: Rows, n: int, where: str, allocation: Mapping[str, Any], field: str
) -> float | None:
    value = allocation.get(field)
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None if value is None else float(value)
    rows.problem(n, f"{where}.{field}", value, "not a number")
    return None


def _layers(props: Mapping[str, Any]) -> list[dict[str, str]]:
    """Pod labels, pod annotations, the namespace's, then the pseudo-labels cluster and namespace."""
    pseudo = {"cluster": props.get("cluster"), "namespace": props.get("namespace")}
    layers = [_obj(props.get(key)) for key in _METADATA]
    return [
        {str(k): str(v) for k, v in m.items() if v not in (None, "")} for m in (*layers, pseudo)
    ]


def _attributes(
    name: str, allocation: Mapping[str, Any], props: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything OpenCost said that is not a column: properties flattened, costs, efficiencies."""
    found = {k: v for k, v in allocation.items() if k not in _CONSUMED}
    found |= {k: v for k, v in props.items() if k not in _METADATA or v}
    found["name"] = name
    return {k: v for k, v in found.items() if v not in (None, {}, [])}


SOURCES = (
    UsageSource(
        name="opencost",
        kind="jobs",
        title="OpenCost allocations (/allocation API JSON)",
        read=read,
    ),
)
