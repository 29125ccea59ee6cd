"""explain traces usage-split shares to the usage rows the engine weighed, on a real lake.

One hour of one day (2026-10-01 00:00–01:00) of charges:

- ``i-gpu1`` (30.00) split by ``gpu_requests``: jobs weighted by ``requests`` (one per job);
- ``i-gpu2`` (20.00) split by ``gpu_time``: 55 vision jobs, GPU-seconds — more than explain lists;
- two OpenAI invoices, ``proj_1`` (20.00) and ``proj_2`` (10.00), split by ``llm`` with
  ``on: {ResourceId: attributes.project_id}``: requests reach the invoice of their project only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.allocate.explain import USAGE_SHOWN, explain
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import ingest_usage
from tests.api.server import Server
from tests.factories import Charge, write_focus

RULES = """\
version: 1
rules:
  - name: gpu_requests
    kind: usage_split
    usage: jobs
    weight: requests
    match: {ResourceId: i-gpu1}
  - name: gpu_time
    kind: usage_split
    usage: jobs
    match: {ResourceId: i-gpu2}
  - name: llm
    kind: usage_split
    usage: llm
    match: {ServiceName: OpenAI API}
    on: {ResourceId: attributes.project_id}
"""
HOUR = datetime(2026, 10, 1, tzinfo=UTC)
MANY = 55


def _at(minutes: int) -> datetime:
    return HOUR + timedelta(minutes=minutes)


def _job(
    job_id: str, resource: str, team: str, start: int, end: int, gpus: float
) -> dict[str, Any]:
    return {"job_id": job_id, "source": "slurm", "resource_id": resource, "team": team,
            "start": _at(start), "end": _at(end), "accelerator_count": gpus}  # fmt: skip


def _many() -> list[dict[str, Any]]:
    """55 vision jobs on i-gpu2, each with its own GPU count and start (so its own weight)."""
    return [_job(f"m{k:02d}", "i-gpu2", "vision", k, 60, float(1 + k % 8)) for k in range(MANY)]


def _jobs(path: Path) -> Path:
    rows = [
        _job("a2", "i-gpu1", "vision", 10, 50, 8.0),
        _job("a1", "i-gpu1", "vision", 0, 30, 1.0),
        _job("b1", "i-gpu1", "search", 0, 60, 4.0),
        _job("late", "i-gpu1", "vision", 120, 180, 1.0),  # after the charge period
        _job("elsewhere", "i-gpu3", "vision", 0, 60, 1.0),  # no charge for this node
        *_many(),
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=JOBS_SCHEMA), path)
    return path


def _request(request_id: str, team: str, project: str, minute: int, tokens: int) -> dict[str, Any]:
    return {"request_id": request_id, "source": "litellm", "provider": "openai", "model": "gpt-4o",
            "time": _at(minute), "input_tokens": tokens, "output_tokens": 1000, "request_count": 1,
            "team": team, "attributes": json.dumps({"project_id": project})}  # fmt: skip


def _llm(path: Path) -> Path:
    rows = [
        _request("v1", "vision", "proj_1", 5, 1_000_000),
        _request("v2", "vision", "proj_1", 6, 3_000_000),
        _request("v3", "vision", "proj_2", 7, 2_000_000),
        _request("s1", "search", "proj_1", 8, 1_000_000),
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=LLM_SCHEMA), path)
    return path


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    openai = {"service": "OpenAI API", "category": "AI and Machine Learning", "provider": "OpenAI"}
    charges = [
        Charge(cost="30.00", resource="i-gpu1"),
        Charge(cost="20.00", resource="i-gpu2"),
        Charge(cost="20.00", resource="proj_1", **openai),
        Charge(cost="10.00", resource="proj_2", **openai),
    ]
    write_focus(tmp_path / "bill.csv", charges)
    assert ingest(workspace, [tmp_path / "bill.csv"], IngestOptions())[0].status == "ingested"
    ingest_usage(workspace, "jobs", [_jobs(tmp_path / "jobs.parquet")])
    ingest_usage(workspace, "llm", [_llm(tmp_path / "llm.parquet")])
    (workspace.root / "rules.yaml").write_text(RULES)
    assert allocate(workspace, AllocateOptions()).written
    return workspace


def _vision(ws: Workspace) -> dict[tuple[str, str], dict[str, Any]]:
    """vision's allocations by (rule, resource)."""
    e = explain(ws, {"team": "vision"}, "2026-10", "BilledCost", limit=20)
    return {(a["x_rule"], a["ResourceId"]): a for a in e.allocations}


def test_a_requests_weighted_jobs_split_lists_its_jobs(ws: Workspace) -> None:
    """Was: the kind was guessed from the method, `usage_split:requests` read as LLM usage."""
    share = _vision(ws)[("gpu_requests", "i-gpu1")]
    assert share["x_method"] == "usage_split:requests"
    assert [u["id"] for u in share["usage"]] == ["a1", "a2"]
    # one request each: equal weights, so by start time
    assert [u["weight"] for u in share["usage"]] == ["1", "1"]
    assert share["usage_count"] == share["x_usage_count"] == 2


def test_an_on_join_picks_the_usage_of_the_cost_rows_key(ws: Workspace) -> None:
    """Was: `on` was ignored, every vision request of the hour listed on both invoices."""
    shares = _vision(ws)
    proj_1, proj_2 = shares[("llm", "proj_1")], shares[("llm", "proj_2")]
    assert [u["id"] for u in proj_1["usage"]] == ["v2", "v1"]  # 3M input tokens before 1M
    assert [u["id"] for u in proj_2["usage"]] == ["v3"]
    assert (proj_1["usage_count"], proj_2["usage_count"]) == (2, 1)
    assert proj_1["usage_count"] == proj_1["x_usage_count"]


def _expected_top() -> list[str]:
    def weight(job: dict[str, Any]) -> float:
        return float(job["accelerator_count"]) * (job["end"] - job["start"]).total_seconds()

    ranked = sorted(_many(), key=lambda j: (-weight(j), j["start"], j["job_id"]))
    return [j["job_id"] for j in ranked[:USAGE_SHOWN]]


def test_more_usage_rows_than_shown_gives_the_true_count(ws: Workspace) -> None:
    """Was: an unordered LIMIT 20 reported as "20 usage rows" when there were 55."""
    share = _vision(ws)[("gpu_time", "i-gpu2")]
    assert share["usage_count"] == share["x_usage_count"] == MANY
    assert [u["id"] for u in share["usage"]] == _expected_top()
    weights = [int(u["weight"]) for u in share["usage"]]
    assert weights == sorted(weights, reverse=True)


def test_a_rule_gone_from_the_rules_file_is_said_not_guessed(ws: Workspace) -> None:
    (ws.root / "rules.yaml").write_text(RULES.replace("name: gpu_time", "name: gpu_hours"))
    share = _vision(ws)[("gpu_time", "i-gpu2")]
    assert (share["usage"], share["usage_count"]) == ([], 0)
    assert "no usage_split rule 'gpu_time'" in share["usage_note"]
    assert "allocate again" in share["usage_note"]
    (ws.root / "rules.yaml").unlink()
    share = _vision(ws)[("gpu_requests", "i-gpu1")]
    assert share["usage"] == [] and "no rules file" in share["usage_note"]


def test_the_cli_says_how_many_are_shown_of_how_many(ws: Workspace) -> None:
    runner = CliRunner()
    args = ["explain", str(ws.root), "--team", "vision", "--period", "2026-10"]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert f"{USAGE_SHOWN} of {MANY} usage rows" in text.output
    assert "2 of 2 usage rows: a1, a2" in text.output
    done = runner.invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    shares = {a["ResourceId"]: a for a in json.loads(done.output)["allocations"]}
    assert shares["i-gpu2"]["usage_count"] == MANY and len(shares["i-gpu2"]["usage"]) == USAGE_SHOWN
    assert [u["id"] for u in shares["proj_2"]["usage"]] == ["v3"]


def test_the_api_answers_the_same_trace(ws: Workspace) -> None:
    access = Access.open(ws)
    try:
        access.add_user("admin@example.com", "admin", [], None)
        token = access.create_token("admin@example.com", "tests")
    finally:
        access.close()
    server = Server(ws.root).start()
    try:
        answer = httpx.get(
            f"{server.url}/v1/explain",
            params={"team": "vision", "period": "2026-10", "limit": 20},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    shares = {(a["x_rule"], a["ResourceId"]): a for a in answer.json()["allocations"]}
    assert shares[("gpu_time", "i-gpu2")]["usage_count"] == MANY
    assert [u["id"] for u in shares[("gpu_time", "i-gpu2")]["usage"]] == _expected_top()
    assert [u["id"] for u in shares[("gpu_requests", "i-gpu1")]["usage"]] == ["a1", "a2"]
    assert [u["id"] for u in shares[("llm", "proj_1")]["usage"]] == ["v2", "v1"]
