"""Rich rendering of attribution results: allocate summaries, diffs, explanations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from costcouncil.workspace.allocate.before_first import EarlyPriced, reconciliation_line
from costcouncil.workspace.allocate.explain import Explanation
from costcouncil.workspace.allocate.run import AllocationOutcome, OwnerDelta

Callback = Any


@contextmanager
def stage_progress(console: Console, quiet: bool) -> Iterator[Callback]:
    """A progress bar over the pipeline's stages (view name, index, total)."""
    if quiet:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(), console=console
    )
    task = bar.add_task("allocate", total=1)

    def update(view: str, index: int, total: int) -> None:
        bar.update(task, description=f"allocate: {view}", completed=index, total=total)

    with bar:
        yield update
        bar.update(task, description="allocate: done", completed=1, total=1)


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def outcome_dict(o: AllocationOutcome) -> dict[str, Any]:
    return {
        "periods": o.periods,
        "engine": o.engine,
        "written": o.written,
        "cost_rows": o.cost_rows,
        "allocation_rows": o.allocation_rows,
        "totals": {k: str(v) for k, v in o.totals.items()},
        "coverage": o.coverage(),
        "coverage_billed": o.coverage("BilledCost"),
        "by_rule": [_plain(r) for r in o.by_rule],
        "reconciliation": [_plain(r) for r in o.reconciliation],
        "unpriced": [list(p) for p in o.unpriced],
        "before_first_price": [early_dict(e) for e in o.before_first_price],
        "diff": [delta_dict(d) for d in o.diff],
        "seconds": round(o.seconds, 3),
    }


def early_dict(e: EarlyPriced) -> dict[str, Any]:
    return {
        "provider": e.provider,
        "model": e.model,
        "catalog_model": e.catalog_model,
        "first_price": e.first_price.date().isoformat(),
        "requests": e.requests,
        "priced": str(e.priced),
        "first_request": e.first_request.isoformat(),
        "last_request": e.last_request.isoformat(),
    }


def delta_dict(d: OwnerDelta) -> dict[str, Any]:
    owner = {k: v for k, v in d.owner.items() if v is not None}
    return {
        "period": d.period,
        "owner": owner,
        "before": str(d.before),
        "after": str(d.after),
        "delta": str(d.delta),
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def allocation(console: Console, o: AllocationOutcome, dry_run: bool) -> None:
    """The headline (coverage), the per-rule table, reconciliation and the diff."""
    cov = o.coverage()
    head = "Dry run (nothing written)" if dry_run else "Allocated"
    console.print(
        f"[bold]{head}[/]: {', '.join(o.periods) or 'no periods'} on {o.engine} — {o.cost_rows:,} cost rows → "
        f"{o.allocation_rows:,} allocations in {o.seconds:.1f} s"
    )
    console.print(
        f"  cost {money(o.totals.get('EffectiveCost'))} (effective), "
        f"coverage [bold]{'—' if cov is None else f'{cov:.1%}'}[/] with a real owner; conserved exactly"
    )
    _by_rule(console, o.by_rule)
    _reconciliation(console, o.reconciliation)
    if line := reconciliation_line(o.before_first_price):
        console.print(f"[yellow]{line}[/]", highlight=False)
    if o.unpriced:
        names = ", ".join(f"{p}/{m}" for p, m in o.unpriced)
        console.print(f"[yellow]no catalog price[/] for {names}: their rows were split by tokens")
    diff(
        console,
        o.diff,
        "Per-owner change vs the current allocation" if dry_run else "Restated owners",
    )


def _by_rule(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table("rule", "method", "rows", "effective cost", "billed cost", title="By rule")
    for r in rows:
        table.add_row(
            r["x_rule"],
            r["x_method"],
            f"{r['rows']:,}",
            money(r["EffectiveCost"]),
            money(r["BilledCost"]),
        )
    console.print(table)


def _reconciliation(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(
        "rule",
        "provider",
        "model",
        "invoiced",
        "priced",
        "gap",
        "requests",
        title="LLM invoices vs priced requests",
    )
    for r in rows:
        table.add_row(
            r["x_rule"], str(r["ProviderName"]), str(r["model"] or "(no requests)"),
            money(r["invoiced"]), money(r["priced"]), money(r["gap"]), f"{r['requests'] or 0:,}",
        )  # fmt: skip
    console.print(table)


def diff(console: Console, deltas: list[OwnerDelta], title: str, limit: int = 15) -> None:
    if not deltas:
        console.print(f"{title}: none")
        return
    table = Table("period", "owner", "before", "after", "change", title=f"{title} ({len(deltas)})")
    for d in deltas[:limit]:
        owner = ", ".join(f"{k}={v}" for k, v in d.owner.items() if v is not None)
        table.add_row(d.period, owner, money(d.before), money(d.after), money(d.delta))
    console.print(table)


def explanation(console: Console, e: Explanation) -> None:
    owner = ", ".join(f"{k}={v}" for k, v in e.owner.items())
    console.print(
        f"[bold]{owner}[/] {e.period or 'all periods'}: {money(e.total)} ({e.metric}) in {e.rows:,} allocations"
    )
    rules = Table("rule", "method", "rows", "amount", title="By rule")
    for r in e.by_rule:
        rules.add_row(r["x_rule"], r["x_method"], f"{r['rows']:,}", money(r["amount"]))
    console.print(rules)
    top = Table(
        "cost row",
        "service / resource",
        "charge period",
        "row cost",
        "weight",
        "amount",
        "rule",
        title="Largest allocations",
    )
    for n, a in enumerate(e.allocations, 1):
        top.add_row(
            f"{a['x_source_file']}:{a['x_source_row']}", f"{a['ServiceName']}\n{a['ResourceId'] or ''}",
            str(a["ChargePeriodStart"])[:16], money(a["row_cost"]), f"{a['x_weight']:.4f}",
            money(a["amount"]), f"#{n} {a['x_rule']} ({a['x_method']})",
        )  # fmt: skip
    console.print(top)
    _usage_behind(console, e.allocations)


def _usage_behind(console: Console, allocations: list[dict[str, Any]]) -> None:
    """Per usage-split share: how many usage rows are shown of how many, and their ids."""
    lines = []
    for n, a in enumerate(allocations, 1):
        if a.get("usage_note"):
            lines.append(f"  #{n} {a['x_rule']} on {a['ResourceId']}: {a['usage_note']}")
        elif a.get("usage_count"):
            ids = ", ".join(str(u["id"]) for u in a["usage"])
            shown = f"{len(a['usage'])} of {a['usage_count']:,} usage rows"
            lines.append(f"  #{n} {a['x_rule']} on {a['ResourceId']}: {shown}: {ids}")
    if lines:
        console.print("Usage behind the shares (largest weight first):", highlight=False)
        for line in lines:
            console.print(line, highlight=False, markup=False)
