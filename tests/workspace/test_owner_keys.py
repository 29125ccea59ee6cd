"""A workspace whose owner keys no rule can fill is refused by ``allocate`` before anything runs;
one a tag rule can fill allocates (docs/attribution.md, "Owner keys no rule can fill")."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from costcouncil.cli.main import app
from costcouncil.workspace.allocate.run import AllocateOptions, allocate
from costcouncil.workspace.core import CONFIG_NAME, Workspace
from costcouncil.workspace.ingest.costs import IngestOptions, ingest
from tests.factories import Charge, write_focus

SPLIT = "version: 1\nrules:\n  - {name: tags, kind: tag}\n  - {name: gpu, kind: usage_split, usage: jobs}\n"


def _with_owner_keys(workspace: Workspace, keys: list[str], tmp_path: Path) -> Workspace:
    config = yaml.safe_load((workspace.root / CONFIG_NAME).read_text())
    config["tags"]["owner_keys"] = keys
    (workspace.root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    charges = [
        Charge(cost="10.00", resource="i-web", tags={"app": "checkout"}),
        Charge(cost="5.00", resource="i-db"),
    ]
    write_focus(tmp_path / "bill.csv", charges)
    opened = Workspace.open(workspace.root)
    assert ingest(opened, [tmp_path / "bill.csv"], IngestOptions())[0].status == "ingested"
    return opened


def test_cli_refuses_a_workspace_key_no_split_can_fill(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = _with_owner_keys(workspace, ["app"], tmp_path)
    (ws.root / "rules.yaml").write_text(SPLIT)
    done = CliRunner().invoke(app, ["allocate", str(ws.root)])
    assert done.exit_code == 1
    text = " ".join(done.output.split())  # the console wraps long lines
    assert f"{ws.root / 'rules.yaml'}:4: rules[1].usage: jobs usage has no 'app' column" in text
    assert "tags.owner_keys` (costcouncil.yaml; required by default)" in text
    assert "owner keys of jobs usage: team, project, model, model_version, run, environment" in text
    manifest = ws.lake.read()
    assert manifest.data_files("allocations") == [] and manifest.runs == []


def test_a_key_only_tags_carry_allocates(workspace: Workspace, tmp_path: Path) -> None:
    ws = _with_owner_keys(workspace, ["app"], tmp_path)
    outcome = allocate(ws, AllocateOptions())
    assert outcome.coverage() == 10 / 15
