"""The explorer's pages, run facts and controls against the real server: a long table is
paged (the downloads hold every group), each run shows what its jobs say, a share is never
"0.0 %", and the group-by and filter controls are on the page."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from costcouncil.api.web.format import named, pct, short_id
from costcouncil.workspace.allocate.rollups import USAGE_SLICE, file_of
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.figures import explorer
from costcouncil.workspace.figures.explorer import PAGE_SIZE
from costcouncil.workspace.figures.filters import Dimensions, parse_filter
from costcouncil.workspace.figures.models import models, unit_rows
from costcouncil.workspace.figures.rollup_store import RollupStore
from tests.api.server import Server
from tests.web.conftest import sign_in

ALL = {"from": "2026-09-01", "to": "2026-11-01"}


@pytest.fixture(scope="module")
def finance(server: Server) -> Iterator[httpx.Client]:
    with closing(sign_in(server.url, "finance@example.com")) as client:
        yield client


def test_runs_show_what_their_jobs_say(finance: httpx.Client) -> None:
    body = finance.get("/explorer.json", params={**ALL, "level": "run"}).json()
    runs = body["runs"]
    assert {r["run"] for r in body["rows"]} >= set(runs) and len(runs) == 12
    failed = runs["train-9-2"]
    assert (failed["kind"], failed["status"], failed["jobs"]) == ("training", "failed", 1)
    assert (failed["gpu_hours"], failed["hours"], failed["accelerators"]) == (4.0, 1.0, 4.0)
    page = finance.get("/explorer", params={**ALL, "level": "run"}).text
    assert "failed" in page and "inference" in page


def test_one_run_has_its_facts_box(finance: httpx.Client) -> None:
    page = finance.get("/explorer", params={**ALL, "run": "train-10-1"}).text
    assert 'id="run-facts"' in page and "2026-10-01 00:00 UTC" in page


def test_a_long_table_is_paged_and_the_download_holds_every_group(
    finance: httpx.Client,
) -> None:
    first = finance.get("/explorer.json", params={**ALL, "level": "run"}).json()
    assert first["page"] == 1 and first["groups"] == len(first["rows"]) <= PAGE_SIZE
    assert first["pages"] == 1
    refused = finance.get("/explorer.json", params={**ALL, "level": "run", "page": "2"})
    assert refused.status_code == 422 and "between 1 and 1" in refused.json()["error"]["message"]
    assert finance.get("/explorer.json", params={**ALL, "page": "x"}).status_code == 422
    download = finance.get("/explorer.csv", params={**ALL, "level": "run"})
    rows = list(csv.DictReader(io.StringIO(download.text, newline="")))
    assert len(rows) == first["groups"]
    assert sum(Decimal(r["cost"]) for r in rows) == Decimal(first["total"])


def test_the_controls_are_on_the_page(finance: httpx.Client) -> None:
    page = finance.get("/explorer", params={**ALL, "team": "vision"}).text
    assert 'id="group-by"' in page and 'name="level"' in page
    assert "data-add-filter" in page and 'value="tag."' in page
    assert 'type="date"' not in page and 'placeholder="YYYY-MM-DD"' in page


@pytest.mark.parametrize(
    ("share", "shown"),
    [(None, "—"), (0, "0.0 %"), (0.0001, "<0.1 %"), (-0.0001, "−<0.1 %"), (0.1234, "12.3 %")],
)
def test_a_small_share_is_never_zero(share: float | None, shown: str) -> None:
    assert pct(share) == shown


def test_pages_cut_the_groups_in_order(org: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explorer, "PAGE_SIZE", 5)
    store = RollupStore(org)
    flt = parse_filter(ALL, Dimensions.of(org.config.tags.owner_keys), "USD", date(2026, 10, 3))
    every = explorer.explore(store, flt, "run", None)["rows"]
    pages = [explorer.explore(store, flt, "run", n) for n in (1, 2, 3)]
    assert [p["pages"] for p in pages] == [3, 3, 3] and len(every) == 15  # 12 runs, 3 lines
    assert [r for p in pages for r in p["rows"]] == every
    assert [len(p["rows"]) for p in pages] == [5, 5, 5]


def test_nodes_and_accounts_show_the_bills_names(finance: httpx.Client) -> None:
    body = finance.get("/gpu.json", params=ALL).json()
    [node] = body["nodes"]
    assert (node["resource"], node["resource_name"], node["account_name"]) == (
        "i-gpu1", "a100-node-1", "ml-prod")  # fmt: skip
    assert body["usage"] and {u["resource_name"] for u in body["usage"]} == {"a100-node-1"}
    page = finance.get("/gpu", params=ALL).text
    assert ">a100-node-1</a>" in page and 'title="i-gpu1"' in page and ">ml-prod<" in page
    explorer = finance.get("/explorer.json", params={**ALL, "level": "resource"}).json()
    assert explorer["names"] == {"i-gpu1": "a100-node-1"}
    accounts = finance.get("/explorer.json", params={**ALL, "level": "account_name"}).json()
    assert "ml-prod" in {r["account_name"] for r in accounts["rows"]}


@pytest.mark.parametrize(
    ("ident", "shown"),
    [
        ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", "i-0abc"),
        ("arn:aws:sagemaker:us-east-1:1:endpoint/embeddings-v2", "embeddings-v2"),
        (
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1",
            "vm1",
        ),
        ("i-0abc", "i-0abc"),
        ("x" * 60, "…" + "x" * 39),
        (None, "(none)"),
    ],
)
def test_ids_are_shortened_for_reading(ident: str | None, shown: str) -> None:
    assert short_id(ident) == shown
    assert named(None, ident) == shown and named("gpu-1", ident) == "gpu-1"


@pytest.fixture(scope="module")
def member(server: Server) -> Iterator[httpx.Client]:
    with closing(sign_in(server.url, "vision@example.com")) as client:
        yield client


def test_a_member_never_sees_another_teams_run(member: httpx.Client) -> None:
    theirs = member.get("/explorer.json", params={**ALL, "run": "serve-10-1"}).json()
    assert theirs["runs"] == {} and Decimal(theirs["total"]) == 0
    page = member.get("/explorer", params={**ALL, "run": "serve-10-1"}).text
    assert 'id="run-facts"' not in page and "inference" not in page
    runs = member.get("/explorer.json", params={**ALL, "level": "run"}).json()["runs"]
    assert runs and {f["team"] for f in runs.values()} == {"vision"}


@pytest.mark.parametrize("page", ["²", "-1", "0", "1.5"])
def test_a_crafted_page_number_is_refused(finance: httpx.Client, page: str) -> None:
    answer = finance.get("/explorer.json", params={**ALL, "page": page})
    assert answer.status_code == 422, answer.text


def test_a_lake_written_before_the_new_usage_columns(org: Workspace, tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(org.root, copy)
    old = Workspace.open(copy)
    manifest = old.lake.read()
    for name, dropped in (
        ("gpu", ["model_version"]),
        ("runs", ["accelerator_type", "accelerators"]),
    ):
        found = file_of(manifest, USAGE_SLICE, name)
        assert found is not None
        path = old.lake.root / found
        pq.write_table(pq.read_table(path).drop_columns(dropped), path)
    store = RollupStore(old)
    flt = parse_filter(ALL, Dimensions.of(old.config.tags.owner_keys), "USD", date(2026, 10, 3))
    rows = models(store, flt)["rows"]
    assert rows and all(r["gpu_hours"] is None for r in rows), "unknown, not a false 0"
    by_model = unit_rows(store, flt, ["model"])
    assert sum(r["gpu_hours"] or 0 for r in by_model) == pytest.approx(33.0)
    facts = explorer.explore(store, flt.with_value("run", "train-10-1"))["runs"]
    assert facts["train-10-1"]["accelerators"] is None and facts["train-10-1"]["gpu_hours"] == 4.0
