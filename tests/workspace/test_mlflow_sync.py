"""MLflow in both directions, end to end on real stores: runs → jobs → allocation → cost on runs.

The demo organisation's lake gives a GPU node and three hours of it that no job used; MLflow runs
placed on those hours through a real ``mlflow server`` are ingested with the ``mlflow`` source,
allocated by the demo's rules and synced back; the cost read back from the server must be the
lake's allocated EffectiveCost of each run to the cent, and the runs together must carry the
node's bill for those hours less its idle share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from costcouncil.cli.mlflow_cmd import mlflow_app
from costcouncil.errors import ConfigError, ExportError
from costcouncil.schema.usage import JOBS_SCHEMA
from costcouncil.usage.base import SourceOptions
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.common.query import open_costs
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.demo.run import build as build_demo
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from costcouncil.workspace.ingest.usage import ingest_source, ingest_usage
from costcouncil.workspace.mlflow.sync import SyncOptions, SyncOutcome, sync
from tests.factories import Charge, write_focus
from tests.usage.sources.mlflow_setup import (
    Server,
    experiment,
    free_port,
    register,
    run,
    server,
    sqlite_store,
)

H = timedelta(hours=1)
CENT = Decimal("0.01")


@dataclass
class EndToEnd:
    """The demo workspace after runs were ingested, allocated and synced once."""

    workspace: Workspace
    uri: str
    period: str
    resource: str
    capacity: float
    hours: list[tuple[datetime, Decimal]]  # (ChargePeriodStart, EffectiveCost) of the node
    runs: dict[str, str]  # run name -> run id
    gpus: dict[str, tuple[float, datetime, datetime]]  # run name -> (GPUs, start, end)
    outcome: SyncOutcome

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)


def _idle_window(workspace: Workspace) -> tuple[str, str, float, list[tuple[datetime, Decimal]]]:
    """A GPU node and three consecutive hours of one period that no job used at all."""
    con = open_costs(workspace, allocated=True)
    idle = (
        "SELECT ResourceId AS r, ChargePeriodStart AS s, EffectiveCost AS cost, CAST(ChargePeriodStart AS VARCHAR) AS t, "
        "strftime(BillingPeriodStart, '%Y-%m') AS p, "
        "TRY_CAST(json_extract_string(SkuPriceDetails, '$.x_AcceleratorCount') AS DOUBLE) AS cap "
        "FROM allocated WHERE x_rule = 'gpu-machines' AND x_method = 'idle' AND x_weight = 1 "
        "AND ChargePeriodEnd - ChargePeriodStart = INTERVAL 1 HOUR"
    )
    row = con.execute(
        f"WITH idle AS ({idle}) SELECT a.r, a.p, a.cap, a.t, a.cost, b.t, b.cost, c.t, c.cost "
        "FROM idle a JOIN idle b ON b.r = a.r AND b.s = a.s + INTERVAL 1 HOUR JOIN idle c "
        "ON c.r = a.r AND c.s = a.s + INTERVAL 2 HOUR AND c.p = a.p AND a.cap > 0 "
        "ORDER BY a.p DESC, a.r, a.s LIMIT 1"
    ).fetchone()
    con.close()
    assert row is not None, "the demo lake has no three idle hours on a GPU node"
    resource, period, capacity = row[0], row[1], row[2]
    hours = [(datetime.fromisoformat(row[i]), row[i + 1]) for i in (3, 5, 7)]
    return resource, period, capacity, hours


@pytest.fixture(scope="module")
def booting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``mlflow server`` for this module, on a SQLite store, stopped at teardown."""
    with server(tmp_path_factory.mktemp("mlflow-server")) as started:
        yield started


@pytest.fixture(scope="module")
def e2e(booting: Server, tmp_path_factory: pytest.TempPathFactory) -> EndToEnd:
    root = tmp_path_factory.mktemp("demo")
    workspace = build_demo(root / "ws", rows=1000, say=lambda _: None)  # while the server boots
    served = booting.ready()
    resource, period, capacity, hours = _idle_window(workspace)
    t0 = hours[0][0]
    gpus = {
        "train-detector": (4.0, t0, t0 + 3 * H),
        "eval-detector": (2.0, t0 + H, t0 + 2 * H),
        "finetune-ranker": (1.0, t0 + 1.5 * H, t0 + 3 * H),
    }
    owners = {"train-detector": ("vision", "detector"), "eval-detector": ("vision", "detector"), "finetune-ranker": ("search", "ranker")}  # fmt: skip
    client = MlflowClient(tracking_uri=served)
    exp = experiment(client, "demo-gpu-runs", root)
    runs = {}
    for name, (count, start, end) in gpus.items():
        team, project = owners[name]
        tags = {"costcouncil.team": team, "costcouncil.project": project, "costcouncil.gpus": str(count), "costcouncil.resource_id": resource}  # fmt: skip
        runs[name] = run(client, exp, name, start, end, "FINISHED", tags=tags)
    register(client, "detector", runs["train-detector"])
    options = SourceOptions(tracking_uri=served, experiments=("demo-gpu-runs",))
    [outcome] = ingest_source(workspace, "mlflow", [], options)
    assert (outcome.status, outcome.rows) == ("ingested", 3)
    allocate(workspace, AllocateOptions(periods=(period,)))
    synced = sync(workspace, SyncOptions(served, (period,)))
    return EndToEnd(workspace, served, period, resource, capacity, hours, runs, gpus, synced)


def _lake_cost(workspace: Workspace, period: str) -> dict[str, Decimal]:
    con = open_costs(workspace, [period], allocated=True)
    rows = con.execute(
        "SELECT x_run, SUM(EffectiveCost) FROM allocated WHERE x_run IS NOT NULL GROUP BY x_run"
    ).fetchall()
    con.close()
    return {str(r): Decimal(c) for r, c in rows}


def _idle_on(workspace: Workspace, resource: str, starts: list[datetime]) -> Decimal:
    con = open_costs(workspace, allocated=True)
    listed = ", ".join(f"TIMESTAMPTZ '{s.isoformat()}'" for s in starts)
    [(idle,)] = con.execute(
        "SELECT SUM(EffectiveCost) FROM allocated WHERE x_method = 'idle' AND ResourceId = ? "
        f"AND ChargePeriodStart IN ({listed})",
        [resource],
    ).fetchall()
    con.close()
    return Decimal(idle or 0)


def test_cost_read_back_from_the_server_is_the_lakes_to_the_cent(e2e: EndToEnd) -> None:
    lake = _lake_cost(e2e.workspace, e2e.period)
    assert sorted(r.run_id for r in e2e.outcome.synced) == sorted(e2e.runs.values())
    assert not e2e.outcome.missing
    for name, run_id in e2e.runs.items():
        metrics = e2e.client.get_run(run_id).data.metrics
        assert Decimal(str(metrics["cost_usd"])).quantize(CENT) == lake[run_id].quantize(CENT), name
        assert metrics["cost_usd"] == float(lake[run_id])
        assert metrics["idle_cost_usd"] == 0.0  # the demo keeps idle as __idle__
        count, start, end = e2e.gpus[name]
        assert metrics["gpu_hours"] == pytest.approx(count * (end - start) / H)


def test_runs_carry_the_node_bill_less_idle(e2e: EndToEnd) -> None:
    starts = [s for s, _ in e2e.hours]
    bill = sum((cost for _, cost in e2e.hours), Decimal(0))
    synced = sum(
        (Decimal(str(e2e.client.get_run(r).data.metrics["cost_usd"])) for r in e2e.runs.values()),
        Decimal(0),
    )
    assert synced == bill - _idle_on(e2e.workspace, e2e.resource, starts)
    # and each run pays its GPU-hours at the node's hourly rate over its capacity (±1 cent per hour)
    for name, run_id in e2e.runs.items():
        count, start, end = e2e.gpus[name]
        expected = sum(
            (cost * Decimal(count * _overlap(start, end, hour) / e2e.capacity)
             for hour, cost in e2e.hours),
            Decimal(0),
        )  # fmt: skip
        got = Decimal(str(e2e.client.get_run(run_id).data.metrics["cost_usd"]))
        assert abs(got - expected) <= CENT * len(e2e.hours), name


def _overlap(start: datetime, end: datetime, hour: datetime) -> float:
    return max(0.0, (min(end, hour + H) - max(start, hour)) / H)


def test_tags_on_runs_and_model_versions(e2e: EndToEnd) -> None:
    lake = _lake_cost(e2e.workspace, e2e.period)
    train = e2e.runs["train-detector"]
    tags = e2e.client.get_run(train).data.tags
    assert Decimal(tags["costcouncil.cost_usd"]) == lake[train]
    assert (tags["costcouncil.team"], tags["costcouncil.project"]) == ("vision", "detector")
    assert tags["costcouncil.period"] == e2e.period
    assert tags["costcouncil.rules"] == "gpu-machines"
    assert datetime.fromisoformat(tags["costcouncil.synced_at"]).tzinfo is not None
    assert e2e.client.get_run(e2e.runs["finetune-ranker"]).data.tags["costcouncil.team"] == "search"
    version = e2e.client.get_model_version("detector", "1")
    assert Decimal(version.tags["costcouncil.training_cost_usd"]) == lake[train]


def test_resync_is_idempotent(e2e: EndToEnd) -> None:
    train = e2e.runs["train-detector"]
    before = e2e.client.get_run(train).data
    again = sync(e2e.workspace, SyncOptions(e2e.uri, (e2e.period,)))
    after = e2e.client.get_run(train).data
    assert after.metrics == before.metrics
    assert len(e2e.client.get_metric_history(train, "cost_usd")) == 1  # unchanged: not re-logged
    drop = "costcouncil.synced_at"
    assert {k: v for k, v in after.tags.items() if k != drop} == {k: v for k, v in before.tags.items() if k != drop}  # fmt: skip
    assert again.totals() == e2e.outcome.totals()


def test_dry_run_writes_nothing(e2e: EndToEnd) -> None:
    train = e2e.runs["train-detector"]
    before = e2e.client.get_run(train).data.tags["costcouncil.synced_at"]
    outcome = sync(e2e.workspace, SyncOptions(e2e.uri, (e2e.period,), dry_run=True))
    assert {r.status for r in outcome.runs} == {"would sync"}
    assert e2e.client.get_run(train).data.tags["costcouncil.synced_at"] == before


def _cli() -> tuple[typer.Typer, list[str]]:
    """The main app once it registers ``mlflow``; the sub-app on its own until then."""
    from costcouncil.cli.main import app

    if any(group.name == "mlflow" for group in app.registered_groups):
        return app, ["mlflow", "sync"]
    return mlflow_app, ["sync"]


def test_cli_sync_json_and_table(e2e: EndToEnd) -> None:
    app, command = _cli()
    args = [*command, str(e2e.workspace.root), "--tracking-uri", e2e.uri, "--period", e2e.period]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["synced"] == 3 and data["missing"] == [] and data["periods"] == [e2e.period]
    lake = _lake_cost(e2e.workspace, e2e.period)
    assert Decimal(data["total"]["USD"]) == sum((lake[r] for r in e2e.runs.values()), Decimal(0))
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "3 run(s) synced" in table.stdout
    bad = CliRunner().invoke(app, [*command, str(e2e.workspace.root), "--tracking-uri", e2e.uri, "--period", "1999-01"])  # fmt: skip
    assert bad.exit_code == 1 and "no allocations for period(s) 1999-01" in bad.output


# --- a small workspace: idle spread, a non-USD bill, runs MLflow lacks ----------------------------

SPREAD_RULES = """\
version: 1
rules:
  - name: tags
    kind: tag
  - name: gpu
    kind: usage_split
    usage: jobs
    match: {ResourceId: "i-gpu*"}
    capacity: 8
  - name: idle-gpus
    kind: idle
    policy: spread
"""
LOST = "0" * 32  # a run the lake has and MLflow never had


@pytest.fixture
def small(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, str, dict[str, str]]:
    """A 30.00 EUR GPU-node hour used by runs a (4 GPUs), b (2) and a lost run (1): 7 of 8 GPUs."""
    write_focus(tmp_path / "bill.csv", [Charge(cost="30.00", resource="i-gpu1", currency="EUR")])
    ingest(workspace, [tmp_path / "bill.csv"], IngestOptions())
    uri = sqlite_store(tmp_path / "store")
    client = MlflowClient(tracking_uri=uri)
    exp = experiment(client, "small", tmp_path)
    start = datetime.fromisoformat("2026-10-01T00:00:00+00:00")
    tags = {"resource_id": "i-gpu1", "team": "vision"}
    runs = {
        name: run(client, exp, name, start, start + H, tags=tags | {"gpus": gpus})
        for name, gpus in (("a", "4"), ("b", "2"))
    }
    ingest_source(workspace, "mlflow", [], SourceOptions(tracking_uri=uri))
    lost = {"job_id": LOST, "source": "slurm", "resource_id": "i-gpu1", "start": start, "end": start + H, "accelerator_count": 1.0, "run": LOST}  # fmt: skip
    pq.write_table(pa.Table.from_pylist([lost], schema=JOBS_SCHEMA), tmp_path / "lost.parquet")
    ingest_usage(workspace, "jobs", [tmp_path / "lost.parquet"])
    (workspace.root / "rules.yaml").write_text(SPREAD_RULES)
    allocate(workspace, AllocateOptions())
    return workspace, uri, runs


def test_spread_idle_in_the_bill_currency(small: tuple[Workspace, str, dict[str, str]]) -> None:
    workspace, uri, runs = small
    outcome = sync(workspace, SyncOptions(uri))
    client = MlflowClient(tracking_uri=uri)
    a = client.get_run(runs["a"]).data
    # 30.00 spread over 4 + 2 + 1 used GPUs: 17.14 / 8.57 / 4.29 (the leftover cent to the largest
    # remainder); at capacity a would pay 4/8 of 30, so 17.14 × (1 − 7/8) of it is idle
    assert set(a.metrics) == {"cost_eur", "idle_cost_eur", "gpu_hours"}
    assert (a.metrics["cost_eur"], a.metrics["gpu_hours"]) == (17.14, 4.0)
    assert a.metrics["idle_cost_eur"] == pytest.approx(17.14 / 8)
    assert a.tags["costcouncil.cost_eur"] == "17.14" and a.tags["costcouncil.rules"] == "gpu"
    assert client.get_run(runs["b"]).data.metrics["cost_eur"] == 8.57
    assert outcome.totals() == {"EUR": Decimal("25.71")}
    assert [(r.run_id, r.status) for r in outcome.missing] == [(LOST, "not in MLflow")]


def test_runs_deleted_in_mlflow_are_reported_not_fatal(
    small: tuple[Workspace, str, dict[str, str]],
) -> None:
    workspace, uri, runs = small
    MlflowClient(tracking_uri=uri).delete_run(runs["b"])
    outcome = sync(workspace, SyncOptions(uri))
    statuses = {r.run_id: r.status for r in outcome.runs}
    assert statuses == {runs["a"]: "synced", runs["b"]: "deleted in MLflow", LOST: "not in MLflow"}
    assert outcome.to_dict()["missing"] == [
        {"run": r.run_id, "status": r.status} for r in outcome.runs if r.run_id != runs["a"]
    ]


def test_an_unreachable_server_stops_the_sync(
    small: tuple[Workspace, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retry setting
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ExportError, match=f"{url}: MLflow write-back stopped"):
        sync(small[0], SyncOptions(url))


def test_needs_an_allocation(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `costcouncil allocate` first"):
        sync(workspace, SyncOptions(sqlite_store(tmp_path)))
