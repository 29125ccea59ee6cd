"""The litellm usage source: LiteLLM proxy spend logs (CSV export, /spend/logs JSON, JSONL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from costcouncil.errors import FormatError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources.litellm import read

CASES = Path(__file__).resolve().parents[2] / "cases" / "usage" / "litellm"
CSV = CASES / "spend_logs.csv"


def _log(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": "req-1",
        "call_type": "acompletion",
        "api_key": "hashed-key",
        "spend": 0.001,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "startTime": "2024-11-01T10:00:00Z",
        "endTime": "2024-11-01T10:00:01Z",
        "model": "gpt-4o",
        "custom_llm_provider": "openai",
        "metadata": {},
        "request_tags": [],
    }
    return {**base, **fields}


def _json(tmp_path: Path, *logs: dict[str, Any]) -> Path:
    path = tmp_path / "logs.json"
    path.write_text(json.dumps(list(logs)))
    return path


def _one(tmp_path: Path, options: SourceOptions | None = None, **fields: Any) -> dict[str, Any]:
    (row,) = read(_json(tmp_path, _log(**fields)), options or SourceOptions()).to_pylist()
    assert isinstance(row, dict)
    return row


def _csv_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = read(CSV, SourceOptions()).to_pylist()
    return rows


def test_cached_tokens_come_out_of_prompt_tokens() -> None:
    first = _csv_rows()[0]
    assert (first["input_tokens"], first["cached_input_tokens"], first["output_tokens"]) == (
        200,
        1000,
        300,
    )


def test_anthropic_cache_reads_and_writes_are_split_out() -> None:
    second = _csv_rows()[1]
    assert (second["input_tokens"], second["cached_input_tokens"]) == (1000, 3000)
    assert second["cache_write_tokens"] == 1000


def test_reasoning_tokens_come_out_of_completion_tokens() -> None:
    third = _csv_rows()[2]
    assert (third["output_tokens"], third["reasoning_tokens"]) == (500, 1500)


def test_older_litellm_without_cache_writes_in_prompt_tokens(tmp_path: Path) -> None:
    usage = {"cache_read_input_tokens": 3000, "cache_creation_input_tokens": 1000}
    row = _one(tmp_path, prompt_tokens=3500, metadata={"additional_usage_values": usage})
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (
        500,
        3000,
        1000,
    )


@pytest.mark.parametrize(
    "provider, model, api_base, expected",
    [
        ("openai", "openai/gpt-4o", "", ("openai", "gpt-4o")),
        ("", "anthropic/claude-3-5-haiku", "", ("anthropic", "claude-3-5-haiku")),
        ("bedrock", "bedrock/anthropic.claude-3", "", ("bedrock", "anthropic.claude-3")),
        ("azure", "gpt-4o-deploy", "", ("azure", "gpt-4o-deploy")),
        ("openrouter", "openrouter/meta-llama/llama-3", "", ("openrouter", "meta-llama/llama-3")),
        ("vertex_ai", "gemini-1.5-pro", "", ("vertex-ai", "gemini-1.5-pro")),
        ("", "gpt-4o-mini", "https://api.openai.com/v1", ("openai", "gpt-4o-mini")),
        ("", "claude-3-opus", "https://api.anthropic.com", ("anthropic", "claude-3-opus")),
    ],
)
def test_provider_and_model_without_its_prefix(
    tmp_path: Path, provider: str, model: str, api_base: str, expected: tuple[str, str]
) -> None:
    row = _one(tmp_path, custom_llm_provider=provider, model=model, api_base=api_base)
    assert (row["provider"], row["model"]) == expected


def test_model_group_stands_in_for_an_empty_model(tmp_path: Path) -> None:
    assert _one(tmp_path, model="", model_group="gpt-4o-mini")["model"] == "gpt-4o-mini"


def test_team_alias_is_preferred_and_the_id_kept_in_attributes() -> None:
    rows = _csv_rows()
    assert [r["team"] for r in rows] == ["search", "team-2", "search", None]
    assert json.loads(rows[0]["attributes"])["team_id"] == "team-1"


def test_tags_and_spend_logs_metadata_feed_owner_keys() -> None:
    first, second = _csv_rows()[:2]
    assert (first["feature"], first["environment"], first["customer"]) == (
        "chat",
        "prod",
        "cust-42",
    )
    assert (second["feature"], second["project"], second["run"]) == (
        "summarize",
        "atlas",
        "nightly-7",
    )
    assert json.loads(first["attributes"])["request_tags"] == ["feature:chat", "canary"]


def test_the_proxys_team_wins_over_a_team_tag(tmp_path: Path) -> None:
    metadata = {"user_api_key_team_alias": "search"}
    row = _one(tmp_path, metadata=metadata, request_tags=["team:other"])
    assert row["team"] == "search"
    assert _one(tmp_path, request_tags=["team:other"])["team"] == "other"


def test_labels_override(tmp_path: Path) -> None:
    metadata = {"user_api_key_team_alias": "search", "spend_logs_metadata": {"squad": "ranking"}}
    options = SourceOptions(labels={"team": ("squad",), "user": ("user_api_key_alias",)})
    row = _one(tmp_path, options, metadata={**metadata, "user_api_key_alias": "ci-key"})
    assert (row["team"], row["user"]) == ("ranking", "ci-key")


def test_spend_is_the_cost_and_api_key_the_key_id() -> None:
    first = _csv_rows()[0]
    assert str(first["cost"]).startswith("0.0045")
    assert first["api_key_id"].startswith("88dc28d0")


def test_times_without_a_zone_are_utc() -> None:
    assert _csv_rows()[0]["time"].isoformat() == "2024-11-01T10:00:00.123000+00:00"


def test_jsonl_and_spend_logs_v2_read_the_same(tmp_path: Path) -> None:
    logs = [_log(), _log(request_id="req-2", model="o3-mini")]
    lines = tmp_path / "logs.jsonl"
    lines.write_text("".join(json.dumps(log) + "\n" for log in logs))
    v2 = tmp_path / "logs.json"
    v2.write_text(json.dumps({"data": logs, "total": 2, "page": 1}))
    assert read(lines, SourceOptions()).equals(read(v2, SourceOptions()))


def test_message_content_is_not_kept(tmp_path: Path) -> None:
    row = _one(tmp_path, messages=[{"role": "user", "content": "secret"}], response={"x": 1})
    assert "secret" not in row["attributes"]


def _bad_csv(tmp_path: Path) -> Path:
    with CSV.open() as f:
        rows = list(csv.DictReader(f))
    rows[1]["spend"] = "abc"
    rows[2]["metadata"] = "{not json"
    path = tmp_path / "spend.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_bad_values_name_file_row_column_and_value(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path)
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    found = {(p.file, p.row, p.column, p.value) for p in e.value.problems}
    assert found == {
        (str(path), 2, "spend", "abc"),
        (str(path), 3, "metadata", "{not json"),
    }
    assert f"{path}, row 2, column spend = 'abc'" in str(e.value)


def test_bad_token_count_is_named_by_litellms_column(tmp_path: Path) -> None:
    path = _json(tmp_path, _log(), _log(request_id="req-2", completion_tokens="ten"))
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    (problem,) = e.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "completion_tokens", "ten")


def test_no_provider_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="column custom_llm_provider"):
        _one(tmp_path, custom_llm_provider="", model="my-model")


def test_csv_without_spend_log_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(FormatError, match=r"missing column.*request_id, startTime"):
        read(path, SourceOptions())


def test_json_of_another_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"resourceSpans": []}')
    with pytest.raises(FormatError, match="LiteLLM spend logs"):
        read(path, SourceOptions())
