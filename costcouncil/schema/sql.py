"""How names and values are spelled in the SQL CostCouncil builds (DuckDB and Spark alike)."""

from __future__ import annotations


def q(name: str) -> str:
    """A quoted identifier: ``q('a"b')`` -> ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A SQL string literal: ``lit("it's")`` -> ``'it''s'``."""
    return "'" + value.replace("'", "''") + "'"
