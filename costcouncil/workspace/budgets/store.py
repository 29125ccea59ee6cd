"""Budgets in the app database: add, change, remove, import (with a dry run), export, and the
enforcement holds that survive a restart.

Budgets are the engine's :class:`~costcouncil.budgets.Budget`; their scope keys are checked
against the workspace's dimensions here (the engine cannot know them). Every change is audited.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update

from costcouncil.appdb.budgets import BudgetHold, BudgetRow
from costcouncil.budgets import Amount, Budget, Change, Threshold, Window, diff, scope_keys
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.workspace.allocate.series import dimensions
from costcouncil.workspace.common.appstate import AppStore, Visible, audit, aware, now, only_visible
from costcouncil.workspace.core import Workspace

__all__ = ["BudgetStore", "StoredHold", "check_scope", "known_keys"]


@dataclass(frozen=True)
class StoredHold:
    """An open hold read back from the database (to rebuild the ledgers on start)."""

    id: str
    budget: str
    amount: Decimal
    expires: datetime


def known_keys(workspace: Workspace) -> list[str]:
    """The keys a budget's scope may name: the owner keys and the fixed dimensions."""
    return list(dimensions(workspace))


def check_scope(workspace: Workspace, budget: Budget) -> None:
    """Raise a ConfigError when the budget's scope names a key the workspace does not have."""
    allowed = known_keys(workspace)
    for key, _ in scope_keys(budget.scope):
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"budget {budget.name!r}: scope key {key!r} is unknown{hint} (choices: {', '.join(allowed)})"
            )


class BudgetStore(AppStore):
    """The budget tables of one workspace's app database."""

    def budgets(self, visible: Visible = None) -> list[Budget]:
        with self.session() as s:
            query = only_visible(select(BudgetRow), BudgetRow.team, visible).order_by(
                BudgetRow.name
            )
            return [_budget(r) for r in s.scalars(query)]

    def budget(self, name: str, visible: Visible = None) -> Budget:
        with self.session() as s:
            row = s.scalar(
                only_visible(select(BudgetRow), BudgetRow.team, visible).where(
                    BudgetRow.name == name
                )
            )
            if row is None:
                raise NotFoundError(f"no budget {name!r}")
            return _budget(row)

    def save(
        self, workspace: Workspace, budget: Budget, *, actor: str = "cli", create: bool = True
    ) -> Budget:
        """Add ``budget`` (``create``) or replace the one of its name."""
        budget.validate()
        check_scope(workspace, budget)
        with self.session() as s:
            row = s.scalar(select(BudgetRow).where(BudgetRow.name == budget.name))
            if create and row is not None:
                raise ConfigError(f"budget {budget.name!r} exists already")
            if not create and row is None:
                raise NotFoundError(f"no budget {budget.name!r}")
            if row is None:
                row = BudgetRow(name=budget.name, created_at=now(), created_by=actor)
                s.add(row)
            _fill(row, budget)
            audit(
                s, actor, "budget.add" if create else "budget.change", budget.name, encode(budget)
            )
        return budget

    def remove(self, name: str, *, actor: str = "cli", visible: Visible = None) -> None:
        with self.session() as s:
            row = s.scalar(
                only_visible(select(BudgetRow), BudgetRow.team, visible).where(
                    BudgetRow.name == name
                )
            )
            if row is None:
                raise NotFoundError(f"no budget {name!r}")
            s.delete(row)
            audit(s, actor, "budget.remove", name, {})

    def import_budgets(
        self, workspace: Workspace, wanted: Sequence[Budget], *, dry_run: bool, actor: str = "cli"
    ) -> list[Change]:
        """Make the stored budgets exactly ``wanted`` (``budgets.yaml``); the changes, in name
        order. A dry run changes nothing."""
        for b in wanted:
            b.validate()
            check_scope(workspace, b)
        changes = diff(self.budgets(), wanted)
        if dry_run:
            return changes
        by_name = {b.name: b for b in wanted}
        with self.session() as s:
            for c in changes:
                row = s.scalar(select(BudgetRow).where(BudgetRow.name == c.name))
                if c.kind == "remove" and row is not None:
                    s.delete(row)
                    continue
                if row is None:
                    row = BudgetRow(name=c.name, created_at=now(), created_by=actor)
                    s.add(row)
                _fill(row, by_name[c.name])
            audit(
                s,
                actor,
                "budget.import",
                "budgets.yaml",
                {"changes": [f"{c.kind} {c.name}" for c in changes]},
            )
        return changes

    # -- holds ---------------------------------------------------------------------------------

    def add_holds(self, hold: str, budgets: Sequence[str], amount: Decimal, at: datetime,
                  expires: datetime, actor: str) -> None:  # fmt: skip
        """Record one open hold per deciding budget."""
        with self.session() as s:
            ids = _ids(s, budgets)
            for name in budgets:
                s.add(
                    BudgetHold(
                        id=hold,
                        budget_id=ids[name],
                        amount=str(amount),
                        state="open",
                        created_at=at,
                        expires_at=expires,
                        counted=False,
                        actor=actor,
                    )
                )

    def close_holds(self, hold: str, state: str, at: datetime, *, actual: Decimal | None = None,
                    counted: bool = False, day: date | None = None) -> None:  # fmt: skip
        """Record how a hold ended: settled (with its actual), released or expired."""
        with self.session() as s:
            s.execute(
                update(BudgetHold)
                .where(BudgetHold.id == hold, BudgetHold.state == "open")
                .values(
                    state=state,
                    closed_at=at,
                    actual=None if actual is None else str(actual),
                    counted=counted,
                    day=day,
                )
            )

    def open_holds(self) -> list[StoredHold]:
        with self.session() as s:
            rows = s.execute(
                select(BudgetHold.id, BudgetRow.name, BudgetHold.amount, BudgetHold.expires_at)
                .join(BudgetRow, BudgetRow.id == BudgetHold.budget_id)
                .where(BudgetHold.state == "open")
            ).all()
        return [StoredHold(i, n, Decimal(a), aware(e)) for i, n, a, e in rows]

    def settlements(self, budget: str, after: date) -> Decimal:
        """Settlements of ``budget`` without a usage event on days after ``after`` (those the
        lake does not hold yet)."""
        with self.session() as s:
            rows = s.execute(
                select(BudgetHold.actual)
                .join(BudgetRow, BudgetRow.id == BudgetHold.budget_id)
                .where(
                    BudgetRow.name == budget,
                    BudgetHold.state == "settled",
                    BudgetHold.counted.is_(False),
                    BudgetHold.day > after,
                )
            ).all()
        return sum((Decimal(a) for (a,) in rows if a is not None), Decimal(0))

    def purge_holds(self, before: datetime) -> int:
        """Forget holds closed before ``before``; how many."""
        with self.session() as s:
            result = s.execute(
                delete(BudgetHold).where(BudgetHold.state != "open", BudgetHold.closed_at < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)


def _ids(s: Any, names: Sequence[str]) -> dict[str, int]:
    rows = s.execute(
        select(BudgetRow.name, BudgetRow.id).where(BudgetRow.name.in_(list(names)))
    ).all()
    found = {n: i for n, i in rows}
    missing = [n for n in names if n not in found]
    if missing:
        raise NotFoundError(f"no budget {missing[0]!r}")
    return found


def encode(b: Budget) -> dict[str, Any]:
    """A budget as JSON (the database columns and the audit detail)."""
    a = b.amount
    amount: dict[str, Any] = {"kind": a.kind}
    if a.kind == "fixed":
        amount["value"] = str(a.value)
    elif a.kind == "plan":
        amount["plan"] = {k: str(v) for k, v in sorted(a.plan.items())}
    else:
        amount |= {"months": a.months, "factor": str(a.factor)}
    return {
        "name": b.name, "scope": b.scope, "team": b.team, "metric": b.metric, "period": b.period,
        "windows": [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in b.windows],
        "amount": amount,
        "thresholds": [{"percent": str(t.percent), "basis": t.basis} for t in b.thresholds],
        "hard": b.hard, "owner": b.owner, "currency": b.currency,
    }  # fmt: skip


def decode(d: dict[str, Any]) -> Budget:
    """The budget of :func:`encode`'s JSON."""
    a = d["amount"]
    amount = Amount(
        a["kind"],
        Decimal(a["value"]) if a.get("value") is not None else None,
        {k: Decimal(v) for k, v in (a.get("plan") or {}).items()},
        int(a.get("months", 3)),
        Decimal(a.get("factor", "1")),
    )
    return Budget(
        name=d["name"],
        scope=d["scope"],
        amount=amount,
        period=d["period"],
        windows=tuple(
            Window(date.fromisoformat(w["start"]), date.fromisoformat(w["end"]))
            for w in d["windows"]
        ),
        metric=d["metric"],
        thresholds=tuple(Threshold(Decimal(t["percent"]), t["basis"]) for t in d["thresholds"]),
        hard=bool(d["hard"]),
        owner=d["owner"],
        team=d["team"],
        currency=d["currency"],
    )


def _fill(row: BudgetRow, b: Budget) -> None:
    data = encode(b)
    for key in (
        "scope",
        "team",
        "metric",
        "period",
        "windows",
        "amount",
        "thresholds",
        "hard",
        "owner",
        "currency",
    ):
        setattr(row, key, data[key])
    row.updated_at = now()


def _budget(row: BudgetRow) -> Budget:
    return decode(
        {
            "name": row.name,
            "scope": row.scope,
            "team": row.team,
            "metric": row.metric,
            "period": row.period,
            "windows": row.windows,
            "amount": row.amount,
            "thresholds": row.thresholds,
            "hard": row.hard,
            "owner": row.owner,
            "currency": row.currency,
        }
    )
