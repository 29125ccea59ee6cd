"""What a usage source is, and the row builder every source shares.

A usage source turns what a tool records (an MLflow run, a Kubernetes pod, a ``sacct`` line, an
OpenAI usage bucket, a LiteLLM spend log, an OpenTelemetry span) into rows of CostCouncil's own
usage schemas (``costcouncil.schema.usage``: ``jobs`` and ``llm``).

A source never writes: it returns an Arrow table in exactly the kind's schema, or raises
:class:`~costcouncil.errors.ValidationError` listing every bad cell with file, row, column and
value (rows are 1-based positions in the source: a line, an array element, a run). Sources build
their tables with :class:`Rows`, which checks each value against its column's type, so every
source reports bad input the same way.

Owner keys (``team``, ``project`` …) come from the source's labels or tags: for owner key ``k``
the labels ``k``, ``costcouncil.io/k``, ``costcouncil/k`` and ``costcouncil.k`` are tried in
that order, after any the user named (``--label team=squad``) and any the source itself knows
(:func:`owners`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from costcouncil.errors import Problem, ValidationError
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA, OWNER_KEYS

Kind = Literal["jobs", "llm"]
SCHEMAS: dict[str, pa.Schema] = {"jobs": JOBS_SCHEMA, "llm": LLM_SCHEMA}

#: Owner-ish columns of each kind that labels can fill.
LABELLED: dict[str, tuple[str, ...]] = {
    "jobs": OWNER_KEYS,
    "llm": (*(k for k in OWNER_KEYS if k != "model"), "feature", "customer"),
}

_PREFIXES = ("", "costcouncil.io/", "costcouncil/", "costcouncil.")


@dataclass(frozen=True)
class SourceOptions:
    """What a user can tell a source beyond the file itself.

    Attributes:
        labels: owner key -> label or tag names to try first (``--label team=squad``).
        tracking_uri: the MLflow tracking server (``--tracking-uri``).
        experiments: MLflow experiment names or ids to read (all when empty).
        mapping: the YAML mapping of a generic CSV source (``--mapping``).
        assume_utc: read naive timestamps as UTC instead of refusing them.
    """

    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tracking_uri: str | None = None
    experiments: tuple[str, ...] = ()
    mapping: Path | None = None
    assume_utc: bool = False


#: Reads one input (a file path, or None for a server-backed source) into a table of the kind.
Reader = Callable[[Path | None, SourceOptions], pa.Table]


@dataclass(frozen=True)
class UsageSource:
    """One usage source, as the CLI's ``--source`` names it.

    Attributes:
        name: the ``--source`` name (``kubernetes``, ``litellm``, ``csv`` ...).
        kind: which usage schema it fills: ``jobs`` or ``llm``; None when the input decides (a
            generic CSV mapping declares its kind).
        title: a human name for messages and docs.
        read: the reader; see :data:`Reader`.
        needs_file: False for sources that read a server (MLflow) instead of files.
        replaces: True when each read is a full snapshot that replaces the previous one from the
            same origin (an MLflow server), rather than an addition.
    """

    name: str
    kind: Kind | None
    title: str
    read: Reader
    needs_file: bool = True
    replaces: bool = False


class Rows:
    """Collects one input's usage rows, checks every value, and builds the kind's table."""

    def __init__(self, kind: Kind, origin: str, *, assume_utc: bool = False) -> None:
        self.kind = kind
        self.origin = origin
        self.assume_utc = assume_utc
        self.schema = SCHEMAS[kind]
        self.problems: list[Problem] = []
        self._columns: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self._fields = [(f, _CONVERT[_family(f.type)]) for f in self.schema]

    def __len__(self) -> int:
        return len(self._columns[self.schema.names[0]])

    def problem(self, row: int, column: str, value: Any, why: str) -> None:
        """Record a problem the source found itself (a value it could not interpret)."""
        shown = None if value is None else str(value)
        self.problems.append(Problem(self.origin, row, column, shown, why))

    def add(self, row: int, values: Mapping[str, Any]) -> bool:
        """Add one row (``row`` = its 1-based position in the input); False if any value is bad."""
        unknown = set(values) - set(self._columns)
        if unknown:
            raise KeyError(f"not {self.kind} columns: {sorted(unknown)}")
        converted: dict[str, Any] = {}
        before = len(self.problems)
        for f, convert in self._fields:
            converted[f.name] = self._convert(row, f, convert, values.get(f.name))
        if len(self.problems) > before:
            return False
        for name, value in converted.items():
            self._columns[name].append(value)
        return True

    def table(self, *, partial: bool = False) -> pa.Table:
        """The rows as a table of the kind's schema.

        Raises every problem found, at once, unless ``partial`` (live ingest keeps the good rows
        of a batch and reports the bad ones itself); rows with a problem are never in the table.
        """
        if self.problems and not partial:
            raise ValidationError(self.problems)
        return pa.table(self._columns, schema=self.schema)

    def _convert(
        self, row: int, f: pa.Field, convert: Callable[[Any, bool], Any], value: Any
    ) -> Any:
        if value is None or value == "":
            if not f.nullable:
                self.problem(row, f.name, value, "required value is missing")
            return None
        try:
            return convert(value, self.assume_utc)
        except (ValueError, TypeError, InvalidOperation, OverflowError) as e:
            self.problem(row, f.name, value, str(e) or f"not a valid {_family(f.type)}")
            return None


def _family(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return "decimal"
    return str(t)


def _string(value: Any, _: bool) -> str:
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _int(value: Any, _: bool) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, int):
        n = value
    else:
        d = Decimal(str(value).strip())
        if d != d.to_integral_value():
            raise ValueError("not a whole number")
        n = int(d)
    if n < 0:
        raise ValueError("must not be negative")
    return n


def _float(value: Any, _: bool) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    try:
        x = float(value)
    except ValueError:
        raise ValueError("not a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if x < 0:
        raise ValueError("must not be negative")
    return x


def _decimal(value: Any, _: bool) -> Decimal:
    d = Decimal(str(value).strip())
    if not d.is_finite():
        raise ValueError("not a finite number")
    return d.quantize(Decimal("1e-12"))


_CONVERT: dict[str, Callable[[Any, bool], Any]] = {
    "string": _string,
    "int64": _int,
    "double": _float,
    "decimal": _decimal,
    "timestamp": lambda v, utc: parse_time(v, assume_utc=utc),
}


def parse_time(value: Any, *, assume_utc: bool = False) -> datetime:
    """An aware UTC datetime from a datetime, an ISO 8601 string or epoch seconds (int/float).

    A naive value is refused unless ``assume_utc``: a time without a zone is ambiguous.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    else:
        text = str(value).strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        parsed = _iso(text)
    if parsed.tzinfo is None:
        if not assume_utc:
            raise ValueError("timestamp has no time zone (add Z or an offset, or assume UTC)")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _iso(text: str) -> datetime:
    cleaned = text.replace(" ", "T", 1)
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    # Python < 3.11.? and nanosecond precision: keep at most 6 fractional digits
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", cleaned)
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None


def epoch_nanos(value: Any) -> datetime:
    """An aware UTC datetime from integer nanoseconds since the epoch (OTLP's ``*UnixNano``)."""
    n = int(str(value))
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=n // 1000)


def owners(
    labels: Mapping[str, Any],
    kind: Kind,
    options: SourceOptions,
    known: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, str | None]:
    """Owner-key values found in ``labels``: the user's names first, then the source's, then ours."""
    found: dict[str, str | None] = {}
    for key in LABELLED[kind]:
        names = [
            *options.labels.get(key, ()),
            *(known or {}).get(key, ()),
            *(p + key for p in _PREFIXES),
        ]
        found[key] = next((str(labels[n]) for n in names if labels.get(n) not in (None, "")), None)
    return found


_GPU = re.compile(
    r"(GB200|GB300|B200|B300|B100|H200|H100|H20|H800|A100|A800|A10G|A10|A30|A40|L40S|L40|L4|"
    r"T4|V100|P100|P40|P4|K80|M60|RTX\s?6000|MI300X|MI250X?|TPU\s?v\d+\w*|TRAINIUM2?|INFERENTIA2?)",
    re.IGNORECASE,
)


def gpu_model(name: str | None) -> str | None:
    """A short accelerator model from a vendor's product string.

    ``NVIDIA-A100-SXM4-80GB`` -> ``A100``, ``Tesla V100-SXM2-16GB`` -> ``V100``,
    ``nvidia-h100-80gb-hbm3`` -> ``H100``; an unknown string is kept as it is.
    """
    if not name:
        return None
    m = _GPU.search(name)
    return re.sub(r"\s", "", m.group(1)).upper() if m else name
