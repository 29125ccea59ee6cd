"""Pricing a real LLM trace (Azure LLM inference 2023, code) by joining it to the price table."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from costcouncil.catalog import build_price_table, parse_overrides

TRACE = Path("llm") / "azure_llm_inference_2023_code.csv"

# Two price changes inside the trace's hour, so the join has to pick the right row per request.
OVERRIDES = """\
version: 1
overrides:
  - {provider: openai, discount: 0.15, from: "2023-11-16T18:30:00Z"}
  - provider: openai
    model: gpt-4o
    prices: {input: 2.00, output: 8.00}
    from: "2023-11-16T18:50:00Z"
"""

JOIN = """
SELECT count(*), sum(t.ContextTokens * p.input_per_mtok + t.GeneratedTokens * p.output_per_mtok)::VARCHAR
FROM read_csv({path!r}) AS t
JOIN prices AS p
  ON p.provider = 'openai' AND p.model = 'gpt-4o' AND p.service_tier = 'standard'
 AND (p.valid_from IS NULL OR t."TIMESTAMP"::TIMESTAMPTZ >= p.valid_from)
 AND (p.valid_to IS NULL OR t."TIMESTAMP"::TIMESTAMPTZ < p.valid_to)
"""


@pytest.fixture
def trace(shared_data: Path) -> Path:
    path = shared_data / TRACE
    if not path.exists():
        pytest.skip(f"the Azure LLM trace is absent at {path}")
    return path


@pytest.mark.shared_data
def test_pricing_the_azure_trace_in_duckdb_matches_decimal_python(trace: Path) -> None:
    prices = build_price_table([("openai", "gpt-4o")], parse_overrides(OVERRIDES, "prices.yaml"))
    table = prices.table
    assert [r["valid_from"] for r in _standard(table)][1:] == [
        datetime(2023, 11, 16, 18, 30, tzinfo=UTC),
        datetime(2023, 11, 16, 18, 50, tzinfo=UTC),
    ]
    count, total_mtok = _duckdb_total(trace, table)
    expected_count, expected = _python_total(trace, _standard(table))
    assert count == expected_count == 8819
    assert Decimal(total_mtok).scaleb(-6) == expected
    assert Decimal("40") < expected < Decimal("50")


def _duckdb_total(trace: Path, table: pa.Table) -> tuple[int, str]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # the trace's times are naive UTC
    con.register("prices", table)
    count, total = con.execute(JOIN.format(path=str(trace))).fetchone() or (0, "0")
    return int(count), str(total)


def _python_total(trace: Path, standard: list[dict[str, object]]) -> tuple[int, Decimal]:
    total, count = Decimal(0), 0
    with trace.open(newline="") as f:
        for record in csv.DictReader(f):
            at = datetime.fromisoformat(record["TIMESTAMP"]).replace(tzinfo=UTC)
            row = _in_force(standard, at)
            total += int(record["ContextTokens"]) * _dec(row["input_per_mtok"])
            total += int(record["GeneratedTokens"]) * _dec(row["output_per_mtok"])
            count += 1
    return count, total.scaleb(-6)  # per million tokens → USD, exactly


def _standard(table: pa.Table) -> list[dict[str, object]]:
    rows = [r for r in table.to_pylist() if r["service_tier"] == "standard"]
    return sorted(rows, key=lambda r: r["valid_from"] or datetime.min.replace(tzinfo=UTC))


def _in_force(rows: list[dict[str, object]], at: datetime) -> dict[str, object]:
    [row] = [
        r
        for r in rows
        if (r["valid_from"] is None or r["valid_from"] <= at)  # type: ignore[operator]
        and (r["valid_to"] is None or at < r["valid_to"])  # type: ignore[operator]
    ]
    return row


def _dec(value: object) -> Decimal:
    assert isinstance(value, Decimal)
    return value
