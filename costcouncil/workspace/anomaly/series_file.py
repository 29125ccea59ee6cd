"""``costcouncil anomalies --series-csv``: the detector on any series file, no workspace needed.

Reads a series CSV (``series,timestamp,value``, any regular grain; values may be negative, as
generic metrics can be), runs the detector on each series and writes one row per flagged point:
``series,timestamp,score,expected,actual``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from costcouncil.anomaly.detect import DEFAULT_SENSITIVITY, Detection, detect
from costcouncil.anomaly.events import DIRECTIONS, events
from costcouncil.errors import ConfigError, Problem
from costcouncil.schema.series import COLUMNS, SeriesError, parse_series
from costcouncil.workspace.common.csvsafe import write_csv

OUTPUT = ("series", "timestamp", "score", "expected", "actual")


@dataclass(frozen=True)
class Summary:
    """What a run of the detector over a file found."""

    path: Path
    series: int
    points: int
    flagged: int
    events: int

    def to_dict(self) -> dict[str, object]:
        return {
            "output": str(self.path),
            "series": self.series,
            "points": self.points,
            "flagged": self.flagged,
            "events": self.events,
        }


def detect_csv(
    path: Path, output: Path, *, sensitivity: float = DEFAULT_SENSITIVITY, direction: str = "both"
) -> Summary:
    """Detect anomalies in every series of ``path``; write the flagged points to ``output``
    (``direction``: only those above the band, ``up``; below it, ``down``; or ``both``)."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction {direction!r}: choose one of {', '.join(DIRECTIONS)}")
    found = [
        _side(detect(s, sensitivity=sensitivity), direction)
        for s in parse_series(_read(path), str(path), allow_negative=True)
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    write_csv(_flagged(found), str(output))
    return Summary(
        output,
        len(found),
        sum(len(d.actual) for d in found),
        sum(int(d.flagged.sum()) for d in found),
        sum(len(events(d, direction=direction)) for d in found),
    )


def _side(d: Detection, direction: str) -> Detection:
    """``d`` with only the flagged points on ``direction``'s side of the band."""
    if direction == "both":
        return d
    above = d.actual > d.expected
    return replace(d, flagged=d.flagged & (above if direction == "up" else ~above))


def _read(path: Path) -> pa.Table:
    """The file as all-string columns (parse_series checks every cell)."""
    try:
        kinds = {name: pa.string() for name in COLUMNS}
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=kinds))
    except (OSError, pa.ArrowInvalid) as e:
        raise SeriesError([Problem(str(path), 0, "", None, f"cannot read the file: {e}")]) from e


def _flagged(found: list[Detection]) -> pa.Table:
    """One row per flagged point, series by series in time order."""
    parts = [
        pa.table(
            {
                "series": pa.array([d.key] * int(d.flagged.sum()), pa.string()),
                "timestamp": pa.array(
                    d.timestamps[d.flagged].astype("datetime64[s]"), pa.timestamp("s", tz="UTC")
                ),
                "score": pa.array(np.round(d.score[d.flagged], 3)),
                "expected": pa.array(d.expected[d.flagged]),
                "actual": pa.array(d.actual[d.flagged]),
            }
        )
        for d in found
    ]
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c in OUTPUT})
    return pa.concat_tables(parts)
