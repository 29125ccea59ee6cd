"""What Kubernetes labels mean to CostCouncil, shared by the ``kubernetes`` and ``opencost`` sources.

Not a source itself (no ``SOURCES``). Owner keys come from a pod's labels through
:func:`~costcouncil.usage.base.owners`: the user's ``--label`` names first, then CostCouncil's own
labels (``costcouncil.io/team`` ...) and the bare key (``team``), then the ecosystem labels in
:data:`ECOSYSTEM` — so a label someone set for CostCouncil on purpose wins over a convention.

OpenCost reports labels with Prometheus-sanitised names (``app.kubernetes.io/part-of`` becomes
``app_kubernetes_io_part_of``); :func:`known` gives the sanitised names for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from costcouncil.schema.usage import JOB_KINDS, OWNER_KEYS
from costcouncil.usage.base import LABELLED, Rows, SourceOptions, owners

_OURS = ("{k}", "costcouncil.io/{k}", "costcouncil/{k}", "costcouncil.{k}")

#: Owner key -> well-known Kubernetes labels that carry it, tried after CostCouncil's own.
ECOSYSTEM: dict[str, tuple[str, ...]] = {
    "project": ("app.kubernetes.io/part-of",),
    "model": ("serving.kserve.io/inferenceservice",),
    "run": ("training.kubeflow.org/job-name",),
    "environment": ("env",),
}

#: Label -> the job kind a pod carrying it is (when no ``costcouncil.io/kind`` label says).
KIND_HINTS: dict[str, str] = {
    "training.kubeflow.org/job-name": "training",
    "serving.kserve.io/inferenceservice": "inference",
    "notebook-name": "notebook",
}

_PROMETHEUS = re.compile(r"[^a-zA-Z0-9_]")


def sanitise(name: str) -> str:
    """A label name as Prometheus (and so OpenCost) spells it: every other character -> ``_``."""
    return _PROMETHEUS.sub("_", name)


def known(*, sanitised: bool = False) -> dict[str, tuple[str, ...]]:
    """Owner key -> label names to try: ours first, then :data:`ECOSYSTEM`'s."""
    out: dict[str, tuple[str, ...]] = {}
    for key in OWNER_KEYS:
        names = (*(p.format(k=key) for p in _OURS), *ECOSYSTEM.get(key, ()))
        out[key] = tuple(dict.fromkeys(sanitise(n) if sanitised else n for n in names))
    return out


def layered_owners(
    layers: Sequence[Mapping[str, str]],
    options: SourceOptions,
    known_names: Mapping[str, tuple[str, ...]],
) -> dict[str, str | None]:
    """Owner keys from labels in layers, most specific first (pod labels, annotations, namespace).

    A ``--label`` name the user gave is looked up in every layer first; then each layer in turn
    is searched for CostCouncil's and the ecosystem's names, so a pod's ``costcouncil.io/team``
    wins over its namespace's ``team``.
    """
    found: dict[str, str | None] = {key: None for key in LABELLED["jobs"]}
    for key in found:
        names = options.labels.get(key, ())
        found[key] = next((layer[n] for n in names for layer in layers if layer.get(n)), None)
    for layer in layers:
        for key, value in owners(layer, "jobs", SourceOptions(), known_names).items():
            found[key] = found[key] or value
    return found


def user_labels(options: SourceOptions, *, sanitised: bool) -> SourceOptions:
    """``options`` with each ``--label`` name also tried in its sanitised spelling."""
    if not sanitised:
        return options
    labels = {k: tuple(dict.fromkeys((*v, *map(sanitise, v)))) for k, v in options.labels.items()}
    return replace(options, labels=labels)


def job_kind(
    rows: Rows,
    row: int,
    labels: Mapping[str, str],
    options: SourceOptions,
    *,
    sanitised: bool = False,
) -> str | None:
    """The job kind from a ``costcouncil.io/kind`` label (or ``--label kind=...``), else a hint.

    An explicit label with a value that is no job kind is a problem (its valid choices named).
    """
    names = [*options.labels.get("kind", ()), *(p.format(k="kind") for p in _OURS[1:])]
    for name in (sanitise(n) if sanitised else n for n in names):
        value = labels.get(name)
        if value not in (None, ""):
            if value in JOB_KINDS:
                return value
            rows.problem(row, f"label {name}", value, f"not a job kind: {', '.join(JOB_KINDS)}")
            return None
    for label, kind in KIND_HINTS.items():
        if labels.get(sanitise(label) if sanitised else label) not in (None, ""):
            return kind
    return None
