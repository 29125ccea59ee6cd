"""The demo organisation generator: determinism, schemas, FOCUS rules, ground truth, files."""

from __future__ import annotations

import gzip
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costcouncil.demo as demo
from costcouncil.conformance import Report, run_checks
from costcouncil.demo import (
    DemoSpec,
    generate_costs,
    generate_jobs,
    generate_llm_requests,
    ground_truth,
    write_demo,
)
from costcouncil.schema.arrow import focus_schema
from costcouncil.schema.focus import BY_NAME, FOCUS_1_2
from costcouncil.schema.usage import JOB_KINDS, JOB_STATUSES, JOBS_SCHEMA, LLM_SCHEMA

SMALL = DemoSpec(rows=5_000)


def costs(spec: DemoSpec) -> pa.Table:
    return pa.Table.from_batches(
        [b for _, _, b in generate_costs(spec)], focus_schema(with_source=False)
    )


@pytest.fixture(scope="module")
def small() -> pa.Table:
    return costs(SMALL)


@pytest.fixture(scope="module")
def truth() -> dict[str, object]:
    return ground_truth(SMALL)


def test_public_api_is_exported() -> None:
    assert sorted(demo.__all__) == sorted(
        [
            "DemoFiles",
            "DemoSpec",
            "generate_costs",
            "generate_jobs",
            "generate_llm_requests",
            "ground_truth",
            "write_demo",
        ]
    )
    for name in demo.__all__:
        assert getattr(demo, name) is not None


def test_same_spec_gives_identical_data(small: pa.Table) -> None:
    assert costs(SMALL).equals(small)
    assert generate_jobs(SMALL).equals(generate_jobs(SMALL))
    assert generate_llm_requests(SMALL).equals(generate_llm_requests(SMALL))


def test_other_seed_gives_other_data(small: pa.Table) -> None:
    other = DemoSpec(rows=SMALL.rows, seed=SMALL.seed + 1)
    assert not costs(other).equals(small)
    assert not generate_jobs(other).equals(generate_jobs(SMALL))
    assert not generate_llm_requests(other).equals(generate_llm_requests(SMALL))


def test_schemas(small: pa.Table) -> None:
    assert small.schema.equals(focus_schema(with_source=False))
    for _, _, batch in generate_costs(SMALL):
        assert batch.schema.equals(focus_schema(with_source=False))
    assert generate_jobs(SMALL).schema.equals(JOBS_SCHEMA)
    assert generate_llm_requests(SMALL).schema.equals(LLM_SCHEMA)


@pytest.mark.parametrize("rows", [2_000, 5_000, 30_000])
def test_row_count_is_near_the_request(rows: int) -> None:
    n = sum(b.num_rows for _, _, b in generate_costs(DemoSpec(rows=rows)))
    assert 0.8 * rows <= n <= 1.2 * rows


def test_row_count_with_few_months() -> None:
    n = sum(b.num_rows for _, _, b in generate_costs(DemoSpec(rows=8_000, months=2)))
    assert 0.8 * 8_000 <= n <= 1.2 * 8_000


def test_batches_are_labelled_with_their_billing_period() -> None:
    for provider, period, batch in generate_costs(SMALL):
        starts = pc.unique(batch.column("BillingPeriodStart")).to_pylist()
        assert [s.strftime("%Y-%m") for s in starts] == [period]
        assert provider in {"aws", "openai", "anthropic", "azure"}


def test_mandatory_non_nullable_columns_are_never_null(small: pa.Table) -> None:
    for column in FOCUS_1_2:
        if column.mandatory and not column.nullable:
            assert small.column(column.name).null_count == 0, column.name
    assert small.column("ChargeClass").null_count == small.num_rows
    assert small.column("ChargeDescription").null_count == 0


def test_allowed_values_are_respected(small: pa.Table) -> None:
    for name, column in BY_NAME.items():
        if column.allowed:
            values = set(pc.unique(small.column(name)).to_pylist()) - {None}
            assert values <= set(column.allowed), (name, values - set(column.allowed))
    assert set(small.column("BillingCurrency").to_pylist()) == {"USD"}


def test_money_rules(small: pa.Table) -> None:
    usage = small.filter(pc.equal(small["ChargeCategory"], "Usage"))
    assert pc.all(pc.greater_equal(usage["ListCost"], usage["ContractedCost"])).as_py()
    assert pc.all(pc.greater_equal(usage["ContractedCost"], 0)).as_py()
    assert usage["PricingQuantity"].null_count == 0
    assert usage["PricingUnit"].null_count == 0
    for value in pc.unique(small["BilledCost"]).to_pylist():
        assert value == value.quantize(Decimal("1e-10"))


def conformance(table: pa.Table) -> Report:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.register("demo", table)
    return run_checks(con, "demo")


def test_costs_pass_the_focus_conformance_gate(small: pa.Table) -> None:
    report = conformance(small)
    assert report.ok and not report.failures(), report.to_text()


@pytest.mark.parametrize(
    "spec",
    [
        DemoSpec(rows=5_000, seed=1),
        DemoSpec(rows=5_000, seed=42),
        DemoSpec(rows=20_000, seed=7),
        DemoSpec(rows=500, seed=3, start=date(2026, 1, 1), months=1),
    ],
    ids=lambda s: f"rows{s.rows}-seed{s.seed}-months{s.months}",
)
def test_other_specs_pass_the_focus_conformance_gate(spec: DemoSpec) -> None:
    report = conformance(costs(spec))
    assert report.ok and not report.failures(), report.to_text()


def test_token_meters_use_the_focus_unit_format(small: pa.Table) -> None:
    meters = small.filter(pc.equal(small["ServiceSubcategory"], "Generative AI"))
    usage = meters.filter(pc.equal(meters["ChargeCategory"], "Usage"))
    assert usage.num_rows > 0
    assert set(usage["PricingUnit"].to_pylist()) == {"1000000 Tokens"}
    assert set(usage["ConsumedUnit"].to_pylist()) == {"1000000 Tokens"}


def test_commitment_fees_carry_the_quantity_they_covered(small: pa.Table) -> None:
    """Per commitment, the fee rows' CommitmentDiscountQuantity is what its usage consumed."""
    committed = small.filter(pc.is_valid(small["CommitmentDiscountId"]))
    by_category = committed.group_by(["CommitmentDiscountId", "ChargeCategory"]).aggregate(
        [("CommitmentDiscountQuantity", "sum")]
    )
    sums: dict[str, dict[str, Decimal]] = {}
    for r in by_category.to_pylist():
        sums.setdefault(r["CommitmentDiscountId"], {})[r["ChargeCategory"]] = r[
            "CommitmentDiscountQuantity_sum"
        ]
    assert sums
    for commitment, quantity in sums.items():
        assert quantity["Purchase"] == quantity["Usage"], commitment


def test_committed_usage_is_cheaper_than_list(small: pa.Table) -> None:
    committed = small.filter(
        pc.and_(
            pc.equal(small["PricingCategory"], "Committed"),
            pc.equal(small["ChargeCategory"], "Usage"),
        )
    )
    assert committed.num_rows > 0
    assert pc.all(pc.greater(committed["ListCost"], committed["EffectiveCost"])).as_py()
    assert pc.all(pc.equal(committed["BilledCost"], 0)).as_py()
    assert committed["CommitmentDiscountId"].null_count == 0


def test_commitment_fees_equal_amortised_usage(small: pa.Table) -> None:
    """Over the span, AWS effective cost equals billed cost: fees move into usage rows."""
    aws = small.filter(pc.equal(small["ProviderName"], "AWS"))
    assert pc.sum(aws["EffectiveCost"]).as_py() == pc.sum(aws["BilledCost"]).as_py()
    purchases = aws.filter(pc.equal(aws["ChargeCategory"], "Purchase"))
    assert set(purchases["ServiceCategory"].to_pylist()) >= {"Management and Governance"}


def test_credits_are_negative(small: pa.Table) -> None:
    credits = small.filter(pc.equal(small["ChargeCategory"], "Credit"))
    assert credits.num_rows > 0
    assert pc.all(pc.less(credits["BilledCost"], 0)).as_py()


def test_every_provider_is_present(small: pa.Table) -> None:
    names = set(small["ProviderName"].to_pylist())
    assert names == {"AWS", "OpenAI", "Anthropic", "Microsoft"}
    issuers = set(small["InvoiceIssuerName"].to_pylist())
    assert "Amazon Web Services, Inc." in issuers


def test_tags_are_json_with_planted_messiness(small: pa.Table, truth: dict) -> None:
    tags = [t for t in pc.unique(small["Tags"]).to_pylist() if t]
    assert all(isinstance(json.loads(t), dict) for t in tags)
    ids = set(small["ResourceId"].to_pylist())
    assert truth["untagged"] and truth["mistagged"]
    for entry in truth["untagged"]:
        assert entry["resource_id"] in ids and entry["tags"] in (None, "{}")
    for entry in truth["mistagged"]:
        written = json.loads(entry["tags"])
        assert written.get("team") != entry["expected"]["team"]


def _window(table: pa.Table, entry: dict) -> pa.Table:
    mask = pc.and_(
        pc.is_in(table["ResourceId"], pa.array(entry["resource_ids"])),
        pc.and_(
            pc.greater_equal(table["ChargePeriodStart"], pa.scalar(_ts(entry["start"]))),
            pc.less(table["ChargePeriodStart"], pa.scalar(_ts(entry["end"]))),
        ),
    )
    return table.filter(mask)


def _ts(text: str) -> pa.Scalar:
    return pa.scalar(text.replace("Z", "+00:00")).cast(pa.timestamp("us", tz="UTC"))


def test_runaway_and_idle_anomalies_are_in_the_data(small: pa.Table, truth: dict) -> None:
    for entry in truth["anomalies"][:2]:
        rows = _window(small, entry)
        assert rows.num_rows > 0
        assert pc.sum(rows["EffectiveCost"]).as_py() == Decimal(entry["expected_excess_cost"])


def test_token_spike_is_in_the_data(small: pa.Table, truth: dict) -> None:
    entry = truth["anomalies"][2]
    spike = pc.sum(_window(small, entry)["BilledCost"]).as_py()
    excess = Decimal(entry["expected_excess_cost"])
    assert spike > excess > 0
    assert excess / spike > Decimal("0.7")  # 6x the usual: most of it is excess


def test_idle_instance_has_no_jobs_after_the_window_start(truth: dict) -> None:
    jobs = generate_jobs(SMALL)
    entry = truth["anomalies"][1]
    mine = jobs.filter(pc.equal(jobs["resource_id"], entry["resource_ids"][0]))
    assert mine.num_rows == 1
    assert mine["end"][0].as_py() <= _ts(entry["start"]).as_py()


def test_jobs_run_on_billed_resources(small: pa.Table) -> None:
    jobs = generate_jobs(SMALL)
    assert jobs.num_rows > 0
    assert set(jobs["resource_id"].to_pylist()) <= set(small["ResourceId"].to_pylist())
    assert set(jobs["status"].to_pylist()) <= set(JOB_STATUSES)
    assert set(jobs["kind"].to_pylist()) <= set(JOB_KINDS)
    assert 0.5 in set(jobs["accelerator_count"].to_pylist())
    assert "failed" in set(jobs["status"].to_pylist())
    assert jobs["job_id"].to_pylist() == list(dict.fromkeys(jobs["job_id"].to_pylist()))


def test_llm_logs_reconcile_with_invoices(small: pa.Table) -> None:
    logs = generate_llm_requests(SMALL)
    meters = small.filter(
        pc.and_(
            pc.equal(small["ServiceCategory"], "AI and Machine Learning"),
            pc.equal(small["ServiceSubcategory"], "Generative AI"),
        )
    )
    usage = meters.filter(pc.equal(meters["ChargeCategory"], "Usage"))
    assert pc.sum(logs["cost"]).as_py() == pc.sum(usage["BilledCost"]).as_py()
    assert pc.min(logs["request_count"]).as_py() >= 1
    assert set(logs["provider"].to_pylist()) == {"openai", "anthropic", "azure-openai", "bedrock"}


def test_totals_match_the_rows(small: pa.Table, truth: dict) -> None:
    rows = sum(t["rows"] for t in truth["totals"])
    assert rows == small.num_rows
    billed = sum(Decimal(t["billed_cost"]) for t in truth["totals"])
    assert billed == pc.sum(small["BilledCost"]).as_py()


@settings(max_examples=8, deadline=None)
@given(rows=st.integers(500, 4_000), seed=st.integers(0, 2**32), months=st.integers(1, 4))
def test_ground_truth_totals_are_exact(rows: int, seed: int, months: int) -> None:
    spec = DemoSpec(rows=rows, seed=seed, start=date(2026, 1, 1), months=months)
    expected: dict[tuple[str, str], Decimal] = {}
    for provider, period, batch in generate_costs(spec):
        key = (provider, period)
        billed = sum(batch.column("BilledCost").to_pylist(), Decimal(0))
        expected[key] = expected.get(key, Decimal(0)) + billed
    totals = {
        (t["provider"], t["billing_period"]): Decimal(t["billed_cost"])
        for t in ground_truth(spec)["totals"]
    }
    assert totals == expected


def test_write_demo_writes_files_that_read_back(tmp_path: Path) -> None:
    spec = DemoSpec(rows=3_000, months=3)
    files = write_demo(tmp_path, spec)
    assert files.exports and all(p.exists() for p in files.exports)
    assert {p.parent.name for p in files.exports} == {"aws", "openai", "anthropic", "azure"}
    first = files.exports[0]
    assert first.relative_to(tmp_path).as_posix() == "exports/aws/2025-11.csv.gz"
    with gzip.open(first, "rt") as fh:
        header, row = fh.readline(), fh.readline()
    assert '"ChargePeriodStart"' in header and "T00:00:00Z" in row
    table = csv.read_csv(first)
    assert table.schema.names == [c.name for c in FOCUS_1_2]
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("s", tz="UTC")
    assert table.num_rows == sum(
        b.num_rows for p, m, b in generate_costs(spec) if (p, m) == ("aws", "2025-11")
    )
    assert pq.read_table(files.jobs).schema.equals(JOBS_SCHEMA)
    assert pq.read_table(files.llm).schema.equals(LLM_SCHEMA)
    assert json.loads(files.ground_truth.read_text())["version"] == 4


def test_write_demo_is_byte_identical(tmp_path: Path) -> None:
    spec = DemoSpec(rows=1_000, months=2)
    a, b = write_demo(tmp_path / "a", spec), write_demo(tmp_path / "b", spec)
    for x, y in zip(
        (*a.exports, a.jobs, a.llm, a.ground_truth),
        (*b.exports, b.jobs, b.llm, b.ground_truth),
        strict=True,
    ):
        assert x.read_bytes() == y.read_bytes(), x


def test_spec_is_validated() -> None:
    with pytest.raises(ValueError, match="first day"):
        DemoSpec(start=date(2025, 11, 2))
    with pytest.raises(ValueError, match="rows"):
        DemoSpec(rows=10)
