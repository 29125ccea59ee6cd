"""``costcouncil forecast``: forecasts with 80 %/95 % intervals of a series CSV (docs/forecast.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costcouncil.cli.common import fail, out
from costcouncil.errors import CostCouncilError
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.run import forecast_workspace
from costcouncil.workspace.forecast.saved import Saved
from costcouncil.workspace.forecast.series_file import FileForecast, forecast_csv


def forecast(
    directory: Annotated[
        Path | None,
        typer.Argument(help="A workspace: forecast its scopes (leave out with --series-csv)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="Only this scope (org or DIMENSION=VALUE; repeatable)."),
    ] = None,
    series_csv: Annotated[
        Path | None,
        typer.Option(
            "--series-csv",
            help="A series CSV (series,timestamp,value; one row per series and day) to forecast.",
        ),
    ] = None,
    horizon: Annotated[
        int, typer.Option(min=1, help="Days to forecast after each series' last day.")
    ] = 30,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Output CSV: series,date,value,lo80,hi80,lo95,hi95,method."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Forecast a workspace's scopes (month-end, next 12 months) or each series of a CSV, with
    80 %/95 % intervals; the method is chosen per series by backtest."""
    if directory is not None and series_csv is None:
        _workspace(directory, scope or [], output, as_json)
        return
    if series_csv is None or output is None:
        fail(CostCouncilError("give a workspace DIR, or --series-csv FILE and --output OUT.csv"))
    try:
        result = forecast_csv(series_csv, horizon, output)
    except CostCouncilError as e:
        fail(e)
    if as_json:
        print(json.dumps(result_dict(result), indent=2))
    else:
        print_result(result)


def result_dict(result: FileForecast) -> dict[str, object]:
    """The JSON twin of the table."""
    return {
        "output": str(result.output),
        "horizon_days": result.horizon,
        "rows": result.rows,
        "series": [asdict(s) for s in result.series],
    }


def _num(value: float | None, suffix: str = "") -> str:
    return (
        "—" if value is None else f"{value:.3f}{suffix}" if not suffix else f"{value:.1f}{suffix}"
    )


def print_result(result: FileForecast) -> None:
    """One row per series: method, MASE (and seasonal naive's), MAPE, history, fallback."""
    table = Table("series", "method", "MASE", "naive MASE", "MAPE", "history", "fallback")
    for s in result.series:
        table.add_row(
            s.series,
            s.method,
            _num(s.mase),
            _num(s.baseline_mase),
            _num(s.mape, " %"),
            str(s.history),
            s.fallback or "",
        )
    out.print(table)
    out.print(f"Wrote {result.rows:,} rows ({result.horizon} days per series) to {result.output}")


def _workspace(directory: Path, scopes: list[str], output: Path | None, as_json: bool) -> None:
    try:
        result = forecast_workspace(Workspace.open(directory), scopes, output)
    except CostCouncilError as e:
        fail(e)
    if result is None:
        out.print("nothing to forecast yet: ingest and `costcouncil allocate` first")
        return
    if as_json:
        print(json.dumps({"created_at": result.created_at, "currency": result.currency,
                          "first_day": result.first_day, "scopes": result.scopes}, indent=2))  # fmt: skip
        return
    table = Table("scope", "method", "MASE", f"{_month(result)} so far", "month end", "80 %",
                  "last month", "passes it", title=f"Forecasts ({result.currency})")  # fmt: skip
    for name, s in result.scopes.items():
        end = s["month_end"]
        table.add_row(name, s["method"] + (" *" if s["fallback"] else ""), _num(s["mase"]),
                      f"{s['month_actual']:,.0f}", f"{end['value']:,.0f}",
                      f"{end['lo80']:,.0f}–{end['hi80']:,.0f}", f"{s['last_month']:,.0f}",
                      s["passes_last_month"] or "")  # fmt: skip
    out.print(table)
    if any(s["fallback"] for s in result.scopes.values()):
        out.print("* too little history for a backtest: see --json for what it fell back to")
    if output is not None:
        out.print(f"Wrote the daily points to {output}")


def _month(result: Saved) -> str:
    return result.first_day[:7]
