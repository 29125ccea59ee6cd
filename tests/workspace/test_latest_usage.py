"""Attribution reads each job and request once: its latest observation."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from costcouncil.engine.base import Engine
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.common.inputs import latest_usage

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _at(hour: int) -> datetime:
    return T0.replace(hour=hour)


def test_an_ended_observation_wins_over_a_running_one(engine: Engine) -> None:
    rows = [
        {"job_id": "a", "source": "kubernetes", "start": _at(1), "end": None, "team": "first"},
        {"job_id": "a", "source": "kubernetes", "start": _at(1), "end": _at(5), "team": "ended"},
        {"job_id": "a", "source": "kubernetes", "start": _at(1), "end": _at(3), "team": "earlier"},
        {"job_id": "a", "source": "slurm", "start": _at(2), "end": None, "team": "other source"},
        {"job_id": "b", "source": "kubernetes", "start": _at(4), "end": None, "team": "open"},
    ]
    engine.load_arrow("jobs_all", pa.Table.from_pylist(rows, JOBS_SCHEMA))
    engine.create("jobs", latest_usage("jobs_all", JOBS_SCHEMA, "job_id"))
    got = engine.fetch("SELECT source, job_id, team FROM jobs ORDER BY 1, 2").to_pylist()
    assert [(r["source"], r["job_id"], r["team"]) for r in got] == [
        ("kubernetes", "a", "ended"),
        ("kubernetes", "b", "open"),
        ("slurm", "a", "other source"),
    ]


@pytest.mark.parametrize("copies", [1, 3])
def test_a_request_seen_several_times_counts_once(engine: Engine, copies: int) -> None:
    row = {"request_id": "r", "source": "events", "provider": "openai", "model": "gpt-4o",
           "time": _at(1), "input_tokens": 10}  # fmt: skip
    engine.load_arrow("llm_all", pa.Table.from_pylist([row] * copies, LLM_SCHEMA))
    engine.create("llm", latest_usage("llm_all", LLM_SCHEMA, "request_id"))
    assert engine.scalar("SELECT sum(input_tokens) FROM llm") == 10
