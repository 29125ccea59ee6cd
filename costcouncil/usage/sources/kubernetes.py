"""Kubernetes pods as GPU jobs: ``kubectl get pods -A -o json`` (or ``-o yaml``), one row per pod.

A pod's accelerators are the extended resources its containers ask for (``nvidia.com/gpu``,
``amd.com/gpu``, MIG slices ``nvidia.com/mig-3g.40gb`` as 3/7 of a GPU, time-sliced
``nvidia.com/gpu.shared`` replicas); its CPU and memory are its requests, read as Kubernetes
quantities (``500m``, ``16Gi``, ``1e3``). See ``docs/sources/kubernetes.md`` for every column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from costcouncil.errors import FormatError
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, gpu_model, parse_time
from costcouncil.usage.sources import _kubelabels

#: Extended resources that are whole accelerators: resource name -> accelerators per unit.
ACCELERATORS: dict[str, Decimal] = {
    "nvidia.com/gpu": Decimal(1),
    "amd.com/gpu": Decimal(1),
    "google.com/tpu": Decimal(1),
}

#: Time-sliced GPUs (the NVIDIA device plugin's ``renameByDefault``): one unit is one replica.
SHARED = "nvidia.com/gpu.shared"

#: MIG profiles (``<g>g.<memory>gb``) of GPUs with 4 compute slices (A30); all others have 7.
FOUR_SLICE_PROFILES = frozenset({"1g.6gb", "2g.12gb", "4g.24gb"})

_MIG = re.compile(r"nvidia\.com/mig-(?P<g>\d+)g\.(?P<mem>\d+)gb(?:\+me)?")

#: Node labels naming the accelerator model, tried in order in the pod's node selector/affinity.
TYPE_LABELS = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "amd.com/gpu.product-name",
    "cloud.google.com/gke-tpu-accelerator",
)
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
#: The GPU Feature Discovery label giving a node's time-slicing replicas per GPU.
REPLICAS_LABEL = "nvidia.com/gpu.replicas"

#: Pod phase -> job status; a Failed pod with a reason in :data:`KILLED_REASONS` was killed.
STATUS = {"Succeeded": "succeeded", "Failed": "failed", "Running": "running", "Pending": "running"}
KILLED_REASONS = frozenset({"Evicted", "DeadlineExceeded", "Preempting", "Shutdown", "Terminated"})

_SUFFIX = {
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{
        s: Decimal(10) ** e
        for s, e in zip("numkMGTPE", (-9, -6, -3, 3, 6, 9, 12, 15, 18), strict=True)
    },
    "": Decimal(1),
}
_QUANTITY = re.compile(
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:[eE](?P<exp>[+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)
_GIB = Decimal(1024) ** 3
#: Annotations left out of ``attributes``: copies of the whole object, not facts about the job.
_BULKY_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes resource quantity as a number: ``500m`` -> 0.5, ``16Gi`` -> 17179869184."""
    if isinstance(value, bool):
        raise ValueError("not a Kubernetes quantity")
    m = _QUANTITY.fullmatch(str(value).strip())
    if not m:
        raise ValueError("not a Kubernetes quantity (e.g. 2, 500m, 16Gi, 1G, 1e3)")
    number = Decimal(m["num"])
    if m["exp"] is not None:
        return number.scaleb(int(m["exp"]))
    return number * _SUFFIX[m["suffix"] or ""]


def accelerator_weight(resource: str, replicas: Decimal | None = None) -> Decimal | None:
    """Accelerators one unit of ``resource`` is: 1 for a GPU, g/7 for a MIG slice; None if none.

    A time-sliced ``nvidia.com/gpu.shared`` unit is 1/replicas of a GPU when the replica count
    is known, else 1 (see the docs).
    """
    if resource in ACCELERATORS:
        return ACCELERATORS[resource]
    if resource == SHARED:
        return 1 / replicas if replicas else Decimal(1)
    m = _MIG.fullmatch(resource)
    if not m:
        return None
    slices = 4 if f"{m['g']}g.{m['mem']}gb" in FOUR_SLICE_PROFILES else 7
    return Decimal(int(m["g"])) / slices


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """One jobs row per pod of a ``kubectl get pods -o json`` file."""
    if path is None:
        raise FormatError(
            "the kubernetes source reads a file: kubectl get pods -A -o json > pods.json"
        )
    rows = Rows("jobs", str(path), assume_utc=options.assume_utc)
    for n, pod in enumerate(_items(path), start=1):
        if not isinstance(pod, Mapping) or pod.get("kind", "Pod") != "Pod":
            shown = pod.get("kind") if isinstance(pod, Mapping) else pod
            rows.problem(n, "kind", shown, "not a Pod (read `kubectl get pods -o json`)")
        elif _scheduled(pod):
            _add(rows, n, pod, options)
    return rows.table()


def _items(path: Path) -> list[Any]:
    doc = _load(path)
    if isinstance(doc, Mapping) and doc.get("kind") == "Pod":
        return [doc]
    if isinstance(doc, Mapping) and isinstance(doc.get("items"), list):
        return list(doc["items"])
    raise FormatError(
        f"{path}: expected a Pod, a PodList or a v1 List of pods "
        "(the output of `kubectl get pods -A -o json`)"
    )


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise FormatError(f"{path}: not valid JSON or YAML ({e})") from None


def _scheduled(pod: Mapping[str, Any]) -> bool:
    """False for a pod no node took (Pending, or refused before it was placed): it used nothing."""
    return bool(_obj(pod.get("spec")).get("nodeName"))


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _add(rows: Rows, n: int, pod: Mapping[str, Any], options: SourceOptions) -> None:
    meta, spec, status = (_obj(pod.get(k)) for k in ("metadata", "spec", "status"))
    layers = _layers(meta)
    labels = {k: v for layer in reversed(layers) for k, v in layer.items()}
    node_labels = _node_labels(spec)
    amounts = _pod_amounts(rows, n, spec)
    count, gpus = _accelerators(amounts, node_labels)
    product = next((node_labels[k] for k in TYPE_LABELS if node_labels.get(k)), None)
    phase = status.get("phase")
    values = {
        "job_id": meta.get("uid") or _qualified(meta),
        "source": "kubernetes",
        "resource_id": spec.get("nodeName"),
        "start": status.get("startTime") or meta.get("creationTimestamp"),
        "end": _end(rows, n, meta, status),
        "accelerator_type": gpu_model(product) if gpus else None,
        "accelerator_count": float(count),
        "cpu_cores": _number(amounts.get("cpu")),
        "memory_gib": _number(amounts["memory"] / _GIB if "memory" in amounts else None),
        "status": _status(phase, status.get("reason")),
        "kind": _kubelabels.job_kind(rows, n, labels, options) or _owner_kind(meta),
        **_kubelabels.layered_owners(layers, options, _kubelabels.known()),
        "attributes": _attributes(meta, spec, status, node_labels, gpus),
    }
    rows.add(n, values)


def _accelerators(
    amounts: Mapping[str, Decimal], node_labels: Mapping[str, str]
) -> tuple[Decimal, dict[str, Decimal]]:
    """Accelerators the pod holds, and the accelerator resources it asked for (name -> units)."""
    replicas = _replicas(node_labels)
    weights = {r: w for r in amounts if (w := accelerator_weight(r, replicas)) is not None}
    count = sum((amounts[r] * w for r, w in weights.items()), Decimal(0))
    return count, {r: amounts[r] for r in weights}


def _layers(meta: Mapping[str, Any]) -> list[dict[str, str]]:
    """Labels, annotations, then the pseudo-label ``namespace`` (for ``--label team=namespace``)."""
    pseudo = {"namespace": meta.get("namespace")}
    layers = (_obj(meta.get("labels")), _obj(meta.get("annotations")), pseudo)
    return [{str(k): str(v) for k, v in m.items() if v not in (None, "")} for m in layers]


def _qualified(meta: Mapping[str, Any]) -> str | None:
    name = meta.get("name")
    return f"{meta.get('namespace') or 'default'}/{name}" if name else None


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _pod_amounts(rows: Rows, n: int, spec: Mapping[str, Any]) -> dict[str, Decimal]:
    """What the pod holds of each resource, as the scheduler counts it.

    Containers and restartable (sidecar) init containers add up; a plain init container runs
    alone, so the pod holds the larger of the two. Pod-level ``spec.resources`` (Kubernetes 1.32+)
    replaces the containers' CPU and memory; ``spec.overhead`` adds to them.
    """
    total: dict[str, Decimal] = {}
    inits: list[dict[str, Decimal]] = []
    for group in ("containers", "initContainers"):
        for i, c in enumerate(_list(spec.get(group))):
            amounts = _resources(rows, n, f"spec.{group}[{i}].resources", c.get("resources"))
            if group == "initContainers" and c.get("restartPolicy") != "Always":
                inits.append(amounts)
            else:
                _accumulate(total, amounts.items())
    for amounts in inits:
        total |= {r: max(a, total.get(r, Decimal(0))) for r, a in amounts.items()}
    pod_level = _resources(rows, n, "spec.resources", spec.get("resources"))
    total |= {r: a for r, a in pod_level.items() if r in ("cpu", "memory")}
    _accumulate(total, _quantities(rows, n, "spec.overhead", spec.get("overhead")).items())
    return total


def _accumulate(total: dict[str, Decimal], amounts: Iterable[tuple[str, Decimal]]) -> None:
    for resource, amount in amounts:
        total[resource] = total.get(resource, Decimal(0)) + amount


def _resources(rows: Rows, n: int, where: str, resources: Any) -> dict[str, Decimal]:
    """Requests, with limits where a resource has no request (Kubernetes defaults one to the other)."""
    limits = _quantities(rows, n, f"{where}.limits", _obj(resources).get("limits"))
    return limits | _quantities(rows, n, f"{where}.requests", _obj(resources).get("requests"))


def _quantities(rows: Rows, n: int, where: str, quantities: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for name, value in _obj(quantities).items():
        try:
            out[str(name)] = parse_quantity(value)
        except (ValueError, InvalidOperation) as e:
            rows.problem(n, f"{where}.{name}", value, str(e))
    return out


def _node_labels(spec: Mapping[str, Any]) -> dict[str, str]:
    """Node labels the pod requires: its nodeSelector, and required affinity terms ``In`` one value."""
    found = {str(k): str(v) for k, v in _obj(spec.get("nodeSelector")).items()}
    affinity = _obj(_obj(spec.get("affinity")).get("nodeAffinity"))
    required = _obj(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    for term in _list(required.get("nodeSelectorTerms")):
        for expr in _list(term.get("matchExpressions")):
            values = expr.get("values")
            if expr.get("operator") == "In" and isinstance(values, list) and len(values) == 1:
                found.setdefault(str(expr.get("key")), str(values[0]))
    return found


def _replicas(node_labels: Mapping[str, str]) -> Decimal | None:
    try:
        replicas = Decimal(node_labels[REPLICAS_LABEL])
    except (KeyError, InvalidOperation):
        return None
    return replicas if replicas > 0 else None


def _status(phase: Any, reason: Any) -> str | None:
    if phase == "Failed" and reason in KILLED_REASONS:
        return "killed"
    return STATUS.get(str(phase))


def _end(rows: Rows, n: int, meta: Mapping[str, Any], status: Mapping[str, Any]) -> Any:
    """When a finished pod ended: its last container's finish, else its deletion or last condition."""
    phase = status.get("phase")
    if phase not in ("Succeeded", "Failed"):
        return None
    statuses = [
        *_list(status.get("containerStatuses")),
        *_list(status.get("initContainerStatuses")),
    ]
    finished = [_obj(_obj(s.get("state")).get("terminated")).get("finishedAt") for s in statuses]
    conditions = [c.get("lastTransitionTime") for c in _list(status.get("conditions"))]
    for candidates in (finished, [meta.get("deletionTimestamp")], conditions):
        latest = _latest(rows, n, candidates)
        if latest is not None:
            return latest
    rows.problem(n, "status.containerStatuses", None, f"pod is {phase} but no finish time is given")
    return None


def _latest(rows: Rows, n: int, values: list[Any]) -> Any:
    """The latest of some timestamps; a bad one is returned as it is, for the row builder to report."""
    parsed = []
    for value in (v for v in values if v):
        try:
            parsed.append(parse_time(value, assume_utc=rows.assume_utc))
        except ValueError:
            return value
    return max(parsed, default=None)


def _owner_kind(meta: Mapping[str, Any]) -> str | None:
    """``batch`` for a pod a Kubernetes Job runs."""
    kinds = {r.get("kind") for r in _list(meta.get("ownerReferences"))}
    return "batch" if "Job" in kinds else None


def _attributes(
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    node_labels: Mapping[str, str],
    gpus: Mapping[str, Decimal],
) -> dict[str, Any]:
    owner = next(iter(_list(meta.get("ownerReferences"))), {})
    found = {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "node": spec.get("nodeName"),
        "qos_class": status.get("qosClass"),
        "phase": status.get("phase"),
        "reason": status.get("reason"),
        "priority_class": spec.get("priorityClassName"),
        "owner_kind": owner.get("kind"),
        "owner_name": owner.get("name"),
        "instance_type": next(
            (node_labels[k] for k in INSTANCE_TYPE_LABELS if k in node_labels), None
        ),
        "gpu_product": next((node_labels[k] for k in TYPE_LABELS if k in node_labels), None),
        "accelerator_resources": {r: _plain(a) for r, a in gpus.items()} or None,
        "labels": meta.get("labels") or None,
        "annotations": {
            k: v for k, v in _obj(meta.get("annotations")).items() if k not in _BULKY_ANNOTATIONS
        }
        or None,
    }
    return {k: v for k, v in found.items() if v is not None}


def _plain(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


SOURCES = (
    UsageSource(
        name="kubernetes",
        kind="jobs",
        title="Kubernetes pods (kubectl get pods -A -o json)",
        read=read,
    ),
)
