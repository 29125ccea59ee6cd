"""``costcouncil budgets``: list, show, add, remove, import, export and check a workspace's
budgets (see docs/budgets.md, "Command line").

The commands open the workspace's app database and read spend from its allocated lake, as the
server does, but without live usage events: a budget's spend here is the lake's (after
``allocate``) plus settled reservations. ``check`` exits with :data:`DENIED` when a hard budget
would be exceeded, so scripts and CI can gate on it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from costcouncil.budgets import (
    DEFAULT_THRESHOLDS,
    Amount,
    Budget,
    Change,
    Threshold,
    dump_budgets,
    parse_budgets,
)
from costcouncil.budgets.model import did_you_mean, scope_keys
from costcouncil.cli.common import JsonOpt, WorkspaceArg, fail, opened, out
from costcouncil.errors import ConfigError
from costcouncil.workspace.budgets.enforce import Verdict
from costcouncil.workspace.budgets.service import BudgetService
from costcouncil.workspace.budgets.store import BudgetStore, known_keys
from costcouncil.workspace.core import Workspace

__all__ = ["DENIED", "budgets_app"]

#: The exit status of ``budgets check`` when a hard budget denies the spend.
DENIED = 3
LISTED = ["name", "scope", "period", "amount", "spent", "remaining", "used %", "kind", "owner",
          "team"]  # fmt: skip
PERIODS = ("monthly", "quarterly", "annual")

budgets_app = typer.Typer(
    help="Budgets: a spending limit per scope and period; check spend against them.",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(help="The budget's name.")]


@contextmanager
def _service(directory: Path) -> Iterator[tuple[Workspace, BudgetStore, BudgetService]]:
    """The workspace, its budget store and the budget service over them (spend read once)."""
    with opened(directory, BudgetStore) as (workspace, store):
        yield workspace, store, BudgetService.open(workspace, store)


@budgets_app.command("list")
def budgets_list(directory: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """List budgets with this period's amount, spend, remaining and percentage used."""
    with _service(directory) as (_, store, service):
        rows = [service.current(b) for b in store.budgets()]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        _say("no budgets yet: `costcouncil budgets add` or `costcouncil budgets import`")
        return
    shown = Table(*(Column(c, overflow="fold") for c in LISTED))
    for row in rows:
        shown.add_row(*_listed(row))
    out.print(shown)


def _listed(row: dict[str, Any]) -> list[str]:
    """One budget's row of the ``list`` table (the columns of :data:`LISTED`)."""
    now = row.get("current") or {}
    return [row["name"], row["scope"], row["period"], _money(now.get("amount")),
            _money(now.get("spent")), _money(now.get("remaining")), _pct(now.get("used_pct")),
            "hard" if row["hard"] else "soft", row["owner"], row["team"] or ""]  # fmt: skip


@budgets_app.command("show")
def budgets_show(directory: WorkspaceArg, name: NameArg, as_json: JsonOpt = False) -> None:
    """One budget: its current period, status with the projection, thresholds and history."""
    with _service(directory) as (_, store, service):
        detail = service.detail(store.budget(name))
    if as_json:
        print(json.dumps(detail, indent=2, ensure_ascii=False))
        return
    for line in detail_lines(detail):
        _say(line)
    _history(detail.get("history", []))


def detail_lines(detail: dict[str, Any]) -> list[str]:
    """The text of ``budgets show`` above the history table, from ``BudgetService.detail``."""
    kind = "hard" if detail["hard"] else "soft"
    lines = [f"{detail['name']}: {detail['scope']}, {detail['period']}, {kind}, "
             f"{detail['metric']} in {detail['currency']}"]  # fmt: skip
    lines += [f"owner {detail['owner']}"] if detail["owner"] else []
    lines += [f"team {detail['team']}"] if detail["team"] else []
    now, status = detail.get("current"), detail.get("status")
    if now is None or status is None:
        return [*lines, "no current period"]
    lines.append(f"period {_span(now['start'], now['end'])}: amount {_money(now['amount'])}, "
                 f"spent {_money(now['spent'])}, held {_money(now['held'])}, "
                 f"remaining {_money(now['remaining'])}, used {_pct(now['used_pct'])}")  # fmt: skip
    lines.append(f"state {status['state']}")
    lines += projection_lines(status)
    return [*lines, _crossed(status["crossed"])]


def projection_lines(status: dict[str, Any]) -> list[str]:
    """What the forecast says about the period's end and when spend reaches the amount."""
    p, amount = status.get("projection"), status.get("amount")
    if p is None:
        return ["no projection (no daily series for this scope)"]
    lines = [f"expected by the period's end {_money(p['total'])} "
             f"(80 %: {_money(p['lo80'])} – {_money(p['hi80'])})"]  # fmt: skip
    if amount is None:
        return lines
    if status["state"] == "over":
        return [*lines, f"spend has reached the amount, {_money(amount)}"]
    if p["crosses_on"] is None:
        return [*lines, f"at this rate it stays below {_money(amount)} this period"]
    around = f"{_month_day(p['earliest'])} … {_month_day(p['latest'])}"  # latest: the low bound
    return [
        *lines,
        f"at this rate it crosses {_money(amount)} on {p['crosses_on']} (80 %: {around})",
    ]


def _crossed(crossed: list[dict[str, Any]]) -> str:
    if not crossed:
        return "thresholds crossed: none"
    shown = (f"{c['percent']}% {c['basis']} (at {_money(c['at'])})" for c in crossed)
    return "thresholds crossed: " + ", ".join(shown)


def _history(rows: list[dict[str, Any]]) -> None:
    if not rows:
        _say("no past periods")
        return
    shown = Table("period", "amount", "actual", "used %", title="History")
    for r in rows:
        shown.add_row(_span(r["start"], r["end"]), _money(r["amount"]), _money(r["actual"]),
                      _pct(r["used_pct"]))  # fmt: skip
    out.print(shown)


@budgets_app.command("add")
def budgets_add(
    directory: WorkspaceArg,
    name: NameArg,
    scope: Annotated[str, typer.Option(help="org, or KEY=VALUE[,KEY=VALUE…], e.g. team=vision.")],
    amount: Annotated[str, typer.Option(help="The fixed amount per period, above 0.")],
    period: Annotated[str, typer.Option(help="monthly, quarterly or annual.")] = "monthly",
    hard: Annotated[bool, typer.Option("--hard", help="Deny spend past the amount.")] = False,
    owner: Annotated[str, typer.Option(help="The owner's email.")] = "",
    team: Annotated[str | None, typer.Option(help="The team the budget belongs to.")] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            help="'80%' (actual) or '100% forecast', repeatable (default 50/80/100 %, 100 % forecast)."
        ),
    ] = None,
    metric: Annotated[
        str, typer.Option(help="EffectiveCost, BilledCost, ListCost or ContractedCost.")
    ] = "EffectiveCost",
) -> None:
    """Add a budget with a fixed amount (plans and automatic amounts: budgets.yaml)."""
    if period not in PERIODS:
        fail(f"--period {period!r}: one of {', '.join(PERIODS)}{did_you_mean(period, PERIODS)} "
             "(custom periods: budgets.yaml and `costcouncil budgets import`)")  # fmt: skip
    value, thresholds = _decimal(amount, "--amount"), _thresholds(threshold)
    with opened(directory, BudgetStore) as (workspace, store):
        _known(workspace, (k for k, _ in scope_keys(scope)), f"--scope {scope!r}")
        wanted = Budget(
            name=name, scope=scope, amount=Amount("fixed", value), period=period, metric=metric,
            hard=hard, owner=owner, team=team, thresholds=thresholds,
            currency=workspace.config.currency,
        )  # fmt: skip
        added = store.save(workspace, wanted)
    _say(f"added budget {added.name!r}: {describe(added)}")


def describe(b: Budget) -> str:
    """A budget in one line: scope, amount and period, kind, thresholds, owner and team."""
    parts = [b.scope, f"{_field(b, 'amount')} {b.currency} {b.period}",
             "hard" if b.hard else "soft", f"thresholds {_field(b, 'thresholds')}"]  # fmt: skip
    parts += [f"owner {b.owner}"] if b.owner else []
    parts += [f"team {b.team}"] if b.team else []
    return ", ".join(parts)


def _thresholds(given: list[str] | None) -> tuple[Threshold, ...]:
    if given is None:
        return DEFAULT_THRESHOLDS
    return tuple(_threshold(t) for t in given)


def _threshold(text: str) -> Threshold:
    """``80%`` (on actual spend) or ``100% forecast``; the basis is checked with the budget."""
    percent, sign, basis = text.partition("%")
    if not sign:
        fail(f"--threshold {text!r}: write it like '80%' or '100% forecast'")
    return Threshold(_decimal(percent, "--threshold"), basis.strip() or "actual")


@budgets_app.command("remove")
def budgets_remove(directory: WorkspaceArg, name: NameArg) -> None:
    """Remove a budget (its open reservations go with it)."""
    with opened(directory, BudgetStore) as (_, store):
        store.remove(name)
    _say(f"removed budget {name!r}")


@budgets_app.command("import")
def budgets_import(
    directory: WorkspaceArg,
    file: Annotated[Path, typer.Argument(help="A budgets.yaml.")],
    apply: Annotated[
        bool, typer.Option("--apply", help="Make the changes (without it: a dry run).")
    ] = False,
) -> None:
    """Make the workspace's budgets those of a budgets.yaml: prints what is added, removed and
    changed; a dry run unless --apply."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{file}: cannot read it ({e})")
    with opened(directory, BudgetStore) as (workspace, store):
        wanted = parse_budgets(text, str(file), known_keys=known_keys(workspace))
        before = store.budgets()
        changes = store.import_budgets(workspace, wanted, dry_run=not apply)
    for line in change_lines(changes, before, wanted, applied=apply):
        _say(line)


def change_lines(changes: Sequence[Change], before: Sequence[Budget], after: Sequence[Budget],
                 *, applied: bool) -> list[str]:  # fmt: skip
    """The diff of an import, one line a budget, with old → new for each changed field."""
    old, new = {b.name: b for b in before}, {b.name: b for b in after}
    if not changes:
        return ["no changes: the budgets already match"]
    head = (f"{len(changes)} change(s) applied" if applied else
            f"dry run: {len(changes)} change(s), nothing changed (--apply makes them)")  # fmt: skip
    lines = [head]
    for c in changes:
        if c.kind == "add":
            lines.append(f"  add     {c.name}: {describe(new[c.name])}")
        elif c.kind == "remove":
            lines.append(f"  remove  {c.name}")
        else:
            moved = (f"{f}: {_field(old[c.name], f)} → {_field(new[c.name], f)}" for f in c.fields)
            lines.append(f"  change  {c.name}: {'; '.join(moved)}")
    return lines


@budgets_app.command("export")
def budgets_export(
    directory: WorkspaceArg,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Every budget as budgets.yaml (what `import` reads back)."""
    with opened(directory, BudgetStore) as (_, store):
        budgets = store.budgets()
    text = dump_budgets(budgets)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        fail(f"{output}: cannot write it ({e})")
    _say(f"wrote {len(budgets)} budget(s) to {output}")


@budgets_app.command("check")
def budgets_check(
    directory: WorkspaceArg,
    cost: Annotated[str, typer.Option(help="The spend to check, in the workspace currency.")],
    key: Annotated[
        list[str] | None,
        typer.Option(help="A scope key of the spend, KEY=VALUE, repeatable: --key team=vision."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Would this spend be allowed? Every budget whose scope the keys match decides; nothing is
    held. Exits 3 when a hard budget denies it."""
    spend = _decimal(cost, "--cost")
    with _service(directory) as (workspace, _, service):
        keys = _keys(workspace, key or [])
        verdict = service.enforcer.check(keys, spend)
        service.audit_deny(verdict, "check", keys, spend, "cli")
    if as_json:
        print(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
    else:
        _verdict(verdict, spend)
    if not verdict.allow:
        raise typer.Exit(DENIED)


def _keys(workspace: Workspace, items: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for item in items:
        name, sep, value = (s.strip() for s in item.partition("="))
        if not (sep and name and value) or name in keys:
            fail(f"--key {item!r}: KEY=VALUE, each key once, e.g. --key team=vision")
        keys[name] = value
    _known(workspace, keys, "--key")
    return keys


def _verdict(verdict: Verdict, cost: Decimal) -> None:
    """The answer, then each deciding budget's part (remaining: after the spend if it allows it,
    now if it denies it)."""
    money = _money(str(cost))
    if not verdict.rulings:
        _say(f"allowed: no budget covers this spend ({money})")
        return
    deciding = ", ".join(r.budget for r in verdict.rulings if not r.allow)
    head = f"denied: {money} would exceed {deciding}" if deciding else f"allowed: {money}"
    _say(head)
    shown = Table("budget", "kind", "amount", "remaining", "verdict")
    for r in verdict.rulings:
        shown.add_row(r.budget, "hard" if r.hard else "soft", _money(_text(r.amount)),
                      _money(_text(r.remaining)), _ruling(r.allow, r.remaining))  # fmt: skip
    out.print(shown)


def _ruling(allow: bool, remaining: Decimal | None) -> str:
    if not allow:
        return "deny"
    return "allow (over: soft)" if remaining is not None and remaining < 0 else "allow"


def _say(line: str) -> None:
    """One line as it is: no markup, no highlighting, no wrapping (scripts read it)."""
    out.print(line, highlight=False, markup=False, soft_wrap=True)


# -- values ------------------------------------------------------------------------------------


def _known(workspace: Workspace, keys: Iterable[str], where: str) -> None:
    """Fail on a scope key the workspace does not have, naming the closest one."""
    allowed = known_keys(workspace)
    for k in keys:
        if k not in allowed:
            raise ConfigError(f"{where}: unknown scope key {k!r}{did_you_mean(k, allowed)} "
                              f"(choices: {', '.join(allowed)})")  # fmt: skip


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        fail(f"{option} {text!r}: a number, e.g. 5000 or 12.5")
    return value


def _field(b: Budget, name: str) -> str:
    """One field of a budget as a person reads it (the import diff and ``add``)."""
    value = getattr(b, name)
    if name == "amount":
        return _amount(value)
    if name == "thresholds":
        shown = (f"{t.percent}%" + ("" if t.basis == "actual" else f" {t.basis}") for t in value)
        return ", ".join(shown) or "none"
    if name == "windows":
        return ", ".join(_span(w.start.isoformat(), w.end.isoformat()) for w in value) or "none"
    if name == "hard":
        return "hard" if value else "soft"
    return "none" if value in (None, "") else str(value)


def _amount(a: Amount) -> str:
    if a.kind == "fixed":
        return _money(_text(a.value))
    if a.kind == "plan":
        return "plan " + ", ".join(f"{m} {_money(str(v))}" for m, v in sorted(a.plan.items()))
    return f"auto (mean of {a.months} periods × {a.factor})"


def _money(text: str | None) -> str:
    return "" if text is None else f"{Decimal(text):,.2f}"


def _pct(text: str | None) -> str:
    return "" if text is None else f"{Decimal(text):.1f} %"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _span(start: str, end: str) -> str:
    """A half-open window as its first and last day."""
    last = date.fromisoformat(end) - timedelta(days=1)
    return f"{start} … {last.isoformat()}"


def _month_day(text: str | None) -> str:
    return "after the period" if text is None else text[5:]
