"""The generic ``csv`` usage source: a YAML mapping over any CSV, on real DuckDB.

Small hand-written files check each rule of the mapping and every kind of error; the real traces
in ``../shared/data`` (Helios, Alibaba, Azure) load through the example mappings of
``examples/mappings/`` with GPU-seconds and tokens conserved against an independent reading
with the standard library's ``csv`` module.
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from costcouncil.errors import ConfigError, FormatError, ValidationError
from costcouncil.usage.base import SCHEMAS, SourceOptions
from costcouncil.usage.evaluate import first_failing
from costcouncil.usage.mapping import parse_mapping
from costcouncil.usage.sources import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "mappings"
SOURCE = REGISTRY["csv"]

JOBS = """\
version: 1
name: sched
kind: jobs
columns:
  job_id: id
  start: started
  end: ended
  accelerator_count: gpus
  team: team
"""
JOBS_CSV = """\
id,started,ended,gpus,team,note
j1,2024-05-01T00:00:00Z,2024-05-01T01:00:00Z,2,search,first
j2,2024-05-01T00:30:00+02:00,2024-05-01T01:00:00Z,0.5,vision,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def read(
    tmp_path: Path, mapping: str, data: str, name: str = "jobs.csv", **options: Any
) -> pa.Table:
    m = write(tmp_path, "m.yaml", mapping)
    return SOURCE.read(write(tmp_path, name, data), SourceOptions(mapping=m, **options))


def error(kind: type[Exception], tmp_path: Path, mapping: str, data: str, **options: Any) -> str:
    with pytest.raises(kind) as caught:
        read(tmp_path, mapping, data, **options)
    return str(caught.value)


# --- declaration and output ----------------------------------------------------------------


def test_declared_as_a_file_source_whose_mapping_decides_the_kind() -> None:
    assert (SOURCE.name, SOURCE.kind, SOURCE.needs_file) == ("csv", None, True)


def test_jobs_in_exactly_the_schema_with_zones_converted_to_utc(tmp_path: Path) -> None:
    table = read(tmp_path, JOBS, JOBS_CSV)
    assert table.schema.equals(SCHEMAS["jobs"])
    rows = table.to_pylist()
    assert [r["job_id"] for r in rows] == ["j1", "j2"]
    assert rows[1]["start"] == datetime(2024, 4, 30, 22, 30, tzinfo=UTC)
    assert [r["accelerator_count"] for r in rows] == [2.0, 0.5]
    assert {r["source"] for r in rows} == {"csv:sched"}


def test_unmapped_columns_are_attributes_without_empty_values(tmp_path: Path) -> None:
    rows = read(tmp_path, JOBS, JOBS_CSV).to_pylist()
    assert [r["attributes"] for r in rows] == ['{"note":"first"}', None]


def test_attributes_none_or_a_list(tmp_path: Path) -> None:
    none = read(tmp_path, JOBS + "attributes: none\n", JOBS_CSV)
    assert none.column("attributes").to_pylist() == [None, None]
    listed = read(tmp_path, JOBS + "attributes: [team, note]\n", JOBS_CSV)
    assert json.loads(listed.column("attributes")[0].as_py()) == {"note": "first", "team": "search"}


def test_llm_cost_is_decimal_38_12_and_counts_are_integers(tmp_path: Path) -> None:
    mapping = """\
version: 1
name: calls
kind: llm
constants: {vendor: openai}
columns:
  request_id: id
  provider: {value: "${vendor}"}
  model: {expr: "lower(m)"}
  time: {expr: "to_timestamp(CAST(t AS BIGINT))"}
  input_tokens: in
  output_tokens: out
  cost: usd
  service_tier: {value: batch}
"""
    data = "id,m,t,in,out,usd\nr1,GPT-4o,1714521600,10,5,0.000123456789012\n"
    table = read(tmp_path, mapping, data)
    assert table.schema.equals(SCHEMAS["llm"])
    [row] = table.to_pylist()
    assert (row["provider"], row["model"], row["service_tier"]) == ("openai", "gpt-4o", "batch")
    assert row["time"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert row["cost"] == Decimal("0.000123456789")
    assert (row["input_tokens"], row["output_tokens"]) == (10, 5)


def test_virtual_columns_name_the_file_and_the_data_row(tmp_path: Path) -> None:
    mapping = JOBS.replace("job_id: id", "job_id: {expr: \"x_file_stem || ':' || x_row\"}")
    mapping += "  run: x_file_name\n"
    table = read(tmp_path, mapping, JOBS_CSV, name="week1.csv")
    assert table.column("job_id").to_pylist() == ["week1:1", "week1:2"]
    assert table.column("run").to_pylist() == ["week1.csv", "week1.csv"]


def test_filter_keeps_only_matching_rows(tmp_path: Path) -> None:
    table = read(tmp_path, JOBS + 'filter: "CAST(gpus AS DOUBLE) >= 1"\n', JOBS_CSV)
    assert table.column("job_id").to_pylist() == ["j1"]


def test_gzip_and_tsv_and_a_header_less_file(tmp_path: Path) -> None:
    packed = tmp_path / "jobs.csv.gz"
    packed.write_bytes(gzip.compress(JOBS_CSV.encode()))
    mapping = write(tmp_path, "m.yaml", JOBS.replace("run: x_file_stem", ""))
    table = SOURCE.read(packed, SourceOptions(mapping=mapping))
    assert table.num_rows == 2
    tsv = JOBS_CSV.replace(",", "\t")
    assert read(tmp_path, JOBS, tsv, name="jobs.tsv").num_rows == 2
    bare = "\n".join(JOBS_CSV.splitlines()[1:]) + "\n"
    positional = "version: 1\nname: x\nkind: jobs\ncsv: {header: false}\n"
    positional += "columns: {job_id: column1, start: column2, accelerator_count: column4}\n"
    assert read(tmp_path, positional, bare).column("job_id").to_pylist() == ["j1", "j2"]


def test_null_strings_semicolons_and_skipped_lines(tmp_path: Path) -> None:
    mapping = JOBS.replace(
        "kind: jobs", 'kind: jobs\ncsv: {delimiter: ";", nulls: ["N/A"], skip: 1}'
    )
    data = "exported by sched 1.2\n" + JOBS_CSV.replace(",", ";").replace(";0.5;", ";N/A;")
    table = read(tmp_path, mapping, data)
    assert table.column("accelerator_count").to_pylist() == [2.0, None]


def test_unquoted_yaml_dates_are_constants_in_iso_text(tmp_path: Path) -> None:
    mapping = "version: 1\nname: t\nkind: jobs\nconstants: {anchor: 2023-07-01T00:00:00Z}\n"
    mapping += 'columns: {job_id: id, start: {expr: "CAST(${anchor} AS TIMESTAMPTZ) + '
    mapping += 'to_seconds(CAST(s AS BIGINT))"}}\n'
    table = read(tmp_path, mapping, "id,s\np,90\n")
    assert table.column("start").to_pylist() == [datetime(2023, 7, 1, 0, 1, 30, tzinfo=UTC)]


# --- time zones ------------------------------------------------------------------------------

NAIVE = "id,started\nj1,2024-05-01 00:00:00\nj2,2024-05-01T01:00:00Z\n"
NAIVE_MAP = "version: 1\nname: n\nkind: jobs\ncolumns: {job_id: id, start: started}\n"


def test_naive_text_timestamps_are_refused_cell_by_cell(tmp_path: Path) -> None:
    message = error(ValidationError, tmp_path, NAIVE_MAP, NAIVE)
    assert "jobs.csv, row 1, column start (started) = '2024-05-01 00:00:00'" in message
    assert "no time zone" in message and "row 2" not in message


def test_naive_timestamps_read_in_the_mapping_zone_or_utc_when_assumed(tmp_path: Path) -> None:
    zoned = NAIVE_MAP.replace("kind: jobs", "kind: jobs\ncsv: {timezone: Asia/Shanghai}")
    starts = read(tmp_path, zoned, NAIVE).column("start").to_pylist()
    assert starts == [datetime(2024, 4, 30, 16, tzinfo=UTC), datetime(2024, 5, 1, 1, tzinfo=UTC)]
    assumed = read(tmp_path, NAIVE_MAP, NAIVE, assume_utc=True).column("start").to_pylist()
    assert assumed[0] == datetime(2024, 5, 1, tzinfo=UTC)


def test_an_expression_giving_naive_timestamps_needs_a_zone(tmp_path: Path) -> None:
    mapping = NAIVE_MAP.replace("start: started", 'start: {expr: "CAST(started AS TIMESTAMP)"}')
    message = error(ConfigError, tmp_path, mapping, NAIVE)
    assert (
        "m.yaml:4: columns.start: gives TIMESTAMP values" in message and "csv.timezone" in message
    )


# --- mapping documents -----------------------------------------------------------------------


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_mapping(text, "m.yaml")
    return str(caught.value)


def test_unknown_and_reserved_targets_with_lines_and_hints() -> None:
    message = problems(JOBS.replace("team: team", "teem: team\n  source: x\n  attributes: y"))
    assert "m.yaml:9: columns.teem: not a jobs column — did you mean 'team'?" in message
    assert "m.yaml:10: columns.source: `source` is set from the mapping's name" in message
    assert "m.yaml:11: columns.attributes: set `attributes` at the top level" in message


def test_required_columns_of_each_kind() -> None:
    assert "jobs rows need start mapped" in problems(JOBS.replace("  start: started\n", ""))
    llm = "version: 1\nname: x\nkind: llm\ncolumns: {request_id: id}\n"
    assert "llm rows need provider, model, time mapped" in problems(llm)


def test_shape_problems_with_did_you_mean() -> None:
    text = JOBS.replace("kind: jobs", "kind: job\ncsv: {delim: ';', timezone: Europe/Pari}")
    text = text.replace("end: ended", "end: {exprr: ended}")
    message = problems(text)
    assert (
        "m.yaml:3: kind: Input should be 'jobs' or 'llm' (got 'job') — did you mean 'jobs'?"
        in message
    )
    assert (
        "csv.delim: Extra inputs are not permitted (got ';') — did you mean 'delimiter'?" in message
    )
    assert "unknown time zone — did you mean 'Europe/Paris'?" in message
    assert "m.yaml:8: columns.end.exprr: Extra inputs are not permitted" in message


def test_a_column_is_exactly_one_of_name_expr_value() -> None:
    message = problems(
        JOBS.replace("gpus\n", "{expr: gpus, value: 1}\n").replace("team: team", "team: 5")
    )
    assert "columns.accelerator_count: Value error, give exactly one of" in message
    assert "columns.team: Value error, expected a source column name" in message


def test_unknown_constants_and_bad_yaml() -> None:
    text = JOBS.replace("team: team", 'team: {value: "${owner}"}') + "constants: {ownr: me}\n"
    assert "${owner} is not a constant — did you mean 'ownr'?" in problems(text)
    assert "m.yaml:2: not valid YAML" in problems("version: 1\n name: [x\n")
    assert "must be a YAML mapping" in problems("- 1\n")


def test_missing_mapping_option_and_labels_are_refused(tmp_path: Path) -> None:
    data = write(tmp_path, "d.csv", JOBS_CSV)
    with pytest.raises(ConfigError, match="needs --mapping"):
        SOURCE.read(data, SourceOptions())
    m = write(tmp_path, "m.yaml", JOBS)
    with pytest.raises(ConfigError, match="--label does not apply"):
        SOURCE.read(data, SourceOptions(mapping=m, labels={"team": ("squad",)}))
    with pytest.raises(ConfigError, match="cannot be read"):
        SOURCE.read(data, SourceOptions(mapping=tmp_path / "absent.yaml"))


# --- the mapping against a file --------------------------------------------------------------


def test_a_source_column_the_file_lacks_is_named_with_close_header_names(tmp_path: Path) -> None:
    message = error(ConfigError, tmp_path, JOBS.replace("start: started", "start: start"), JOBS_CSV)
    assert "m.yaml:6: columns.start: source column 'start' is not in jobs.csv" in message
    assert "did you mean 'started'?" in message and "its columns: id, started, ended" in message


def test_missing_columns_inside_expressions_and_filters(tmp_path: Path) -> None:
    mapping = JOBS.replace("gpus\n", '{expr: "CAST(gpu AS DOUBLE)"}\n') + 'filter: "temas = 1"\n'
    message = error(ConfigError, tmp_path, mapping, JOBS_CSV)
    assert (
        "columns.accelerator_count: source column 'gpu' is not in jobs.csv — did you mean 'gpus'"
        in message
    )
    assert "filter: source column 'temas' is not in jobs.csv — did you mean 'team'" in message


def test_bad_sql_is_a_config_error_naming_the_column(tmp_path: Path) -> None:
    mapping = JOBS.replace("team: team", 'team: {expr: "upper(team"}\n  user: {expr: "nosuch(id)"}')
    message = error(ConfigError, tmp_path, mapping, JOBS_CSV)
    assert "m.yaml:9: columns.team: not one SQL expression" in message
    assert "m.yaml:10: columns.user: DuckDB cannot evaluate 'nosuch(id)'" in message
    smuggled = JOBS.replace("team: team", 'team: {expr: "id) FROM src; SELECT (1"}')
    assert "not one SQL expression" in error(ConfigError, tmp_path, smuggled, JOBS_CSV)


def test_a_constant_value_that_does_not_fit_its_column(tmp_path: Path) -> None:
    mapping = JOBS.replace("gpus\n", "{value: eight}\n")
    message = error(ConfigError, tmp_path, mapping, JOBS_CSV)
    assert "columns.accelerator_count: the value 'eight' is not a valid double" in message


def test_a_file_read_as_one_column_hints_at_the_delimiter(tmp_path: Path) -> None:
    message = error(ConfigError, tmp_path, JOBS, JOBS_CSV.replace(",", ";"))
    assert "the file read as a single column: is csv.delimiter right?" in message


# --- bad cells -------------------------------------------------------------------------------

BAD = """\
id,started,ended,gpus,team
j1,2024-05-01T00:00:00Z,2024-05-01T01:00:00Z,two,a
,2024-05-01T00:00:00Z,2024-05-01T01:00:00Z,1,a
j3,yesterday,2024-05-01T01:00:00Z,-1,a
j1,2024-05-02T00:00:00Z,2024-05-01T01:00:00Z,inf,a
"""


def test_every_bad_cell_is_named_and_the_file_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        read(tmp_path, JOBS, BAD)
    shown = [str(p).split("jobs.csv, ")[1] for p in caught.value.problems]
    assert shown == [
        "row 1, column accelerator_count (gpus) = 'two': not a number",
        "row 2, column job_id (id): required value is missing",
        "row 3, column start (started) = 'yesterday': not a timestamp (ISO 8601, e.g. 2024-05-01T12:00:00Z)",
        "row 3, column accelerator_count (gpus) = '-1': must not be negative",
        "row 4, column accelerator_count (gpus) = 'inf': not a finite number",
        "row 4, column job_id (id) = 'j1': duplicate id (first on row 1)",
        "row 4, column end (ended) = '2024-05-01T01:00:00Z': ends before it starts (start 2024-05-02T00:00:00Z)",
    ]


def test_fractional_counts_are_refused(tmp_path: Path) -> None:
    mapping = "version: 1\nname: c\nkind: llm\ncolumns: {request_id: id, provider: {value: p}, "
    mapping += "model: {value: m}, time: t, input_tokens: n}\n"
    message = error(ValidationError, tmp_path, mapping, "id,t,n\nr,2024-05-01T00:00:00Z,1.5\n")
    assert "row 1, column input_tokens (n) = '1.5': not a whole number" in message


def test_problems_are_capped_per_column_and_all_counted(tmp_path: Path) -> None:
    rows = "".join(f"j{i},2024-05-01T00:00:00Z,,x,a\n" for i in range(30))
    with pytest.raises(ValidationError) as caught:
        read(tmp_path, JOBS, "id,started,ended,gpus,team\n" + rows)
    assert (len(caught.value.problems), caught.value.total) == (20, 30)


def test_an_expression_failing_on_a_row_is_located(tmp_path: Path) -> None:
    rows = "".join(f"j{i},2024-05-01T00:00:00Z,,{'x' if i == 37 else i},a\n" for i in range(50))
    mapping = JOBS.replace("gpus\n", '{expr: "CAST(gpus AS DOUBLE) / 2"}\n')
    with pytest.raises(ValidationError) as caught:
        read(tmp_path, mapping, "id,started,ended,gpus,team\n" + rows)
    [problem] = caught.value.problems
    assert (problem.row, problem.column, problem.value) == (38, "accelerator_count (gpus)", "x")
    assert "Could not convert string 'x' to DOUBLE" in problem.reason


def test_a_failing_filter_is_located(tmp_path: Path) -> None:
    mapping = JOBS + 'filter: "CAST(gpus AS DOUBLE) > 0"\n'
    message = error(ValidationError, tmp_path, mapping, JOBS_CSV.replace(",0.5,", ",half,"))
    assert (
        "row 2, column filter (gpus) = 'half': the mapping's expression fails on this row"
        in message
    )


def test_first_failing_bisects_to_the_first_row() -> None:
    bad = {17, 40}

    def fails(lo: int, hi: int) -> str | None:
        return "boom" if any(lo <= r <= hi for r in bad) else None

    assert first_failing(fails, 1, 100) == 17
    assert first_failing(fails, 18, 100) == 40
    assert first_failing(fails, 41, 100) is None


# --- unreadable files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        ("", "is empty"),
        ("id,started\nj1,2024-05-01T00:00:00Z,extra\n", "CSV Error on Line: 2"),
        ('id,started\n"j1,2024-05-01T00:00:00Z\n', "unterminated quote"),
        ("id,id\nj1,j2\n", "the header names 'id' more than once"),
        ("x_row,id\n1,j1\n", "x_row, which the CSV source adds"),
    ],
)
def test_unreadable_files_are_format_errors(tmp_path: Path, data: str, expected: str) -> None:
    message = error(FormatError, tmp_path, NAIVE_MAP, data)
    assert "jobs.csv" in message and expected in message


def test_a_wrong_encoding_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_bytes("id,started\nj\xe9,2024-05-01T00:00:00Z\n".encode("latin-1"))
    m = write(tmp_path, "m.yaml", NAIVE_MAP)
    with pytest.raises(FormatError, match=r"jobs\.csv"):
        SOURCE.read(path, SourceOptions(mapping=m))
    latin = write(
        tmp_path, "l.yaml", NAIVE_MAP.replace("kind: jobs", "kind: jobs\ncsv: {encoding: latin-1}")
    )
    assert SOURCE.read(path, SourceOptions(mapping=latin)).column("job_id").to_pylist() == ["jé"]


# --- real data (../shared/data) --------------------------------------------------------------


def stdlib_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def gpu_seconds(table: pa.Table) -> float:
    """Sum of accelerator_count x (end - start) in seconds (end is set on every row here)."""
    micros = pc.subtract(table.column("end"), table.column("start")).cast(pa.int64())
    seconds = pc.divide(micros.cast(pa.float64()), 1e6)
    return float(pc.sum(pc.multiply(seconds, table.column("accelerator_count"))).as_py())


def example(name: str) -> SourceOptions:
    return SourceOptions(mapping=EXAMPLES / f"{name}.yaml")


@pytest.mark.shared_data
def helios_minutes(path: Path) -> list[tuple[str, int]]:
    """(time, running_gpu_num) of every minute, read with the standard library."""
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        at, gpus = header.index("time"), header.index("running_gpu_num")
        return [(row[at], int(row[gpus])) for row in reader]


@pytest.mark.shared_data
@pytest.mark.parametrize("vc", ["vc6YE", "vcJLV", "vcMod", "vchbv"])
def test_helios_minutes_conserve_gpu_seconds(shared_data: Path, vc: str) -> None:
    path = shared_data / "gpu" / "helios" / f"{vc}.csv"
    table = SOURCE.read(path, example("helios"))
    minutes = helios_minutes(path)
    running = [(t, n) for t, n in minutes if n > 0]
    assert table.schema.equals(SCHEMAS["jobs"])
    assert table.num_rows == len(running) > 0
    assert gpu_seconds(table) == 60 * sum(n for _, n in minutes)
    assert set(table.column("team").to_pylist()) == {vc}
    first = table.slice(0, 1).to_pylist()[0]
    assert first["start"] == datetime.fromisoformat(running[0][0]).replace(tzinfo=UTC)
    assert first["end"] - first["start"] == timedelta(minutes=1)
    assert first["accelerator_count"] == running[0][1]


@pytest.mark.shared_data
@pytest.mark.parametrize("pod_list", ["default", "gpushare40"])
def test_alibaba_pods_conserve_fractional_gpu_seconds(shared_data: Path, pod_list: str) -> None:
    path = shared_data / "gpu" / "alibaba-v2023" / f"openb_pod_list_{pod_list}.csv"
    table = SOURCE.read(path, example("alibaba"))
    pods = stdlib_rows(path)
    ran = [p for p in pods if p["scheduled_time"]]
    expected = sum(
        Fraction(int(p["num_gpu"]) * int(p["gpu_milli"]), 1000)
        * (int(p["deletion_time"]) - int(p["scheduled_time"]))
        for p in ran
    )
    assert table.num_rows == len(ran) < len(pods)
    assert gpu_seconds(table) == pytest.approx(float(expected), rel=1e-12)
    rows = {r["job_id"]: r for r in table.to_pylist()}
    shared = next(p for p in ran if p["num_gpu"] == "1" and p["gpu_milli"] != "1000")
    assert rows[shared["name"]]["accelerator_count"] == int(shared["gpu_milli"]) / 1000
    anchor = datetime(2023, 7, 1, tzinfo=UTC)
    assert rows[ran[0]["name"]]["start"] == anchor + timedelta(
        seconds=int(ran[0]["scheduled_time"])
    )
    assert {r["status"] for r in rows.values()} <= {"running", "failed", "succeeded"}


@pytest.mark.shared_data
def test_alibaba_pod_list_without_times_is_refused_by_name(shared_data: Path) -> None:
    path = shared_data / "gpu" / "alibaba-v2023" / "openb_pod_list_multigpu50.csv"
    with pytest.raises(ConfigError) as caught:
        SOURCE.read(path, example("alibaba"))
    assert "source column 'scheduled_time' is not in openb_pod_list_multigpu50.csv" in str(
        caught.value
    )


@pytest.mark.shared_data
def test_azure_llm_trace_conserves_tokens(shared_data: Path) -> None:
    path = shared_data / "llm" / "azure_llm_inference_2023_code.csv"
    table = SOURCE.read(path, example("azure-llm"))
    records = stdlib_rows(path)
    assert table.schema.equals(SCHEMAS["llm"])
    assert table.num_rows == len(records) == 8819
    totals = {k: sum(table.column(k).to_pylist()) for k in ("input_tokens", "output_tokens")}
    assert totals["input_tokens"] == sum(int(r["ContextTokens"]) for r in records)
    assert totals["output_tokens"] == sum(int(r["GeneratedTokens"]) for r in records)
    first = table.slice(0, 1).to_pylist()[0]
    stamp = records[0]["TIMESTAMP"]  # 7 fractional digits; microseconds kept
    assert first["time"] == datetime.fromisoformat(stamp[:26]).replace(tzinfo=UTC)
    assert (first["provider"], first["model"], first["feature"]) == (
        "azure-openai",
        "gpt-4o",
        "code",
    )


def test_an_edited_mapping_replaces_what_the_file_gave(tmp_path: Path) -> None:
    from costcouncil.usage.base import SourceOptions
    from costcouncil.workspace.core import Workspace
    from costcouncil.workspace.ingest.usage import ingest_source

    data = tmp_path / "calls.csv"
    data.write_text("id,t,n\na,2026-11-01T00:00:00Z,5\n")
    mapping = tmp_path / "m.yaml"
    text = (
        "version: 1\nname: calls\nkind: llm\ncolumns:\n  request_id: id\n  time: t\n"
        "  provider: {value: openai}\n  model: {value: MODEL}\n  input_tokens: n\n"
    )
    mapping.write_text(text.replace("MODEL", "gpt-4o"))
    ws = Workspace.init(tmp_path / "ws", None, "USD")
    options = SourceOptions(mapping=mapping)
    assert [o.status for o in ingest_source(ws, "csv", [data], options)] == ["ingested"]
    assert [o.status for o in ingest_source(ws, "csv", [data], options)] == ["already ingested"]
    mapping.write_text(text.replace("MODEL", "gpt-4o-mini"))
    assert [o.status for o in ingest_source(ws, "csv", [data], options)] == ["replaced"]
    (file,) = ws.lake.read().data_files("llm")
    import pyarrow.parquet as pq

    assert pq.read_table(ws.lake.root / file).column("model").to_pylist() == ["gpt-4o-mini"]
