"""``costcouncil mlflow …``: write allocated cost back to MLflow runs and model versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from costcouncil.errors import CostCouncilError
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.mlflow.sync import SyncOptions, SyncOutcome, money, sync

mlflow_app = typer.Typer(
    help="MLflow: write each run's allocated cost back to it.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True, soft_wrap=True)


@mlflow_app.callback()
def mlflow_group() -> None:
    """MLflow: write each run's allocated cost back to it."""


@mlflow_app.command(name="sync")
def sync_cmd(
    directory: Annotated[Path, typer.Argument(help="The workspace folder.")],
    tracking_uri: Annotated[
        str,
        typer.Option(
            "--tracking-uri",
            envvar="MLFLOW_TRACKING_URI",
            help="MLflow tracking server (http://…, databricks, sqlite:///…); default $MLFLOW_TRACKING_URI.",
        ),
    ],
    period: Annotated[
        list[str] | None,
        typer.Option(help="Billing period YYYY-MM (repeatable; default: every allocated period)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Show what would be logged; write nothing to MLflow.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Log cost_usd, idle_cost_usd, gpu_hours and costcouncil.* tags on every allocated run."""
    try:
        workspace = Workspace.open(directory)
        outcome = sync(workspace, SyncOptions(tracking_uri, tuple(period or ()), dry_run))
    except CostCouncilError as e:
        err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False)
        raise typer.Exit(1) from e
    if as_json:
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        render(out, outcome)


def render(console: Console, outcome: SyncOutcome) -> None:
    """The runs synced with their cost, the runs MLflow lacks, and the totals."""
    verb = "would sync" if outcome.dry_run else "synced"
    table = Table(title=f"MLflow runs {verb} — {', '.join(outcome.periods)}")
    for name in ("run", "status", "team", "project", "cost", "idle", "GPU-hours", "model versions"):
        table.add_column(name, justify="right" if name in ("cost", "idle", "GPU-hours") else "left")
    for run in outcome.runs:
        cost = ", ".join(f"{money(v, c)} {c}" for c, v in sorted(run.cost.items()))
        idle = ", ".join(f"{money(v, c)} {c}" for c, v in sorted(run.idle.items())) or "0"
        table.add_row(
            run.run_id,
            run.status,
            run.owner("team") or "",
            run.owner("project") or "",
            cost,
            idle,
            f"{run.gpu_hours:,.2f}",
            ", ".join(run.model_versions),
        )
    console.print(table)
    totals = ", ".join(f"{money(v, c)} {c}" for c, v in sorted(outcome.totals().items())) or "0"
    console.print(f"{len(outcome.synced)} run(s) {verb} to {outcome.tracking_uri}, total {totals}")
    if outcome.missing:
        console.print(
            f"[yellow]{len(outcome.missing)} run(s) with cost are not in MLflow (or deleted):[/] "
            + ", ".join(r.run_id for r in outcome.missing)
        )
