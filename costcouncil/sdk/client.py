"""The SDK client: record usage events now, deliver them in batches from a background thread.

Recording never blocks on the network and never raises for a delivery problem: an event is
encoded at once (so later changes to a dict you passed do not leak in) and queued. A daemon
thread sends a batch when ``batch_size`` events wait, when the oldest has waited
``flush_interval`` seconds, or on :meth:`CostCouncil.flush`. A batch that meets a network error,
408, 429 or 5xx is resent with the same ``Idempotency-Key`` after ``Retry-After`` or an
exponential backoff with jitter; 413 halves the batch size; 400 and other 4xx answers reject the
batch; 401/403 drop it with one error log. While the server is unreachable at most
``max_buffer`` events are held and the oldest are dropped first, counted in :attr:`stats` and
logged (``logging`` name ``costcouncil.sdk``).

After ``os.fork()`` the child starts with an empty queue and its own thread and connections (the
parent keeps and sends what it had). Open clients are closed at interpreter exit, waiting at most
``shutdown_timeout`` seconds for delivery.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import weakref
from dataclasses import dataclass
from time import monotonic
from typing import Any, Unpack
from urllib.parse import urlsplit

import orjson

from costcouncil.sdk.budgets import BudgetCalls, BudgetDecision, Failure, Money, Reservation, money
from costcouncil.sdk.buffer import Buffer
from costcouncil.sdk.events import (
    Event,
    HeartbeatFields,
    JobStartFields,
    LlmCallFields,
    ResponseFields,
    Time,
    build,
    new_id,
)
from costcouncil.sdk.job import Job
from costcouncil.sdk.openai import openai_usage
from costcouncil.sdk.transport import Outcome, Transport

log = logging.getLogger("costcouncil.sdk")

#: The longest ``Retry-After`` honoured, in seconds.
MAX_RETRY_AFTER = 600.0
_DROP_LOG_EVERY = 10.0
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


@dataclass(frozen=True)
class Stats:
    """Counters since the client was made.

    Attributes:
        sent: events the server accepted as new.
        duplicates: events the server already had (a resend after a lost answer).
        rejected: events the server refused (per-event errors, 400, an event too large alone).
        dropped: events never delivered: pushed out of a full buffer, refused for auth,
            not encodable, recorded after close, or still queued at close.
        retries: resends of a batch after a retryable failure.
        batches: batches the server answered with 2xx.
        queued: events waiting now.
    """

    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped: int = 0
    retries: int = 0
    batches: int = 0
    queued: int = 0


@dataclass
class _Retry:
    start: int
    count: int
    key: str
    attempt: int


class CostCouncil:
    """A connection to a CostCouncil server's live event endpoint.

    Args:
        base_url: the server, ``http(s)://host:port`` (events go to ``/v1/events``).
        token: an API token, sent as ``Authorization: Bearer``.
        batch_size: most events per request.
        flush_interval: longest wait, in seconds, before a partial batch is sent.
        max_buffer: most events held while the server is unreachable; the oldest go first.
        defaults: owner keys (``team``, ``project`` …) for every event that has them; other
            keys go into ``attributes`` of ``llm_call`` and ``job_start`` events.
        timeout: HTTP timeout per request, in seconds.
        backoff: first retry delay, in seconds; doubled per attempt up to ``max_backoff``.
        shutdown_timeout: longest wait for delivery at :meth:`close` and interpreter exit.
        budget_failure: what :meth:`check` and :meth:`reserve` decide when the server cannot be
            reached, times out or answers 5xx: ``"closed"`` (default) denies — a hard budget
            is a promise that spend stops, and an outage must not silently lift it; ``"open"``
            allows (availability first) and logs a warning at most once a minute.
        budget_timeout: HTTP timeout of an enforcement call, in seconds (it is on the caller's
            path, so shorter than ``timeout``).
    """

    _buffer: Buffer
    _transport: Transport
    _thread: threading.Thread | None
    _stop: threading.Event
    _flush_to: int
    _limit: int
    _retry: _Retry | None
    _budgets: BudgetCalls

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        defaults: dict[str, Any] | None = None,
        timeout: float = 10.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        shutdown_timeout: float = 2.0,
        budget_failure: Failure = "closed",
        budget_timeout: float = 2.0,
    ) -> None:
        _check_url(base_url)
        self.base_url = base_url
        self.defaults = dict(defaults or {})
        self.batch_size = max(1, batch_size)
        self.flush_interval = flush_interval
        self.backoff, self.max_backoff = backoff, max_backoff
        self.shutdown_timeout = shutdown_timeout
        self._token, self._timeout = token, timeout
        self.budget_failure, self.budget_timeout = budget_failure, budget_timeout
        self._counts = {k: 0 for k in ("sent", "duplicates", "rejected", "retries", "batches")}
        self._logged: dict[str, float] = {}
        self._closed = False
        self._reset(max(max_buffer, self.batch_size))
        _LIVE.add(self)

    # -- recording ---------------------------------------------------------------------------

    def llm_call(self, *, model: str, provider: str, **fields: Unpack[LlmCallFields]) -> str:
        """Record one LLM call (or ``request_count`` calls) to ``provider``'s ``model``;
        returns the event id."""
        return self._record("llm_call", {"model": model, "provider": provider, **fields})

    def record_openai(self, response: Any, **fields: Unpack[ResponseFields]) -> str | None:
        """Record the call that produced an OpenAI-compatible ``response`` (object or dict).

        Token counts, model, service tier, time and response id come from the response
        (:mod:`costcouncil.sdk.openai`); ``fields`` add owner keys or override. A response
        without usage (a stream without ``include_usage``) is logged and skipped: ``None``.
        """
        usage = openai_usage(response)
        if usage is None:
            self._log_once("no-usage", logging.WARNING, "response has no model or usage; skipped")
            return None
        attributes = {**usage.pop("attributes", {}), **fields.pop("attributes", {})}
        merged: dict[str, Any] = {"provider": "openai", **usage, **fields}
        return self._record("llm_call", {**merged, "attributes": attributes})

    def job_start(self, job_id: str, **fields: Unpack[JobStartFields]) -> str:
        """Record that job ``job_id`` started; returns the event id."""
        return self._record("job_start", {"job_id": job_id, **fields})

    def job_heartbeat(self, job_id: str, **fields: Unpack[HeartbeatFields]) -> str:
        """Record that job ``job_id`` is running (opens it if it was never started)."""
        return self._record("job_heartbeat", {"job_id": job_id, **fields})

    def job_stop(self, job_id: str, *, status: str = "succeeded", time: Time | None = None) -> str:
        """Record that job ``job_id`` ended with ``status`` (succeeded, failed, killed)."""
        return self._record("job_stop", {"job_id": job_id, "status": status, "time": time})

    def job(
        self,
        job_id: str | None = None,
        *,
        run_id: str | None = None,
        gpus: float | None = None,
        gpu_type: str | None = None,
        **fields: Unpack[JobStartFields],
    ) -> Job:
        """A job context manager: ``job_start`` on enter, ``job_stop`` on exit.

        The job id is ``job_id``, else ``run_id``, else a new uuid; ``run_id`` also fills the
        ``run`` owner key; ``gpus`` and ``gpu_type`` are the accelerator count and type.
        """
        start: dict[str, Any] = {"run": run_id, **fields}
        if gpus is not None:
            start["accelerator_count"] = gpus
        if gpu_type is not None:
            start["accelerator_type"] = gpu_type
        return Job(self, job_id or run_id or new_id(), start)

    # -- budgets -----------------------------------------------------------------------------

    def check(self, cost: Money, **keys: str) -> BudgetDecision:
        """Would spending ``cost`` on the scope ``keys`` (``team``, ``model`` …, after the string
        ``defaults``) be allowed? Nothing is held; a denial is ``allow=False``, not an error."""
        return self._budgets.check(money(cost), self._scope(keys))

    def reserve(self, cost: Money, *, ttl: float | None = None, **keys: str) -> Reservation:
        """A :class:`~costcouncil.sdk.budgets.Reservation` of ``cost`` on the scope ``keys``
        for ``ttl`` seconds (server default 300): ``with cc.reserve(...) as r:`` reserves on
        enter (:class:`~costcouncil.sdk.budgets.BudgetDenied` when refused) and settles or
        releases on exit."""
        return Reservation(self._budgets, money(cost), self._scope(keys), ttl=ttl,
                           defaults=self.defaults)  # fmt: skip

    def _scope(self, keys: dict[str, str]) -> dict[str, str]:
        scope = {k: v for k, v in self.defaults.items() if isinstance(v, str)}
        return {**scope, **keys}

    # -- delivery ----------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything recorded so far; True when it was all answered within ``timeout``."""
        with self._buffer.cond:
            target = self._buffer.tail
            if self._buffer.head >= target:
                return True
            self._flush_to = max(self._flush_to, target)
            self._ensure_worker()
            self._buffer.cond.notify_all()
            return self._buffer.cond.wait_for(lambda: self._buffer.head >= target, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued (waiting at most ``timeout``, default ``shutdown_timeout``
        seconds), stop the thread and drop what is left. Later events are dropped."""
        with self._buffer.cond:
            if self._closed:
                return
            self._closed = True
        self.flush(self.shutdown_timeout if timeout is None else timeout)
        self._stop.set()
        with self._buffer.cond:
            self._buffer.cond.notify_all()
            thread, left = self._thread, self._buffer.drop_all()
            self._buffer.dropped += left
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        if left:
            log.warning("costcouncil: closed with %d events not delivered (dropped)", left)
        self._transport.close()
        self._budgets.close()

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivery counters."""
        with self._buffer.cond:
            return Stats(**self._counts, dropped=self._buffer.dropped, queued=len(self._buffer))

    def __enter__(self) -> CostCouncil:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _reset(self, capacity: int) -> None:
        """Fresh queue, thread state and connections (at start, and in a forked child)."""
        self._buffer = Buffer(capacity)
        self._transport = Transport(self.base_url, self._token, self._timeout)
        self._thread = None
        self._stop = threading.Event()
        self._flush_to = 0
        self._limit = self.batch_size
        self._retry = None
        self._budgets = BudgetCalls(self.base_url, self._token, self.budget_timeout,
                                    self.budget_failure, self._queue)  # fmt: skip

    def _after_fork(self) -> None:
        dropped = self._buffer.dropped
        self._reset(self._buffer.capacity)
        self._buffer.dropped = dropped

    def _record(self, kind: str, fields: dict[str, Any]) -> str:
        event = build(kind, fields, self.defaults)
        self._queue(event)
        return str(event["id"])

    def _queue(self, event: Event) -> None:
        try:
            line = orjson.dumps(event, default=str, option=_JSON_OPTIONS)
        except orjson.JSONEncodeError as e:
            self._count_drop(f"event not encodable as JSON ({e}); dropped")
        else:
            self._enqueue(line)

    def _enqueue(self, line: bytes) -> None:
        with self._buffer.cond:
            closed, pushed_out = self._closed, False
            if closed:
                self._buffer.dropped += 1
            else:
                pushed_out = self._buffer.put(line)
                self._ensure_worker()
                if len(self._buffer) in (1, self._limit):
                    self._buffer.cond.notify_all()
        if closed:
            self._log_once("closed", logging.WARNING, "event recorded after close(); dropped")
        elif pushed_out:
            self._log_drops()

    def _count_drop(self, message: str) -> None:
        with self._buffer.cond:
            self._buffer.dropped += 1
        self._log_once("encode", logging.ERROR, message)

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="costcouncil-sdk", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            start, lines, key = batch
            try:
                outcome = self._transport.post(lines, key)
            except Exception as e:  # never let the thread die
                log.exception("costcouncil: unexpected error sending events")
                outcome = Outcome("retry", message=repr(e))
            if (delay := self._settle(start, lines, key, outcome)) > 0:
                self._stop.wait(delay)

    def _due(self) -> bool:
        size = len(self._buffer)
        if self._stop.is_set() or size >= self._limit or (size and self._retry is not None):
            return True
        if self._buffer.head < self._flush_to or self._closed:
            return True
        return size > 0 and monotonic() >= self._buffer.oldest_at + self.flush_interval

    def _next_batch(self) -> tuple[int, list[bytes], str] | None:
        with self._buffer.cond:
            while not self._due():
                wait = self._buffer.oldest_at + self.flush_interval - monotonic()
                self._buffer.cond.wait(max(wait, 0.001) if len(self._buffer) else None)
            if self._stop.is_set() or not len(self._buffer):
                return None
            retry = self._retry
            if retry is not None and retry.start == self._buffer.head:
                start, lines = self._buffer.peek(retry.count)
                if len(lines) == retry.count:
                    return start, lines, retry.key
            start, lines = self._buffer.peek(self._limit)
            return start, lines, new_id()

    def _settle(self, start: int, lines: list[bytes], key: str, outcome: Outcome) -> float:
        """Account for one answer; returns how long to wait before the next attempt."""
        final = outcome.kind != "retry" and (outcome.kind != "split" or len(lines) == 1)
        if final:
            self._log_outcome(outcome, len(lines))
        with self._buffer.cond:
            if not final:
                self._buffer.release()
                return self._again(start, lines, key, outcome)
            self._buffer.settle(start, len(lines))
            self._retry = None
            self._count(outcome, len(lines))
            self._buffer.cond.notify_all()
        return 0.0

    def _again(self, start: int, lines: list[bytes], key: str, outcome: Outcome) -> float:
        if outcome.kind == "split":
            self._limit = max(1, len(lines) // 2)
            self._retry = None
            self._log_once(
                "split", logging.WARNING, f"{outcome.message}; batch size now {self._limit}"
            )
            return 0.0
        attempt = self._retry.attempt + 1 if self._retry and self._retry.key == key else 1
        self._retry = _Retry(start, len(lines), key, attempt)
        self._counts["retries"] += 1
        log.info("costcouncil: %s; retry %d of a batch of %d", outcome.message, attempt, len(lines))
        if outcome.retry_after is not None:
            return min(outcome.retry_after, MAX_RETRY_AFTER)
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _count(self, outcome: Outcome, size: int) -> None:
        if outcome.kind == "ok":
            self._counts["batches"] += 1
            self._counts["rejected"] += len(outcome.rejected)
            self._counts["duplicates"] += outcome.duplicates
            unread = size - len(outcome.rejected)  # a 2xx answer without counts
            self._counts["sent"] += unread if outcome.message else outcome.accepted
        elif outcome.kind == "auth":
            self._buffer.dropped += size
        else:
            self._counts["rejected"] += size

    def _log_outcome(self, outcome: Outcome, size: int) -> None:
        if outcome.kind == "auth":
            self._log_once("auth", logging.ERROR, f"{outcome.message}; {size} events dropped")
        elif outcome.kind in ("refused", "split"):
            log.error("costcouncil: server refused a batch of %d events: %s", size, outcome.message)
        elif outcome.rejected:
            log.warning(
                "costcouncil: server rejected %d of %d events: %s",
                len(outcome.rejected),
                size,
                "; ".join(_describe(r) for r in outcome.rejected[:3]),
            )

    def _log_drops(self) -> None:
        now = monotonic()
        if now - self._logged.get("drops", -_DROP_LOG_EVERY) >= _DROP_LOG_EVERY:
            self._logged["drops"] = now
            log.warning(
                "costcouncil: buffer full (max_buffer=%d); oldest events dropped, %d so far",
                self._buffer.capacity,
                self._buffer.dropped,
            )

    def _log_once(self, what: str, level: int, message: str) -> None:
        if what not in self._logged:
            self._logged[what] = monotonic()
            log.log(level, "costcouncil: %s", message)
        else:
            log.debug("costcouncil: %s", message)


def _describe(rejection: dict[str, Any]) -> str:
    errors = rejection.get("errors") or []
    detail = ", ".join(
        f"{e.get('field')}={e.get('value')!r}: {e.get('message')}"
        for e in errors
        if isinstance(e, dict)
    )
    return f"event {rejection.get('id') or rejection.get('index')} ({detail or 'no detail'})"


def _check_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be http(s)://host[:port], not {base_url!r}")


_LIVE: weakref.WeakSet[CostCouncil] = weakref.WeakSet()


def _close_all() -> None:
    for client in list(_LIVE):
        client.close()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
