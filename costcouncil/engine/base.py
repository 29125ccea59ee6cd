"""The engine protocol: one pipeline written once in DuckDB SQL, run on DuckDB or on Spark.

An :class:`Engine` holds named views. Every SQL text it receives is in DuckDB's dialect; the Spark
engine transpiles it (:mod:`costcouncil.engine.portable`). ``fetch`` returns Arrow in one canonical
set of types so that the same query gives *identical* tables on both engines:

==================================  ==========================================================
engine output                       canonical Arrow type
==================================  ==========================================================
any integer (8-64 bit, HUGEINT sum)  ``int64``
float, double                       ``float64``
decimal(p, s)                       ``decimal128(38, s)`` — scale kept, precision widened
string, large_string, string_view   ``string``
timestamp, any unit, any zone       ``timestamp("us", tz="UTC")`` (naive values read as UTC)
date                                ``date32``
list / struct                       the same, with canonical children (list item ``item``)
==================================  ==========================================================

Every field is nullable and schema metadata is dropped. Column order is the query's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from costcouncil.errors import EngineError

__all__ = ["Engine", "EngineError", "check_view_name", "first_value", "normal_type", "normalise"]

_VIEW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Engine(Protocol):
    """What the pipeline needs from an engine; ``name`` is ``"duckdb"`` or ``"spark"``."""

    name: str

    def load_arrow(self, view: str, table: pa.Table) -> None:
        """Expose ``table`` (copied) as the view ``view``."""

    def load_parquet(self, view: str, files: Sequence[Path | str], schema: pa.Schema) -> None:
        """Expose Parquet ``files`` as ``view`` with exactly ``schema``'s columns and types.

        Zero files give an empty view of ``schema``; a column no file holds reads as NULL.
        """

    def create(self, view: str, sql: str, materialize: bool = False) -> None:
        """Define ``view`` as the DuckDB-dialect query ``sql``; ``materialize`` computes it now."""

    def fetch(self, sql: str) -> pa.Table:
        """Run a DuckDB-dialect query; the result in canonical Arrow types."""

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of ``sql`` as a Python value (None if no rows)."""

    def write_parquet(self, sql: str, target: Path) -> int:
        """Write ``sql``'s rows, in canonical types, to the one Parquet file ``target``; the rows.

        The rows never gather in this process's memory: they stream from the engine to the file.
        """

    def spool(self, view: str, sql: str, target: Path) -> None:
        """Write ``sql``'s rows to the Parquet file ``target`` and define ``view`` as that file:
        rows too many to keep in memory until they are read, which the engine reads back."""

    def drop(self, view: str) -> None:
        """Forget ``view`` and free what it holds (nothing happens when there is no such view)."""

    def close(self) -> None:
        """Release the engine's views and caches."""


def check_view_name(view: str, engine: str) -> str:
    """``view`` if it is a plain identifier (letters, digits, ``_``), else :class:`EngineError`."""
    if not _VIEW_NAME.match(view):
        raise EngineError(
            view,
            "a view name must be letters, digits and '_' (not starting with a digit)",
            engine=engine,
        )
    return view


def normal_type(typ: pa.DataType) -> pa.DataType:
    """The canonical Arrow type for ``typ`` (see the module docstring)."""
    if pa.types.is_integer(typ):
        return pa.int64()
    if pa.types.is_floating(typ):
        return pa.float64()
    if pa.types.is_decimal(typ):
        return pa.decimal128(38, typ.scale)
    if pa.types.is_timestamp(typ):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_dictionary(typ):
        return normal_type(typ.value_type)
    return _normal_nested(typ) or _SIMPLE.get(typ, typ)


_SIMPLE: dict[pa.DataType, pa.DataType] = {
    pa.large_string(): pa.string(),
    pa.string_view(): pa.string(),
    pa.large_binary(): pa.binary(),
    pa.binary_view(): pa.binary(),
    pa.date64(): pa.date32(),
}


def _normal_nested(typ: pa.DataType) -> pa.DataType | None:
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_list_view(typ):
        return pa.list_(pa.field("item", normal_type(typ.value_type)))
    if pa.types.is_struct(typ):
        return pa.struct([pa.field(f.name, normal_type(f.type)) for f in typ])
    return None


def normalise(table: pa.Table) -> pa.Table:
    """``table`` cast to canonical types, every field nullable, without metadata."""
    schema = pa.schema([pa.field(f.name, normal_type(f.type)) for f in table.schema])
    if table.schema.equals(schema, check_metadata=True):
        return table
    return table.replace_schema_metadata(None).cast(schema)


def first_value(table: pa.Table) -> Any:
    """The first column of the first row of ``table`` as a Python value; None if it is empty."""
    if table.num_rows == 0 or table.num_columns == 0:
        return None
    return table.column(0)[0].as_py()
