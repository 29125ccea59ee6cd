"""Budget enforcement a gateway can call: check, reserve, settle, release — exact under
concurrency.

One :class:`Enforcer` per server holds, for every budget, the :class:`~costcouncil.budgets.ledger.Ledger`
of its current period, behind one lock: every call is judged against everything admitted before
it, so a hard budget never admits past its amount however many clients race. A call names the
spend it is about by scope keys (``team``, ``model``, ``environment`` …); every budget whose scope
those keys match decides, and a hard budget that would be exceeded denies the whole call.

Holds are written to the app database before a reservation is answered, so a restart restores
them; settles and releases are written too. The ``spent`` of a ledger is the lake's allocated
spend for the days allocation covers plus live usage after them (:mod:`.spend`), recomputed by
:meth:`Enforcer.refresh` (on start, after ``allocate`` and on the period's change); a settle that
comes with its usage event adds the event's cost at once (the next refresh finds it in live usage,
so it counts once); a settle without one counts as a settlement until allocation covers its day.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from costcouncil.budgets import Budget, Window, amount_for, scope_keys, window_at, windows_between
from costcouncil.budgets.ledger import Decision, Hold, Ledger, LedgerError
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.workspace.budgets.spend import lake_spend
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace

__all__ = ["DEFAULT_TTL", "Enforcer", "HoldError", "Verdict"]

#: Seconds a reservation is held when the caller gives no time to live.
DEFAULT_TTL = 300.0
MAX_TTL = 86_400.0
#: Scope keys live LLM usage carries (other keys get no live part).
LIVE_KEYS = ("team", "project", "model", "environment", "feature", "customer", "user")
#: Closed hold ids a ledger remembers (to say why a late settle fails) before it forgets the oldest.
REMEMBERED = 100_000
ZERO = Decimal(0)
CENT = Decimal("0.01")
LiveQuery = Callable[[dict[str, str], date], Decimal]


class HoldError(ConfigError):
    """A settle or release that cannot be honoured: ``reason`` unknown, expired or closed."""

    def __init__(self, hold: str, reason: str) -> None:
        super().__init__(f"reservation {hold!r} is {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Ruling:
    """One budget's part in a decision."""

    budget: str
    hard: bool
    allow: bool
    remaining: Decimal | None
    amount: Decimal | None
    team: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "team": self.team, "hard": self.hard, "allow": self.allow,
                "remaining": _text(self.remaining), "amount": _text(self.amount)}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The answer: ``allow``, the least ``remaining`` of the deciding budgets, each budget's part,
    and the reservation's id (reserve) or the overrun (settle)."""

    allow: bool
    rulings: tuple[Ruling, ...]
    reservation: str | None = None
    overrun: Decimal = ZERO
    expires: datetime | None = None

    @property
    def remaining(self) -> Decimal | None:
        left = [r.remaining for r in self.rulings if r.remaining is not None]
        return min(left) if left else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"allow": self.allow, "remaining": _text(self.remaining),
                               "budgets": [r.as_dict() for r in self.rulings]}  # fmt: skip
        if self.reservation is not None:
            out["reservation"] = self.reservation
        if self.expires is not None:
            out["expires"] = self.expires.isoformat()
        if self.overrun:
            out["overrun"] = _text(self.overrun)
        return out


@dataclass
class _Period:
    budget: Budget
    window: Window
    ledger: Ledger
    covered_until: date
    keys: tuple[tuple[str, str], ...] = ()

    def matches(self, keys: Mapping[str, str]) -> bool:
        return all(keys.get(k) == v for k, v in self.keys)


@dataclass
class Enforcer:
    """The ledgers of every budget's current period, behind one lock."""

    workspace: Workspace
    store: BudgetStore
    live: LiveQuery | None = None
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _periods: dict[str, _Period] = field(default_factory=dict)
    _holds: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def start(self) -> Enforcer:
        """Read the budgets and the open holds (after a restart)."""
        self.refresh()
        with self._lock:
            for h in self.store.open_holds():
                period = self._periods.get(h.budget)
                if period is not None:
                    period.ledger.restore(Hold(h.id, h.amount, h.expires.timestamp()))
                    self._holds[h.id] = (*self._holds.get(h.id, ()), h.budget)
        return self

    def refresh(self) -> None:
        """Recompute every budget's period, amount and spent (open holds are kept).

        The lake's part is read first; settlements, live usage and holds are taken under the
        lock, so a settle that lands meanwhile is neither lost nor counted twice."""
        today = self._today()
        fresh = {b.name: self._period(b, today) for b in self.store.budgets()}
        with self._lock:
            for name, period in fresh.items():
                self._carry(self._periods.get(name), period)
            self._periods = fresh

    # -- the calls ---------------------------------------------------------------------------

    def check(self, keys: Mapping[str, str], cost: Decimal) -> Verdict:
        """Would ``cost`` be allowed for spend with these scope keys (nothing is held)."""
        _non_negative(cost)
        now = self.clock()
        with self._lock:
            periods = self._deciding(keys)
            return _verdict([(p, p.ledger.check(cost, now)) for p in periods])

    def reserve(self, keys: Mapping[str, str], cost: Decimal, *, ttl: float | None = None,
                actor: str = "api") -> Verdict:  # fmt: skip
        """Hold ``cost`` on every deciding budget if all hard ones admit it."""
        _non_negative(cost)
        seconds = DEFAULT_TTL if ttl is None else float(ttl)
        if not 0 < seconds <= MAX_TTL:
            raise ConfigError(f"ttl {ttl!r}: seconds above 0 and at most {MAX_TTL:.0f}")
        hold, now = uuid.uuid4().hex, self.clock()
        with self._lock:
            periods = self._deciding(keys)
            if not all(p.ledger.admits(cost, now) for p in periods):
                return _verdict([(p, p.ledger.check(cost, now)) for p in periods])
            rulings = [(p, p.ledger.reserve(hold, cost, now, seconds)) for p in periods]
            names = tuple(p.budget.name for p in periods)
            self._holds[hold] = names
            try:
                if names:
                    self.store.add_holds(hold, names, cost, _at(now), _at(now + seconds), actor)
            except Exception:
                for p in periods:
                    p.ledger.holds.pop(hold, None)
                self._holds.pop(hold, None)
                raise
        expires = _at(now + seconds)
        return _verdict(rulings, reservation=hold, expires=expires)

    def settle(self, hold: str, actual: Decimal, *, counted: bool = False) -> Verdict:
        """Close ``hold`` with its ``actual`` cost; ``counted``: the cost came as a live usage
        event (posted before this call), so it is added to spent, not as a settlement."""
        _non_negative(actual)
        now = self.clock()
        with self._lock:
            periods = self._of(hold, now)
            rulings = []
            for p in periods:
                if counted:  # its usage event was posted: spent now, so the answer counts it
                    p.ledger.spent += actual
                rulings.append((p, p.ledger.settle(hold, actual, now, counted=counted)))
            self.store.close_holds(hold, "settled", _at(now), actual=actual, counted=counted,
                                   day=_at(now).date())  # fmt: skip
        return _verdict(rulings, overrun=max((d.overrun for _, d in rulings), default=ZERO))

    def release(self, hold: str) -> Verdict:
        """Give ``hold`` back unspent."""
        now = self.clock()
        with self._lock:
            periods = self._of(hold, now)
            rulings = [(p, p.ledger.release(hold, now)) for p in periods]
            self.store.close_holds(hold, "released", _at(now))
        return _verdict(rulings)

    def expire(self) -> int:
        """Record the holds whose time ran out; how many."""
        now = self.clock()
        with self._lock:
            for p in self._periods.values():
                p.ledger.expire(now)
            lapsed = {h for p in self._periods.values() for h in p.ledger.lapsed_since()}
            for hold in lapsed:
                self._holds.pop(hold, None)
                self.store.close_holds(hold, "expired", _at(now))
            for p in self._periods.values():
                if len(p.ledger.gone) > REMEMBERED:
                    p.ledger.gone = dict(list(p.ledger.gone.items())[REMEMBERED // 2 :])
        return len(lapsed)

    def spent(self, name: str) -> tuple[Window, Decimal, Decimal, Decimal] | None:
        """A budget's current period: its window, spent, settled and held (None: no period)."""
        with self._lock:
            p = self._periods.get(name)
            if p is None:
                return None
            p.ledger.expire(self.clock())
            return p.window, p.ledger.spent, p.ledger.settled, p.ledger.held

    def limit(self, name: str) -> Decimal | None:
        """A budget's amount this period (None: none, or no such budget)."""
        with self._lock:
            p = self._periods.get(name)
            return None if p is None else p.ledger.limit

    # -- inside ------------------------------------------------------------------------------

    def _deciding(self, keys: Mapping[str, str]) -> list[_Period]:
        self._roll_over()
        return [p for p in self._periods.values() if p.matches(keys)]

    def _of(self, hold: str, now: float) -> list[_Period]:
        names = self._holds.get(hold)
        if names is None:
            reason = next(
                (p.ledger.gone[hold] for p in self._periods.values() if hold in p.ledger.gone), None
            )
            if reason is None:
                raise NotFoundError(f"no reservation {hold!r}")
            raise HoldError(hold, reason)
        periods = [self._periods[n] for n in names if n in self._periods]
        try:
            for p in periods:
                p.ledger.expire(now)
                if hold not in p.ledger.holds:
                    raise LedgerError(hold, p.ledger.gone.get(hold, "unknown"))
        except LedgerError as e:
            if e.reason == "expired":
                self._holds.pop(hold, None)
                self.store.close_holds(hold, "expired", _at(now))
            raise HoldError(hold, e.reason) from e
        self._holds.pop(hold, None)
        return periods

    def _roll_over(self) -> None:
        """A budget whose period ended starts its next one (its open holds carried over)."""
        today = self._today()
        for name, p in list(self._periods.items()):
            if not p.window.contains(today):
                fresh = self._period(p.budget, today)
                self._carry(p, fresh)
                self._periods[name] = fresh

    def _carry(self, old: _Period | None, period: _Period) -> None:
        """Finish a new period under the lock: settlements, live usage, the old one's holds."""
        since = period.covered_until
        period.ledger.settled = self.store.settlements(
            period.budget.name, since - timedelta(days=1)
        )
        period.ledger.spent += self._live(period)
        if old is not None:
            for hold in old.ledger.holds.values():
                period.ledger.restore(hold)
            period.ledger.gone = old.ledger.gone
            period.ledger.lapsed = old.ledger.lapsed  # still to be recorded

    def _period(self, budget: Budget, today: date) -> _Period:
        window = window_at(budget, today) or Window(today, today)
        conditions = scope_keys(budget.scope)
        history = self._history(budget, window, conditions)
        lake = lake_spend(self.workspace, conditions, budget.metric, window.start)
        since = max(lake.covered_until, window.start)
        limit = amount_for(budget, window, history) if window.days else None
        ledger = Ledger(limit, budget.hard, spent=lake.total(window))
        return _Period(budget, window, ledger, since, tuple(conditions))

    def _history(
        self, budget: Budget, window: Window, conditions: Sequence[tuple[str, str]]
    ) -> dict[Window, Decimal]:
        if budget.amount.kind != "auto":
            return {}
        start = window.start - timedelta(days=372 * max(1, budget.amount.months))
        past = [w for w in windows_between(budget, start, window.start) if w.end <= window.start]
        if not past:
            return {}
        lake = lake_spend(self.workspace, conditions, budget.metric, past[0].start)
        return {w: lake.total(w) for w in past if w.end <= lake.covered_until}

    def _live(self, period: _Period) -> Decimal:
        conditions = dict(scope_keys(period.budget.scope))
        if self.live is None or any(k not in LIVE_KEYS for k in conditions):
            return ZERO
        if period.covered_until >= period.window.end:
            return ZERO
        return self.live(conditions, period.covered_until)

    def _today(self) -> date:
        return _at(self.clock()).date()


def _verdict(rulings: Sequence[tuple[_Period, Decision]], **extra: Any) -> Verdict:
    parts = tuple(
        Ruling(p.budget.name, p.budget.hard, d.allow, d.remaining, p.ledger.limit, p.budget.team)
        for p, d in rulings
    )
    return Verdict(all(r.allow for r in parts), parts, **extra)


def _non_negative(cost: Decimal) -> None:
    if not cost.is_finite() or cost < 0:
        raise ConfigError(f"cost {cost}: a number of at least 0")


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _text(value: Decimal | None) -> str | None:
    """Money as shown: to the cent (the ledger keeps every digit)."""
    return None if value is None else str(value.quantize(CENT))
