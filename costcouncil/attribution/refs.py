"""References (``ServiceName``, ``Tags.Team``, ``attributes.project_id``) and matches, as SQL.

A reference is a column, or ``Column.key`` for a key of a JSON-object column. Matches compile to
portable predicates: equality, ``LIKE … ESCAPE '!'`` for globs, ``regexp_matches`` for regexes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from costcouncil.attribution.rules import Condition, Match, is_glob
from costcouncil.errors import ConfigError
from costcouncil.schema.sql import lit, q


class Scope:
    """The columns a side of a join has, under a table alias, for resolving references."""

    def __init__(self, alias: str, columns: Iterable[str], what: str) -> None:
        self.alias = alias
        self.columns = list(columns)
        self.what = what

    def sql(self, ref: str, where: str) -> str:
        """SQL for ``ref``; a ``ConfigError`` naming ``where`` when the column does not exist."""
        column, _, key = ref.partition(".")
        if column not in self.columns:
            raise ConfigError(
                f"{where}: {self.what} has no column {column!r}{_hint(column, self.columns)}"
            )
        expr = f"{self.alias}.{q(column)}"
        return f"json_extract_string({expr}, {lit(json_path(key))})" if key else expr

    def base_columns(self, refs: Iterable[str]) -> set[str]:
        return {ref.partition(".")[0] for ref in refs}


def json_path(key: str) -> str:
    """A JSONPath selecting one top-level key, whatever characters it has."""
    return "$." + key if key.isidentifier() else '$."' + key.replace('"', '\\"') + '"'


def match_sql(match: Match | None, scope: Scope, where: str) -> str:
    """One predicate for a rule's ``match`` (``TRUE`` when it has none)."""
    if not match:
        return "TRUE"
    parts = [_condition(scope.sql(ref, f"{where}.match"), cond) for ref, cond in match.items()]
    return "(" + " AND ".join(parts) + ")"


def _condition(expr: str, cond: Condition) -> str:
    if isinstance(cond, dict):
        return f"regexp_matches({expr}, {lit(cond['regex'])})"
    if isinstance(cond, list):
        return "(" + " OR ".join(_condition(expr, c) for c in cond) + ")"
    if is_glob(cond):
        return f"{expr} LIKE {lit(glob_to_like(cond))} ESCAPE '!'"
    return f"{expr} = {lit(cond)}"


def glob_to_like(pattern: str) -> str:
    """``*`` → ``%``, ``?`` → ``_``; literal ``%``, ``_`` and ``!`` escaped with ``!``."""
    out = []
    for ch in pattern:
        if ch in "%_!":
            out.append("!" + ch)
        else:
            out.append({"*": "%", "?": "_"}.get(ch, ch))
    return "".join(out)


def refs_of_match(match: Match | None) -> Sequence[str]:
    return list(match or {})


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" — did you mean {close[0]!r}?" if close else ""
