"""Live ingest: events in over HTTP, durable at once, visible in figures at once, compacted later.

``POST /v1/events`` hands the body to :meth:`LiveIngest.post_events`:

1. every event is checked alone (``costcouncil.usage.events``); a bad one is rejected with its
   errors, the rest of the batch goes on; an id seen before is a retry and is dropped;
2. the good events are appended to the event log and fsynced — only then is the batch
   acknowledged, so a crash after the 2xx loses nothing (``costcouncil.lake.eventlog``);
3. each ``llm_call`` is priced from the catalog and added to the running totals that
   ``GET /v1/live/costs`` reads, so it is visible as soon as it is acknowledged;
4. a background compactor seals the log every few seconds, turns its events into ``llm`` and
   ``jobs`` rows (source ``events``) in one lake commit, and then drops the sealed segments.

On start the service replays every segment still in the log (events acknowledged but not yet
compacted), so a restart restores both the lake and the totals. Job events become one ``jobs``
row per job: ``job_start`` opens it, heartbeats update it (utilisation and memory go to
``attributes``), ``job_stop`` ends it; a job that had heartbeats and then none for
``stale_job_seconds`` ends at its last heartbeat. Open jobs are stored with ``end`` null and
re-read from the lake on start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.engine.duckdb import connect
from costcouncil.lake.eventlog import EventLog, read_segment
from costcouncil.schema.sql import lit
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.usage import events as ev
from costcouncil.workspace.common.inputs import load_overrides
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.usage import store_tables
from costcouncil.workspace.live.jobs import JobBook
from costcouncil.workspace.live.prices import PICO, LivePrices
from costcouncil.workspace.live.runaway import RunawayOptions
from costcouncil.workspace.live.runaway_watch import RunawayWatch
from costcouncil.workspace.live.totals import Totals, lake_llm_totals, query_all

SOURCE = "events"
_DAY_US = 86_400 * 1_000_000


@dataclass
class LiveOptions:
    """Tuning of the live service (``costcouncil serve`` options)."""

    compact_seconds: float = 2.0
    seen_limit: int = 1_000_000
    batch_keys_limit: int = 10_000
    stale_job_seconds: float = 600.0
    segment_bytes: int = 64 << 20
    runaway: RunawayOptions = field(default_factory=RunawayOptions)


@dataclass
class _Pending:
    """Totals of events in log segments the lake does not hold yet, per segment."""

    by_segment: dict[Path, Totals] = field(default_factory=dict)
    compacting: list[Totals] = field(default_factory=list)


class LiveIngest:
    """The live event service of one workspace."""

    def __init__(self, workspace: Workspace, options: LiveOptions | None = None) -> None:
        self.workspace = workspace
        self.options = options or LiveOptions()
        self.log = EventLog(workspace.root / "events", self.options.segment_bytes)
        self.prices = LivePrices(load_overrides(workspace))
        self.jobs = JobBook(self.options.stale_job_seconds)
        self.runaway = RunawayWatch(workspace, self.prices, self.options.runaway)
        self.lake_totals = Totals()
        self.pending = _Pending()
        self.stats = {"accepted": 0, "duplicates": 0, "rejected": 0, "compacted": 0}
        self._seen: dict[str, None] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._manifest_stamp: tuple[float, int] | None = None
        self.last_event_us = 0

    # -- life cycle -------------------------------------------------------------------------

    def start(self, background: bool = True) -> None:
        """Rebuild totals from the lake, replay the log, and start compacting (and, in the
        background, watching for runaways: docs/events.md#runaway-detection)."""
        self._refresh_lake(force=True)
        self.jobs.load_open(self.workspace)
        if background:
            self.runaway.start()
        for segment in self.log.segments():
            self._replay(segment)
        if background:
            self._thread = threading.Thread(target=self._run, name="cc-compactor", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the compactor after one last compaction."""
        self._stop.set()
        self.runaway.close()
        if self._thread is not None:
            self._thread.join()
        self.compact()
        self.log.close()

    def _run(self) -> None:
        while not self._stop.wait(self.options.compact_seconds):
            try:
                self.compact()
            except Exception:  # the next round retries; the log still holds every event
                import logging

                logging.getLogger(__name__).exception("compaction failed; will retry")

    # -- ingest -----------------------------------------------------------------------------

    def post_events(
        self, body: bytes, content_type: str = "", idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Check, log durably and count one batch; the response body of ``POST /v1/events``."""
        if idempotency_key is not None and idempotency_key in self._batches:
            return self._batches[idempotency_key]
        raw = ev.parse_body(body, content_type)
        now = int(time.time() * 1_000_000)
        good: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for index, event in enumerate(raw):
            checked, errors = ev.check(event, now)
            if checked is None:
                rejected.append(_rejection(index, event, errors))
            else:
                good.append(checked)
        return self._accept(good, rejected, idempotency_key)

    def post_checked(self, events: list[dict[str, Any]], rejected: int) -> dict[str, Any]:
        """Log and count events already checked elsewhere (OTLP spans turned into llm_call)."""
        return self._accept(events, [{"index": -1}] * rejected, None)

    def _accept(
        self, good: list[dict[str, Any]], rejected: list[dict[str, Any]], key: str | None
    ) -> dict[str, Any]:
        with self._lock:
            # ids seen before are retries; an id twice in one batch counts once
            fresh = list({e["id"]: e for e in good if e["id"] not in self._seen}.values())
            duplicates = len(good) - len(fresh)
            response = {"accepted": len(fresh), "duplicates": duplicates, "rejected": rejected}
            data = ev.encode(fresh)
            if key is not None:
                data += orjson.dumps({"type": "_batch", "key": key, "response": response}) + b"\n"
            if data:
                segment = self.log.append(data)
                self._count(segment, fresh)
                self.runaway.feed(fresh)
            if key is not None:
                self._remember_batch(key, response)
            self.stats["accepted"] += len(fresh)
            self.stats["duplicates"] += duplicates
            self.stats["rejected"] += len(rejected)
        return response

    def _count(self, segment: Path, events: Iterable[dict[str, Any]]) -> None:
        """Remember the ids and add the llm calls to the segment's totals.

        Calls are summed per key first and priced once per key (cost is linear in tokens; the
        price is the one in effect at the start of the event's day, as for the lake's totals).
        """
        seen, limit = self._seen, self.options.seen_limit
        sums: dict[tuple[Any, ...], list[int]] = {}
        latest = self.last_event_us
        for e in events:
            seen[e["id"]] = None
            if e["type"] != "llm_call":
                continue
            g = e.get
            cost = g("cost")
            key = (
                e["t"] // _DAY_US, g("provider"), g("model"), g("service_tier") or "standard",
                g("team"), g("project"), g("environment"), g("user"), g("feature"),
                g("customer"), g("api_key_id"), cost is not None,
            )  # fmt: skip
            c = sums.get(key)
            if c is None:
                c = sums[key] = [0, 0, 0, 0, 0, 0, 0]
            c[0] += g("request_count") or 1
            c[1] += g("input_tokens") or 0
            c[2] += g("cached_input_tokens") or 0
            c[3] += g("cache_write_tokens") or 0
            c[4] += g("output_tokens") or 0
            c[5] += g("reasoning_tokens") or 0
            if cost is not None:
                c[6] += int(Decimal(cost) * PICO)
            if e["t"] > latest:
                latest = e["t"]
        self.last_event_us = latest
        totals = self.pending.by_segment.setdefault(segment, Totals())
        for key, c in sums.items():
            pico = c[6] if key[-1] else self._price_group(key, c)
            totals.add(key[:-1], [*c[:6], pico or 0, 0 if pico is not None else c[0]])
        while len(seen) > limit:
            del seen[next(iter(seen))]

    def _remember_batch(self, key: str, response: dict[str, Any]) -> None:
        self._batches[key] = response
        while len(self._batches) > self.options.batch_keys_limit:
            del self._batches[next(iter(self._batches))]

    def _replay(self, segment: Path) -> None:
        events = []
        for record in read_segment(segment):
            if record.get("type") == "_batch":
                self._remember_batch(record["key"], record["response"])
            else:
                events.append(record)
        self._count(segment, events)
        self.runaway.feed(events)

    # -- compaction -------------------------------------------------------------------------

    def compact(self) -> int:
        """Move every sealed segment's events into the lake; returns how many events moved."""
        with self._compact_lock:
            with self._lock:
                segments = self.log.seal()
                moving = [self.pending.by_segment.pop(s, Totals()) for s in segments]
                self.pending.compacting = moving
            if not segments and not self.jobs.has_stale(time.time()):
                return 0
            llm, touched = self._read(segments)
            moved = int(sum(t.num_rows for t in llm))
            tables = self._tables(segments, llm, touched)
            if tables:
                store_tables(self.workspace, tables)
            with self._lock:
                for totals in moving:
                    self.lake_totals.merge(totals)
                self.pending.compacting = []
                self._manifest_stamp = _stamp(self.workspace)
            self.log.drop(segments)
            self.stats["compacted"] += moved
            return moved

    def _read(self, segments: list[Path]) -> tuple[list[pa.Table], set[str]]:
        """The segments' llm calls (as log tables) and the ids of the jobs their events touched."""
        llm: list[pa.Table] = []
        touched: set[str] = set()
        for segment in segments:
            table = read_log_table(segment)
            kinds = table.column("type")
            llm.append(table.filter(pc.equal(kinds, "llm_call")))
            for row in table.filter(pc.is_in(kinds, _JOB_TYPES)).to_pylist():
                touched.add(self.jobs.apply({k: v for k, v in row.items() if v is not None}))
        return llm, touched | self.jobs.close_stale(time.time())

    def _tables(
        self, segments: list[Path], llm: list[pa.Table], touched: set[str]
    ) -> list[tuple[str, pa.Table, str]]:
        name = segments[-1].stem if segments else f"stale-{int(time.time())}"
        tables = []
        calls = pa.concat_tables(llm) if llm else None
        if calls is not None and calls.num_rows:
            tables.append((f"{SOURCE}-{name}", llm_table(calls), "live events"))
        if touched:
            tables.append((f"{SOURCE}-{name}", self.jobs.table(touched), "live events"))
            self.jobs.forget_closed(touched)
        return tables

    # -- figures ----------------------------------------------------------------------------

    def totals(self) -> Totals:
        """Every llm usage total: the lake's plus the events not compacted yet."""
        self._refresh_lake()
        with self._lock:
            merged = self.lake_totals.copy()
            for totals in [*self.pending.compacting, *self.pending.by_segment.values()]:
                merged.merge(totals)
        return merged

    def query(
        self,
        by: Sequence[str],
        filters: dict[str, str],
        start: date,
        end: date,
        teams: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Usage rows over the lake's totals and the pending events (see ``Totals.query``)."""
        self._refresh_lake()
        with self._lock:
            parts = [self.lake_totals, *self.pending.compacting, *self.pending.by_segment.values()]
            return query_all(parts, by, filters, start, end, teams)

    def lake_stamp(self) -> tuple[float, int] | None:
        """Changes whenever the lake's manifest does (for caches of lake-derived figures)."""
        return _stamp(self.workspace)

    def pending_events(self) -> int:
        with self._lock:
            return sum(t.requests() for t in self.pending.by_segment.values())

    def _refresh_lake(self, force: bool = False) -> None:
        """Rebuild the lake's totals when someone else changed the lake (an ingest)."""
        stamp = _stamp(self.workspace)
        if not force and stamp == self._manifest_stamp:
            return
        with self._compact_lock:
            totals = lake_llm_totals(self.workspace, self._price_group)
            with self._lock:
                self.lake_totals = totals
                self._manifest_stamp = stamp

    def _price_group(self, key: tuple[Any, ...], counts: list[int]) -> int | None:
        day_us = key[0] * _DAY_US
        per_token = self.prices.per_token(key[1], key[2], key[3], day_us)
        if per_token is None:
            return None
        return sum(p * c for p, c in zip(per_token, counts[1:6], strict=True))


def _stamp(workspace: Workspace) -> tuple[float, int] | None:
    path = workspace.lake.manifest_path
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime, st.st_size)


def _rejection(index: int, event: Any, errors: list[ev.EventError]) -> dict[str, Any]:
    ident = event.get("id") if isinstance(event, dict) else None
    return {"index": index, "id": ident, "errors": [e.to_dict() for e in errors]}


_JOB_TYPES = pa.array(["job_start", "job_heartbeat", "job_stop"])


def read_log_table(path: Path) -> pa.Table:
    """A log segment as a table of :data:`~costcouncil.usage.events.LOG_SCHEMA`.

    DuckDB's JSON reader does the parsing (about twice Arrow's speed here); a segment it refuses
    (a torn last line after a crash) is read record by record instead, keeping every whole line.
    """
    if path.stat().st_size == 0:
        return ev.LOG_SCHEMA.empty_table()
    con = connect()
    try:
        return (
            con.sql(
                f"SELECT * FROM read_json({lit(str(path))}, format = 'newline_delimited', "
                f"columns = {_LOG_COLUMNS})"
            )
            .to_arrow_table()
            .cast(ev.LOG_SCHEMA)
        )
    except duckdb.Error:
        return pa.Table.from_pylist(list(read_segment(path)), ev.LOG_SCHEMA)
    finally:
        con.close()


_LOG_COLUMNS = (
    "{"
    + ", ".join(
        f"{lit(f.name)}: {lit({'string': 'VARCHAR', 'int64': 'BIGINT', 'double': 'DOUBLE'}[str(f.type)])}"
        for f in ev.LOG_SCHEMA
    )
    + "}"
)


def llm_table(calls: pa.Table) -> pa.Table:
    """``llm`` rows (source ``events``) of ``llm_call`` events in the log's schema."""
    n = calls.num_rows
    columns: dict[str, Any] = {
        "request_id": calls.column("id"),
        "source": pa.array([SOURCE] * n, pa.string()),
        "time": calls.column("t").cast(LLM_SCHEMA.field("time").type),
        "cost": calls.column("cost").cast(LLM_SCHEMA.field("cost").type),
        "request_count": pc.fill_null(calls.column("request_count"), 1),
    }
    for f in LLM_SCHEMA:
        if f.name not in columns:
            columns[f.name] = calls.column(f.name)
    return pa.table([columns[f.name] for f in LLM_SCHEMA], schema=LLM_SCHEMA)


__all__ = ["JOBS_SCHEMA", "LiveIngest", "LiveOptions", "llm_table"]
