"""Runaway detection: stream bookkeeping with explicit times, then the watcher of a real live
service seeded from its lake, dispatching to a real signature-verifying webhook on loopback."""

from __future__ import annotations

import json
import time
from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.notify.retry import RetryPolicy
from costcouncil.workspace.allocate.series import Scope
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.runaway import (
    Change,
    RunawayOptions,
    Runaways,
    Stream,
    to_alert,
)
from costcouncil.workspace.live.service import LiveIngest, LiveOptions
from costcouncil.workspace.notify.deliver import deliver
from costcouncil.workspace.notify.subscriptions import Subscriptions
from tests.workspace.notify.factories import SECRET
from tests.workspace.notify.org import receiver
from tests.workspace.notify.peers import HttpPeer, http_peer

T0 = datetime(2026, 3, 2, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
DAY = 86_400.0
PER_HOUR = 600.0  # calls per hour of a normal stream
AMOUNT = 0.05  # mean spend per call: 30 USD an hour
NORMAL = [("search", "gpt-4o"), ("search", "gpt-4o-mini"), ("vision", "gpt-4o")]


def poisson(rng: np.random.Generator, start: float, end: float, per_hour: float) -> np.ndarray:
    """Poisson event times (seconds since the epoch) in [start, end)."""
    n = rng.poisson(per_hour * (end - start) / 3600)
    return np.sort(rng.uniform(start, end, n))


def calls(
    rng: np.random.Generator, stream: tuple[str, str], start: float, end: float, rate: float
) -> list[tuple[str | None, str, float, float]]:
    team, model = stream
    times = poisson(rng, start, end, rate)
    return [(team, model, float(t), float(AMOUNT * rng.uniform(0.5, 1.5))) for t in times]


def learned(rng: np.random.Generator, until: float) -> Runaways:
    """Every normal stream after a day of normal traffic up to ``until``."""
    book = Runaways()
    book.observe_all(
        [c for s in NORMAL for c in calls(rng, s, until - DAY, until, PER_HOUR)], until
    )
    return book


def run(
    book: Runaways, events: list[tuple[str | None, str, float, float]], start: float, end: float
) -> list[tuple[float, Change]]:
    """Feed ``events`` in time as they arrive, checking every 2 s; every change and its time."""
    events = sorted(events, key=lambda e: e[2])
    times = [e[2] for e in events]
    out, i = [], 0
    for now in np.arange(start, end, 2.0):
        j = bisect_right(times, now)
        book.observe_all(events[i:j], float(now))
        i = j
        out += [(float(now), c) for c in book.check(float(now))]
    return out


def test_a_tenfold_runaway_is_one_episode_found_within_a_minute_and_resolved_once() -> None:
    rng = np.random.default_rng(1)
    start = T0 + DAY + 1234.5
    book = learned(rng, start)
    end = start + 600
    normal = [c for s in NORMAL for c in calls(rng, s, start, start + 1800, PER_HOUR)]
    loop = calls(rng, NORMAL[0], start, end, 9 * PER_HOUR)  # with its normal calls: 10x
    changes = run(book, normal + loop, start, start + 1800)
    assert [(c.episode.stream, c.status) for _, c in changes] == [
        (Stream("search", "gpt-4o"), "new"),
        (Stream("search", "gpt-4o"), "resolved"),
    ]
    (found, new), (gone, resolved) = changes
    assert found - loop[0][2] <= 60 and new.episode.start >= start - 60
    assert resolved.episode.id == new.episode.id == f"live-search-gpt-4o-{_stamp(new)}"
    assert end <= gone <= end + RunawayOptions().quiet_seconds + 60
    last = resolved.episode.end  # the last check whose window still held the loop
    assert last is not None and end - 2 <= last <= end + RunawayOptions().window + 2


def test_normal_traffic_opens_nothing_over_a_day() -> None:
    rng = np.random.default_rng(2)
    book = learned(rng, T0 + DAY)
    normal = [c for s in NORMAL for c in calls(rng, s, T0 + DAY, T0 + 2 * DAY, PER_HOUR)]
    assert run(book, normal, T0 + DAY, T0 + 2 * DAY) == []


def test_a_team_runaway_spread_over_new_models_is_told_once_for_the_team() -> None:
    rng = np.random.default_rng(3)
    start = T0 + DAY + 600
    book = learned(rng, start)
    # ten new models at 20 USD/h each: every one under its own floor's limit, the team at 7x
    spread = [
        c for m in range(10) for c in calls(rng, ("search", f"m{m}"), start, start + 300, 400)
    ]
    changes = run(book, spread, start, start + 120)
    assert [(c.episode.stream, c.status) for _, c in changes] == [(Stream("search", None), "new")]
    alert = to_alert(changes[0][1], "USD", "http://cc.example")
    assert alert.id.startswith("live-search-all-") and "model=all" in alert.title


def test_the_alert_says_what_runs_away_and_at_what_rate() -> None:
    rng = np.random.default_rng(4)
    start = T0 + DAY + 100
    book = learned(rng, start)
    loop = calls(rng, NORMAL[2], start, start + 120, 19 * PER_HOUR)
    ((_, change),) = run(book, loop, start, start + 120)
    alert = to_alert(change, "EUR", "http://cc.example/")
    first = change.episode.first
    assert alert.kind == "anomaly" and alert.status == "new" and alert.scope == "team=vision"
    assert alert.title.startswith("runaway: team=vision model=gpt-4o spending ")
    assert alert.title.endswith(f"EUR/h ({first.ratio:.0f}× usual)") and first.ratio > 3
    assert 20 <= first.expected <= 40  # learned: about 30 an hour
    assert alert.impact == Decimal(repr(round(first.rate - first.expected, 2))).quantize(
        Decimal("0.01")
    )
    assert alert.end is None and alert.start == datetime.fromtimestamp(change.episode.start, UTC)
    assert alert.link == "http://cc.example/v1/live/costs?by=day&team=vision&model=gpt-4o"


def test_a_first_ever_stream_needs_a_burst_well_above_the_floor() -> None:
    book = Runaways(RunawayOptions(floor=100.0))
    quiet = [("new", "gpt-4o", T0 + s, 0.5) for s in range(0, 60, 2)]  # 900/h: above the floor
    assert run(book, quiet, T0, T0 + 60) != []
    calm = Runaways(RunawayOptions(floor=1000.0))
    assert run(calm, quiet, T0, T0 + 60) == []


def test_seeding_an_hour_spreads_it_without_blunting_the_rule() -> None:
    options = RunawayOptions()
    assert options.seed_per_hour == 540
    book = Runaways(options)
    for hour in range(24):
        book.seed("search", "gpt-4o", int(T0 // 3600) + hour, 30.0, 5000)
    monitor = book.monitors[Stream("search", "gpt-4o")]
    now = datetime.fromtimestamp(T0 + DAY + 5, UTC)
    assert monitor.expected(now) == pytest.approx(30.0)
    per_window = 30.0 * options.window / 3600
    assert monitor.limit(30.0) == pytest.approx(options.factor * per_window)


def test_a_backfill_behind_live_traffic_is_learned_in_bounded_memory_and_not_a_runaway() -> None:
    rng = np.random.default_rng(5)
    now = T0 + DAY
    book = learned(rng, now)
    live = calls(rng, NORMAL[0], now, now + 60, PER_HOUR)
    run(book, live, now, now + 60)
    backfill = calls(rng, NORMAL[1], T0 - DAY, T0, 750)  # 18,000 late calls
    assert book.observe_all(backfill, now + 60) == len(backfill)
    assert book.check(now + 62) == []
    assert len(book.monitors[Stream("search", "gpt-4o-mini")]._recent) < 100


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 400)), min_size=1, max_size=12))
def test_changes_alternate_new_and_resolved_with_one_id_per_episode(
    bursts: list[tuple[bool, int]],
) -> None:
    book = Runaways(RunawayOptions(quiet_seconds=120))
    clock, events = T0, []
    for loud, seconds in bursts:  # loud: a call a second at 1 USD, else nothing
        if loud:
            events += [("t", "m", clock + s, 1.0) for s in range(seconds)]
        clock += seconds
    changes = [c for _, c in run(book, events, T0, clock + 400)]
    statuses = [c.status for c in changes]
    assert statuses == ["new", "resolved"] * (len(changes) // 2)
    ids = [c.episode.id for c in changes]
    assert ids[0::2] == ids[1::2] and len(set(ids)) == len(ids) // 2
    assert not book.open


def _stamp(change: Change) -> str:
    return datetime.fromtimestamp(change.episode.start, UTC).strftime("%Y%m%dT%H%M%SZ")


# -- the watcher of a live service --------------------------------------------------------------


@pytest.fixture
def peer() -> Iterator[HttpPeer]:
    with http_peer(receiver) as running:
        yield running


def _post(live: LiveIngest, events: list[dict[str, object]]) -> None:
    body = b"\n".join(orjson.dumps(e) for e in events)
    assert live.post_events(body, "application/x-ndjson")["accepted"] == len(events)


def _call(i: str, team: str, model: str, when: float, **extra: object) -> dict[str, object]:
    stamp = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
    return {"type": "llm_call", "id": i, "time": stamp, "provider": "openai", "model": model,
            "team": team, **extra}  # fmt: skip


def _history(rng: np.random.Generator, end: float) -> list[dict[str, object]]:
    """Six hours of normal calls of every normal stream, each carrying its cost."""
    out = []
    for team, model in NORMAL:
        for n, t in enumerate(poisson(rng, end - 6 * 3600, end, PER_HOUR)):
            cost = f"{AMOUNT * rng.uniform(0.5, 1.5):.4f}"
            out.append(_call(f"h-{team}-{model}-{n}", team, model, float(t), cost=cost))
    return out


def test_a_restarted_service_learns_from_its_lake_and_tells_the_team_hourly_monitor(
    tmp_path: Path, peer: HttpPeer
) -> None:
    rng = np.random.default_rng(6)
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    now = T0 + DAY + 1800
    first = LiveIngest(ws)
    first.start(background=False)
    _post(first, _history(rng, now - 1800))
    first.close()  # compacted: the history is in the lake's llm rows now
    monitoring = Monitoring.open(ws)
    monitoring.add_monitor("search hourly", Scope("team", "search"), grain="hour")
    monitoring.close()
    subs = Subscriptions.open(ws)
    hook = {"kind": "webhook", "secret": SECRET}
    subs.add(
        "search-oncall", channel={**hook, "url": f"{peer.url}/search"}, monitor="search hourly"
    )
    subs.add("vision-oncall", channel={**hook, "url": f"{peer.url}/vision"}, team="vision")
    subs.close()

    live = LiveIngest(ws)
    live.start(background=False)
    assert live.runaway.open(now) == 3 * 6  # three streams, six whole hours
    # a loop on search/gpt-4o, priced from the catalog: 1,000 input + 500 output tokens of gpt-4o
    # (0.0075 USD), 12 calls a second: about 320 USD an hour
    loop = [_call(f"loop-{i}", "search", "gpt-4o", now + i / 12, input_tokens=1000,
                  output_tokens=500) for i in range(12 * 90)]  # fmt: skip
    alerts, clock = [], now
    while not alerts and clock < now + 90:
        clock += 2
        _post(live, [e for e in loop if clock - 2 < _t(e) <= clock])
        alerts = live.runaway.step(clock)
    assert clock - now <= 60 and live.runaway.stats["unpriced"] == 0
    ((alert, _, team),) = alerts
    assert team == "search" and alert.id.startswith("live-search-gpt-4o-")
    assert live.runaway.dispatch(alerts, clock) == 1
    live.close()

    (request,) = peer.received
    assert request.path == "/search"  # heard through the team's hourly monitor; vision did not
    body = json.loads(request.body)
    assert body["type"] == "anomaly.new" and body["alert"]["id"] == alert.id
    assert body["alert"]["scope"] == "team=search"


def test_unknown_models_are_not_watched(tmp_path: Path) -> None:
    live = LiveIngest(Workspace.init(tmp_path / "ws", None, "USD"))
    live.start(background=False)
    live.runaway.open(T0)
    _post(live, [_call("x", "a", "no-such-model", T0, input_tokens=10**6)])
    assert live.runaway.step(T0 + 1) == [] and live.runaway.stats["unpriced"] == 1
    live.close()


def test_a_failing_webhook_is_logged_and_retried_while_ingest_goes_on(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    with http_peer(receiver) as gone:
        url = f"{gone.url}/hook"  # nothing listens there once the block ends
    subs = Subscriptions.open(ws)
    subs.add("oncall", channel={"kind": "webhook", "url": url, "secret": SECRET})
    options = RunawayOptions(check_seconds=0.1, retry_seconds=0.5)
    live = LiveIngest(ws, LiveOptions(runaway=options))
    live.runaway.send = partial(deliver, policy=RetryPolicy(max_attempts=1))
    live.start()  # the watcher's own thread, on the wall clock
    try:
        now = time.time()
        _post(live, [_call(f"c{i}", "a", "gpt-4o", now - i / 100, cost="1") for i in range(100)])
        deadline = time.time() + 30
        while len(subs.deliveries()) < 2 and time.time() < deadline:
            _post(live, [_call(f"more-{time.time()}", "a", "gpt-4o", time.time(), cost="0.01")])
            time.sleep(0.1)
        rows = subs.deliveries()
        assert len(rows) >= 2 and {r.status for r in rows} == {"gave_up"}
        assert {r.alert for r in rows} == {rows[0].alert} and rows[0].alert.startswith("live-a-")
        assert live.totals().requests() > 100
    finally:
        live.close()
        subs.close()


def _t(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
