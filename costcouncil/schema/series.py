"""Time series as the forecast and anomaly engines take them, and the series CSV format.

A :class:`Series` is one named, regular, gap-free sequence of values: a start, a step (one day,
one hour, five minutes …) and a float per step. Money is summed exactly elsewhere; a series is
statistics input, so floats are fine here (STYLE.md).

The series CSV (``costcouncil forecast --series-csv``, ``costcouncil anomalies --series-csv``) has
the columns ``series,timestamp,value``, one row per series and time, in any order. Timestamps are
ISO 8601 (a date, or a date and time; an offset is converted to UTC, none means UTC). Every
problem is collected and raised at once, naming the file, row, column and value:
a missing column, an empty or non-numeric value, a negative value (unless allowed), a
timestamp that is not ISO 8601, the same series and timestamp twice, a series of one row, a
gap (a missing step), and steps that are not regular or not the grain required.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from costcouncil.errors import Problem, ValidationError

COLUMNS = ("series", "timestamp", "value")
DAY = np.timedelta64(86400, "s")
HOUR = np.timedelta64(3600, "s")


class SeriesError(ValidationError):
    """A series file (or table) breaks the series format; every problem is listed."""


@dataclass(frozen=True, eq=False)
class Series:
    """One regular series: ``values[i]`` is the value at ``start + i * step`` (UTC)."""

    key: str
    start: np.datetime64
    step: np.timedelta64
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    @property
    def timestamps(self) -> np.ndarray:
        """The time of every value, as ``datetime64[s]``."""
        return self.start + np.arange(len(self.values)) * self.step

    @property
    def daily(self) -> bool:
        return bool(self.step == DAY)

    @classmethod
    def of(
        cls, key: str, start: str | datetime, step: np.timedelta64, values: Sequence[float]
    ) -> Series:
        """A series from a start time, a step and values (for tests and callers with arrays)."""
        when = (
            start.astimezone(UTC).replace(tzinfo=None)
            if isinstance(start, datetime) and start.tzinfo
            else start
        )
        return cls(key, np.datetime64(when, "s"), step, np.asarray(values, dtype=np.float64))


def parse_series(
    table: pa.Table,
    source: str,
    *,
    step: np.timedelta64 | None = None,
    allow_negative: bool = False,
) -> list[Series]:
    """The series in ``table`` (string columns ``series,timestamp,value``), in order of first row.

    ``step`` requires that grain (the forecast CLI requires days); without it each series' grain
    is its most common step. Raises :class:`SeriesError` with every problem found.
    """
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        found = ", ".join(table.column_names) or "none"
        raise SeriesError(
            [Problem(source, 0, c, None, f"missing column (found: {found})") for c in missing],
            hint="A series CSV has the header series,timestamp,value.",
        )
    keys = [_text(v) for v in table.column("series").to_pylist()]
    stamps = [_text(v) for v in table.column("timestamp").to_pylist()]
    raw = [_text(v) for v in table.column("value").to_pylist()]
    problems: list[Problem] = []
    times = _times(stamps, source, problems)
    values = _values(raw, source, problems, allow_negative)
    rows = _by_series(keys, source, problems)
    out = [
        s for k, idx in rows.items() if (s := _one(k, idx, times, values, source, step, problems))
    ]
    if problems:
        raise SeriesError(problems)
    return out


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _times(stamps: list[str], source: str, problems: list[Problem]) -> np.ndarray:
    out = np.full(len(stamps), np.datetime64("NaT", "s"))
    for i, text in enumerate(stamps):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            why = (
                "empty"
                if not text
                else "not an ISO 8601 date or time (e.g. 2026-05-01 or 2026-05-01T13:00:00Z)"
            )
            problems.append(Problem(source, i + 1, "timestamp", text, why))
            continue
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        out[i] = np.datetime64(when, "s")
    return out


def _values(
    raw: list[str], source: str, problems: list[Problem], allow_negative: bool
) -> np.ndarray:
    out = np.full(len(raw), np.nan)
    for i, text in enumerate(raw):
        try:
            value = float(text)
        except ValueError:
            problems.append(
                Problem(source, i + 1, "value", text, "empty" if not text else "not a number")
            )
            continue
        if not np.isfinite(value):
            problems.append(Problem(source, i + 1, "value", text, "not a finite number"))
        elif value < 0 and not allow_negative:
            problems.append(
                Problem(source, i + 1, "value", text, "negative (costs and usage are ≥ 0)")
            )
        out[i] = value
    return out


def _by_series(keys: list[str], source: str, problems: list[Problem]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if not key:
            problems.append(Problem(source, i + 1, "series", "", "empty (name the series)"))
            continue
        rows.setdefault(key, []).append(i)
    return rows


def _one(
    key: str,
    idx: list[int],
    times: np.ndarray,
    values: np.ndarray,
    source: str,
    step: np.timedelta64 | None,
    problems: list[Problem],
) -> Series | None:
    rows = np.asarray([i for i in idx if not np.isnat(times[i])], dtype=np.int64)
    if len(idx) < 2:
        problems.append(
            Problem(source, idx[0] + 1, "series", key, "only one row: a series needs at least 2")
        )
        return None
    if len(rows) < 2:
        return None
    rows = rows[np.argsort(times[rows], kind="stable")]
    t = times[rows]
    diffs = np.diff(t)
    dup = np.flatnonzero(diffs == np.timedelta64(0, "s"))
    for d in dup:
        problems.append(
            Problem(
                source,
                int(rows[d + 1]) + 1,
                "timestamp",
                str(t[d + 1]),
                f"series {key!r} already has this time (row {int(rows[d]) + 1})",
            )
        )
    positive = diffs[diffs > np.timedelta64(0, "s")]
    if len(positive) == 0:
        return None
    grain = step if step is not None else _mode(positive)
    ok = len(dup) == 0 and _regular(key, rows, t, grain, source, step is not None, problems)
    return Series(key, t[0], grain, values[rows]) if ok else None


def _mode(diffs: np.ndarray) -> np.timedelta64:
    found, counts = np.unique(diffs, return_counts=True)
    best: np.timedelta64 = found[int(np.argmax(counts))]
    return best


def _regular(
    key: str,
    rows: np.ndarray,
    t: np.ndarray,
    grain: np.timedelta64,
    source: str,
    required: bool,
    problems: list[Problem],
) -> bool:
    offsets = (t - t[0]) / grain
    bad = np.flatnonzero(offsets != np.round(offsets))
    if len(bad):
        i = int(bad[0])
        need = "one row per day" if required and grain == DAY else f"one row every {_span(grain)}"
        problems.append(
            Problem(
                source,
                int(rows[i]) + 1,
                "timestamp",
                str(t[i]),
                f"series {key!r} is not regular: {need}",
            )
        )
        return False
    gaps = np.flatnonzero(np.diff(offsets) > 1)
    for g in gaps[:5]:
        a, b = int(rows[g]), int(rows[g + 1])
        missing = int(offsets[g + 1] - offsets[g]) - 1
        problems.append(
            Problem(
                source,
                b + 1,
                "timestamp",
                str(t[g + 1]),
                f"series {key!r} has a gap: {missing} missing step(s) of {_span(grain)} after row {a + 1} ({t[g]})",
            )
        )
    return len(gaps) == 0


def _span(step: np.timedelta64) -> str:
    seconds = int(step / np.timedelta64(1, "s"))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"
