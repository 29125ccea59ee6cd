"""`costcouncil budgets` on a small allocated organisation whose spend falls in the month before
today's (derived from the clock, so the figures hold whatever the date): team a spends $100 a
day, team b $50 a day, and nothing is spent this month."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.budgets_cmd import DENIED, projection_lines
from costcouncil.cli.main import app
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.factories import Charge, write_focus

runner = CliRunner()
YAML = """\
version: 1
budgets:
  - name: a-monthly
    scope: team=a
    amount: 3000
    hard: true
    owner: ana@example.com
    team: a
  - name: b-quarterly
    scope: team=b
    amount: 9000
    period: quarterly
"""
TWO_MISTAKES = """\
version: 1
budgets:
  - name: typo
    scope: teem=a
    amount: 10
  - name: wrong-period
    scope: org
    amount: 10
    period: montly
"""


def _last_month() -> tuple[date, int]:
    """The first day of the month before today's (UTC), and its number of days."""
    first = datetime.now(UTC).date().replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    return start, (first - start).days


def _org(root: Path) -> Workspace:
    ws = Workspace.init(root / "ws", name="budgets")
    start, days = _last_month()
    period = start.strftime("%Y-%m")
    charges = [
        Charge(cost=cost, period=period, day=day, resource=resource, tags={"team": team})
        for day in range(1, days + 1)
        for team, cost, resource in (("a", "100.00", "i-a"), ("b", "50.00", "i-b"))
    ]
    write_focus(root / "bill.csv", charges)
    assert ingest(ws, [root / "bill.csv"], IngestOptions())[0].status == "ingested"
    (ws.root / "rules.yaml").write_text("version: 1\nrules:\n  - name: tags\n    kind: tag\n")
    allocate(ws, AllocateOptions())
    return ws


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(_org(tmp_path_factory.mktemp("budgets")).root)


@pytest.fixture
def ws(org: str, tmp_path: Path) -> str:
    """The organisation with no budgets: each test imports an empty document first."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\nbudgets: []\n")
    _ok("budgets", "import", org, str(empty), "--apply")
    return org


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _run(*args: str, code: int) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _listed(ws: str) -> dict[str, dict[str, object]]:
    return {b["name"]: b for b in json.loads(_ok("budgets", "list", ws, "--json"))}


def test_add_list_and_remove(ws: str) -> None:
    assert "no budgets yet" in _ok("budgets", "list", ws)
    added = _ok("budgets", "add", ws, "a-cap", "--scope", "team=a", "--amount", "2500",
                "--hard", "--owner", "ana@example.com", "--team", "a", "--threshold", "80%",
                "--threshold", "100% forecast", "--metric", "BilledCost")  # fmt: skip
    assert "added budget 'a-cap': team=a, 2,500.00 USD monthly, hard" in added
    assert "thresholds 80%, 100% forecast, owner ana@example.com, team a" in added
    _ok("budgets", "add", ws, "org", "--scope", "org", "--amount", "1e4", "--period", "annual")
    listed = _listed(ws)
    cap = listed["a-cap"]
    assert (cap["metric"], cap["hard"], cap["team"], cap["period"]) == (
        "BilledCost",
        True,
        "a",
        "monthly",
    )
    assert cap["thresholds"] == [
        {"percent": "80", "basis": "actual"},
        {"percent": "100", "basis": "forecast"},
    ]
    now = cap["current"]
    assert isinstance(now, dict)
    assert [Decimal(now[k]) for k in ("amount", "spent", "remaining")] == [2500, 0, 2500]
    assert now["start"] == datetime.now(UTC).date().replace(day=1).isoformat()
    assert listed["org"]["period"] == "annual" and listed["org"]["thresholds"][0]["percent"] == "50"
    # the table: its width follows the terminal the suite runs in (cells wrap), so only that it
    # renders; the figures it shows are the --json ones checked above
    listing = runner.invoke(app, ["budgets", "list", ws])
    assert listing.exit_code == 0 and "┃" in listing.output, listing.output
    assert "removed budget 'a-cap'" in _ok("budgets", "remove", ws, "a-cap")
    assert set(_listed(ws)) == {"org"}
    assert "no budget 'a-cap'" in _run("budgets", "remove", ws, "a-cap", code=1)


def test_show_has_the_period_the_projection_and_the_history(ws: str) -> None:
    _ok("budgets", "add", ws, "a-cap", "--scope", "team=a", "--amount", "1500")
    detail = json.loads(_ok("budgets", "show", ws, "a-cap", "--json"))
    start, days = _last_month()
    last = detail["history"][-1]
    assert (last["start"], Decimal(last["actual"]), Decimal(last["amount"])) == (
        start.isoformat(), 100 * days, 1500
    )  # fmt: skip
    assert Decimal(last["used_pct"]) == (Decimal(100 * days) * 100 / 1500).quantize(Decimal("0.1"))
    assert len(detail["history"]) == 12 and Decimal(detail["history"][0]["actual"]) == 0
    assert Decimal(detail["status"]["spent"]) == 0 and detail["status"]["projection"] is not None
    shown = _ok("budgets", "show", ws, "a-cap")
    this_month = datetime.now(UTC).date().strftime("%Y-%m")
    assert "a-cap: team=a, monthly, soft, EffectiveCost in USD" in shown
    assert "amount 1,500.00, spent 0.00, held 0.00, remaining 1,500.00, used 0.0 %" in shown
    assert f"at this rate it crosses 1,500.00 on {this_month}-" in shown
    assert f"{start.isoformat()} … {(start + timedelta(days=days - 1)).isoformat()}" in shown
    assert f"{100 * days:,}.00" in shown and "History" in shown
    assert "no budget 'nope'" in _run("budgets", "show", ws, "nope", code=1)


def test_the_projection_reads_as_a_sentence() -> None:
    status = {"amount": "10000", "state": "warning", "projection": {
        "total": "12345.6", "lo80": "11000", "hi80": "13000", "lo95": "10000", "hi95": "14000",
        "crosses_on": "2026-12-23", "earliest": "2026-12-20", "latest": "2026-12-27"}}  # fmt: skip
    assert projection_lines(status) == [
        "expected by the period's end 12,345.60 (80 %: 11,000.00 – 13,000.00)",
        "at this rate it crosses 10,000.00 on 2026-12-23 (80 %: 12-20 … 12-27)",
    ]
    status["projection"] |= {"crosses_on": None, "earliest": None, "latest": None}
    assert projection_lines(status)[1] == "at this rate it stays below 10,000.00 this period"
    assert (
        projection_lines(status | {"state": "over"})[1] == "spend has reached the amount, 10,000.00"
    )
    assert projection_lines({"amount": "1", "projection": None}) == [
        "no projection (no daily series for this scope)"
    ]


def test_check_allows_within_and_denies_past_a_hard_budget(ws: str) -> None:
    _ok("budgets", "add", ws, "a-cap", "--scope", "team=a", "--amount", "10", "--hard")
    _ok("budgets", "add", ws, "a-soft", "--scope", "team=a,model=gpt-4o", "--amount", "5")
    keys = ("--key", "team=a", "--key", "model=gpt-4o")
    allowed = json.loads(_ok("budgets", "check", ws, *keys, "--cost", "7.5", "--json"))
    assert allowed["allow"] and allowed["remaining"] == "-2.50"
    parts = {b["budget"]: b for b in allowed["budgets"]}
    assert parts["a-cap"]["remaining"] == "2.50" and parts["a-soft"]["allow"]
    denied = _run("budgets", "check", ws, *keys, "--cost", "12.5", code=DENIED)
    assert "denied: 12.50 would exceed a-cap" in denied and "deny" in denied
    assert "allow (over: soft)" in denied
    assert DENIED == 3
    other = _ok("budgets", "check", ws, "--key", "team=b", "--cost", "1000000")
    assert "allowed: no budget covers this spend (1,000,000.00)" in other
    typo = _run("budgets", "check", ws, "--key", "taem=a", "--cost", "1", code=1)
    assert "unknown scope key 'taem' — did you mean 'team'?" in typo
    assert "--key 'team'" in _run("budgets", "check", ws, "--key", "team", "--cost", "1", code=1)
    assert "--cost 'lots'" in _run("budgets", "check", ws, "--cost", "lots", code=1)
    assert "at least 0" in _run("budgets", "check", ws, "--cost", "-1", code=1)


def test_import_is_a_dry_run_until_apply_and_export_reads_back(ws: str, tmp_path: Path) -> None:
    _ok("budgets", "add", ws, "a-monthly", "--scope", "team=a", "--amount", "2000")
    _ok("budgets", "add", ws, "gone", "--scope", "org", "--amount", "1")
    wanted = tmp_path / "budgets.yaml"
    wanted.write_text(YAML)
    dry = _ok("budgets", "import", ws, str(wanted))
    assert "dry run: 3 change(s), nothing changed" in dry
    assert "add     b-quarterly: team=b, 9,000.00 USD quarterly, soft" in dry
    assert "change  a-monthly: amount: 2,000.00 → 3,000.00; hard: soft → hard;" in dry
    assert "owner: none → ana@example.com; team: none → a" in dry and "remove  gone" in dry
    assert set(_listed(ws)) == {"a-monthly", "gone"}
    assert _listed(ws)["a-monthly"]["amount"] == {"kind": "fixed", "value": "2000"}
    applied = _ok("budgets", "import", ws, str(wanted), "--apply")
    assert "3 change(s) applied" in applied and "remove  gone" in applied
    assert set(_listed(ws)) == {"a-monthly", "b-quarterly"}
    exported = tmp_path / "out.yaml"
    assert "wrote 2 budget(s)" in _ok("budgets", "export", ws, "--output", str(exported))
    assert exported.read_text() == _ok("budgets", "export", ws)
    assert "name: b-quarterly" in exported.read_text()
    assert "no changes" in _ok("budgets", "import", ws, str(exported), "--apply")


def test_bad_input_names_the_fix(ws: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(TWO_MISTAKES)
    both = _run("budgets", "import", ws, str(broken), "--apply", code=1)
    assert f"{broken}:4: budgets[0].scope: unknown scope key 'teem'" in both
    assert "did you mean 'team'?" in both
    assert (
        f"{broken}:9: budgets[1].period: must be one of" in both
        and "did you mean 'monthly'?" in both
    )
    assert _listed(ws) == {}
    typo = _run("budgets", "add", ws, "x", "--scope", "teem=a", "--amount", "5", code=1)
    assert "unknown scope key 'teem' — did you mean 'team'?" in typo
    negative = _run("budgets", "add", ws, "x", "--scope", "team=a", "--amount", "-5", code=1)
    assert "amount: must be a number above 0 (got -5)" in negative
    assert "--amount 'five'" in _run(
        "budgets", "add", ws, "x", "--scope", "org", "--amount", "five", code=1
    )
    period = _run(
        "budgets", "add", ws, "x", "--scope", "org", "--amount", "5", "--period", "custom", code=1
    )
    assert "custom periods: budgets.yaml" in period
    basis = _run(
        "budgets",
        "add",
        ws,
        "x",
        "--scope",
        "org",
        "--amount",
        "5",
        "--threshold",
        "90% forcast",
        code=1,
    )
    assert "must be one of actual, forecast (got 'forcast') — did you mean 'forecast'?" in basis
    assert "'80'" in _run(
        "budgets", "add", ws, "x", "--scope", "org", "--amount", "5", "--threshold", "80", code=1
    )
    _ok("budgets", "add", ws, "x", "--scope", "org", "--amount", "5")
    assert "exists already" in _run(
        "budgets", "add", ws, "x", "--scope", "org", "--amount", "5", code=1
    )
    assert "cannot read it" in _run("budgets", "import", ws, str(tmp_path / "missing.yaml"), code=1)
    assert set(_listed(ws)) == {"x"}
