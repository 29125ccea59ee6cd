"""A small allocated organisation for dashboard and API tests (built in a second or two).

Two months of charges for teams vision and search (tags), a shared GPU node split over jobs with
runs, model versions and kinds (a failed training run among them), an LLM invoice split over
request logs, a support fee, an untagged charge (the GPU node's only tag is ``cluster``, not an
owner key) — and a hostile tag value: the ``project`` of one vision charge is
``<script>alert(1)</script>``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import ingest_usage
from tests.factories import Charge, write_focus

HOSTILE = "<script>alert(1)</script>"
PASSWORD = "correct horse battery staple"
USERS = {
    "admin@example.com": ("admin", []),
    "finance@example.com": ("finance", []),
    "vision@example.com": ("member", ["vision"]),
    "viewer@example.com": ("viewer", []),
}
RULES = """\
version: 1
require: [team]
rules:
  - name: tags
    kind: tag
  - name: gpu
    kind: usage_split
    usage: jobs
    match: {ResourceId: "i-gpu*"}
    capacity: 8
  - name: idle
    kind: idle
    policy: keep
  - name: llm
    kind: usage_split
    usage: llm
    match: {ServiceName: OpenAI API}
    on: {ResourceId: attributes.project_id}
  - name: support
    kind: shared_pool
    match: {ServiceName: AWS Support}
    by: even
"""


def _t(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _charges() -> list[Charge]:
    out = []
    for period, month in (("2026-09", 9), ("2026-10", 10)):
        for day in (1, 2, 3):
            scale = 2 if month == 10 else 1
            out += [
                Charge(cost=f"{10 * scale}.00", period=period, day=day, resource="i-web",
                       tags={"team": "vision", "project": "detector", "model": "detector-v3"}),
                Charge(cost="4.00", period=period, day=day, resource="i-xss",
                       tags={"team": "vision", "project": HOSTILE}),
                Charge(cost=f"{7 * scale}.00", period=period, day=day, resource="bucket-1",
                       service="Amazon Simple Storage Service", category="Storage",
                       tags={"team": "search", "project": "ranking"}),
                Charge(cost="3.00", period=period, day=day, resource="i-untagged"),
                Charge(cost="24.00", period=period, day=day, resource="i-gpu1",
                       tags={"cluster": "a100-east"},
                       names={"ResourceName": "a100-node-1", "SubAccountName": "ml-prod"}),
                Charge(cost="12.00", period=period, day=day, resource="proj_1",
                       service="OpenAI API", category="AI and Machine Learning",
                       provider="OpenAI"),
            ]  # fmt: skip
        out.append(Charge(cost="6.00", period=period, resource="support", service="AWS Support",
                          category="Other"))  # fmt: skip
    return out


def _jobs(path: Path) -> Path:
    rows = []
    for month in (9, 10):
        for day in (1, 2, 3):
            rows += [
                {"job_id": f"t{month}{day}", "source": "mlflow", "resource_id": "i-gpu1",
                 "start": _t(month, day, 0), "end": _t(month, day, 1), "accelerator_count": 4.0,
                 "team": "vision", "project": "detector", "model": "detector-v3",
                 "model_version": f"v{month - 8}", "run": f"train-{month}-{day}",
                 "kind": "training", "status": "failed" if day == 2 else "succeeded"},
                {"job_id": f"i{month}{day}", "source": "mlflow", "resource_id": "i-gpu1",
                 "start": _t(month, day, 0), "end": _t(month, day, 1),
                 "accelerator_count": 2.0 if month == 9 else 1.0,  # idle capacity moves
                 "team": "search", "project": "ranking", "model": "ranker",
                 "model_version": "v1", "run": f"serve-{month}-{day}", "kind": "inference",
                 "status": "succeeded"},
            ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=JOBS_SCHEMA), path)
    return path


def _llm(path: Path) -> Path:
    rows = [
        {"request_id": f"q{month}{day}{team}", "source": "litellm", "provider": "openai",
         "model": "gpt-4o", "time": _t(month, day, 0), "input_tokens": 1_000_000,
         "output_tokens": 100_000, "request_count": 100, "team": team,
         "project": "assistant" if team == "vision" else "ranking",
         "attributes": json.dumps({"project_id": "proj_1"})}
        for month in (9, 10) for day in (1, 2, 3) for team in ("vision", "search")
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=LLM_SCHEMA), path)
    return path


def build_org(root: Path) -> Workspace:
    """The organisation in ``root`` (a new workspace), allocated, with the four users."""
    ws = Workspace.init(root / "acme", name="acme")
    write_focus(root / "bill.csv", _charges())
    assert ingest(ws, [root / "bill.csv"], IngestOptions())[0].status == "ingested"
    ingest_usage(ws, "jobs", [_jobs(root / "jobs.parquet")])
    ingest_usage(ws, "llm", [_llm(root / "llm.parquet")])
    (ws.root / "rules.yaml").write_text(RULES)
    allocate(ws, AllocateOptions())
    access = Access.open(ws)
    for email, (role, teams) in USERS.items():
        access.add_user(email, role, teams, PASSWORD)
    access.close()
    return ws
