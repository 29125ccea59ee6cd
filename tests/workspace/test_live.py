"""The live service in-process: compaction, jobs that stop beating, restarts."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.service import LiveIngest, LiveOptions


def _post(live: LiveIngest, *events: dict[str, object]) -> dict[str, object]:
    return live.post_events(b"\n".join(orjson.dumps(e) for e in events), "application/x-ndjson")


def _rows(ws: Workspace, dataset: str) -> list[dict[str, object]]:
    files = [ws.lake.root / f for f in ws.lake.read().data_files(dataset)]
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def test_a_job_whose_heartbeats_stop_ends_at_its_last_one(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    live = LiveIngest(ws, LiveOptions(stale_job_seconds=60))
    live.start(background=False)
    long_ago = time.time() - 3600
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(long_ago))
    _post(live, {"type": "job_heartbeat", "id": "h", "job_id": "gpu0:123", "time": stamp,
                 "gpu_utilization": 0.4, "accelerator_count": 1, "accelerator_type": "A100"})  # fmt: skip
    live.compact()
    (row,) = _rows(ws, "jobs")
    assert row["end"] is not None and row["end"] == row["start"]
    assert orjson.loads(row["attributes"])["ended_by"] == "heartbeats stopped"
    live.close()


def test_open_jobs_and_pending_events_survive_a_restart(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    first = LiveIngest(ws)
    first.start(background=False)
    _post(first, {"type": "job_start", "id": "s", "job_id": "train-1",
                  "time": "2026-11-23T08:00:00Z", "team": "vision", "accelerator_count": 8})  # fmt: skip
    first.compact()  # the open job is in the lake with end null
    _post(first, {"type": "llm_call", "id": "c", "provider": "openai", "model": "gpt-4o",
                  "input_tokens": 10, "cost": "1.5", "time": "2026-11-23T09:00:00Z"})  # fmt: skip
    first.log.close()  # no compaction: the call is only in the log
    second = LiveIngest(ws)
    second.start(background=False)
    assert second.totals().requests() == 1
    _post(
        second, {"type": "job_stop", "id": "e", "job_id": "train-1", "time": "2026-11-23T10:00:00Z"}
    )
    second.close()
    jobs = {(r["job_id"], r["end"] is None): r for r in _rows(ws, "jobs")}
    ended = jobs[("train-1", False)]
    assert (ended["end"] - ended["start"]).total_seconds() == 7200
    assert ended["team"] == "vision" and ended["accelerator_count"] == 8
    assert [r["request_id"] for r in _rows(ws, "llm")] == ["c"]


def test_a_log_segment_with_batch_records_and_a_torn_line(tmp_path: Path) -> None:
    from costcouncil.workspace.live.service import read_log_table

    good = {
        "type": "llm_call",
        "id": "a",
        "t": 1,
        "provider": "p",
        "model": "m",
        "attributes": "{}",
    }
    batch = {"type": "_batch", "key": "k", "response": {"accepted": 1}}
    segment = tmp_path / "seg-000000000001.ndjson"
    segment.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(batch) + b"\n")
    table = read_log_table(segment)
    assert table.column("type").to_pylist() == ["llm_call", "_batch"]
    assert table.column("id").to_pylist() == ["a", None]
    segment.write_bytes(segment.read_bytes() + b'{"type": "llm_call", "id": "b", "t"')
    assert read_log_table(segment).column("id").to_pylist() == ["a", None]
