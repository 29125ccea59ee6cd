"""Small input tables for the policy tests: rows as dicts, unnamed columns null."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from costcouncil.policy import BUDGETS_SCHEMA, COSTS_SCHEMA, GPU_SCHEMA, JOBS_SCHEMA, LLM_SCHEMA

D = Decimal
DAY = date(2026, 3, 31)


def table(schema: pa.Schema, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """``rows`` as a table of ``schema``; money given as text or numbers becomes Decimal."""
    full = [{f.name: _value(f, row.get(f.name)) for f in schema} for row in rows]
    return pa.Table.from_pylist(full, schema=schema)


def _value(f: pa.Field, value: Any) -> Any:
    if value is not None and pa.types.is_decimal(f.type):
        return D(str(value))
    return value


def costs(*rows: dict[str, Any]) -> pa.Table:
    return table(COSTS_SCHEMA, rows)


def gpu(*rows: dict[str, Any]) -> pa.Table:
    return table(GPU_SCHEMA, rows)


def jobs(*rows: dict[str, Any]) -> pa.Table:
    return table(JOBS_SCHEMA, rows)


def llm(*rows: dict[str, Any]) -> pa.Table:
    return table(LLM_SCHEMA, rows)


def budgets(*rows: dict[str, Any]) -> pa.Table:
    return table(BUDGETS_SCHEMA, rows)
