"""CSV downloads are safe to open in a spreadsheet: hostile tag values from a bill, ingested and
allocated, come back through the real HTTP endpoint as text (``'=HYPERLINK(...)``), while the
Parquet download, the ``.json`` twin and the FOCUS export keep them exact.

The bill's teams and projects are formulas (``=``, ``+``, ``-``, ``@``), a tab or a carriage
return first, and ``-5`` (a string that looks like a number); the tag rule keeps values as
written (``normalise: none``) so the tab and the carriage return survive allocation. A credit
of −12.50 checks that number-typed cells stay numbers.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.api.server import EXE, Server
from tests.factories import Charge, write_focus

HYPERLINK = '=HYPERLINK("http://evil","x")'
HOSTILE = [HYPERLINK, "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tTAB", "\rCR", "-5"]
RESOURCE = "=cmd|' /C calc'!A0"
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}
RULES = "version: 1\nrules:\n  - name: tags\n    kind: tag\n    normalise: none\n"


def _charges() -> list[Charge]:
    out = [Charge(cost="1.00", resource="bad")]  # rejected: its BilledCost is a formula
    out += [
        Charge(cost="5.00", resource=f"i-{i}", tags={"team": v, "project": v})
        for i, v in enumerate(HOSTILE)
    ]
    out += [
        Charge(cost="20.00", resource=RESOURCE, tags={"team": "vision", "project": "detector"}),
        Charge(cost="-12.50", resource="credit", tags={"team": "vision", "project": "credit"}),
    ]
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("hostile-csv")
    ws = Workspace.init(root / "acme", name="acme")
    bill = write_focus(root / "bill.csv", _charges(), overrides=[{"BilledCost": HYPERLINK}])
    [outcome] = ingest(ws, [bill], IngestOptions())
    assert (outcome.status, outcome.rejected) == ("ingested", 1)
    (ws.root / "rules.yaml").write_text(RULES)
    allocate(ws, AllocateOptions())
    return ws


@pytest.fixture(scope="module")
def client(workspace: Workspace) -> Iterator[httpx.Client]:
    server = Server(workspace.root).start()  # no users: open, on loopback
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield http
    finally:
        server.stop()


def _csv(client: httpx.Client, **params: str) -> tuple[str, list[dict[str, str]]]:
    answer = client.get("/explorer.csv", params={**OCTOBER, **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return answer.text, list(csv.DictReader(io.StringIO(answer.text, newline="")))


def test_every_hostile_team_is_text_in_the_csv(client: httpx.Client) -> None:
    _, rows = _csv(client)
    teams = {r["team"] for r in rows}
    assert teams == {"'" + v for v in HOSTILE} | {"vision"}
    assert not [r for r in rows for cell in r.values() if cell.startswith(("=", "+", "-", "@"))]


def test_the_drill_path_and_the_level_are_both_neutralised(client: httpx.Client) -> None:
    _, rows = _csv(client, team="@SUM(1+1)")  # (a value with a comma cannot be a URL filter)
    assert [(r["team"], r["project"]) for r in rows] == [("'@SUM(1+1)", "'@SUM(1+1)")]
    # A value from the URL, echoed into every row of the drill path's column.
    _, rows = _csv(client, team="vision", project=f"{RESOURCE},detector")
    assert rows and {r["project"] for r in rows} == {f"'{RESOURCE},detector"}
    _, rows = _csv(client, team="vision", level="resource")
    assert {r["resource"] for r in rows} == {"'" + RESOURCE, "credit"}


def test_negative_amounts_stay_numbers(client: httpx.Client) -> None:
    text, rows = _csv(client, team="vision", level="project")
    [credit] = [line for line in text.splitlines() if '"credit"' in line]
    assert credit.split(",")[2] == "-12.500000"  # unquoted, unprefixed: a number
    assert {r["project"]: Decimal(r["cost"]) for r in rows} == {
        "detector": Decimal(20),
        "credit": Decimal("-12.5"),
    }


def test_the_parquet_download_is_exact(client: httpx.Client) -> None:
    answer = client.get("/explorer.parquet", params=OCTOBER)
    assert answer.status_code == 200
    table = pq.read_table(io.BytesIO(answer.content))
    assert set(table.column("team").to_pylist()) == {*HOSTILE, "vision"}
    _, rows = _csv(client)
    assert len(rows) == table.num_rows
    answer = client.get("/explorer.parquet", params={**OCTOBER, "team": "vision"})
    costs = pq.read_table(io.BytesIO(answer.content)).column("cost").to_pylist()
    assert sorted(costs) == [Decimal("-12.5"), Decimal(20)]


def test_the_json_twin_is_exact(client: httpx.Client) -> None:
    body = client.get("/explorer.json", params=OCTOBER).json()
    assert {r["team"] for r in body["rows"]} == {*HOSTILE, "vision"}


@pytest.mark.parametrize("name", ["focus.csv", "focus.parquet"])
def test_the_focus_export_is_exact(workspace: Workspace, tmp_path: Path, name: str) -> None:
    """FOCUS is a machine format for other tools: written as the lake has it, CSV included."""
    out = tmp_path / name
    cmd = [str(EXE), "export", "focus", str(workspace.root), "-o", str(out), "--allocated"]
    subprocess.run([*cmd, "--force"], check=True, capture_output=True)
    if name.endswith(".csv"):
        rows = list(csv.DictReader(out.open(newline="")))
    else:
        rows = pq.read_table(out).to_pylist()
    assert RESOURCE in {r["ResourceId"] for r in rows}
    assert {r["x_team"] for r in rows} == {*HOSTILE, "vision"}


def test_the_rejects_file_is_safe_to_open(workspace: Workspace) -> None:
    [path] = (workspace.root / "lake" / "rejects").glob("*.rejects.csv")
    [row] = list(csv.DictReader(path.open(newline="")))
    assert row["column"] == "BilledCost"
    assert row["value"] == "'" + HYPERLINK
