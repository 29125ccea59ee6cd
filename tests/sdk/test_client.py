"""The SDK client against a real HTTP peer on loopback: batching, retries, bounds, threads, jobs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import costcouncil.sdk
from costcouncil.sdk import CostCouncil
from costcouncil.sdk.transport import parse_retry_after
from tests.sdk.peer import Fail, Peer, free_port


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer().start()
    yield server
    server.stop()


def client(url: str, **options: Any) -> CostCouncil:
    settings: dict[str, Any] = {"flush_interval": 30.0, "backoff": 0.05, "max_backoff": 0.2}
    return CostCouncil(url, token="t0k", **{**settings, **options})


def calls(cc: CostCouncil, count: int, **fields: Any) -> list[str]:
    return [
        cc.llm_call(
            model="gpt-4o", provider="openai", input_tokens=i, attributes={"seq": i}, **fields
        )
        for i in range(count)
    ]


def test_public_api() -> None:
    assert sorted(costcouncil.sdk.__all__) == sorted(
        ["CostCouncil", "Job", "Stats", "JOB_KINDS", "JOB_STOP_STATUSES", "openai_usage",
         "BudgetDecision", "BudgetDenied", "BudgetError", "Reservation"]
    )
    for name in costcouncil.sdk.__all__:
        assert getattr(costcouncil.sdk, name) is not None


def test_import_stays_light() -> None:
    code = (
        "import sys, costcouncil.sdk; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('duckdb', 'pyarrow', 'httpx', 'mlflow', 'pandas', 'pynvml')"
        " or (m.startswith('costcouncil.') and not m.startswith('costcouncil.sdk'))]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_thousand_events_go_in_full_batches(peer: Peer) -> None:
    cc = client(peer.url, batch_size=100)
    ids = calls(cc, 1000, team="search")
    assert cc.flush(timeout=10)
    assert len(peer.requests) == 10
    assert all(len(r.events) == 100 for r in peer.requests)
    assert len(set(ids)) == 1000 and set(peer.events) == set(ids)
    assert len({r.key for r in peer.requests}) == 10
    first = peer.requests[0]
    assert first.headers["authorization"] == "Bearer t0k"
    assert first.headers["content-type"] == "application/x-ndjson"
    assert cc.stats.sent == 1000 and cc.stats.batches == 10 and cc.stats.queued == 0
    cc.close()


def test_event_body_follows_the_protocol(peer: Peer) -> None:
    cc = client(peer.url, defaults={"team": "search", "region": "eu"})
    cc.llm_call(
        model="gpt-4o",
        provider="openai",
        input_tokens=812,
        output_tokens=95,
        feature="answers",
        cost="0.0042",
    )
    cc.job_heartbeat("j1", gpu_utilization=0.5)
    assert cc.flush(timeout=5)
    call, beat = peer.requests[0].events
    assert call["type"] == "llm_call" and len(call["id"]) == 32
    assert call["team"] == "search" and call["feature"] == "answers"
    assert call["attributes"] == {"region": "eu"} and call["cost"] == "0.0042"
    assert call["time"].endswith("Z") and call["input_tokens"] == 812
    assert beat == {
        "type": "job_heartbeat",
        "id": beat["id"],
        "job_id": "j1",
        "gpu_utilization": 0.5,
        "time": beat["time"],
    }
    cc.close()


def test_a_misspelt_field_is_a_type_error_naming_the_right_one(peer: Peer) -> None:
    cc = client(peer.url)
    with pytest.raises(TypeError, match="did you mean 'input_tokens'"):
        cc.llm_call(model="m", provider="vllm", input_tokens_=3)  # type: ignore[call-arg]
    cc.close()


def test_a_partial_batch_goes_after_the_flush_interval(peer: Peer) -> None:
    cc = client(peer.url, flush_interval=0.2)
    calls(cc, 5)
    assert peer.wait_for(1, timeout=5)
    assert len(peer.requests[0].events) == 5
    cc.close()


def test_503_with_retry_after_is_retried_with_the_same_key(peer: Peer) -> None:
    peer.fail(Fail(503, {"Retry-After": "1"}))
    cc = client(peer.url)
    calls(cc, 3)
    assert cc.flush(timeout=10)
    first, second = peer.requests
    assert first.key == second.key and first.body == second.body
    assert second.at - first.at >= 0.95
    assert cc.stats.retries == 1 and cc.stats.sent == 3
    cc.close()


def test_closed_connections_are_retried_with_growing_backoff(peer: Peer) -> None:
    peer.fail(Fail(0), Fail(0), Fail(0))
    cc = client(peer.url, backoff=0.1, max_backoff=1.0)
    calls(cc, 2)
    assert cc.flush(timeout=10)
    assert len(peer.requests) == 4 and len({r.key for r in peer.requests}) == 1
    gaps = [b.at - a.at for a, b in zip(peer.requests, peer.requests[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # half of 0.1, 0.2, 0.4
    assert cc.stats.retries == 3 and cc.stats.sent == 2
    cc.close()


def test_a_lost_answer_is_resent_and_counted_once(peer: Peer) -> None:
    peer.fail(Fail(lose_answer=True))
    cc = client(peer.url)
    ids = calls(cc, 4)
    assert cc.flush(timeout=10)
    assert len(peer.requests) == 2 and peer.requests[0].key == peer.requests[1].key
    assert set(peer.events) == set(ids)
    assert cc.stats.sent == 4 and cc.stats.duplicates == 0
    cc.close()


def test_413_splits_the_batch(peer: Peer) -> None:
    peer.fail(Fail(413))
    cc = client(peer.url, batch_size=8)
    ids = calls(cc, 8)
    assert cc.flush(timeout=10)
    assert [len(r.events) for r in peer.requests] == [8, 4, 4]
    assert len({r.key for r in peer.requests}) == 3
    assert set(peer.events) == set(ids) and cc.stats.sent == 8
    cc.close()


def test_400_rejects_the_batch_without_retry(peer: Peer, caplog: pytest.LogCaptureFixture) -> None:
    peer.fail(Fail(400))
    cc = client(peer.url)
    calls(cc, 3)
    with caplog.at_level(logging.ERROR, "costcouncil.sdk"):
        assert cc.flush(timeout=5)
    assert len(peer.requests) == 1 and cc.stats.rejected == 3 and cc.stats.retries == 0
    assert "HTTP 400" in caplog.text
    calls(cc, 1)
    assert cc.flush(timeout=5) and cc.stats.sent == 1
    cc.close()


def test_a_bad_event_is_rejected_alone(peer: Peer, caplog: pytest.LogCaptureFixture) -> None:
    cc = client(peer.url)
    good = cc.llm_call(model="m", provider="vllm", input_tokens=1)
    bad = cc.llm_call(model="m", provider="vllm", input_tokens=-1)
    with caplog.at_level(logging.WARNING, "costcouncil.sdk"):
        assert cc.flush(timeout=5)
    assert list(peer.events) == [good]
    assert cc.stats.sent == 1 and cc.stats.rejected == 1
    assert bad in caplog.text and "input_tokens=-1" in caplog.text
    cc.close()


def test_auth_failure_drops_with_one_error_log(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    peer.token = "right"
    cc = client(peer.url, batch_size=2)
    with caplog.at_level(logging.ERROR, "costcouncil.sdk"):
        calls(cc, 4)
        assert cc.flush(timeout=5)
    assert len(peer.requests) == 2 and cc.stats.dropped == 4 and cc.stats.retries == 0
    assert [r.levelno for r in caplog.records].count(logging.ERROR) == 1
    assert "HTTP 401" in caplog.text
    cc.close()


def test_buffer_is_bounded_while_down_and_data_flows_when_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    peer = Peer(free_port())  # not started: connections are refused
    cc = client(peer.url, batch_size=10, max_buffer=50)
    with caplog.at_level(logging.WARNING, "costcouncil.sdk"):
        calls(cc, 200)
        assert not cc.flush(timeout=0.3)
    assert cc.stats.queued == 50 and cc.stats.dropped == 150
    assert cc.stats.retries >= 1 and "buffer full (max_buffer=50)" in caplog.text
    peer.start()
    try:
        assert cc.flush(timeout=10)
        seqs = sorted(e["attributes"]["seq"] for e in peer.events.values())
        assert seqs == list(range(150, 200))  # the oldest went first
        assert cc.stats.sent == 50 and cc.stats.queued == 0
    finally:
        cc.close()
        peer.stop()


def test_the_server_going_down_and_up_again(peer: Peer) -> None:
    cc = client(peer.url, batch_size=5)
    calls(cc, 5)
    assert cc.flush(timeout=5)
    peer.stop()
    calls(cc, 5)
    assert not cc.flush(timeout=0.3)
    peer.start()
    assert cc.flush(timeout=10) and len(peer.events) == 10
    cc.close()


def test_close_drops_what_cannot_be_delivered() -> None:
    cc = client(f"http://127.0.0.1:{free_port()}", shutdown_timeout=0.2)
    calls(cc, 3)
    cc.close()
    cc.close()
    cc.llm_call(model="m", provider="vllm")
    assert cc.stats.dropped == 4 and cc.stats.queued == 0


def test_many_producer_threads(peer: Peer) -> None:
    cc = client(peer.url, batch_size=200, max_buffer=100_000)
    ids: list[list[str]] = [[] for _ in range(8)]

    def produce(slot: int) -> None:
        ids[slot] = calls(cc, 500, user=f"u{slot}")

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cc.flush(timeout=20)
    every = [i for chunk in ids for i in chunk]
    assert len(set(every)) == 4000 and set(peer.events) == set(every)
    assert sum(len(r.events) for r in peer.requests) == 4000
    assert cc.stats.sent == 4000 and cc.stats.duplicates == 0
    cc.close()


def test_job_context_manager_reports_start_and_stop(peer: Peer) -> None:
    cc = client(peer.url, defaults={"team": "vision"})
    with cc.job(run_id="r-1", gpus=8, gpu_type="H100", model="detector", kind="training") as job:
        job.heartbeat(gpu_utilization=0.9)
    assert cc.flush(timeout=5)
    start, beat, stop = peer.requests[0].events
    assert start["type"] == "job_start" and start["job_id"] == "r-1" and start["run"] == "r-1"
    assert start["accelerator_count"] == 8 and start["accelerator_type"] == "H100"
    assert start["team"] == "vision" and start["model"] == "detector"
    assert beat["type"] == "job_heartbeat" and "team" not in beat
    assert stop == {
        "type": "job_stop",
        "id": stop["id"],
        "job_id": "r-1",
        "status": "succeeded",
        "time": stop["time"],
    }
    cc.close()


@pytest.mark.parametrize(
    "error,status",
    [(ValueError("boom"), "failed"), (KeyboardInterrupt(), "killed"), (SystemExit(2), "failed")],
)
def test_job_status_follows_how_the_block_ended(
    peer: Peer, error: BaseException, status: str
) -> None:
    cc = client(peer.url)
    with pytest.raises(type(error)), cc.job("j-9"):
        raise error
    assert cc.flush(timeout=5)
    assert peer.requests[0].events[-1]["status"] == status
    cc.close()


def test_a_forked_child_sends_its_own_events_only(peer: Peer) -> None:
    cc = client(peer.url)
    parent = cc.llm_call(model="m", provider="vllm", attributes={"who": "parent"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: we handle it
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        cc.llm_call(model="m", provider="vllm", attributes={"who": "child"})
        os._exit(0 if cc.flush(timeout=5) and cc.stats.sent == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [e["attributes"]["who"] for e in peer.events.values()] == ["child"]
    assert cc.flush(timeout=5) and parent in peer.events
    cc.close()


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 50 < (parse_retry_after(future) or 0) <= 60


def test_bad_base_url_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="http"):
        CostCouncil("localhost:8000")
