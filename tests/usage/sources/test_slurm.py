"""The slurm usage source: TRES and GRES strings, MIG types, states, owners and bad input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costcouncil.errors import FormatError, ValidationError
from costcouncil.usage.base import SourceOptions
from costcouncil.usage.sources.slurm import mig_fraction, parse_gres, parse_tres, read

HEADER = "JobID|JobName|Account|User|Partition|NodeList|AllocTRES|Start|End|State|Comment"
UTC = SourceOptions(assume_utc=True)


def _line(
    job: str = "1",
    *,
    tres: str = "cpu=4,mem=16G,node=1,gres/gpu=1",
    state: str = "COMPLETED",
    start: str = "2024-05-01T00:00:00",
    end: str = "2024-05-01T01:00:00",
    account: str = "search",
    comment: str = "",
    nodes: str = "gpu-01",
) -> str:
    return f"{job}|train|{account}|alice|gpu|{nodes}|{tres}|{start}|{end}|{state}|{comment}"


def _read(
    tmp_path: Path, *lines: str, header: str = HEADER, options: SourceOptions = UTC
) -> list[dict[str, Any]]:
    path = tmp_path / "sacct.txt"
    path.write_text("\n".join([header, *lines]) + "\n")
    rows: list[dict[str, Any]] = read(path, options).to_pylist()
    return rows


def test_parse_tres() -> None:
    assert parse_tres("billing=8,cpu=8,gres/gpu:a100=4,mem=64G,node=1") == {
        "billing": "8",
        "cpu": "8",
        "gres/gpu:a100": "4",
        "mem": "64G",
        "node": "1",
    }
    assert parse_tres("") == {}
    with pytest.raises(ValueError, match="'cpu8' is not name=value"):
        parse_tres("cpu8")


def test_parse_gres() -> None:
    assert parse_gres("gpu:a100:4(IDX:0-3)") == {"gres/gpu:a100": "4"}
    assert parse_gres("gpu:tesla:2(IDX:0,2),shard:4") == {"gres/gpu:tesla": "2", "gres/shard": "4"}
    assert parse_gres("gpu:2") == {"gres/gpu": "2"}
    with pytest.raises(ValueError, match="name\\[:type\\]:count"):
        parse_gres("gpu")


@pytest.mark.parametrize(
    "gpu_type, expected",
    [
        ("a100_3g.40gb", Decimal(3) / 7),
        ("nvidia_h100_80gb_hbm3_1g.10gb", Decimal(1) / 7),
        ("1g.5gb", Decimal(1) / 7),
        ("a30_2g.12gb", Decimal(2) / 4),
        ("a100", None),
        ("h100", None),
    ],
)
def test_mig_fractions(gpu_type: str, expected: Decimal | None) -> None:
    assert mig_fraction(gpu_type) == expected


@pytest.mark.parametrize(
    "tres, count, model",
    [
        ("cpu=8,gres/gpu=4,gres/gpu:h100=4", 4.0, "H100"),  # typed and plain: counted once
        ("cpu=8,gres/gpu:a100=2", 2.0, "A100"),
        ("cpu=8,gres/gpu:a100=2,gres/gpu:v100=1,gres/gpu=3", 3.0, None),  # two models
        ("cpu=8,gres/gpu:a100_1g.10gb=7,gres/gpu=7", 1.0, "A100"),  # 7 x 1/7
        ("cpu=8,gres/gpu=2", 2.0, None),
        ("cpu=8,gres/shard=4", 0.0, None),
    ],
)
def test_gpus_from_tres(tmp_path: Path, tres: str, count: float, model: str | None) -> None:
    [row] = _read(tmp_path, _line(tres=tres))
    assert row["accelerator_count"] == pytest.approx(count)
    assert row["accelerator_type"] == model


@pytest.mark.parametrize(
    "mem, gib",
    [("64G", 64.0), ("16000M", 15.625), ("1.5T", 1536.0), ("2048", 2.0), ("1024K", 1 / 1024)],
)
def test_memory_units(tmp_path: Path, mem: str, gib: float) -> None:
    [row] = _read(tmp_path, _line(tres=f"cpu=2,mem={mem}"))
    assert row["memory_gib"] == pytest.approx(gib)
    assert row["cpu_cores"] == 2.0


@pytest.mark.parametrize(
    "state, status",
    [
        ("COMPLETED", "succeeded"),
        ("FAILED", "failed"),
        ("NODE_FAIL", "failed"),
        ("OUT_OF_MEMORY", "failed"),
        ("TIMEOUT", "failed"),
        ("CANCELLED by 1234", "killed"),
        ("CANCELLED+", "killed"),
        ("PREEMPTED", "killed"),
        ("RUNNING", "running"),
    ],
)
def test_states(tmp_path: Path, state: str, status: str) -> None:
    [row] = _read(tmp_path, _line(state=state))
    assert row["status"] == status


def test_steps_pending_and_never_started_jobs_are_skipped(tmp_path: Path) -> None:
    rows = _read(
        tmp_path,
        _line("10"),
        _line("10.batch"),
        _line("10.extern"),
        _line("10.0"),
        _line("11", state="PENDING", start="Unknown", end="Unknown", tres=""),
        _line("12", state="CANCELLED by 7", start="None", end="2024-05-01T00:00:00"),
        _line("13_[1-4]", state="PENDING", start="Unknown", end="Unknown"),
        _line("14_2"),
        _line("15+0"),
    )
    assert [r["job_id"] for r in rows] == ["10", "14_2", "15+0"]


def test_a_running_job_has_no_end(tmp_path: Path) -> None:
    [row] = _read(tmp_path, _line(state="RUNNING", end="Unknown"))
    assert (row["end"], row["status"]) == (None, "running")


def test_no_node_is_no_resource(tmp_path: Path) -> None:
    [row] = _read(tmp_path, _line(nodes="None assigned"))
    assert row["resource_id"] is None


def test_requeued_attempts_get_their_start_in_the_id(tmp_path: Path) -> None:
    first = _line("20", state="REQUEUED", end="2024-05-01T00:30:00")
    second = _line("20", start="2024-05-01T01:00:00", end="2024-05-01T02:00:00")
    rows = _read(tmp_path, first, second, _line("21"))
    assert [r["job_id"] for r in rows] == [
        "20@2024-05-01T00:00:00",
        "20@2024-05-01T01:00:00",
        "21",
    ]
    assert [r["status"] for r in rows] == ["killed", "succeeded", "succeeded"]


def test_owners_account_user_comment_tags_and_the_users_labels(tmp_path: Path) -> None:
    tagged = _line("1", comment="team=ranking,project=llm,kind=fine-tune")
    plain = _line("2", account="vision")
    rows = _read(tmp_path, tagged, plain)
    assert [(r["team"], r["project"], r["user"], r["kind"]) for r in rows] == [
        ("ranking", "llm", "alice", "fine-tune"),
        ("vision", None, "alice", None),
    ]
    options = SourceOptions(assume_utc=True, labels={"team": ("Partition",), "run": ("JobName",)})
    rows = _read(tmp_path, tagged, plain, options=options)
    assert {(r["team"], r["run"]) for r in rows} == {("gpu", "train")}


def test_a_comment_that_is_not_tags_is_only_kept(tmp_path: Path) -> None:
    [row] = _read(tmp_path, _line(comment="rerun after the outage"))
    assert row["project"] is None
    assert '"Comment":"rerun after the outage"' in row["attributes"]


def test_naive_times_are_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, _line(), options=SourceOptions())
    message = str(info.value)
    assert (
        "sacct.txt, row 1, column start = '2024-05-01T00:00:00': timestamp has no time zone"
        in message
    )
    assert "--assume-utc" in message and "SLURM_TIME_FORMAT" in message


def test_zoned_times_need_no_option(tmp_path: Path) -> None:
    line = _line(start="2024-05-01T02:00:00+0200", end="2024-05-01T03:00:00+0200")
    [row] = _read(tmp_path, line, options=SourceOptions())
    assert row["start"].isoformat() == "2024-05-01T00:00:00+00:00"


def test_bad_cells_name_file_row_column_and_value(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        _read(
            tmp_path,
            _line("1"),
            _line("2", tres="cpu8"),
            _line("3", tres="cpu=2,mem=lots"),
            _line("4", state="EXPLODED"),
            _line("5", tres="cpu=2,gres/gpu=many"),
            "6|too|few",
        )
    message = str(info.value)
    assert "sacct.txt, row 2, column AllocTRES = 'cpu8': 'cpu8' is not name=value" in message
    assert "row 3, column AllocTRES mem = 'lots'" in message
    assert "row 4, column State = 'EXPLODED': unknown job state: COMPLETED, FAILED" in message
    assert "row 5, column AllocTRES gres/gpu = 'many': not a number" in message
    assert "row 6 = '6|too|few': 3 fields, the header has 11" in message
    assert "row 1," not in message


def test_alloc_gres_and_cluster(tmp_path: Path) -> None:
    header = "Cluster|JobID|AllocCPUS|AllocGRES|Start|End|State"
    lines = [
        "a|1|8|gpu:a100:2(IDX:0-1)|2024-05-01T00:00:00Z|2024-05-01T01:00:00Z|COMPLETED",
        "b|1|4||2024-05-01T00:00:00Z|2024-05-01T01:00:00Z|COMPLETED",
    ]
    rows = _read(tmp_path, *lines, header=header, options=SourceOptions())
    assert [(r["job_id"], r["accelerator_count"], r["cpu_cores"]) for r in rows] == [
        ("a:1", 2.0, 8.0),
        ("b:1", 0.0, 4.0),
    ]


@pytest.mark.parametrize(
    "text, hint",
    [
        ("", "missing JobID, Start, State, AllocTRES"),
        ("JobID|Start|State\n1|x|y\n", "missing AllocTRES"),
        ("JobID,Start,End,State,AllocTRES\n", "missing JobID, Start, State"),
    ],
)
def test_unreadable_files_are_format_errors(tmp_path: Path, text: str, hint: str) -> None:
    path = tmp_path / "jobs.txt"
    path.write_text(text)
    with pytest.raises(FormatError, match=hint) as info:
        read(path, UTC)
    assert str(path) in str(info.value)
