"""What a cost source is: a declared mapping from an export's columns to FOCUS columns.

A converter is *data*, not code: for every FOCUS column it names a DuckDB SQL expression over the
source file's columns, which ingest reads as VARCHAR (``all_varchar``). Ingest wraps each
expression in the same typing and validation for every source, so a converter never parses a
number or a date itself unless the source's format needs reshaping (``strptime`` of ``9/2/2023``).

Source columns are referenced quoted, exactly as the header spells them: ``"lineItem/UnblendedCost"``.
A FOCUS column a converter does not name is NULL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from costcouncil.schema.sql import lit

#: Builds an expression from the file's header (for columns whose set varies per file, such as
#: one tag column per tag key); returns None when the header has nothing to build from.
HeaderExpression = Callable[[tuple[str, ...]], str | None]

#: One expression, alternatives tried in order (the first whose source columns all exist wins),
#: or a function of the header.
Expression = str | tuple[str, ...] | HeaderExpression

_QUOTED = re.compile(r'"((?:[^"]|"")+)"')


@dataclass(frozen=True)
class Converter:
    """One export format and how to turn it into FOCUS 1.2 rows.

    Attributes:
        name: the ``--format`` name users type (``aws-cur``, ``azure-ea``, ``focus-1.2``).
        title: a human name for messages and docs.
        provider: the lake partition key for rows of this format (``aws``, ``azure`` ...); a
            FOCUS file takes it from its ``ProviderName`` column instead, when this is empty.
        signature: header columns whose presence identifies the format (all must be present).
        columns: FOCUS column name -> DuckDB SQL expression over the source columns, or a tuple
            of alternatives (legacy and current column names); the first whose referenced
            columns all exist in the file is used, and a column with none is NULL.
        source_cost: SQL expression of the source's own billed cost (conservation checks).
        source_currency: SQL expression of the source's currency for ``source_cost``.
        naive_timezone: the zone a naive timestamp in this format is in (``UTC`` for exports whose
            documentation says so); ``None`` means naive timestamps are rejected.
        priority: breaks ties when several signatures match (higher wins).
    """

    name: str
    title: str
    provider: str
    signature: frozenset[str]
    columns: Mapping[str, Expression]
    source_cost: str
    source_currency: str
    naive_timezone: str | None = None
    priority: int = 0
    doc: str = field(default="", compare=False)

    def matches(self, header: frozenset[str]) -> bool:
        return self.signature <= header

    def resolve(self, header: tuple[str, ...]) -> tuple[dict[str, str], dict[str, set[str]]]:
        """Pick each FOCUS column's expression for a file with ``header``.

        Returns the chosen expressions and, for columns with no usable alternative, the source
        columns that were missing (so ingest can name them in its error).
        """
        chosen: dict[str, str] = {}
        missing: dict[str, set[str]] = {}
        names = frozenset(header)
        for focus_name, expression in self.columns.items():
            if callable(expression):
                built = expression(header)
                if built is not None:
                    chosen[focus_name] = built
                continue
            alternatives = (expression,) if isinstance(expression, str) else expression
            for alternative in alternatives:
                absent = referenced_columns(alternative) - names
                if not absent:
                    chosen[focus_name] = alternative
                    break
                missing.setdefault(focus_name, set()).update(absent)
            else:
                continue
            missing.pop(focus_name, None)
        return chosen, missing


def referenced_columns(expression: str) -> set[str]:
    """The quoted source column names an expression refers to."""
    return {m.replace('""', '"') for m in _QUOTED.findall(expression)}


def col(name: str) -> str:
    """A source column reference for a converter expression: ``col("a/b")`` -> ``"a/b"``."""
    return '"' + name.replace('"', '""') + '"'


__all__ = ["Converter", "Expression", "HeaderExpression", "col", "lit", "referenced_columns"]
