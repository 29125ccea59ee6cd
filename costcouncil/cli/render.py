"""Rich rendering of workspace results: progress bars and tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from costcouncil.ingest.sources.base import Converter
from costcouncil.workspace.ingest.costs import FileOutcome
from costcouncil.workspace.reports.report import METRICS, Report
from costcouncil.workspace.reports.status import Status

StageProgress = Callable[[str, str, float], None]


@contextmanager
def ingest_progress(console: Console, quiet: bool) -> Iterator[StageProgress]:
    """A progress callback (file, stage, fraction) drawing one bar per file and stage."""
    if quiet:
        yield lambda name, stage, fraction: None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[tuple[str, str], TaskID] = {}

    def update(name: str, stage: str, fraction: float) -> None:
        key = (name, stage)
        if key not in tasks:
            tasks[key] = bars.add_task(f"{stage:>5} {name}", total=1.0)
        bars.update(tasks[key], completed=fraction)

    with bars:
        yield update


def outcome_dict(o: FileOutcome) -> dict[str, object]:
    return {
        "file": str(o.path),
        "status": o.status,
        "format": o.format,
        "rows": o.rows,
        "rejected": o.rejected,
        "warnings": o.warnings,
        "slices": o.slices,
        "error": o.error,
        "rejects": str(o.rejects_path) if o.rejects_path else None,
        "warning_summary": o.warning_summary,
    }


def outcomes(console: Console, errors: Console, items: list[FileOutcome]) -> None:
    table = Table("file", "status", "format", "rows", "rejected", "warnings", "slices")
    for o in items:
        style = "red" if o.failed else {"ingested": "green"}.get(o.status, "yellow")
        table.add_row(
            o.path.name,
            f"[{style}]{o.status}[/]",
            o.format,
            f"{o.rows:,}",
            f"{o.rejected:,}",
            f"{o.warnings:,}",
            str(len(o.slices)),
        )
    console.print(table)
    for o in items:
        _details(console, errors, o)


def _details(console: Console, errors: Console, o: FileOutcome) -> None:
    if o.error:
        errors.print(f"[red]{o.path}[/]: {o.status}\n{o.error}", highlight=False, soft_wrap=True)
    if o.rejects_path:
        console.print(f"{o.path.name}: {o.rejected:,} row(s) rejected; reasons in {o.rejects_path}")
    for line in o.warning_summary[:8]:
        console.print(f"[yellow]warning[/] {o.path.name}: {line}", highlight=False)


def demo_steps(console: Console, steps: Mapping[str, float], install: float | None) -> None:
    """The demo's step times: install (as ``make demo`` measured it), then the demo's own."""
    table = Table("step", "seconds", title="Demo steps")
    if install is None:
        table.add_row("install", "not measured (run `make demo` to include it)")
    elif install == 0:
        table.add_row("install", "0 (already installed)")
    else:
        table.add_row("install", f"{install:,.0f}")
    for name, seconds in steps.items():
        table.add_row(name, f"{seconds:,.1f}")
    table.add_row("total", f"{(install or 0) + sum(steps.values()):,.1f}")
    console.print(table)


def status(console: Console, result: Status) -> None:
    """Three sections: cost periods, usage, allocations; an empty one says so."""
    _cost_periods(console, result)
    _usage(console, result)
    _allocations(console, result)


def _cost_periods(console: Console, result: Status) -> None:
    if result.lines:
        table = Table(
            "period", "provider", "accounts", "rows", "billed", "as of", title="Costs by period"
        )
        for ln in result.lines:
            billed = ", ".join(f"{_money(v)} {k}" for k, v in sorted(ln.billed.items()))
            table.add_row(
                ln.period, ln.provider, str(ln.accounts), f"{ln.rows:,}", billed, ln.as_of[:19]
            )
        console.print(table)
    else:
        console.print("Costs: none ingested yet (costcouncil ingest DIR FILE…)")
    console.print(
        f"{result.files} cost file(s) ingested, {result.rejected_rows:,} row(s) rejected, "
        f"{result.superseded_files} file(s) superseded by newer exports"
    )


def _usage(console: Console, result: Status) -> None:
    if not result.usage:
        console.print("Usage: none ingested (costcouncil ingest DIR --usage KIND / --source NAME)")
        return
    table = Table("kind", "source", "files", "rows", "from", "to", title="Usage")
    for u in result.usage:
        span = (_minute(u.start), _minute(u.end))
        table.add_row(u.kind, u.source, str(u.files), f"{u.rows:,}", *span)
    console.print(table)


def _allocations(console: Console, result: Status) -> None:
    if not result.allocations:
        console.print("Allocations: none (costcouncil allocate DIR)")
        return
    table = Table("period", "run", "allocated at", "rows", title="Allocations")
    for a in result.allocations:
        table.add_row(a.period, a.run, _minute(a.at), f"{a.rows:,}")
    console.print(table)


def report(console: Console, result: Report, period: str | None) -> None:
    title = f"{METRICS[result.metric]} by {', '.join(result.by) or 'total'}"
    table = Table(*result.columns, title=f"{title} — {period or 'all periods'}")
    for row in result.rows:
        cells = [_money(v) if isinstance(v, Decimal) else str(v) for v in row[:-1]]
        table.add_row(*cells, f"{row[-1]:,}")
    console.print(table)
    totals = ", ".join(f"{_money(v)} {k}" for k, v in sorted(result.totals().items()))
    console.print(f"Total: {totals or '0'}")


def formats(console: Console, registry: Mapping[str, Converter]) -> None:
    table = Table("format", "source", "provider key", "recognised by")
    for name, c in sorted(registry.items()):
        table.add_row(name, c.title, c.provider or "(ProviderName)", ", ".join(sorted(c.signature)))
    console.print(table)


def _minute(iso: str) -> str:
    """An ISO 8601 UTC time to the minute, as ``2026-10-01 13:05``."""
    return iso[:16].replace("T", " ")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def refreshed(console: Console, errors: Console, done: Mapping[str, Any]) -> None:
    """One line for what ran after allocate, and one warning per step that failed."""
    seconds = sum(done["seconds"].values())
    console.print(
        f"Refreshed in {seconds:.1f} s: {done['forecast_scopes']} forecast(s), "
        f"{done['anomalies_new']} new anomal(ies) on {done['monitors']} monitor(s), "
        f"{done['notified']} notification(s)"
    )
    for step, why in done["failures"].items():
        errors.print(f"[bold yellow]warning:[/] {step} failed: {why}", markup=True, highlight=False)
