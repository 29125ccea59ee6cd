"""The YAML mapping of the generic CSV usage source (``--source csv --mapping m.yaml``).

A mapping declares, without code, how the columns of some CSV become the rows of one usage kind
(``jobs`` or ``llm``)::

    version: 1
    name: helios                  # the rows' source column is "csv:helios"
    kind: jobs
    csv: {delimiter: ",", header: true, timezone: UTC}
    constants: {anchor: "2023-07-01T00:00:00Z"}
    columns:                      # our column -> a source column, {expr: SQL} or {value: literal}
      job_id: {expr: "x_file_stem || '-' || \\"time\\""}
      start: time
      accelerator_count: running_gpu_num
    filter: "CAST(running_gpu_num AS DOUBLE) > 0"
    attributes: [gpu_utilization]   # unmapped (default), none, or a list of source columns

Expressions are DuckDB SQL over the source columns, which are read as text. ``${name}`` in an
expression, a filter or a ``value`` is replaced by the constant ``name`` (in SQL, as a literal).
This module checks the document's shape and names (every problem at once, with its line and a
"did you mean" hint); whether the expressions fit a given file is checked when it is read
(:mod:`costcouncil.usage.sources.csvmap`). docs/sources/csv.md is the reference.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from costcouncil.documents import YamlDocument, parse_yaml, raise_problems, validation_problems
from costcouncil.errors import ConfigError
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA


def _iso(value: Any) -> Any:
    """An unquoted YAML date or time (``2023-07-01T00:00:00Z``) is kept as its ISO text."""
    return value.isoformat() if isinstance(value, date) else value


Scalar = Annotated[StrictBool | StrictInt | StrictFloat | StrictStr, BeforeValidator(_iso)]

#: Columns each kind must have mapped (``source`` is always ``csv:<name>``).
REQUIRED = {"jobs": ("job_id", "start"), "llm": ("request_id", "provider", "model", "time")}
#: Each kind's columns a mapping may name.
TARGETS = {
    "jobs": tuple(n for n in JOBS_SCHEMA.names if n not in ("source", "attributes")),
    "llm": tuple(n for n in LLM_SCHEMA.names if n not in ("source", "attributes")),
}
_CONSTANT = re.compile(r"\$\{([^}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class CsvOptions(BaseModel):
    """How the file is read: RFC 4180 CSV with a header row, unless told otherwise."""

    model_config = ConfigDict(extra="forbid")
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool = True
    quote: str = Field(default='"', min_length=1, max_length=1)
    escape: str | None = Field(default=None, min_length=1, max_length=1)
    nulls: list[str] = Field(default_factory=list)
    skip: int = Field(default=0, ge=0)
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None or value in zoneinfo.available_timezones():
            return value
        close = difflib.get_close_matches(value, zoneinfo.available_timezones(), n=1)
        hint = f" — did you mean {close[0]!r}?" if close else " (an IANA name: UTC, Asia/Shanghai)"
        raise ValueError(f"unknown time zone{hint}")

    def separator(self, path: Path) -> str:
        """The delimiter: the one given, else a tab for ``.tsv`` files and a comma otherwise."""
        if self.delimiter is not None:
            return self.delimiter
        return "\t" if ".tsv" in path.suffixes else ","


class ColumnSpec(BaseModel):
    """Where one of our columns comes from: exactly one of a column, an expression, a value."""

    model_config = ConfigDict(extra="forbid")
    column: str | None = Field(default=None, min_length=1)
    expr: str | None = Field(default=None, min_length=1)
    value: Scalar | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"column": data}
        if not isinstance(data, dict):
            raise ValueError(
                "expected a source column name, {expr: SQL} or {value: literal} "
                f"(for a fixed value write {{value: {data!r}}})"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> ColumnSpec:
        given = [k for k in ("column", "expr", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `column`, `expr` or `value`")
        return self


class MappingDocument(BaseModel):
    """The whole mapping file, ``version: 1``."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: Literal["jobs", "llm"]
    description: str | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    constants: dict[str, Scalar] = Field(default_factory=dict)
    columns: dict[str, ColumnSpec]
    filter: str | None = Field(default=None, min_length=1)
    attributes: Literal["unmapped", "none"] | list[str] = "unmapped"


_MODELS: dict[str, type[BaseModel]] = {
    "": MappingDocument,
    "csv": CsvOptions,
    "columns": ColumnSpec,
}


@dataclass(frozen=True)
class CsvMapping:
    """A checked mapping and the document it came from (for messages with its lines)."""

    spec: MappingDocument
    document: YamlDocument

    @property
    def source(self) -> str:
        """What the rows' ``source`` column holds."""
        return f"csv:{self.spec.name}"

    def where(self, *loc: str | int) -> str:
        """``m.yaml:7: columns.start`` for messages."""
        return self.document.where(loc)

    def sql(self, target: str) -> str:
        """The SQL of ``target``'s mapping, constants substituted."""
        spec = self.spec.columns[target]
        if spec.column is not None:
            return q(spec.column)
        if spec.expr is not None:
            return self.substitute(spec.expr)
        return _literal(self._text(spec.value))

    def substitute(self, expression: str) -> str:
        """``expression`` with each ``${name}`` replaced by the constant as a SQL literal."""
        return _CONSTANT.sub(lambda m: _literal(self.spec.constants[m.group(1)]), expression)

    def _text(self, value: Scalar | None) -> Scalar | None:
        if isinstance(value, str):
            return _CONSTANT.sub(lambda m: str(self.spec.constants[m.group(1)]), value)
        return value


def _literal(value: Scalar | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "NULL" if value is None else lit(value)


def load_mapping(path: Path) -> CsvMapping:
    """Read and check the mapping at ``path``; :class:`ConfigError` lists every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: the mapping cannot be read ({e})") from e
    return parse_mapping(text, str(path))


def parse_mapping(text: str, path: str) -> CsvMapping:
    """Check mapping ``text`` (from ``path``); :class:`ConfigError` lists every problem."""
    document = parse_yaml(text, path)
    if not isinstance(document.data, dict):
        raise_problems(
            document, [f"{path}:1: the mapping must be a YAML mapping with `version: 1`"]
        )
    try:
        spec = MappingDocument.model_validate(document.data)
    except ValidationError as e:
        raise_problems(document, _shape_problems(document, e) + _target_problems(document))
        raise AssertionError("unreachable") from e
    mapping = CsvMapping(spec, document)
    raise_problems(document, _name_problems(mapping))
    return mapping


def _shape_problems(document: YamlDocument, error: ValidationError) -> list[str]:
    problems = validation_problems(document, error)
    for i, item in enumerate(error.errors()):
        if item["type"] == "extra_forbidden":
            problems[i] += _extra_key_hint(tuple(item["loc"]))
    return problems


def _extra_key_hint(loc: tuple[str | int, ...]) -> str:
    """Did you mean … for an unknown key, from the fields of the model it was found in."""
    parent = "columns" if loc[:1] == ("columns",) else str(loc[0]) if len(loc) > 1 else ""
    model = _MODELS.get(parent)
    if model is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.5)
    return (
        f" — did you mean {close[0]!r}?" if close else f" (known: {', '.join(model.model_fields)})"
    )


def _name_problems(mapping: CsvMapping) -> list[str]:
    return _target_problems(mapping.document) + _constant_problems(mapping)


def _target_problems(document: YamlDocument) -> list[str]:
    """Unknown and missing target columns, from the raw data (found even when its shape is wrong)."""
    data = document.data if isinstance(document.data, dict) else {}
    kind, columns = data.get("kind"), data.get("columns")
    if kind not in TARGETS or not isinstance(columns, dict):
        return []
    problems = [
        f"{document.where(('columns', name))}: {_not_a_target(str(name), kind)}"
        for name in columns
        if name not in TARGETS[kind]
    ]
    missing = [n for n in REQUIRED[kind] if n not in columns]
    if missing:
        problems.append(
            f"{document.where(('columns',))}: {kind} rows need {', '.join(missing)} mapped "
            f"(required: {', '.join(REQUIRED[kind])})"
        )
    return problems


def _not_a_target(name: str, kind: str) -> str:
    if name == "source":
        return "`source` is set from the mapping's name (csv:<name>); it cannot be mapped"
    if name == "attributes":
        return "set `attributes` at the top level: unmapped, none, or a list of source columns"
    close = difflib.get_close_matches(name, TARGETS[kind], n=1, cutoff=0.5)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return f"not a {kind} column{hint} (choose from {', '.join(TARGETS[kind])})"


def _constant_problems(mapping: CsvMapping) -> list[str]:
    spec = mapping.spec
    problems = [
        f"{mapping.where('constants', name)}: a constant's name must be letters, digits and '_'"
        for name in spec.constants
        if not _IDENTIFIER.match(name)
    ]
    for loc, text in _texts(spec):
        for used in _CONSTANT.findall(text):
            if used not in spec.constants:
                problems.append(f"{mapping.where(*loc)}: {_unknown_constant(used, spec)}")
    return problems


def _texts(spec: MappingDocument) -> list[tuple[tuple[str, ...], str]]:
    """Every text in which ``${name}`` may appear, with its key path."""
    found: list[tuple[tuple[str, ...], str]] = [(("filter",), spec.filter)] if spec.filter else []
    for name, column in spec.columns.items():
        for key in ("expr", "value"):
            text = getattr(column, key)
            if isinstance(text, str):
                found.append((("columns", name, key), text))
    return found


def _unknown_constant(name: str, spec: MappingDocument) -> str:
    close = difflib.get_close_matches(name, list(spec.constants), n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    known = ", ".join(spec.constants) or "none"
    return f"${{{name}}} is not a constant{hint} (constants: {known})"
