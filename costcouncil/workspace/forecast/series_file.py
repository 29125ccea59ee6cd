"""Forecast a series CSV without a workspace: ``costcouncil forecast --series-csv FILE``.

The input is the series format of :mod:`costcouncil.schema.series` (``series,timestamp,value``,
daily); the output CSV has one row per series and future day:
``series,date,value,lo80,hi80,lo95,hi95,method``, written as CSV for people (a series name that
looks like a formula is neutralised, see docs/csv-safety.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from costcouncil.errors import CostCouncilError, Problem
from costcouncil.forecast import Forecast, forecast_many
from costcouncil.schema.series import COLUMNS, DAY, Series, SeriesError, parse_series
from costcouncil.workspace.common.csvsafe import write_csv

OUTPUT_COLUMNS = ("series", "date", "value", "lo80", "hi80", "lo95", "hi95", "method")


@dataclass(frozen=True)
class SeriesSummary:
    """How one series was forecast: method, backtest scores, history, fallback sentence."""

    series: str
    method: str
    mase: float | None
    mape: float | None
    baseline_mase: float | None
    history: int
    fallback: str | None


@dataclass(frozen=True)
class FileForecast:
    """What :func:`forecast_csv` did: the output file, the horizon and a summary per series."""

    output: Path
    horizon: int
    rows: int
    series: tuple[SeriesSummary, ...]


def read_series(path: Path) -> list[Series]:
    """The daily series of a series CSV; :class:`SeriesError` lists every problem."""
    strings = {c: pa.string() for c in COLUMNS}
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=strings))
    except (OSError, pa.ArrowInvalid) as e:
        raise SeriesError([Problem(str(path), 0, "", None, f"cannot read as CSV: {e}")]) from e
    return parse_series(table, str(path), step=DAY)


def forecast_csv(
    path: Path, horizon_days: int, output: Path, *, methods: Sequence[str] | None = None
) -> FileForecast:
    """Forecast every series of ``path`` ``horizon_days`` days ahead and write ``output``."""
    forecasts = forecast_many(read_series(path), horizon_days, methods=methods)
    table = output_table(forecasts)
    try:
        with output.open("wb") as sink:
            write_csv(table, sink)
    except OSError as e:
        raise CostCouncilError(f"cannot write {output}: {e.strerror or e}") from e
    return FileForecast(output, horizon_days, table.num_rows, tuple(map(summary, forecasts)))


def summary(f: Forecast) -> SeriesSummary:
    """The summary of one forecast."""
    return SeriesSummary(f.key, f.method, f.mase, f.mape, f.baseline_mase, f.history, f.fallback)


def output_table(forecasts: Sequence[Forecast]) -> pa.Table:
    """The output rows of ``forecasts``, series by series, day by day."""

    def column(name: str) -> np.ndarray:
        parts = [np.asarray(getattr(f, name)) for f in forecasts]
        return np.concatenate(parts) if parts else np.empty(0)

    keys = [f.key for f in forecasts for _ in f.timestamps]
    return pa.table(
        {
            "series": pa.array(keys, pa.string()),
            "date": pa.array(column("timestamps").astype("datetime64[D]"), pa.date32()),
            **{
                n: pa.array(column(n).astype(np.float64), pa.float64()) for n in OUTPUT_COLUMNS[2:7]
            },
            "method": pa.array([f.method for f in forecasts for _ in f.timestamps], pa.string()),
        }
    )
