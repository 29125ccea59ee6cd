"""Requests dated before their model's first known price: priced, warned about, reconciled apart."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from costcouncil.schema.usage import LLM_SCHEMA
from costcouncil.workspace.allocate.before_first import EarlyPriced, reconciliation_line
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import ingest_usage
from tests.factories import Charge, write_focus

RULES = """\
version: 1
rules:
  - name: llm
    kind: usage_split
    usage: llm
    match: {ServiceName: OpenAI API}
    on: {ResourceId: attributes.project_id}
"""

EARLY = datetime(2023, 6, 1, 0, 10, tzinfo=UTC)  # gpt-4o was first sold on 2024-05-13
LATER = datetime(2024, 6, 3, 0, 10, tzinfo=UTC)


def _request(n: int, at: datetime, model: str = "gpt-4o") -> dict[str, object]:
    return {
        "request_id": f"q{n}", "source": "litellm", "provider": "openai", "model": model,
        "time": at, "input_tokens": 1_000_000, "output_tokens": 100_000, "request_count": 2,
        "team": "search", "attributes": json.dumps({"project_id": "proj_1"}),
    }  # fmt: skip


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    charges = [
        Charge(cost="9.00", resource="proj_1", service="OpenAI API", provider="OpenAI",
               category="AI and Machine Learning", period=period, day=day)
        for period, day in (("2023-06", 1), ("2023-06", 2), ("2024-06", 3))
    ]  # fmt: skip
    write_focus(tmp_path / "bill.csv", charges)
    assert ingest(workspace, [tmp_path / "bill.csv"], IngestOptions())[0].status == "ingested"
    requests = [_request(1, EARLY), _request(2, EARLY.replace(day=2)), _request(3, LATER)]
    pq.write_table(pa.Table.from_pylist(requests, schema=LLM_SCHEMA), tmp_path / "llm.parquet")
    ingest_usage(workspace, "llm", [tmp_path / "llm.parquet"])
    (workspace.root / "rules.yaml").write_text(RULES)
    return workspace


# gpt-4o's earliest price: input $2.50, output $10 per million tokens -> $2.50 + $1.00 a request
EXPECTED = EarlyPriced(
    provider="openai",
    model="gpt-4o",
    catalog_model="openai/gpt-4o",
    first_price=datetime(2024, 5, 13, tzinfo=UTC),
    requests=4,
    priced=Decimal("7.0"),
    first_request=EARLY,
    last_request=EARLY.replace(day=2),
)


def test_early_requests_are_priced_at_the_earliest_price_and_counted(ws: Workspace) -> None:
    outcome = allocate(ws, AllocateOptions(dry_run=True))
    assert outcome.before_first_price == [EXPECTED]
    # the reconciliation's own row still prices them: 4 early requests ($7.00) and 2 later ($3.50)
    [row] = outcome.reconciliation
    assert (row["model"], row["requests"], row["priced"]) == ("gpt-4o", 6, Decimal("10.5"))


def test_a_request_after_the_first_price_is_not_flagged(ws: Workspace) -> None:
    outcome = allocate(ws, AllocateOptions(periods=("2024-06",), dry_run=True))
    assert outcome.before_first_price == []
    assert [r["requests"] for r in outcome.reconciliation] == [2]


def test_only_the_periods_of_the_run_are_counted(ws: Workspace) -> None:
    outcome = allocate(ws, AllocateOptions(periods=("2023-06",), dry_run=True))
    assert outcome.before_first_price == [EXPECTED]


def test_allocate_warns_and_the_reconciliation_lists_them(ws: Workspace) -> None:
    done = CliRunner().invoke(app, ["allocate", str(ws.root), "--dry-run"])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert (
        "warning: openai/gpt-4o: 4 requests dated 2023-06-01 to 2023-06-02 are before the "
        "model's first known price (2024-05-13); priced at its earliest price"
    ) in text
    assert (
        "priced before the model's first known price: 4 requests, $7.00, "
        "models openai/gpt-4o (first price 2024-05-13)"
    ) in text


def test_allocate_json_lists_them(ws: Workspace) -> None:
    done = CliRunner().invoke(app, ["allocate", str(ws.root), "--dry-run", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["before_first_price"] == [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "catalog_model": "openai/gpt-4o",
            "first_price": "2024-05-13",
            "requests": 4,
            "priced": "7.000000000000",
            "first_request": "2023-06-01T00:10:00+00:00",
            "last_request": "2023-06-02T00:10:00+00:00",
        }
    ]
    assert "warning: openai/gpt-4o: 4 requests" in " ".join(done.stderr.split())


def test_no_line_when_nothing_is_flagged() -> None:
    assert reconciliation_line([]) is None


def test_a_single_day_is_named_once_and_periods_add_up() -> None:
    one_day = replace(EXPECTED, last_request=EARLY)
    assert "4 requests dated 2023-06-01 are before the model's" in one_day.warning()
    later = replace(
        EXPECTED, requests=1, priced=Decimal(1), first_request=LATER, last_request=LATER
    )
    assert one_day.plus(later) == replace(
        EXPECTED, requests=5, priced=Decimal(8), first_request=EARLY, last_request=LATER
    )
