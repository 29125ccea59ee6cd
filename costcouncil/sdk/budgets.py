"""Budget enforcement from the SDK: ask before spending, hold an estimate, settle with the actual.

::

    decision = cc.check("0.40", team="search", model="gpt-4o")      # nothing is held
    with cc.reserve("0.40", team="search", model="gpt-4o") as r:     # BudgetDenied if refused
        response = call_the_model()
        r.actual = Decimal("0.31")
        r.event = {"provider": "openai", "input_tokens": 812, "output_tokens": 95}
    # a clean exit settles with r.actual (default: the estimate) and posts r.event once;
    # an exception releases the hold (or settles, when r.actual or r.event was set)

The exceptions::

    Exception
     ├── BudgetDenied   a hard budget refused; or the server was unreachable under "closed"
     └── BudgetError    the server refused the call itself: 401/403 (token, events:write
                        scope), 422 (bad keys, cost or ttl), 404/409 (reservation unknown,
                        lapsed or closed)

When the server cannot be reached, times out, or answers 5xx, ``budget_failure`` decides:
``"closed"`` (the default) raises :class:`BudgetDenied` with ``reachable=False``; ``"open"``
allows with ``reachable=False`` and logs a warning at most once a minute. A settle the server
cannot take still delivers its usage event through the client's background queue (same event id,
so it counts once): unreachable, it returns ``reachable=False`` and the hold lapses at its time
to live; a lapsed or unknown hold (409/404) raises :class:`BudgetError` from an explicit
:meth:`Reservation.settle` and logs a warning from the ``with`` block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import orjson

from costcouncil.sdk.events import Event, build
from costcouncil.sdk.transport import USER_AGENT

if TYPE_CHECKING:
    import httpx

__all__ = ["BudgetDecision", "BudgetDenied", "BudgetError", "Reservation"]

log = logging.getLogger("costcouncil.sdk")

Failure = Literal["open", "closed"]
Money = Decimal | str | int | float
#: Seconds between two warnings about an unreachable server.
WARN_EVERY = 60.0
_JSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


@dataclass(frozen=True)
class BudgetDecision:
    """The server's answer to a check, reserve, settle or release.

    Attributes:
        allow: whether the spend may go ahead (every deciding hard budget admits it).
        remaining: the least amount left among the deciding budgets (None: none has an amount).
        budgets: each deciding budget's part: ``budget``, ``team``, ``hard``, ``allow``,
            ``remaining``, ``amount``.
        reachable: False when the server could not be asked and ``budget_failure`` decided.
        reservation: the hold's id (reserve only).
        expires: when the hold lapses, ISO 8601 (reserve only).
        overrun: how far a settle went past the budget (0 when it did not).
    """

    allow: bool
    remaining: Decimal | None
    budgets: list[dict[str, Any]] = field(default_factory=list)
    reachable: bool = True
    reservation: str | None = None
    expires: str | None = None
    overrun: Decimal = Decimal(0)

    @classmethod
    def of(cls, answer: Mapping[str, Any]) -> BudgetDecision:
        """The decision in a ``/v1/budgets`` enforcement answer."""
        remaining = answer.get("remaining")
        return cls(
            allow=bool(answer.get("allow")),
            remaining=None if remaining is None else Decimal(str(remaining)),
            budgets=list(answer.get("budgets") or []),
            reservation=answer.get("reservation"),
            expires=answer.get("expires"),
            overrun=Decimal(str(answer.get("overrun", 0))),
        )


class BudgetDenied(Exception):
    """A reservation or check was refused; ``decision`` says by which budgets (or that the
    server was unreachable: ``decision.reachable`` is False)."""

    def __init__(self, decision: BudgetDecision, message: str | None = None) -> None:
        refused = [b.get("budget") for b in decision.budgets if not b.get("allow")]
        why = f"denied by {', '.join(map(str, refused))}" if refused else "denied"
        super().__init__(message or why)
        self.decision = decision


class BudgetError(Exception):
    """The server refused an enforcement call itself (not a budget's decision)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def money(value: Money) -> Decimal:
    """``value`` as an exact Decimal (a float through its shortest text); at least 0."""
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as e:
        raise ValueError(f"cost {value!r}: not a number") from e
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"cost {value!r}: a number of at least 0")
    return amount


class BudgetCalls:
    """The enforcement endpoints over one keep-alive ``httpx.Client`` (made lazily), and the
    failure policy for when the server cannot answer."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float,
        failure: Failure,
        fallback: Callable[[Event], None],
    ) -> None:
        if failure not in ("open", "closed"):
            raise ValueError(f"budget_failure must be 'open' or 'closed', not {failure!r}")
        self.url = base_url.rstrip("/") + "/v1/budgets"
        self.failure, self.fallback = failure, fallback
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._warned = -WARN_EVERY

    def check(self, cost: Decimal, keys: Mapping[str, str]) -> BudgetDecision:
        """``POST /v1/budgets/check``; raises :class:`BudgetDenied` only when unreachable
        under ``"closed"`` (a denial is an answer)."""
        answer = self.post("/check", {"keys": dict(keys), "cost": str(cost)})
        return self.unreachable("check") if answer is None else BudgetDecision.of(answer)

    def reserve(self, cost: Decimal, keys: Mapping[str, str], ttl: float | None) -> BudgetDecision:
        """``POST /v1/budgets/reservations`` (a denial is an answer, as for check)."""
        body: dict[str, Any] = {"keys": dict(keys), "cost": str(cost)}
        if ttl is not None:
            body["ttl"] = ttl
        answer = self.post("/reservations", body)
        return self.unreachable("reserve") if answer is None else BudgetDecision.of(answer)

    def settle(self, hold: str, cost: Decimal, event: Event | None) -> BudgetDecision | None:
        """Close ``hold`` with ``cost``, posting ``event`` with it; None when unreachable."""
        body: dict[str, Any] = {"cost": str(cost)}
        if event is not None:
            body["event"] = event
        answer = self.post(f"/reservations/{hold}/settle", body)
        return None if answer is None else BudgetDecision.of(answer)

    def release(self, hold: str) -> BudgetDecision | None:
        """Give ``hold`` back; None when unreachable (it lapses at its time to live)."""
        answer = self.post(f"/reservations/{hold}/release", {})
        return None if answer is None else BudgetDecision.of(answer)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """The JSON answer; None for a network error, a timeout or a 5xx; raises
        :class:`BudgetError` for another answer that is not 2xx."""
        import httpx

        content = orjson.dumps(body, default=str, option=_JSON)
        try:
            response = self._http().post(self.url + path, content=content)
        except httpx.TransportError as e:
            self.warn(f"{type(e).__name__}: {e}")
            return None
        if response.status_code >= 500:
            self.warn(f"HTTP {response.status_code}")
            return None
        if response.status_code >= 300:
            raise BudgetError(response.status_code, _message(response.content))
        answer = orjson.loads(response.content)
        return answer if isinstance(answer, dict) else {}

    def unreachable(self, what: str) -> BudgetDecision:
        """The decision ``budget_failure`` gives when the server cannot answer."""
        decision = BudgetDecision(self.failure == "open", None, reachable=False)
        if not decision.allow:
            raise BudgetDenied(
                decision, f"{what}: budget server unreachable (budget_failure=closed)"
            )
        return decision

    def warn(self, why: str) -> None:
        """Log that the server cannot be asked, at most once per :data:`WARN_EVERY` seconds."""
        now = monotonic()
        with self._lock:
            due = now - self._warned >= WARN_EVERY
            if due:
                self._warned = now
        if due:
            log.warning(
                "costcouncil: budget server unreachable (%s); enforcement fails %s",
                why,
                self.failure,
            )

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(headers=self._headers, timeout=self._timeout)
            return self._client


def _message(content: bytes) -> str:
    try:
        answer = orjson.loads(content)
        return str(answer["error"]["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return content[:300].decode("utf-8", "replace").strip()


class Reservation:
    """A hold on an estimated cost, as a context manager: ``with cc.reserve(...) as r:``.

    Enter reserves (:meth:`start`); inside, set ``r.actual`` (the real cost) and ``r.event`` (the
    call's ``llm_call`` fields: ``provider``, ``model``, token counts …; owner keys default to
    the reservation's keys, ``cost`` to the settled cost). A clean exit settles; an exception
    releases, unless ``r.actual`` or ``r.event`` was set (money was spent: it settles). The
    exception still propagates. :meth:`settle` and :meth:`release` close it explicitly.
    """

    def __init__(
        self,
        calls: BudgetCalls,
        cost: Decimal,
        keys: Mapping[str, str],
        *,
        ttl: float | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.calls, self.cost, self.keys, self.ttl = calls, cost, dict(keys), ttl
        self.defaults = dict(defaults or {})
        self.actual: Money | None = None
        self.event: Mapping[str, Any] | None = None
        self.decision: BudgetDecision | None = None
        self.outcome: BudgetDecision | None = None
        self.state: Literal["new", "held", "settled", "released"] = "new"

    @property
    def id(self) -> str | None:
        """The server's hold id (None before :meth:`start`, or when the server was unreachable)."""
        return None if self.decision is None else self.decision.reservation

    def start(self) -> Reservation:
        """Reserve the estimate; raises :class:`BudgetDenied` when refused."""
        if self.state != "new":
            raise RuntimeError(f"reservation already {self.state}")
        decision = self.calls.reserve(self.cost, self.keys, self.ttl)
        if not decision.allow:
            raise BudgetDenied(decision)
        self.decision, self.state = decision, "held"
        return self

    def settle(
        self, cost: Money | None = None, event: Mapping[str, Any] | None = None
    ) -> BudgetDecision:
        """Close the hold with ``cost`` (default ``actual``, else the estimate), posting
        ``event`` (default ``self.event``) with it, once."""
        self._open()
        actual = money(cost if cost is not None else self.actual if self.actual is not None
                       else self.cost)  # fmt: skip
        fields = event if event is not None else self.event
        built = None if fields is None else self.usage_event(fields, actual)
        self.state = "settled"
        try:
            outcome = self.calls.settle(self.id, actual, built) if self.id is not None else None
        except BudgetError:
            self._undelivered(built)  # a lapsed or unknown hold: the usage still counts, once
            raise
        if outcome is None:
            return self._undelivered(built)
        self.outcome = outcome
        return outcome

    def release(self) -> BudgetDecision:
        """Give the hold back unspent."""
        self._open()
        self.state = "released"
        outcome = self.calls.release(self.id) if self.id is not None else None
        self.outcome = outcome or BudgetDecision(True, None, reachable=False)
        return self.outcome

    def usage_event(self, fields: Mapping[str, Any], actual: Decimal) -> Event:
        """The ``llm_call`` event to post: ``fields`` with the reservation's keys as owner keys,
        ``model`` and ``provider`` from them when missing, and ``cost`` = ``actual`` by default."""
        if "type" in fields and "id" in fields:
            return {"cost": str(actual), **fields}
        keys = {**self.defaults, **self.keys}
        named: dict[str, Any] = {k: keys[k] for k in ("model", "provider") if k in keys}
        others = {k: v for k, v in keys.items() if k not in ("model", "provider")}
        return build("llm_call", {**named, "cost": actual, **fields}, others)

    def __enter__(self) -> Reservation:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state != "held":
            return
        spent = exc is None or self.actual is not None or self.event is not None
        try:
            if spent:
                self.settle()
            else:
                self.release()
        except BudgetError as e:
            log.warning("costcouncil: closing reservation %s failed: %s", self.id, e)

    def _open(self) -> None:
        if self.state != "held":
            raise RuntimeError(f"reservation is {self.state}, not held")

    def _undelivered(self, event: Event | None) -> BudgetDecision:
        """The settle could not be delivered: its event goes to the background queue."""
        if event is not None:
            self.calls.fallback(event)
        self.outcome = BudgetDecision(True, None, reachable=False)
        return self.outcome
