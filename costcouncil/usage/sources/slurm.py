"""Slurm jobs from ``sacct --allocations --parsable2``: one row per job allocation.

``sacct --allusers --allocations --parsable2 --starttime 2024-05-01 --endtime 2024-06-01
--format=JobID,JobName,Account,User,Partition,NodeList,AllocTRES,Start,End,State,Elapsed``
prints a ``|``-separated header and one line per job. Accelerators come from the job's trackable
resources (``AllocTRES``: ``cpu=32,mem=256G,node=1,gres/gpu=8,gres/gpu:h100=8``). Slurm prints
local times without a zone: run ``sacct`` with ``TZ=UTC`` and read with ``assume_utc`` (the CLI's
``--assume-utc``), or set ``SLURM_TIME_FORMAT=%Y-%m-%dT%H:%M:%S%z``. See ``docs/sources/slurm.md``.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from costcouncil.errors import FormatError, ValidationError
from costcouncil.schema.usage import JOB_KINDS
from costcouncil.usage.base import Rows, SourceOptions, UsageSource, gpu_model, owners

#: Columns a file must have; plus one of :data:`TRES_COLUMNS`.
REQUIRED = ("JobID", "Start", "State")
#: Where a job's resources are read from, the first non-empty one per job.
TRES_COLUMNS = ("AllocTRES", "AllocGRES", "ReqTRES")

#: Job state (the first word of ``State``) -> job status; None = never ran, skipped.
STATES: dict[str, str | None] = {
    "COMPLETED": "succeeded",
    "FAILED": "failed",
    "NODE_FAIL": "failed",
    "OUT_OF_MEMORY": "failed",
    "TIMEOUT": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
    "CANCELLED": "killed",
    "PREEMPTED": "killed",
    "REVOKED": "killed",
    "REQUEUED": "killed",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "RESIZING": "running",
    "STAGE_OUT": "running",
    "SIGNALING": "running",
    "PENDING": None,
}

#: Owner key -> sacct columns (or ``Comment`` tags) that carry it, after CostCouncil's own tags.
KNOWN: dict[str, tuple[str, ...]] = {"team": ("Account",), "user": ("User",), "project": ("WCKey",)}
_OURS = ("{k}", "costcouncil.io/{k}", "costcouncil/{k}", "costcouncil.{k}")

#: Values sacct prints for a time that did not happen (yet).
NO_TIME = frozenset({"", "Unknown", "None", "N/A"})
#: Values sacct prints in NodeList for a job that got no node.
NO_NODES = frozenset({"", "None assigned", "(null)"})
#: MIG profiles of GPUs with 4 compute slices (A30); all others have 7.
FOUR_SLICE_PROFILES = frozenset({"1g.6gb", "2g.12gb", "4g.24gb"})

_MIG = re.compile(r"(?:(?P<model>.+?)[_-])?(?P<g>\d+)g\.(?P<mem>\d+)gb(?:\+me)?", re.IGNORECASE)
_MEMORY = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>[KMGTP]?)", re.IGNORECASE)
_MIB_PER_UNIT = {"K": Decimal(1) / 1024, "": Decimal(1), "M": Decimal(1)}
_MIB_PER_UNIT |= {u: Decimal(1024) ** (i + 1) for i, u in enumerate("GTP")}
_TAGS = re.compile(r"\s*[\w./-]+\s*=[^,;]*(?:[,;]\s*[\w./-]+\s*=[^,;]*)*\s*")


def read(path: Path | None, options: SourceOptions) -> pa.Table:
    """One jobs row per job allocation of a ``sacct --parsable2`` file."""
    if path is None:
        raise FormatError(
            "the slurm source reads a file: sacct --parsable2 --allocations ... > jobs.txt"
        )
    rows = Rows("jobs", str(path), assume_utc=options.assume_utc)
    records = [(n, r) for n, r in _records(path, rows) if _ran(r)]
    repeated = {k for k, c in Counter(_job_key(r) for _, r in records).items() if c > 1}
    for n, record in records:
        _add(rows, n, record, options, repeated)
    try:
        return rows.table()
    except ValidationError as e:
        raise _with_time_hint(e) from None


def _records(path: Path, rows: Rows) -> list[tuple[int, dict[str, str]]]:
    """(data row, column -> value) for each line after the header; malformed lines are problems."""
    with path.open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE))
    header = _header(path, lines[0] if lines else [])
    out = []
    for n, line in enumerate(lines[1:], start=1):
        if not any(cell.strip() for cell in line):
            continue
        if len(line) != len(header):
            shown = "|".join(line)
            rows.problem(n, "", shown, f"{len(line)} fields, the header has {len(header)}")
            continue
        out.append((n, {h: v.strip() for h, v in zip(header, line, strict=True)}))
    return out


def _header(path: Path, header: list[str]) -> list[str]:
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing or not any(c in header for c in TRES_COLUMNS):
        need = [*missing, *([] if any(c in header for c in TRES_COLUMNS) else ["AllocTRES"])]
        raise FormatError(
            f"{path}: not `sacct --parsable2` output with the columns CostCouncil needs "
            f"(missing {', '.join(need)}); run sacct --parsable2 --allocations "
            "--format=JobID,JobName,Account,User,Partition,NodeList,AllocTRES,Start,End,State"
        )
    return header


def _state(record: Mapping[str, str]) -> str:
    """``CANCELLED by 1234`` -> ``CANCELLED``; a truncated ``CANCELLED+`` too."""
    words = record["State"].split()
    return words[0].rstrip("+").upper() if words else ""


def _ran(record: Mapping[str, str]) -> bool:
    """False for job steps (the allocation line covers them) and jobs that never started."""
    if "." in record["JobID"]:
        return False
    return record["Start"] not in NO_TIME and STATES.get(_state(record), "") is not None


def _job_key(record: Mapping[str, str]) -> str:
    cluster = record.get("Cluster")
    return f"{cluster}:{record['JobID']}" if cluster else record["JobID"]


def _add(
    rows: Rows,
    n: int,
    record: Mapping[str, str],
    options: SourceOptions,
    repeated: set[str],
) -> None:
    column, tres = _tres(rows, n, record)
    count, accelerator = _gpus(rows, n, column, tres)
    tags = _tags(record.get("Comment", ""))
    labels = {**tags, **{k: v for k, v in record.items() if v}}
    labels["WCKey"] = labels.get("WCKey", "").lstrip("*")
    key = _job_key(record)
    values = {
        "job_id": f"{key}@{record['Start']}" if key in repeated else key,
        "source": "slurm",
        "resource_id": None if record.get("NodeList") in NO_NODES else record.get("NodeList"),
        "start": record["Start"],
        "end": None if record.get("End", "") in NO_TIME else record["End"],
        "accelerator_type": accelerator,
        "accelerator_count": float(count),
        "cpu_cores": tres.get("cpu") or record.get("AllocCPUS") or None,
        "memory_gib": _memory_gib(rows, n, column, tres.get("mem")),
        "status": _status(rows, n, record),
        "kind": _kind(rows, n, labels, options),
        **owners(labels, "jobs", options, _known()),
        "attributes": _attributes(record, tres, tags),
    }
    rows.add(n, values)


def _attributes(
    record: Mapping[str, str], tres: Mapping[str, str], tags: Mapping[str, str]
) -> dict[str, Any]:
    """Every non-empty sacct column but the times, the parsed TRES and the comment's tags."""
    found: dict[str, Any] = {k: v for k, v in record.items() if v and k not in ("Start", "End")}
    found |= {k: v for k, v in (("tres", dict(tres)), ("tags", dict(tags))) if v}
    return found


def _known() -> dict[str, tuple[str, ...]]:
    return {k: (*(p.format(k=k) for p in _OURS), *v) for k, v in KNOWN.items()}


def _tags(comment: str) -> dict[str, str]:
    """``team=search,project=ranker`` in a job's comment (``sbatch --comment``) as tags."""
    if not _TAGS.fullmatch(comment):
        return {}
    pairs = (p.split("=", 1) for p in re.split(r"[,;]", comment))
    return {k.strip(): v.strip() for k, v in pairs if v.strip()}


def parse_tres(text: str) -> dict[str, str]:
    """``cpu=8,mem=64G,gres/gpu:a100=4`` -> ``{"cpu": "8", "mem": "64G", "gres/gpu:a100": "4"}``."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} is not name=value")
        out[name.strip()] = value.strip()
    return out


def parse_gres(text: str) -> dict[str, str]:
    """Old ``AllocGRES`` (``gpu:a100:4(IDX:0-3),shard:2``) in TRES names (``gres/gpu:a100=4``)."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in re.split(r",(?![^(]*\))", text))):
        parts = re.sub(r"\(.*\)$", "", item).split(":")
        if len(parts) < 2 or not parts[-1].isdigit():
            raise ValueError(f"{item!r} is not name[:type]:count")
        out[f"gres/{':'.join(parts[:-1])}"] = parts[-1]
    return out


def _tres(rows: Rows, n: int, record: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    column = next((c for c in TRES_COLUMNS if record.get(c)), TRES_COLUMNS[0])
    try:
        parsed = (
            parse_gres(record[column])
            if column == "AllocGRES"
            else parse_tres(record.get(column, ""))
        )
    except ValueError as e:
        rows.problem(n, column, record.get(column), str(e))
        return column, {}
    return column, parsed


def mig_fraction(gpu_type: str) -> Decimal | None:
    """The part of a GPU a MIG type is (``a100_3g.40gb`` -> 3/7; A30's ``2g.12gb`` -> 2/4)."""
    m = _MIG.fullmatch(gpu_type)
    if not m:
        return None
    slices = 4 if f"{m['g']}g.{m['mem']}gb".lower() in FOUR_SLICE_PROFILES else 7
    return Decimal(int(m["g"])) / slices


def _gpus(rows: Rows, n: int, column: str, tres: Mapping[str, str]) -> tuple[Decimal, str | None]:
    """GPUs a job held, and their model: typed counts (``gres/gpu:h100=8``) or the plain total."""
    counts: dict[str, Decimal] = {}
    for name, value in tres.items():
        if name == "gres/gpu" or name.startswith("gres/gpu:"):
            try:
                counts[name] = Decimal(value)
            except InvalidOperation:
                rows.problem(n, f"{column} {name}", value, "not a number")
    typed = {name.split(":", 1)[1]: c for name, c in counts.items() if ":" in name}
    fractions = {t: mig_fraction(t) for t in typed}
    if any(f is not None for f in fractions.values()):
        total = sum((c * (fractions[t] or 1) for t, c in typed.items()), Decimal(0))
    else:
        total = counts.get("gres/gpu", sum(typed.values(), Decimal(0)))
    models = {_model(t) for t in typed}
    return total, models.pop() if len(models) == 1 else None


def _model(gpu_type: str) -> str | None:
    m = _MIG.fullmatch(gpu_type)
    return gpu_model(m["model"] if m else gpu_type)


def _memory_gib(rows: Rows, n: int, column: str, value: str | None) -> float | None:
    """``mem=`` of a TRES string in GiB: ``64G`` -> 64, ``4000M`` -> 3.90625 (no unit = MiB)."""
    if not value:
        return None
    m = _MEMORY.fullmatch(value)
    if not m:
        rows.problem(n, f"{column} mem", value, "not a memory size (e.g. 64G, 4000M)")
        return None
    return float(Decimal(m["n"]) * _MIB_PER_UNIT[m["unit"].upper()] / 1024)


def _status(rows: Rows, n: int, record: Mapping[str, str]) -> str | None:
    state = _state(record)
    if state not in STATES:
        rows.problem(n, "State", record["State"], f"unknown job state: {', '.join(STATES)}")
    return STATES.get(state)


def _kind(rows: Rows, n: int, labels: Mapping[str, str], options: SourceOptions) -> str | None:
    """The job kind from a ``kind=`` comment tag (or ``--label kind=<column or tag>``)."""
    names = [*options.labels.get("kind", ()), *(p.format(k="kind") for p in _OURS)]
    value = next((labels[k] for k in names if labels.get(k)), None)
    if value is not None and value not in JOB_KINDS:
        rows.problem(n, "kind", value, f"not a job kind: {', '.join(JOB_KINDS)}")
        return None
    return value


def _with_time_hint(error: ValidationError) -> ValidationError:
    if not any("time zone" in p.reason for p in error.problems):
        return error
    hint = (
        "sacct prints local times without a zone: run `TZ=UTC sacct ...` and read the file with "
        "--assume-utc, or set SLURM_TIME_FORMAT='%Y-%m-%dT%H:%M:%S%z' before sacct"
    )
    return ValidationError(error.problems, error.total, hint=hint)


SOURCES = (
    UsageSource(
        name="slurm",
        kind="jobs",
        title="Slurm accounting (sacct --parsable2)",
        read=read,
    ),
)
