"""The runaway watcher of the live service: prices events, checks streams, dispatches alerts.

:meth:`RunawayWatch.feed` is called with every batch the service acknowledges (and every batch
it replays from its log at start); it only hands the batch over, so ingest pays almost nothing.
A thread of its own then, every ``check_seconds``:

1. drains the batches, sums the ``llm_call`` events per team, model and second, prices each sum
   (the cost the calls carried, else catalog prices of their day, as ``/v1/live/costs`` does;
   unpriced calls are not watched) and observes it in its streams
   (:class:`~costcouncil.workspace.live.runaway.Runaways`);
2. checks the active streams and turns each opened or closed episode into an
   :class:`~costcouncil.notify.message.Alert`;
3. hands the alerts to a sender thread, which runs
   :func:`~costcouncil.workspace.notify.dispatch.dispatch` with the name of the team's hourly
   monitor (``grain`` hour, scope ``team=…``) when there is one, else None (subscriptions to every
   monitor still hear it), and the team (untagged spend: no team). Open episodes are dispatched
   again every ``retry_seconds``: dedup sends nothing to whoever heard, and retries a failure.

Before its first round the thread learns history from the lake: the ``llm`` rows of the last
``history_hours`` completed hours, summed per team, model and hour, priced like live events and
spread over each hour (``Runaways.seed``). A failure anywhere is logged and never reaches ingest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from costcouncil.anomaly.rate import HOUR_S
from costcouncil.appdb.alerts import Monitor
from costcouncil.appdb.db import Database, open_database, resolve_url
from costcouncil.engine.duckdb import connect
from costcouncil.notify.message import Alert
from costcouncil.schema.usage import LLM_SCHEMA
from costcouncil.workspace.common.inputs import lake_view, latest_usage
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.prices import PICO, LivePrices
from costcouncil.workspace.live.runaway import (
    UNTAGGED,
    Change,
    RunawayOptions,
    Runaways,
    to_alert,
)
from costcouncil.workspace.notify.deliver import deliver
from costcouncil.workspace.notify.dispatch import Send, dispatch

__all__ = ["RunawayWatch"]

log = logging.getLogger(__name__)
_DAY_US = 86_400 * 1_000_000
_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens",
           "reasoning_tokens")  # fmt: skip
#: (team, model, time in seconds, amount) of one priced call.
Priced = tuple[str | None, str, float, float]
#: One alert to dispatch: the alert, its monitor's name, its team.
AlertIn = tuple[Alert, str | None, str | None]


class RunawayWatch:
    """Watches the live service's events for runaways (see the module docstring)."""

    def __init__(
        self,
        workspace: Workspace,
        prices: LivePrices,
        options: RunawayOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
        send: Send = deliver,
    ) -> None:
        self.workspace, self.prices = workspace, prices
        self.options = options or RunawayOptions()
        self.book = Runaways(self.options)
        self.clock, self.send = clock, send
        self.stats = {"observed": 0, "unpriced": 0, "alerts": 0, "dispatch_failures": 0}
        self._inbox: list[list[dict[str, Any]]] = []
        self._collecting = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sender: ThreadPoolExecutor | None = None
        self._db: Database | None = None
        self._per_token: dict[tuple[str, str, str, int], tuple[int, ...] | None] = {}
        self._retried: dict[str, float] = {}

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Collect from now on; seed and check in a thread of its own."""
        self._collecting = True
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="cc-runaway-send")
        self._thread = threading.Thread(target=self._run, name="cc-runaway", daemon=True)
        self._thread.start()

    def open(self, now: float) -> int:
        """Collect from now on and seed history as of ``now``, without a thread (tests, tools);
        how many hourly sums were seeded."""
        self._collecting = True
        return self.seed(now)

    def close(self) -> None:
        """Stop checking; wait for messages being sent; release the database."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._sender is not None:
            self._sender.shutdown(wait=True)
        if self._db is not None:
            self._db.close()

    def _run(self) -> None:
        self._guarded(lambda: self.seed(self.clock()), "seeding runaway history")
        while not self._stop.wait(self.options.check_seconds):
            self._guarded(self._round, "runaway check")

    def _round(self) -> None:
        now = self.clock()
        alerts = self.step(now) + self._again(now)
        if alerts and self._sender is not None:
            self._sender.submit(self._guarded, lambda: self.dispatch(alerts, now), "dispatch")

    @staticmethod
    def _guarded(work: Callable[[], object], what: str) -> None:
        try:
            work()
        except Exception:
            log.exception("%s failed; the next round goes on", what)

    # -- events -----------------------------------------------------------------------------

    def feed(self, events: list[dict[str, Any]]) -> None:
        """Hand over a batch of acknowledged events (cheap: priced later, in the thread)."""
        if self._collecting and events:
            with self._lock:
                self._inbox.append(events)

    def step(self, now: float) -> list[AlertIn]:
        """Observe what was fed, check the streams at ``now``; the alerts of what changed."""
        with self._lock:
            batches, self._inbox = self._inbox, []
        priced = [p for batch in batches for p in self._priced(batch)]
        self.stats["observed"] += self.book.observe_all(priced, now)
        alerts = [self._alert(c) for c in self.book.check(now)]
        self.stats["alerts"] += len(alerts)
        return alerts

    def _priced(self, events: Iterable[dict[str, Any]]) -> list[Priced]:
        """The calls summed per team, model, provider, tier and second, priced once per sum.

        One observation per second and stream keeps the rule as sharp: a bucket of b seconds
        leaves the Poisson term of the limit under the factor term while
        b ≤ window·(factor−1)²/z² (6.7 s with the defaults), and cost is linear in tokens.
        """
        sums: dict[tuple[Any, ...], list[Any]] = {}
        for e in events:
            if e["type"] != "llm_call":
                continue
            g = e.get
            key = (g("team"), e["model"], e["provider"], g("service_tier"), e["t"] // 1_000_000)
            c = sums.get(key)
            if c is None:
                c = sums[key] = [0, 0, 0, 0, 0, 0.0, 0, 0]
            cost = g("cost")
            if cost is None:
                c[0] += g("input_tokens") or 0
                c[1] += g("cached_input_tokens") or 0
                c[2] += g("cache_write_tokens") or 0
                c[3] += g("output_tokens") or 0
                c[4] += g("reasoning_tokens") or 0
                c[7] += 1
            else:
                c[5] += float(cost)
            if e["t"] > c[6]:
                c[6] = e["t"]
        return [p for key, c in sums.items() for p in self._priced_sum(key, c)]

    def _priced_sum(self, key: tuple[Any, ...], c: list[Any]) -> list[Priced]:
        team, model, provider, tier, _ = key
        amount = c[5]
        if c[7]:
            per_token = self._prices(provider, model, tier, c[6])
            if per_token is None:
                self.stats["unpriced"] += c[7]
            else:
                amount += sum(p * n for p, n in zip(per_token, c[:5], strict=True)) / PICO
        return [(team, model, c[6] / 1e6, amount)] if amount > 0 else []

    def _prices(
        self, provider: str, model: str, tier: str | None, t_us: int
    ) -> tuple[int, ...] | None:
        """Per-token pico prices of the event's day (as the live totals price)."""
        key = (provider, model, tier or "standard", t_us // _DAY_US)
        if key not in self._per_token:
            self._per_token[key] = self.prices.per_token(key[0], key[1], key[2], key[3] * _DAY_US)
        return self._per_token[key]

    # -- history ----------------------------------------------------------------------------

    def seed(self, now: float) -> int:
        """Learn the completed hours of the last ``history_hours`` from the lake's llm rows."""
        current = int(now // HOUR_S)
        rows = _hourly_llm(self.workspace, current - self.options.history_hours, current)
        seeded = 0
        for team, model, provider, tier, hour, with_cost, requests, cost, *tokens in rows:
            amount = self._hour_amount(provider, model, tier, hour, with_cost, cost, tokens)
            if amount is not None and amount > 0:
                self.book.seed(team, model, hour, amount, int(requests))
                seeded += 1
        self.book.prune(now)
        return seeded

    def _hour_amount(
        self, provider: str, model: str, tier: str, hour: int, with_cost: bool, cost: Any,
        tokens: list[Any],
    ) -> float | None:  # fmt: skip
        if with_cost:
            return float(cost)
        per_token = self._prices(provider, model, tier, hour * HOUR_S * 1_000_000)
        if per_token is None:
            return None
        return sum(p * int(c) for p, c in zip(per_token, tokens, strict=True)) / PICO

    # -- alerts -----------------------------------------------------------------------------

    def _alert(self, change: Change) -> AlertIn:
        currency = self.workspace.config.currency
        alert = to_alert(change, currency, self.options.base_url)
        if change.status == "resolved":
            self._retried.pop(change.episode.id, None)
        team = change.episode.stream.team
        return alert, None, None if team == UNTAGGED else team

    def _again(self, now: float) -> list[AlertIn]:
        """Open episodes not dispatched for ``retry_seconds`` (dedup: a retry, not a repeat)."""
        out = []
        for episode in self.book.open.values():
            last = self._retried.setdefault(episode.id, now)
            if now - last >= self.options.retry_seconds:
                self._retried[episode.id] = now
                out.append(self._alert(Change(episode, "new")))
        return out

    def dispatch(self, alerts: list[AlertIn], now: float) -> int:
        """Dispatch ``alerts`` at ``now`` with their teams' hourly monitors; rows logged."""
        db = self._database()
        named = [(alert, _hourly_monitor(db, team), team) for alert, _, team in alerts]
        try:
            rows = dispatch(db, named, now=datetime.fromtimestamp(now, UTC), send=self.send)
        except Exception:
            self.stats["dispatch_failures"] += 1
            raise
        return len(rows)

    def _database(self) -> Database:
        if self._db is None:
            config = self.workspace.config
            self._db = open_database(resolve_url(config.database, self.workspace.root))
        return self._db


def _hourly_monitor(db: Database, team: str | None) -> str | None:
    """The name of the enabled hourly monitor of ``team`` (the first by name), if any."""
    if team is None:
        return None
    query = (
        select(Monitor.name)
        .where(Monitor.grain == "hour", Monitor.scope == f"team={team}")
        .where(Monitor.disabled_at.is_(None))
        .order_by(Monitor.name)
    )
    with db.session() as s:
        return s.scalars(query).first()


def _hourly_llm(workspace: Workspace, first: int, end: int) -> list[tuple[Any, ...]]:
    """The lake's llm usage of hours [first, end) (hours since the epoch), each request once:
    team, model, provider, tier, hour, whether cost was given, requests, cost, the five token
    counts — ordered by hour."""
    files = [str(workspace.lake.root / f) for f in workspace.lake.read().data_files("llm")]
    if not files:
        return []
    con = connect()
    try:
        lake_view(con, "llm_all", files)
        hour = "CAST(floor(epoch_us(time) / 3600000000) AS BIGINT)"
        sums = ", ".join(f"sum(coalesce({k}, 0))" for k in _TOKENS)
        return con.execute(
            f"SELECT coalesce(team, '{UNTAGGED}'), model, provider, "
            f"coalesce(service_tier, 'standard'), {hour} AS h, cost IS NOT NULL, "
            f"sum(coalesce(request_count, 1)), sum(cost), {sums} "
            f"FROM ({latest_usage('llm_all', LLM_SCHEMA, 'request_id')}) AS u "
            f"WHERE {hour} >= ? AND {hour} < ? GROUP BY ALL ORDER BY h",
            [first, end],
        ).fetchall()
    finally:
        con.close()
