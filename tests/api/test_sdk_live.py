"""The SDK against a real ``costcouncil serve``: calls and jobs arrive once, even across an outage."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from costcouncil.sdk import CostCouncil
from costcouncil.workspace.core import Workspace
from tests.api.server import Server
from tests.api.test_live_server import _lake, _wait_compacted


def _requests(server: Server) -> int:
    body = httpx.get(
        f"{server.url}/v1/live/costs", params={"from": "2000-01-01", "to": "2100-01-01"}
    )
    return int(body.json()["totals"]["requests"])


def test_sdk_events_reach_costs_and_the_lake(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws", None, "USD")
    server = Server(tmp_path / "ws", "--compact-seconds", "0.3").start()
    cc = CostCouncil(server.url, batch_size=100, flush_interval=0.05, defaults={"team": "search"})
    try:
        for i in range(250):
            cc.llm_call(model="gpt-4o", provider="openai", input_tokens=100 + i, output_tokens=10)
        with cc.job(run_id="run-1", gpus=8, gpu_type="H100", team="vision", model="detector"):
            pass
        cc.flush(timeout=20)
        assert _requests(server) == 250
        _wait_compacted(server)
    finally:
        cc.close()
        server.stop()
    llm = _lake(tmp_path / "ws", "llm")
    assert len(llm) == 250 and {r["team"] for r in llm} == {"search"}
    assert sum(r["input_tokens"] for r in llm) == sum(100 + i for i in range(250))
    (job,) = _lake(tmp_path / "ws", "jobs")
    assert (job["job_id"], job["status"], job["accelerator_count"]) == ("run-1", "succeeded", 8)


def test_events_recorded_while_the_server_is_down_arrive_once_it_is_up(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws", None, "USD")
    server = Server(tmp_path / "ws", "--compact-seconds", "3600")
    cc = CostCouncil(server.url, batch_size=50, flush_interval=0.05, max_buffer=1000)
    try:
        for _ in range(120):
            cc.llm_call(model="gpt-4o", provider="openai", input_tokens=1, team="x")
        time.sleep(0.5)  # deliveries fail and back off; nothing is lost within max_buffer
        server.start()
        cc.flush(timeout=60)
        assert _requests(server) == 120
        assert cc.stats.dropped == 0
    finally:
        cc.close()
        server.stop()
