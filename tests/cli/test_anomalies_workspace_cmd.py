"""`costcouncil anomalies detect|list|show|mark` on a workspace with a planted jump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from tests.workspace.anomaly.test_run import _org

runner = CliRunner()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(_org(tmp_path_factory.mktemp("planted")).root)


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_detect_then_list_show_and_mark(org: str) -> None:
    counts = json.loads(_ok("anomalies", "detect", org, "--json"))
    assert counts["new"] >= 2 and counts["monitors"] >= 4
    again = json.loads(_ok("anomalies", "detect", org, "--json"))
    assert again["new"] == again["grew"] == 0
    [found] = json.loads(_ok("anomalies", "list", org, "--monitor", "team=a", "--json"))
    assert found["start"].startswith("2026-10-20") and found["end"].startswith("2026-10-23")
    shown = _ok("anomalies", "show", org, str(found["id"]))
    assert "new_resource" in shown and "i-new" in shown
    assert "marked not_anomaly" in _ok("anomalies", "mark", org, str(found["id"]), "not_anomaly",
                                       "--note", "load test")  # fmt: skip
    assert json.loads(_ok("anomalies", "list", org, "--open", "--monitor", "team=a", "--json")) == []
    assert f"│ {found['id']} " in _ok("anomalies", "list", org, "--limit", "10")


def test_errors_name_the_fix(org: str) -> None:
    missing = runner.invoke(app, ["anomalies", "show", org, "99999"])
    assert missing.exit_code == 1 and "no anomaly 99999" in missing.output
    bad = runner.invoke(app, ["anomalies", "mark", org, "1", "fine"])
    assert bad.exit_code == 1 and "choose one of expected, not_anomaly, resolved" in bad.output


def test_an_empty_workspace_says_what_to_do(tmp_path: Path) -> None:
    _ok("init", str(tmp_path / "empty"))
    assert "no anomalies" in _ok("anomalies", "list", str(tmp_path / "empty"))
