"""`costcouncil monitors` and `costcouncil annotations` on a small allocated organisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from tests.web.org import build_org

runner = CliRunner()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_org(tmp_path_factory.mktemp("org")).root)


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_sync_creates_the_default_monitors_once(org: str) -> None:
    assert "monitor(s) added: org, team=" in _ok("monitors", "sync", org)
    assert "0 monitor(s) added" in _ok("monitors", "sync", org)
    names = {m["name"] for m in json.loads(_ok("monitors", "list", org, "--json"))}
    assert {"org", "team=vision", "team=search", "model=detector-v3", "provider=AWS"} <= names


def test_a_custom_monitor_is_added_and_removed(org: str) -> None:
    _ok("monitors", "add", org, "storage", "--scope", "service_category=Storage", "--sensitivity", "2")
    listed = {m["name"]: m for m in json.loads(_ok("monitors", "list", org, "--json"))}
    assert listed["storage"]["sensitivity"] == 2.0 and not listed["storage"]["builtin"]
    _ok("monitors", "remove", org, "storage")
    assert "storage" not in _ok("monitors", "list", org)


def test_a_typo_in_a_scope_names_the_fix(org: str) -> None:
    result = runner.invoke(app, ["monitors", "add", org, "x", "--scope", "taem=vision"])
    assert result.exit_code == 1
    assert "did you mean 'team'" in result.output


def test_annotations_round_trip(org: str, tmp_path: Path) -> None:
    added = _ok("annotations", "add", org, "--scope", "team=vision", "--start", "2026-10-01",
                "--end", "2026-10-08", "--label", "launch of detector v4")  # fmt: skip
    assert "launch of detector v4" in added
    [found] = json.loads(_ok("annotations", "list", org, "--json"))
    assert found["team"] == "vision" and found["end"].startswith("2026-10-08")
    bad = runner.invoke(app, ["annotations", "add", org, "--scope", "org", "--start", "soon",
                              "--label", "x"])  # fmt: skip
    assert bad.exit_code == 1 and "--start 'soon'" in bad.output
    _ok("annotations", "remove", org, str(found["id"]))
    assert "no annotations" in _ok("annotations", "list", org)
