"""A runaway against a real ``costcouncil serve`` process, told to a real webhook peer on loopback
that verifies every signature: one ``anomaly.new`` for the runaway, nothing for normal streams.

The events carry wall-clock times (the service checks streams at its own clock); what is asserted
does not depend on the date. How fast the message comes (goal: p99 within a minute) is measured
by ``benchmarks/runaway.py``, not here: this test waits up to three minutes, so a loaded machine
does not fail it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from costcouncil.notify.signing import SignatureError, verify
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.notify.subscriptions import Subscriptions
from tests.api.server import Server
from tests.workspace.notify.peers import HttpPeer, Reply, Request, http_peer

SECRET = "whsec-runaway-0123456789"
NORMAL = [("search", "gpt-4o"), ("search", "gpt-4o-mini"), ("vision", "gpt-4o")]
PER_HOUR = 600.0  # calls per hour of each normal stream, about 30 USD an hour
AMOUNT = 0.05
NDJSON = {"Content-Type": "application/x-ndjson"}


class Receiver:
    """Verifies each webhook request against the wall clock (401 when it fails) and notes when
    it came."""

    def __init__(self) -> None:
        self.verified: list[tuple[float, dict[str, object]]] = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        try:
            verify(SECRET, request.headers, request.body, now=datetime.now(UTC))
        except SignatureError as e:
            self.rejected.append(str(e))
            return 401, {}, str(e).encode()
        with self.lock:
            self.verified.append((time.time(), json.loads(request.body)))
        return 200, {}, b"ok"


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def peer(receiver: Receiver) -> Iterator[HttpPeer]:
    with http_peer(receiver) as running:
        yield running


@pytest.fixture
def server(tmp_path: Path, peer: HttpPeer) -> Iterator[Server]:
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    subs = Subscriptions.open(ws)
    subs.add("oncall", channel={"kind": "webhook", "url": f"{peer.url}/hook", "secret": SECRET})
    subs.close()
    running = Server(tmp_path / "ws", "--compact-seconds", "2").start()
    yield running
    running.stop()


def _call(ident: str, stream: tuple[str, str], when: float, cost: float) -> dict[str, object]:
    stamp = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
    team, model = stream
    return {"type": "llm_call", "id": ident, "time": stamp, "provider": "openai",
            "model": model, "team": team, "cost": f"{cost:.4f}"}  # fmt: skip


def _traffic(
    rng: np.random.Generator, stream: tuple[str, str], start: float, end: float, per_hour: float
) -> list[dict[str, object]]:
    n = rng.poisson(per_hour * (end - start) / 3600)
    times = np.sort(rng.uniform(start, end, n))
    name = f"{stream[0]}-{stream[1]}-{per_hour:.0f}"
    return [
        _call(f"{name}-{t:.6f}", stream, float(t), AMOUNT * rng.uniform(0.5, 1.5)) for t in times
    ]


def _post(server: Server, events: list[dict[str, object]]) -> None:
    if events:
        body = b"".join(orjson.dumps(e) + b"\n" for e in events)
        answer = httpx.post(f"{server.url}/v1/events", content=body, headers=NDJSON, timeout=30)
        assert answer.json()["accepted"] == len(events)


@pytest.mark.slow
def test_a_tenfold_runaway_is_told_once(server: Server, receiver: Receiver) -> None:
    rng = np.random.default_rng(7)
    start = time.time()
    history = [e for s in NORMAL for e in _traffic(rng, s, start - 6 * 3600, start, PER_HOUR)]
    _post(server, history)  # six hours the streams learn their usual rate from
    normal = [e for s in NORMAL for e in _traffic(rng, s, start, start + 300, PER_HOUR)]
    burst_start = start + 20
    loop = _traffic(rng, NORMAL[0], burst_start, start + 300, 9 * PER_HOUR)  # 10x with normal
    events = sorted(normal + loop, key=lambda e: str(e["time"]))
    told = _play(server, receiver, events, until=burst_start + 180)
    assert told is not None, "no message within 180 s of the first burst event"
    _play(server, receiver, events, until=time.time() + 10, stop=False)  # the loop goes on
    assert receiver.rejected == []
    ((_, body),) = receiver.verified
    alert = body["alert"]
    assert body["type"] == "anomaly.new" and isinstance(alert, dict)
    assert str(alert["id"]).startswith("live-search-gpt-4o-")
    assert alert["scope"] == "team=search" and "model=gpt-4o " in str(alert["title"])
    watched = httpx.get(f"{server.url}/health").json()["runaway"]
    assert watched["alerts"] >= 1 and watched["observed"] > 0 and watched["dispatch_failures"] == 0


def _play(
    server: Server,
    receiver: Receiver,
    events: list[dict[str, object]],
    until: float,
    stop: bool = True,
) -> float | None:
    """Post each event once its time has come (every 0.5 s) until ``until`` (or, with
    ``stop``, a message arrived); when the first message arrived."""
    while time.time() < until:
        now = time.time()
        due = [e for e in events if _t(e) <= now]
        del events[: len(due)]
        _post(server, due)
        if stop and receiver.verified:
            break
        time.sleep(0.5)
    return receiver.verified[0][0] if receiver.verified else None


def _t(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
