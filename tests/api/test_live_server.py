"""``costcouncil serve`` as a real process: events in, durable, visible, compacted, restartable."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from costcouncil.workspace.core import Workspace
from tests.api.server import Server

NDJSON = {"Content-Type": "application/x-ndjson"}


def _ndjson(events: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def _call(i: int, **extra: object) -> dict[str, object]:
    return {
        "type": "llm_call",
        "id": f"call-{i}",
        "time": "2026-11-23T10:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 100,
        "cost": "0.01",
        "team": "search",
        **extra,
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    Workspace.init(tmp_path / "ws", None, "USD")
    return tmp_path / "ws"


@pytest.fixture
def server(workspace: Path) -> Iterator[Server]:
    s = Server(workspace, "--compact-seconds", "3600").start()
    yield s
    s.stop()


def _costs(server: Server, **params: str) -> dict[str, object]:
    answer = httpx.get(f"{server.url}/v1/live/costs", params={"from": "2026-11-01", **params})
    answer.raise_for_status()
    return dict(answer.json())


def test_a_bad_event_is_rejected_alone_with_its_errors(server: Server) -> None:
    events = [_call(1), {**_call(2), "input_tokens": -5, "modle": "x"}, _call(3), "nonsense"]
    answer = httpx.post(f"{server.url}/v1/events", content=_ndjson(events), headers=NDJSON)
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3]
    fields = {e["field"]: e["message"] for e in body["rejected"][0]["errors"]}
    assert fields["input_tokens"] == "must be a whole number >= 0"
    assert "did you mean 'model'" in fields["modle"]
    assert _costs(server)["totals"] == {
        "requests": 2,
        "usage_cost": "0.020000",
        "allocated_cost": "0",
    }


def test_retries_count_once(server: Server) -> None:
    body = _ndjson([_call(1), _call(2)])
    first = httpx.post(f"{server.url}/v1/events", content=body, headers=NDJSON).json()
    again = httpx.post(f"{server.url}/v1/events", content=body, headers=NDJSON).json()
    assert (first["accepted"], again["accepted"], again["duplicates"]) == (2, 0, 2)
    keyed = {**NDJSON, "Idempotency-Key": "batch-7"}
    one = httpx.post(f"{server.url}/v1/events", content=_ndjson([_call(3)]), headers=keyed).json()
    two = httpx.post(f"{server.url}/v1/events", content=_ndjson([_call(3)]), headers=keyed).json()
    assert one == two == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert _costs(server)["totals"]["requests"] == 3


def test_a_json_array_is_priced_from_the_catalog_and_grouped(server: Server) -> None:
    events = [
        {k: v for k, v in _call(i, team=team).items() if k != "cost"}
        for i, team in enumerate(["search", "search", "vision"])
    ]
    answer = httpx.post(f"{server.url}/v1/events", json=events)
    assert answer.json()["accepted"] == 3
    rows = {r["team"]: r for r in _costs(server, by="team")["rows"]}
    # gpt-4o standard: $2.50 per M input tokens, $10 per M output tokens
    assert Decimal(rows["search"]["usage_cost"]) == 2 * (Decimal("0.0025") + Decimal("0.001"))
    assert rows["vision"]["requests"] == 1
    assert rows["vision"]["input_tokens"] == 1000


def test_unparseable_bodies_and_unknown_keys(server: Server) -> None:
    bad = httpx.post(f"{server.url}/v1/events", content=b"{not json", headers=NDJSON)
    assert bad.status_code == 400
    assert "not" in bad.json()["error"]["message"]
    unknown = httpx.get(f"{server.url}/v1/live/costs", params={"by": "tema"})
    assert unknown.status_code == 422
    assert "did you mean 'team'" in unknown.json()["error"]["message"]


def test_an_acknowledged_batch_survives_kill_9(workspace: Path) -> None:
    server = Server(workspace, "--compact-seconds", "3600").start()
    body = _ndjson([_call(i) for i in range(500)])
    assert (
        httpx.post(f"{server.url}/v1/events", content=body, headers=NDJSON).json()["accepted"]
        == 500
    )
    server.kill()
    again = Server(workspace, "--compact-seconds", "0.2").start()
    try:
        assert _costs(again)["totals"]["requests"] == 500
        resend = httpx.post(f"{again.url}/v1/events", content=body, headers=NDJSON).json()
        assert resend["duplicates"] == 500
        _wait_compacted(again)
        assert _lake_rows(workspace, "llm") == 500
        assert _costs(again)["totals"] == {
            "requests": 500,
            "usage_cost": "5.000000",
            "allocated_cost": "0",
        }
    finally:
        again.stop()


def test_jobs_from_start_heartbeat_and_stop(workspace: Path) -> None:
    server = Server(workspace, "--compact-seconds", "0.2").start()
    events = [
        {"type": "job_start", "id": "s", "job_id": "run-9", "time": "2026-11-23T10:00:00Z",
         "accelerator_type": "H100", "accelerator_count": 8, "team": "vision", "model": "detector"},
        {"type": "job_heartbeat", "id": "h1", "job_id": "run-9", "time": "2026-11-23T10:30:00Z",
         "gpu_utilization": 0.5, "gpu_memory_gib": 60},
        {"type": "job_heartbeat", "id": "h2", "job_id": "run-9", "time": "2026-11-23T11:00:00Z",
         "gpu_utilization": 0.9, "gpu_memory_gib": 70},
        {"type": "job_stop", "id": "e", "job_id": "run-9", "time": "2026-11-23T12:00:00Z",
         "status": "failed"},
    ]  # fmt: skip
    try:
        assert httpx.post(f"{server.url}/v1/events", json=events).json()["accepted"] == 4
        _wait_compacted(server)
    finally:
        server.stop()
    rows = _lake(workspace, "jobs")
    assert len(rows) == 1
    job = rows[0]
    assert (job["job_id"], job["source"], job["status"], job["team"]) == (
        "run-9",
        "events",
        "failed",
        "vision",
    )
    assert (job["end"] - job["start"]).total_seconds() == 7200
    assert job["accelerator_count"] == 8
    attributes = orjson.loads(job["attributes"])
    assert attributes["gpu_utilization_avg"] == 0.7
    assert attributes["gpu_memory_gib_max"] == 70


def test_a_token_is_required_when_set(workspace: Path) -> None:
    server = Server(
        workspace, env={"COSTCOUNCIL_INGEST_TOKEN": "s3cret", "COSTCOUNCIL_MAX_BATCH_BYTES": "2000"}
    ).start()
    try:
        body = _ndjson([_call(1)])
        assert (
            httpx.post(f"{server.url}/v1/events", content=body, headers=NDJSON).status_code == 401
        )
        auth = {**NDJSON, "Authorization": "Bearer s3cret"}
        assert httpx.post(f"{server.url}/v1/events", content=body, headers=auth).status_code == 200
        big = _ndjson([_call(i) for i in range(50)])
        assert httpx.post(f"{server.url}/v1/events", content=big, headers=auth).status_code == 413
    finally:
        server.stop()


def _wait_compacted(server: Server) -> None:
    import time

    deadline = time.time() + 30
    while time.time() < deadline:
        health = httpx.get(f"{server.url}/health").json()
        if (
            health["pending"] == 0
            and health["compacted"] + 0 >= 0
            and not list((server.workspace / "events").glob("*.ndjson"))
        ):
            return
        time.sleep(0.1)
    raise AssertionError("events were not compacted")


def _lake(workspace: Path, dataset: str) -> list[dict[str, object]]:
    ws = Workspace.open(workspace)
    files = [str(ws.lake.root / f) for f in ws.lake.read().data_files(dataset)]
    if not files:
        return []
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.sql(f"SELECT * FROM read_parquet({files!r})").to_arrow_table().to_pylist()
    con.close()
    return rows


def _lake_rows(workspace: Path, dataset: str) -> int:
    return len(_lake(workspace, dataset))


def test_otlp_traces_become_llm_calls(server: Server) -> None:
    export = (Path(__file__).parents[1] / "cases" / "usage" / "otel" / "traces.json").read_bytes()
    answer = httpx.post(
        f"{server.url}/v1/traces", content=export, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200
    assert answer.json() == {}
    # the same export again: span ids are the event ids, so a re-sent export counts once
    httpx.post(
        f"{server.url}/v1/traces", content=export, headers={"Content-Type": "application/json"}
    )
    rows = _costs(server, by="team", **{"from": "2000-01-01", "to": "2100-01-01"})
    assert rows["totals"]["requests"] == 4
    assert sum(r["input_tokens"] for r in rows["rows"]) == 6000
    assert sum(r["reasoning_tokens"] for r in rows["rows"]) == 1500
    proto = httpx.post(
        f"{server.url}/v1/traces",
        content=b"\x0a",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert proto.status_code == 415


def test_members_see_only_their_teams_and_scopes_hold(workspace: Path) -> None:
    from costcouncil.workspace.access.accounts import Access

    access = Access.open(Workspace.open(workspace))
    access.add_user("m@acme.io", "member", ["search"], None)
    access.add_user("v@acme.io", "viewer", [], None)
    member = access.create_token("m@acme.io", "sdk")
    viewer = access.create_token("v@acme.io", "dash")
    access.close()
    server = Server(workspace).start()
    try:
        events = [_call(1, team="search"), _call(2, team="vision"), _call(3, team="vision")]
        as_member = {"Authorization": f"Bearer {member}"}
        assert httpx.post(f"{server.url}/v1/events", json=events).status_code == 401
        answer = httpx.post(f"{server.url}/v1/events", json=events, headers=as_member)
        assert answer.json()["accepted"] == 3
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert httpx.post(f"{server.url}/v1/events", json=[], headers=as_viewer).status_code == 403
        url = f"{server.url}/v1/live/costs"
        november = {"from": "2026-11-01", "to": "2026-12-01"}  # the events' month, not today's
        seen = httpx.get(url, params={"by": "team", **november}, headers=as_member).json()
        assert [r["team"] for r in seen["rows"]] == ["search"]
        crafted = httpx.get(url, params={"team": "vision", **november}, headers=as_member).json()
        assert crafted["rows"] == [] and crafted["totals"]["requests"] == 0
        everything = httpx.get(url, params={"by": "team", **november}, headers=as_viewer).json()
        assert everything["totals"]["requests"] == 3
    finally:
        server.stop()
