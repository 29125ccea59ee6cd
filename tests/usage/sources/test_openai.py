"""The openai usage source: OpenAI's organisation Usage API (completions) pages, buckets, results."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from costcouncil.errors import FormatError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources.openai import read

CASES = Path(__file__).resolve().parents[2] / "cases" / "usage" / "openai"
PAGE = CASES / "usage_page.json"
DAY = 1730419200  # 2024-11-01T00:00:00Z


def _result(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "object": "organization.usage.completions.result",
        "input_tokens": 100,
        "output_tokens": 10,
        "num_model_requests": 1,
        "model": "gpt-4o",
    }
    return {**base, **fields}


def _page(*results: dict[str, Any]) -> dict[str, Any]:
    bucket = {"object": "bucket", "start_time": DAY, "end_time": DAY + 86400}
    return {"object": "page", "data": [{**bucket, "results": list(results)}], "has_more": False}


def _write(tmp_path: Path, doc: Any, name: str = "usage.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _rows(path: Path, options: SourceOptions | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = read(path, options or SourceOptions()).to_pylist()
    return rows


def test_cached_and_cache_write_tokens_are_taken_out_of_input() -> None:
    last = _rows(PAGE)[2]
    assert (last["input_tokens"], last["cached_input_tokens"], last["cache_write_tokens"]) == (
        1300,
        1000,
        200,
    )
    assert last["output_tokens"] == 700 and last["request_count"] == 12


def test_time_is_the_bucket_start_and_ids_are_deterministic() -> None:
    first, again = _rows(PAGE), _rows(PAGE)
    assert first[0]["time"].isoformat() == "2024-11-01T00:00:00+00:00"
    assert [r["request_id"] for r in first] == [r["request_id"] for r in again]
    assert first[0]["request_id"].startswith(f"{DAY}-")


def test_batch_and_service_tier() -> None:
    tiers = [r["service_tier"] for r in _rows(PAGE)]
    assert tiers == [None, "batch", "priority"]


@pytest.mark.parametrize(
    "tier, ours", [("default", "standard"), ("scale", "provisioned"), ("flex", "flex")]
)
def test_openai_tier_names_become_ours(tmp_path: Path, tier: str, ours: str) -> None:
    path = _write(tmp_path, _page(_result(service_tier=tier)))
    assert _rows(path)[0]["service_tier"] == ours


def test_owner_keys_and_project_id_in_attributes() -> None:
    row = _rows(PAGE)[0]
    assert (row["project"], row["user"], row["api_key_id"]) == ("proj_search", "user_ann", "key_a")
    attributes = json.loads(row["attributes"])
    assert attributes["project_id"] == "proj_search"
    assert attributes["end_time"] == DAY + 86400


def test_labels_override_the_result_fields() -> None:
    options = SourceOptions(labels={"project": ("api_key_id",), "team": ("project_id",)})
    rows = _rows(PAGE, options)
    assert [r["project"] for r in rows] == ["key_a", "key_b", "key_a"]
    assert [r["team"] for r in rows] == ["proj_search", "proj_vision", "proj_search"]


def test_jsonl_of_bare_results_reads_like_the_page(tmp_path: Path) -> None:
    page = json.loads(PAGE.read_text())
    lines = [
        {**result, "start_time": bucket["start_time"], "end_time": bucket["end_time"]}
        for bucket in page["data"]
        for result in bucket["results"]
    ]
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read(path, SourceOptions()).equals(read(PAGE, SourceOptions()))


def test_a_list_of_pages_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, [_page(_result()), _page(_result(model="o3"))])
    assert [r["model"] for r in _rows(path)] == ["gpt-4o", "o3"]


def test_bad_value_names_file_row_column_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path, _page(_result(), _result(model="o3", input_cached_tokens="lots")))
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    (problem,) = e.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        str(path),
        2,
        "input_cached_tokens",
        "lots",
    )
    assert f"{path}, row 2, column input_cached_tokens = 'lots'" in str(e.value)


def test_problem_in_jsonl_names_the_line(tmp_path: Path) -> None:
    good = {**_result(), "start_time": DAY}
    bad = {**_result(num_model_requests=-3), "start_time": DAY + 86400}
    path = tmp_path / "usage.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    (problem,) = e.value.problems
    assert (problem.file, problem.row, problem.column) == (
        f"{path}, line 3",
        1,
        "num_model_requests",
    )
    assert problem.value == "-3"


def test_a_result_without_model_asks_for_group_by_model(tmp_path: Path) -> None:
    path = _write(tmp_path, _page(_result(model=None)))
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    (problem,) = e.value.problems
    assert problem.column == "model" and "group_by=model" in problem.reason


def test_a_bare_result_without_start_time_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, _result())
    with pytest.raises(ValidationError) as e:
        read(path, SourceOptions())
    assert [p.column for p in e.value.problems] == ["start_time"]


def test_costs_api_output_is_refused_with_a_hint(tmp_path: Path) -> None:
    cost = {
        "object": "organization.costs.result",
        "amount": {"value": 0.06, "currency": "usd"},
        "line_item": None,
        "project_id": None,
    }
    path = _write(tmp_path, _page(cost))
    with pytest.raises(FormatError, match=r"Costs API.*FOCUS"):
        read(path, SourceOptions())


def test_other_usage_results_are_reported(tmp_path: Path) -> None:
    images = {"object": "organization.usage.images.result", "images": 2, "num_model_requests": 2}
    path = _write(tmp_path, _page(images))
    with pytest.raises(
        ValidationError, match=r"column object = 'organization\.usage\.images\.result'"
    ):
        read(path, SourceOptions())


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ('{"object": "page", "data": [', "not JSON"),
        ('{"hello": 1}', "expected OpenAI Usage API output"),
        ("[1, 2]", "found a JSON int"),
    ],
)
def test_unreadable_files_raise_format_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "usage.json"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as e:
        read(path, SourceOptions())
    assert str(path) in str(e.value)


def test_gzip_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "usage.json.gz"
    path.write_bytes(gzip.compress(PAGE.read_bytes()))
    assert read(path, SourceOptions()).equals(read(PAGE, SourceOptions()))
