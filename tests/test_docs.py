"""Docs are tested: every command, option, setting and source format a user meets is documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from costcouncil.cli.main import app
from costcouncil.documents import WorkspaceConfig
from costcouncil.ingest.sources import REGISTRY
from costcouncil.settings import Settings
from costcouncil.usage.sources import REGISTRY as USAGE_SOURCES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = README + "".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))


def _commands() -> list[tuple[str, Any]]:
    group: Any = typer.main.get_command(app)
    out: list[tuple[str, Any]] = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


@pytest.mark.parametrize("name,command", _commands(), ids=lambda v: str(v))
def test_every_command_and_option_is_in_the_readme(name: str, command: Any) -> None:
    assert f"costcouncil {name}" in README
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert opt in README, f"{opt} of `costcouncil {name}` is not in README.md"


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"COSTCOUNCIL_{name.upper()}" in DOCS


def test_every_workspace_key_is_documented() -> None:
    workspace_doc = (ROOT / "docs" / "workspace.md").read_text()
    for name in WorkspaceConfig.model_fields:
        assert f"`{name}`" in workspace_doc
    assert "`tags.owner_keys`" in workspace_doc and "`tags.aliases`" in workspace_doc


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_source_format_has_a_page(name: str) -> None:
    assert name in DOCS
    if not name.startswith("focus-"):
        pages = [p.stem for p in (ROOT / "docs" / "sources").glob("*.md")]
        assert any(name.startswith(stem) or stem in name for stem in pages), name


@pytest.mark.parametrize("name", sorted(USAGE_SOURCES))
def test_every_usage_source_has_a_page(name: str) -> None:
    page = ROOT / "docs" / "sources" / f"{name}.md"
    assert page.exists(), f"docs/sources/{name}.md"
    assert f"--source {name}" in page.read_text(), (
        f"docs/sources/{name}.md shows no `--source {name}`"
    )
