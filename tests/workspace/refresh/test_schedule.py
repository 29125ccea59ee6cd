"""The refresh inside serve: it runs when the lake changed, and daily digests go out once a day."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from costcouncil.workspace.anomaly.monitors import sync_default_monitors
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.notify.subscriptions import Subscriptions
from costcouncil.workspace.refresh.schedule import Scheduler
from tests.workspace.anomaly.test_run import _org
from tests.workspace.notify.peers import http_peer


def test_it_refreshes_when_the_lake_changed_and_sends_the_daily_digest_once(tmp_path: Path) -> None:
    ws = _org(tmp_path)
    now = [datetime(2026, 10, 24, 7, tzinfo=UTC)]
    with http_peer((200, {}, b"ok")) as peer:
        store = Monitoring.open(ws)
        sync_default_monitors(ws, store)
        store.close()
        subs = Subscriptions.open(ws)
        subs.add("daily", channel={"kind": "webhook", "url": peer.url, "secret": "x" * 20},
                 frequency="daily")  # fmt: skip
        subs.close()
        scheduler = Scheduler(ws, 0, digest_hour=8, clock=lambda: now[0])
        first = scheduler.tick()  # nothing saved yet: refresh
        assert first is not None and first.detection is not None and first.detection.count("new") >= 2
        assert peer.received == []  # 07:00: before the digest hour
        assert scheduler.tick() is None  # the lake did not change
        now[0] = datetime(2026, 10, 24, 9, tzinfo=UTC)
        scheduler.tick()
        assert len(peer.received) == 1 and b"digest" in peer.received[0].body
        scheduler.tick()
        assert len(peer.received) == 1  # once a day
        manifest = ws.lake.manifest_path
        os.utime(manifest, ns=(manifest.stat().st_atime_ns, manifest.stat().st_mtime_ns + 10**9))
        again = scheduler.tick()
        assert again is not None and again.detection is not None and again.detection.count("new") == 0


def test_a_fresh_forecast_means_no_refresh_at_start(tmp_path: Path) -> None:
    ws = _org(tmp_path)
    Scheduler(ws, 0).tick()
    assert Scheduler(ws, 0).tick() is None
