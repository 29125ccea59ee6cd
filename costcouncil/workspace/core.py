"""A workspace: a folder with ``costcouncil.yaml``, the lake and the app database.

::

    acme/
      costcouncil.yaml     name, currency, lake and database locations, tag keys
      lake/                the Parquet cost lake (see costcouncil.lake.store)
      costcouncil.db       app state (SQLite by default; ``database:`` may name PostgreSQL)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from costcouncil.attribution import default_rules_text
from costcouncil.documents import (
    WorkspaceConfig,
    dump_workspace_config,
    load_workspace_config,
)
from costcouncil.errors import WorkspaceError
from costcouncil.lake.store import Lake

CONFIG_NAME = "costcouncil.yaml"


@dataclass(frozen=True)
class Workspace:
    """An opened workspace."""

    root: Path
    config: WorkspaceConfig

    @property
    def lake(self) -> Lake:
        return Lake(self.root / self.config.lake)

    @classmethod
    def open(cls, root: Path) -> Workspace:
        path = root / CONFIG_NAME
        if not path.exists():
            raise WorkspaceError(
                f"{root}: not a CostCouncil workspace (no {CONFIG_NAME}); "
                f"create one with: costcouncil init {root}"
            )
        return cls(root, load_workspace_config(path))

    @classmethod
    def init(cls, root: Path, name: str | None = None, currency: str = "USD") -> Workspace:
        """Create a workspace (idempotent: an existing one is opened unchanged)."""
        if (root / CONFIG_NAME).exists():
            return cls.open(root)
        root.mkdir(parents=True, exist_ok=True)
        config = WorkspaceConfig(name=name or root.resolve().name, currency=currency)
        (root / CONFIG_NAME).write_text(dump_workspace_config(config))
        if not (root / "rules.yaml").exists():
            (root / "rules.yaml").write_text(default_rules_text())
        workspace = cls(root, config)
        workspace.lake.root.mkdir(exist_ok=True)
        return workspace
