"""Every error CostCouncil raises on purpose, in one tree.

::

    CostCouncilError                 base; ``str(e)`` is the message a user reads
    ├── WorkspaceError               no workspace, a broken costcouncil.yaml, a held lock
    ├── ConfigError                  a settings or YAML document value is wrong
    │   └── NotFoundError            no such monitor, anomaly, annotation, subscription or inbox
    │                                item (or not one the caller may see: the same answer)
    ├── IngestError                  a file cannot be ingested at all (terminal for that file)
    │   ├── FormatError              unreadable: truncated gzip, wrong delimiter, unknown format
    │   └── ValidationError          rows or columns break FOCUS; carries every Problem at once
    ├── LakeError                    the lake's manifest or files are inconsistent
    ├── EngineError                  a SQL stage failed on DuckDB or Spark, or an engine cannot start
    ├── ExportError                  an export failed its conformance gate
    └── AttributionError             an attribution run broke an invariant (conservation); nothing written

A :class:`Problem` names the file, the row (1-based data row; 0 for the header or the whole file),
the column and the bad value, so that every message can point at the exact cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CostCouncilError(Exception):
    """Base of every deliberate CostCouncil error."""


class WorkspaceError(CostCouncilError):
    """The workspace is missing, malformed or busy."""


class ConfigError(CostCouncilError):
    """A configuration value or a YAML document is invalid."""


class NotFoundError(ConfigError):
    """What was named does not exist — or the caller may not see it, which answers the same."""


class LakeError(CostCouncilError):
    """The lake's manifest or data files are inconsistent."""


class EngineError(CostCouncilError):
    """A SQL stage failed on an engine (or the engine could not start); names the stage."""

    def __init__(self, stage: str, message: str, *, engine: str = "", sql: str = "") -> None:
        self.stage = stage
        self.reason = message
        self.engine = engine
        self.sql = sql
        where = f"{engine}: " if engine else ""
        super().__init__(f"{where}stage {stage!r} failed: {message}")


class IngestError(CostCouncilError):
    """A file could not be ingested; nothing from it was stored."""


class FormatError(IngestError):
    """A file is unreadable or of an unknown format."""


class ExportError(CostCouncilError):
    """An export could not be produced or failed its conformance gate."""


class AttributionError(CostCouncilError):
    """An attribution run failed or broke an invariant; nothing was written."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell, column or file."""

    file: str
    row: int
    column: str
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row else self.file
        value = "" if self.value is None else f" = {_short(self.value)!r}"
        column = f", column {self.column}" if self.column else ""
        return f"{where}{column}{value}: {self.reason}"


class ValidationError(IngestError):
    """Rows or columns of a file break the schema; every problem found is listed."""

    def __init__(self, problems: Sequence[Problem], total: int | None = None, hint: str = ""):
        self.problems = tuple(problems)
        self.total = len(self.problems) if total is None else total
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = self.total - min(len(self.problems), 50)
        tail = f"\n  … and {more} more" if more > 0 else ""
        hint = f"\n{self.hint}" if self.hint else ""
        return f"{self.total} problem(s):\n{shown}{tail}{hint}"


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
