"""Version-controlled YAML documents; here the workspace's own ``costcouncil.yaml``.

Every document has ``version: 1``. Loading one reports every problem at once, naming the file and
the key path (``tags.aliases.team``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcouncil.errors import ConfigError

DEFAULT_OWNER_KEYS = (
    "team",
    "project",
    "model",
    "model_version",
    "run",
    "environment",
    "feature",
    "customer",
)
DEFAULT_ALIASES = {
    "team": ["Team", "team_name", "owner", "Owner"],
    "project": ["Project", "project_name"],
    "model": ["Model", "model_name"],
    "environment": ["Environment", "env", "Env", "stage"],
}


class TagConfig(BaseModel):
    """Which tag keys are owner keys, and which other spellings mean the same key."""

    model_config = ConfigDict(extra="forbid")
    owner_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_OWNER_KEYS))
    aliases: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ALIASES))

    def spellings(self, key: str) -> list[str]:
        """``key`` and its aliases, in lookup order."""
        return [key, *self.aliases.get(key, [])]


class WorkspaceConfig(BaseModel):
    """``costcouncil.yaml``: the workspace's name, currency, storage locations and tag keys."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    name: str
    currency: str = "USD"
    lake: str = "lake"
    database: str = "sqlite:///costcouncil.db"
    tags: TagConfig = Field(default_factory=TagConfig)


def load_workspace_config(path: Path) -> WorkspaceConfig:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot be read as YAML ({e})") from e
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(path, e)) from e


def _describe(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} problem(s):"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  - {where}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def dump_workspace_config(config: WorkspaceConfig) -> str:
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
