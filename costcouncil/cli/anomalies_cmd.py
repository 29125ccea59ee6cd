"""``costcouncil anomalies``: detect anomalies in a series file, or run, list, show and mark a
workspace's anomalies (see docs/anomalies.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costcouncil.anomaly.detect import DEFAULT_SENSITIVITY
from costcouncil.cli.common import JsonOpt, WorkspaceArg, err, opened, out
from costcouncil.errors import CostCouncilError
from costcouncil.workspace.anomaly.explain import ensure_causes
from costcouncil.workspace.anomaly.run import run_detection
from costcouncil.workspace.anomaly.series_file import Summary, detect_csv
from costcouncil.workspace.anomaly.store import AnomalyInfo, Monitoring

anomalies_app = typer.Typer(
    help="Anomalies: a workspace's (detect, list, show, mark) or any series file's (--series-csv)."
)


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
    direction: Annotated[
        str,
        typer.Option(help="Flag points above the band (up), below it (down) or both."),
    ] = "both",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Detect anomalies in every series of --series-csv; write one row per flagged point."""
    if ctx.invoked_subcommand is not None:
        return
    if series_csv is None or output is None:
        err.print("[bold red]error:[/] give --series-csv FILE and --output OUT.csv", markup=True)
        raise typer.Exit(2)
    try:
        summary = detect_csv(series_csv, output, sensitivity=sensitivity, direction=direction)
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


@anomalies_app.command("detect")
def anomalies_detect(directory: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """Run detection on every monitor now (``allocate`` and ``serve`` also run it)."""
    with opened(directory, Monitoring) as (workspace, store):
        outcome = run_detection(workspace, store)
    counts = {k: outcome.count(k) for k in ("new", "grew", "ended")}
    if as_json:
        print(json.dumps({"monitors": outcome.monitors, "explained": outcome.explained, **counts}))
        return
    out.print(
        f"{outcome.monitors} monitor(s): {counts['new']} new anomal(ies), {counts['grew']} grew, "
        f"{counts['ended']} ended; {outcome.explained} explained"
    )


@anomalies_app.command("list")
def anomalies_list(
    directory: WorkspaceArg,
    monitor: Annotated[str | None, typer.Option(help="Only this monitor's anomalies.")] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only anomalies without feedback yet.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List anomalies, newest first: window, actual vs expected, impact, score, feedback."""
    with opened(directory, Monitoring) as (_, store):
        found = store.anomalies(monitor=monitor, open_only=open_only, limit=limit)
    if as_json:
        print(json.dumps([a.as_dict() for a in found], indent=2))
        return
    if not found:
        out.print("no anomalies (run `costcouncil anomalies detect DIR` after `allocate`)")
        return
    table = Table("id", "monitor", "start", "end", "actual", "expected", "impact", "%", "score",
                  "feedback")  # fmt: skip
    for a in found:
        table.add_row(*_row(a))
    out.print(table)


def _row(a: AnomalyInfo) -> list[str]:
    pct = "" if a.impact_pct is None else f"{a.impact_pct:+.0f}%"
    end = "ongoing" if a.end is None else a.end.date().isoformat()
    return [str(a.id), a.monitor, a.start.date().isoformat(), end, f"{a.actual:,.2f}",
            f"{a.expected:,.2f}", f"{a.impact:+,.2f}", pct, f"{a.score:.1f}", a.feedback or ""]  # fmt: skip


@anomalies_app.command("show")
def anomalies_show(
    directory: WorkspaceArg,
    anomaly: Annotated[int, typer.Argument(help="The anomaly's id.")],
    as_json: JsonOpt = False,
) -> None:
    """One anomaly with its ranked root causes and their evidence."""
    with opened(directory, Monitoring) as (workspace, store):
        found = ensure_causes(workspace, store, store.anomaly(anomaly))
    if as_json:
        print(json.dumps(found.as_dict(), indent=2))
        return
    out.print(f"[bold]anomaly {found.id}[/] on {found.monitor}: " + " · ".join(_row(found)[2:9]))
    table = Table("#", "cause", "explains", "share", "evidence", title="root causes")
    for i, c in enumerate(found.causes, 1):
        table.add_row(str(i), str(c["cause"]), f"{float(str(c['contribution'])):+,.2f}",
                      f"{float(str(c['share'])):.0%}", str(c["summary"]))  # fmt: skip
    out.print(table if found.causes else "no root cause found in the usage or cost lines")


@anomalies_app.command("mark")
def anomalies_mark(
    directory: WorkspaceArg,
    anomaly: Annotated[int, typer.Argument(help="The anomaly's id.")],
    feedback: Annotated[str, typer.Argument(help="expected, not_anomaly or resolved.")],
    note: Annotated[str, typer.Option(help="Why (kept with the feedback).")] = "",
) -> None:
    """Give feedback: expected and not_anomaly feed back into detection; resolved closes it."""
    with opened(directory, Monitoring) as (_, store):
        marked = store.mark(anomaly, feedback, note)
    out.print(f"anomaly {marked.id} marked {marked.feedback}")
