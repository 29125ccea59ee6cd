"""The ``costcouncil`` command line: turns arguments into workspace calls and prints results."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from costcouncil.cli import (
    access_cmd,
    agent_cmd,
    anomalies_cmd,
    budgets_cmd,
    forecast_cmd,
    mlflow_cmd,
    monitors_cmd,
    notify_cmd,
    policy_cmd,
    render,
    render_alloc,
    serve_cmd,
)
from costcouncil.errors import CostCouncilError
from costcouncil.ingest.sources import REGISTRY
from costcouncil.settings import get_settings
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources import REGISTRY as USAGE_SOURCES
from costcouncil.workspace.allocate.explain import explain
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import SCHEMAS, UsageOutcome, ingest_source, ingest_usage
from costcouncil.workspace.refresh.run import refresh
from costcouncil.workspace.reports.export import export_focus
from costcouncil.workspace.reports.report import METRICS, report
from costcouncil.workspace.reports.status import status

app = typer.Typer(
    help="CostCouncil: FinOps for AI workloads. Ingest FOCUS and cloud bills, report, export.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Export lake data.", no_args_is_help=True)
app.add_typer(export_app, name="export")
out = Console()
err = Console(stderr=True, soft_wrap=True)

WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(error: CostCouncilError) -> NoReturn:
    err.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
    raise typer.Exit(1)


def _open(path: Path) -> Workspace:
    try:
        return Workspace.open(path)
    except CostCouncilError as e:
        _fail(e)


@app.command()
def init(
    directory: WorkspaceArg,
    name: Annotated[str | None, typer.Option(help="Workspace name (default: folder name).")] = None,
    currency: Annotated[str, typer.Option(help="Reporting currency.")] = "USD",
) -> None:
    """Create a workspace: costcouncil.yaml, lake/ and the app database location."""
    try:
        ws = Workspace.init(directory, name, currency)
    except CostCouncilError as e:
        _fail(e)
    out.print(f"Workspace [bold]{ws.config.name}[/] at {directory.resolve()}")
    out.print(
        f"  config   {directory / 'costcouncil.yaml'}\n  lake     {ws.lake.root}"
        f"\n  database {ws.config.database}"
    )


@app.command(name="ingest")
def ingest_cmd(
    directory: WorkspaceArg,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Cost files (FOCUS or a cloud export), or usage files with --source."),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"Source format (default: detected). One of: {', '.join(sorted(REGISTRY))}.",
        ),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Refuse a whole file if any row is bad.")] = False,
    assume_utc: Annotated[bool, typer.Option(help="Read naive timestamps as UTC.")] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            help="When the export was produced (default: file time); the newer export of a period wins."
        ),
    ] = None,
    usage: Annotated[
        str | None,
        typer.Option(
            help=f"The files are usage in CostCouncil's own schema: {', '.join(SCHEMAS)} (see docs/usage.md)."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help=f"Usage source: {', '.join(sorted(USAGE_SOURCES))} (see docs/sources/)."),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking server (--source mlflow).")
    ] = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option(help="MLflow experiment name or id (repeatable; default: all)."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="The YAML mapping of a generic CSV (--source csv).")
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            help="Owner key from a label or tag of the source: KEY=LABEL (repeatable), e.g. team=squad."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest cost files, or usage with --source / --usage, into the lake (idempotent)."""
    ws = _open(directory)
    files = files or []
    if source is not None:
        picked = _source_options(tracking_uri, experiment, mapping, label, assume_utc)
        _ingest_source(ws, source, files, picked, as_json)
        return
    if not files:
        _fail(CostCouncilError("name at least one file to ingest"))
    if usage is not None:
        _ingest_usage(ws, usage, files, as_json)
        return
    options = IngestOptions(format, delimiter, strict, assume_utc, as_of)
    try:
        with render.ingest_progress(out, quiet=as_json) as progress:
            outcomes = ingest(ws, files, options, progress)
    except CostCouncilError as e:
        _fail(e)
    if as_json:
        print(json.dumps([render.outcome_dict(o) for o in outcomes], indent=2))
    else:
        render.outcomes(out, err, outcomes)
    if any(o.failed for o in outcomes):
        raise typer.Exit(1)


def _source_options(
    tracking_uri: str | None,
    experiments: list[str] | None,
    mapping: Path | None,
    labels: list[str] | None,
    assume_utc: bool,
) -> SourceOptions:
    named: dict[str, list[str]] = {}
    for item in labels or []:
        key, sep, name = item.partition("=")
        if not sep or not key or not name:
            _fail(CostCouncilError(f"--label {item!r}: expected KEY=LABEL, e.g. team=squad"))
        named.setdefault(key.strip(), []).append(name.strip())
    return SourceOptions(
        labels={k: tuple(v) for k, v in named.items()},
        tracking_uri=tracking_uri,
        experiments=tuple(experiments or ()),
        mapping=mapping,
        assume_utc=assume_utc,
    )


def _ingest_source(
    ws: Workspace, name: str, files: list[Path], options: SourceOptions, as_json: bool
) -> None:
    try:
        results = ingest_source(ws, name, files, options)
    except CostCouncilError as e:
        _fail(e)
    _print_usage(results, USAGE_SOURCES[name].kind or "usage", as_json)


def _ingest_usage(ws: Workspace, kind: str, files: list[Path], as_json: bool) -> None:
    try:
        results = ingest_usage(ws, kind, files)
    except CostCouncilError as e:
        _fail(e)
    _print_usage(results, kind, as_json)


def _print_usage(results: list[UsageOutcome], kind: str, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [{"file": str(r.path), "status": r.status, "rows": r.rows} for r in results],
                indent=2,
            )
        )
        return
    for r in results:
        out.print(f"{r.path.name}: {r.status}, {r.rows:,} {kind} rows")


@app.command(name="allocate")
def allocate_cmd(
    directory: WorkspaceArg,
    period: Annotated[
        list[str] | None, typer.Option(help="Billing period YYYY-MM (repeatable; default: all).")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Rules file (default: the workspace's rules.yaml).")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            help="Compute and diff per owner against the current allocation; write nothing."
        ),
    ] = False,
    engine: Annotated[str, typer.Option(help="Engine: duckdb (embedded) or spark.")] = "duckdb",
    spark_master: Annotated[
        str, typer.Option(help="Spark master URL for --engine spark.")
    ] = "local[2]",
    no_refresh: Annotated[
        bool,
        typer.Option(
            "--no-refresh",
            help="Skip refreshing forecasts, anomaly detection and notifications afterwards.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Split every cost row to owners by rules.yaml; cost is conserved exactly. Then refresh
    forecasts, detect anomalies and notify subscribers (unless --no-refresh or --dry-run)."""
    ws = _open(directory)
    options = AllocateOptions(tuple(period or ()), rules, dry_run, engine, spark_master)
    try:
        with render_alloc.stage_progress(out, quiet=as_json) as progress:
            outcome = allocate(ws, options, progress)
    except CostCouncilError as e:
        _fail(e)
    for early in outcome.before_first_price:
        err.print(f"[bold yellow]warning:[/] {early.warning()}", markup=True, highlight=False)
    refreshed = None if dry_run or no_refresh else refresh(ws, link=get_settings().public_url)
    if as_json:
        shown = render_alloc.outcome_dict(outcome)
        if refreshed is not None:
            shown["refresh"] = refreshed.as_dict()
        print(json.dumps(shown, indent=2))
        return
    render_alloc.allocation(out, outcome, dry_run)
    if refreshed is not None:
        render.refreshed(out, err, refreshed.as_dict())


@app.command(name="explain")
def explain_cmd(
    directory: WorkspaceArg,
    owner: Annotated[
        list[str] | None, typer.Option(help="Owner key=value, repeatable (e.g. --owner run=r-42).")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Owner key team.")] = None,
    project: Annotated[str | None, typer.Option(help="Owner key project.")] = None,
    model: Annotated[str | None, typer.Option(help="Owner key model.")] = None,
    period: Annotated[str | None, typer.Option(help="Billing period YYYY-MM.")] = None,
    metric: Annotated[str, typer.Option(help=f"Cost metric: {', '.join(METRICS)}.")] = "effective",
    limit: Annotated[int, typer.Option(help="How many of the largest allocations to show.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Trace an owner's figure to cost rows, rules, weights and usage."""
    ws = _open(directory)
    wanted = {k: v for k, v in (("team", team), ("project", project), ("model", model)) if v}
    for item in owner or []:
        key, _, value = item.partition("=")
        wanted[key.strip()] = value.strip()
    try:
        result = explain(ws, wanted, period, METRICS.get(metric, metric), limit)
    except CostCouncilError as e:
        _fail(e)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        render_alloc.explanation(out, result)


@app.command(name="status")
def status_cmd(directory: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """Billing periods, providers, accounts, rows and cost per period."""
    result = status(_open(directory))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        render.status(out, result)


@app.command(name="report")
def report_cmd(
    directory: WorkspaceArg,
    by: Annotated[
        str,
        typer.Option(
            help="Comma-separated group keys: FOCUS columns, x_<owner key>, "
            "tag:<Key>, period, month, day."
        ),
    ] = "ServiceCategory",
    period: Annotated[
        str | None, typer.Option(help="Billing period YYYY-MM (default: all).")
    ] = None,
    metric: Annotated[str, typer.Option(help=f"Cost metric: {', '.join(METRICS)}.")] = "billed",
    allocated: Annotated[
        bool,
        typer.Option(
            help="Report the allocations of `allocate` (owner keys group by allocated owner)."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cost grouped by any FOCUS column or tag key, for a billing period or all."""
    ws = _open(directory)
    keys = [k.strip() for k in by.split(",") if k.strip()]
    try:
        result = report(ws, keys, period, metric, allocated)
    except CostCouncilError as e:
        _fail(e)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        render.report(out, result, period)


@export_app.command(name="focus")
def export_focus_cmd(
    directory: WorkspaceArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output .csv, .csv.gz or .parquet.")
    ],
    period: Annotated[
        str | None, typer.Option(help="Billing period YYYY-MM (default: all).")
    ] = None,
    with_extensions: Annotated[bool, typer.Option(help="Add the lake's x_ columns.")] = False,
    force: Annotated[bool, typer.Option(help="Write even if conformance checks fail.")] = False,
    allocated: Annotated[
        bool,
        typer.Option(
            help="Export the allocations: allocated amounts plus x_ owner keys, x_rule, x_method, x_weight."
        ),
    ] = False,
) -> None:
    """Export lake rows as FOCUS 1.2, checked by CostCouncil's conformance rules."""
    ws = _open(directory)
    try:
        result = export_focus(ws, output, period, with_extensions, force, allocated)
    except CostCouncilError as e:
        _fail(e)
    out.print(f"Wrote {result.rows:,} FOCUS 1.2 rows to {result.path}")
    out.print(result.conformance.to_text(), highlight=False)


@app.command()
def formats() -> None:
    """List the source formats ingest recognises."""
    render.formats(out, REGISTRY)


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to create the demo workspace.")] = Path(
        "demo"
    ),
    rows: Annotated[int, typer.Option(help="Approximate number of FOCUS cost rows.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same organisation).")] = 7,
    serve: Annotated[bool, typer.Option(help="Serve the dashboard after the summary.")] = True,
    host: Annotated[str, typer.Option(help="Address the dashboard listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the dashboard listens on.")] = 8000,
    install_seconds: Annotated[
        float | None,
        typer.Option(
            help="Seconds spent installing before this command, shown with the step times "
            "(make demo passes it; 0 when it found the install up to date)."
        ),
    ] = None,
) -> None:
    """Generate a demo AI organisation, ingest and allocate it, print a summary, serve it."""
    from costcouncil.workspace.demo import run as demo_case  # the generator loads only when asked

    try:
        with render.ingest_progress(out, quiet=False) as progress:
            built = demo_case.run(directory, rows, seed, progress, say=out.print)
    except CostCouncilError as e:
        _fail(e)
    ws = built.workspace
    with built.step("summary"):
        render.status(out, status(ws))
        latest = max((ln.period for ln in status(ws).lines), default=None)
        render.report(out, report(ws, ["ServiceCategory"], latest), latest)
        render.report(out, report(ws, ["x_team"], latest), latest)
        access_cmd.demo_users(out, ws)
    render.demo_steps(out, built.steps, install_seconds)
    if serve:
        serve_cmd.serve(directory, host=host, port=port)


app.command(name="serve")(serve_cmd.serve)
app.command(name="agent")(agent_cmd.agent_cmd)
app.add_typer(mlflow_cmd.mlflow_app, name="mlflow")
app.add_typer(access_cmd.users_app, name="users")
app.add_typer(access_cmd.tokens_app, name="tokens")
app.command(name="forecast")(forecast_cmd.forecast)
app.add_typer(anomalies_cmd.anomalies_app, name="anomalies")
app.add_typer(monitors_cmd.monitors_app, name="monitors")
app.add_typer(monitors_cmd.annotations_app, name="annotations")
app.add_typer(budgets_cmd.budgets_app, name="budgets")
app.add_typer(policy_cmd.policy_app, name="policy")
app.add_typer(notify_cmd.subscriptions_app, name="subscriptions")
app.add_typer(notify_cmd.notify_app, name="notify")


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="costcouncil")
    sys.exit(0)
