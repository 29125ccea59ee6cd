"""A YAML document with the line of every key, for messages like ``prices.yaml:7: overrides[1].discount``.

Built on PyYAML's composer: the node tree is turned into plain Python values while each key path
records its line. Numbers that are not integers become ``Decimal`` from their written text, never
``float``, so that ``0.1`` is exactly 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml

from costcouncil.documents import Yaml12Loader
from costcouncil.errors import ConfigError

KeyPath = tuple[str | int, ...]

_FLOAT_TAG = "tag:yaml.org,2002:float"


@dataclass
class Document:
    """The values of one YAML file, the line of each key path, and the problems found in it."""

    file: str
    data: object
    lines: dict[KeyPath, int]
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest ancestor that is in the file."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: KeyPath, reason: str) -> None:
        """Record that the value at ``path`` is wrong."""
        where = dotted(path) or "(top level)"
        self.problems.append((self.line(path), f"{self.file}:{self.line(path)}: {where}: {reason}"))

    def raise_problems(self) -> None:
        """Raise one :class:`ConfigError` listing every problem, in file order, if there are any."""
        if self.problems:
            shown = "\n".join(f"  - {text}" for _, text in sorted(self.problems))
            raise ConfigError(f"{self.file}: {len(self.problems)} problem(s):\n{shown}")


def load(text: str, file: str) -> Document:
    """Parse ``text`` (the contents of ``file``); a YAML syntax error raises :class:`ConfigError`."""
    try:
        node = yaml.compose(text, Loader=Yaml12Loader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 1
        raise ConfigError(f"{file}:{line}: not valid YAML: {e.problem}") from e
    doc = Document(file, None, {})
    doc.data = None if node is None else _value(node, (), doc)
    return doc


def dotted(path: Sequence[str | int]) -> str:
    """``("overrides", 1, "discount")`` → ``overrides[1].discount``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _value(node: yaml.Node, path: KeyPath, doc: Document) -> object:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        return _mapping(node, path, doc)
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, (*path, i), doc) for i, item in enumerate(node.value)]
    return _scalar(node)


def _mapping(node: yaml.MappingNode, path: KeyPath, doc: Document) -> dict[str, object]:
    out: dict[str, object] = {}
    for key_node, value_node in node.value:
        key = str(_scalar(key_node))
        doc.lines[(*path, key)] = key_node.start_mark.line + 1
        if key in out:
            doc.problem((*path, key), "duplicate key")
        out[key] = _value(value_node, (*path, key), doc)
    return out


def _scalar(node: yaml.Node) -> object:
    if node.tag == _FLOAT_TAG:
        try:
            return Decimal(str(node.value).replace("_", ""))
        except InvalidOperation:
            return str(node.value)
    return Yaml12Loader("").construct_object(node, deep=True)
