"""After allocate: forecasts saved, anomalies found, and a subscriber told once over a real
signed webhook on loopback — and a failing step never stops the others."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from costcouncil.notify.signing import verify
from costcouncil.workspace.anomaly.monitors import sync_default_monitors
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import load
from costcouncil.workspace.notify.subscriptions import Subscriptions
from costcouncil.workspace.refresh.run import refresh
from tests.workspace.anomaly.test_run import _org
from tests.workspace.notify.peers import header_map, http_peer

SECRET = "a-long-enough-webhook-secret"
SOON_AFTER = datetime(2026, 10, 24, 8, tzinfo=UTC)  # the planted jump ended on the 23rd


@pytest.fixture
def org(tmp_path: Path) -> Workspace:
    return _org(tmp_path)


def test_refresh_saves_forecasts_detects_and_tells_the_subscriber_once(org: Workspace) -> None:
    with http_peer((200, {}, b"ok")) as peer:
        subs = Subscriptions.open(org)
        monitors = Monitoring.open(org)
        sync_default_monitors(org, monitors)
        subs.add("team a hook", channel={"kind": "webhook", "url": peer.url + "/hook", "secret": SECRET},
                 monitor="team=a", threshold="impact >= 500")  # fmt: skip
        done = refresh(org, now=SOON_AFTER, link="https://costs.example.com")
        assert done.failures == {}
        assert done.forecast_scopes >= 4 and load(org) is not None
        assert done.detection is not None and done.detection.count("new") >= 2
        assert len(peer.received) == 1
        request = peer.received[0]
        verify(SECRET, header_map(request.headers), request.body, now=SOON_AFTER)
        sent = json.loads(request.body)
        assert sent["type"] == "anomaly.new" and sent["alert"]["scope"] == "team=a"
        assert sent["alert"]["link"].startswith("https://costs.example.com/anomalies/")
        again = refresh(org, now=SOON_AFTER)
        assert again.detection is not None and again.detection.count("new") == 0
        assert len(peer.received) == 1  # one anomaly, one message
        subs.close()
        monitors.close()


def test_old_anomalies_page_nobody(org: Workspace) -> None:
    with http_peer((200, {}, b"ok")) as peer:
        subs = Subscriptions.open(org)
        subs.add("all", channel={"kind": "webhook", "url": peer.url, "secret": SECRET})
        done = refresh(org, now=datetime(2026, 12, 1, tzinfo=UTC))
        assert done.detection is not None and done.detection.count("new") >= 2
        assert peer.received == [] and done.notified == 0
        subs.close()


def test_a_broken_forecasts_yaml_does_not_stop_detection(org: Workspace) -> None:
    (org.root / "forecasts.yaml").write_text("version: 2\n")
    done = refresh(org, now=SOON_AFTER)
    assert "forecast" in done.failures and "version" in done.failures["forecast"]
    assert done.detection is not None and done.detection.count("new") >= 2
