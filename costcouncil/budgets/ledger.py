"""The enforcement ledger of one budget's current period: what is spent, settled and held.

A gateway asks before it spends (``check``), holds an estimate while a call runs (``reserve``),
then turns the hold into the actual cost (``settle``) or gives it back (``release``); a hold that
is never settled lapses after its time to live. The figures:

* ``spent`` — what the workspace counts elsewhere: the allocated lake for the days allocation
  covers plus live usage after them (the use case refreshes it);
* ``settled`` — settlements that figure does not include yet (a settle without a usage event);
* ``held`` — open holds.

``used = spent + settled + held``. A **hard** budget admits a hold or a check only when ``used +
cost <= limit``, so no interleaving of calls can take ``settled + held`` past what was left: each
call is judged against everything admitted before it (the caller serialises calls; the use case
holds one lock). A settle records the truth: an actual above its hold is counted (money already
spent cannot be refused) and reported as an overrun. A **soft** budget admits everything; its
figures still move, and its thresholds notify. Pure: times are plain seconds, nothing is stored.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["Decision", "Hold", "Ledger", "LedgerError"]

ZERO = Decimal(0)


class LedgerError(Exception):
    """A settle or release the ledger cannot honour: ``reason`` is ``unknown``, ``expired`` or
    ``closed`` (settled or released already)."""

    def __init__(self, hold: str, reason: str) -> None:
        super().__init__(f"reservation {hold!r} is {reason}")
        self.hold = hold
        self.reason = reason


@dataclass(frozen=True)
class Hold:
    """An open reservation: ``amount`` held until ``expires`` (seconds)."""

    id: str
    amount: Decimal
    expires: float


@dataclass(frozen=True)
class Decision:
    """The answer to a check or a reservation: ``allow``, and what is left after it (None when
    the budget has no limit this period)."""

    allow: bool
    remaining: Decimal | None
    overrun: Decimal = ZERO


@dataclass
class Ledger:
    """One budget's period. ``limit`` None: no amount this period (everything is allowed)."""

    limit: Decimal | None
    hard: bool
    spent: Decimal = ZERO
    settled: Decimal = ZERO
    holds: dict[str, Hold] = field(default_factory=dict)
    #: Holds that lapsed or closed, so a late settle is told why (bounded by the caller's purge).
    gone: dict[str, str] = field(default_factory=dict)
    #: Holds that lapsed since the caller last took them (:meth:`lapsed_since`), to record.
    lapsed: list[str] = field(default_factory=list)
    _expiry: list[tuple[float, str]] = field(default_factory=list)

    @property
    def held(self) -> Decimal:
        return sum((h.amount for h in self.holds.values()), ZERO)

    def used(self) -> Decimal:
        return self.spent + self.settled + self.held

    def remaining(self, now: float) -> Decimal | None:
        self.expire(now)
        return None if self.limit is None else self.limit - self.used()

    def admits(self, cost: Decimal, now: float) -> bool:
        """Whether ``cost`` more fits: always for a soft or unlimited budget."""
        left = self.remaining(now)
        return not self.hard or left is None or cost <= left

    def check(self, cost: Decimal, now: float) -> Decision:
        """Would ``cost`` be allowed now (nothing is held)."""
        allow = self.admits(cost, now)
        left = self.remaining(now)
        return Decision(allow, None if left is None else left - (cost if allow else ZERO))

    def reserve(self, hold: str, cost: Decimal, now: float, ttl: float) -> Decision:
        """Hold ``cost`` under the id ``hold`` for ``ttl`` seconds, if the budget admits it."""
        if cost < 0:
            raise ValueError(f"a reservation cannot be negative ({cost})")
        if hold in self.holds or hold in self.gone:
            raise LedgerError(hold, "closed" if hold in self.gone else "open already")
        if not self.admits(cost, now):
            return Decision(False, self.remaining(now))
        self.holds[hold] = Hold(hold, cost, now + ttl)
        heapq.heappush(self._expiry, (now + ttl, hold))
        return Decision(True, self.remaining(now))

    def settle(self, hold: str, actual: Decimal, now: float, *, counted: bool = False) -> Decision:
        """Close ``hold`` with the ``actual`` cost. ``counted``: the actual is already in
        ``spent`` (it came as a live usage event), so it is not added again."""
        if actual < 0:
            raise ValueError(f"an actual cost cannot be negative ({actual})")
        found = self._take(hold, now)
        if not counted:
            self.settled += actual
        return Decision(True, self.remaining(now), max(actual - found.amount, ZERO))

    def release(self, hold: str, now: float) -> Decision:
        """Give ``hold`` back unspent."""
        self._take(hold, now)
        return Decision(True, self.remaining(now))

    def expire(self, now: float) -> list[str]:
        """Drop the holds whose time has come; their ids."""
        out = []
        while self._expiry and self._expiry[0][0] <= now:
            _, hold = heapq.heappop(self._expiry)
            found = self.holds.get(hold)
            if found is not None and found.expires <= now:
                del self.holds[hold]
                self.gone[hold] = "expired"
                out.append(hold)
        self.lapsed += out
        return out

    def lapsed_since(self) -> list[str]:
        """The holds that lapsed since the last call, whichever call noticed them."""
        out, self.lapsed = self.lapsed, []
        return out

    def restore(self, hold: Hold) -> None:
        """Put back an open hold read from storage (on start)."""
        self.holds[hold.id] = hold
        heapq.heappush(self._expiry, (hold.expires, hold.id))

    def _take(self, hold: str, now: float) -> Hold:
        self.expire(now)
        found = self.holds.pop(hold, None)
        if found is None:
            raise LedgerError(hold, self.gone.get(hold, "unknown"))
        self.gone[hold] = "closed"
        return found
