"""``costcouncil anomalies``: detect anomalies in a series file (workspace commands come later)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from costcouncil.anomaly.detect import DEFAULT_SENSITIVITY
from costcouncil.errors import CostCouncilError
from costcouncil.workspace.anomaly.series_file import Summary, detect_csv

anomalies_app = typer.Typer(help="Anomalies: detect them in any series file.")
out = Console()
err = Console(stderr=True, soft_wrap=True)


@anomalies_app.callback(invoke_without_command=True)
def anomalies(
    ctx: typer.Context,
    series_csv: Annotated[
        Path | None,
        typer.Option(
            "--series-csv",
            help="A series CSV (series,timestamp,value; any regular grain) to run the detector on.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Where to write the flagged points (series,timestamp,score,expected,actual).",
        ),
    ] = None,
    sensitivity: Annotated[
        float, typer.Option("--sensitivity", help="Band scale: 2 halves the band, flagging more.")
    ] = DEFAULT_SENSITIVITY,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Detect anomalies in every series of --series-csv; write one row per flagged point."""
    if ctx.invoked_subcommand is not None:
        return
    if series_csv is None or output is None:
        err.print("[bold red]error:[/] give --series-csv FILE and --output OUT.csv", markup=True)
        raise typer.Exit(2)
    try:
        summary = detect_csv(series_csv, output, sensitivity=sensitivity)
    except CostCouncilError as e:
        err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False)
        raise typer.Exit(1) from e
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        _render(summary)


def _render(summary: Summary) -> None:
    table = Table(title=f"Anomalies → {summary.path}")
    for name in ("series", "points", "flagged points", "anomaly events"):
        table.add_column(name, justify="right")
    table.add_row(
        *(f"{n:,}" for n in (summary.series, summary.points, summary.flagged, summary.events))
    )
    out.print(table)
