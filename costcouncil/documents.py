"""Version-controlled YAML documents; here the workspace's own ``costcouncil.yaml``.

Every document has ``version: 1``. Loading one reports every problem at once, naming the file and
the key path (``tags.aliases.team``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcouncil.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
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
    return load_document(path, WorkspaceConfig)


def load_document(path: Path, model: type[M]) -> M:
    """The YAML document at ``path`` as ``model``; a ConfigError names every problem's key path."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot be read as YAML ({e})") from e
    try:
        return model.model_validate(raw)
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


Loc = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML document that remembers the line of every key and list item."""

    path: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Sequence[str | int]) -> int:
        """The line of the deepest part of ``loc`` the document has (1 for the top level)."""
        found, here = 1, cast(Loc, ())
        for part in loc:
            if (*here, part) in self.lines:
                here = (*here, part)
                found = self.lines[here]
        return found

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line: key.path`` for messages; the path keeps only keys the document has."""
        return f"{self.path}:{self.line(loc)}: {_dotted(self._known(loc)) or '(top level)'}"

    def _known(self, loc: Sequence[str | int]) -> Loc:
        here: Loc = ()
        for part in loc:
            if (*here, part) in self.lines:
                here = (*here, part)
        return here


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only ``true``/``false``, so a key like ``on:`` stays a string."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse ``text``; a syntax error becomes a :class:`ConfigError` naming file and line."""
    try:
        node = yaml.compose(text, Loader=Yaml12Loader)
        data = yaml.load(text, Loader=Yaml12Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(e, 'problem', e)})") from e
    document = YamlDocument(path, data)
    if node is not None:
        _record_lines(node, (), document.lines)
    return document


def _record_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*loc, str(key.value))
            lines[here] = key.start_mark.line + 1
            _record_lines(value, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _record_lines(item, (*loc, i), lines)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def validation_problems(document: YamlDocument, error: ValidationError) -> list[str]:
    """One line per pydantic error: where it is, what is wrong, the bad value, a suggestion."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = f"{document.where(loc)}: {item['msg']} (got {item.get('input')!r})"
        problems.append(message + _did_you_mean(item))
    return problems


def _did_you_mean(item: Any) -> str:
    expected = (item.get("ctx") or {}).get("expected")
    bad = item.get("input")
    if item.get("type") == "extra_forbidden":
        return ""
    if not isinstance(expected, str) or not isinstance(bad, str):
        return ""
    choices = [c.strip(" '\"") for c in expected.replace(" or ", ",").split(",")]
    close = difflib.get_close_matches(bad, choices, n=1, cutoff=0.5)
    return f" — did you mean {close[0]!r}?" if close else ""


def raise_problems(document: YamlDocument, problems: list[str]) -> None:
    """Raise one :class:`ConfigError` listing every problem, or return when there are none."""
    if problems:
        head = f"{document.path}: {len(problems)} problem(s):"
        raise ConfigError("\n".join([head, *(f"  - {p}" for p in problems)]))
