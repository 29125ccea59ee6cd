"""Arrow types of the lake: the canonical cost schema (FOCUS 1.2 + 1.3 extras + ``x_`` columns).

Money and quantities are ``decimal128(38, 12)``; timestamps are microseconds in UTC; ``json``
columns are strings holding a JSON object. The ``x_`` columns every lake row carries:

``x_source_format``  the converter that read the row (``focus-1.0``, ``aws-cur`` ...)
``x_source_file``    the content fingerprint of the file the row came from
``x_source_row``     the 1-based data row in that file
"""

from __future__ import annotations

import pyarrow as pa

from costcouncil.schema.focus import (
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
    FOCUS_1_2,
    FOCUS_1_3_EXTRAS,
    Column,
    Kind,
)

DECIMAL = pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
TIMESTAMP = pa.timestamp("us", tz="UTC")

_ARROW: dict[Kind, pa.DataType] = {
    "string": pa.string(),
    "currency": pa.string(),
    "json": pa.string(),
    "decimal": DECIMAL,
    "datetime": TIMESTAMP,
}

SOURCE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("x_source_format", pa.string()),
    ("x_source_file", pa.string()),
    ("x_source_row", pa.int64()),
)

#: The SQL types DuckDB uses for the same kinds.
SQL_TYPES: dict[Kind, str] = {
    "string": "VARCHAR",
    "currency": "VARCHAR",
    "json": "VARCHAR",
    "decimal": f"DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})",
    "datetime": "TIMESTAMPTZ",
}


def arrow_type(column: Column) -> pa.DataType:
    return _ARROW[column.kind]


def lake_columns() -> tuple[Column, ...]:
    """The FOCUS columns every lake file holds, in lake order."""
    return FOCUS_1_2 + FOCUS_1_3_EXTRAS


def focus_schema(*, with_source: bool = True) -> pa.Schema:
    """The Arrow schema of a lake cost file (``with_source`` adds the ``x_source_*`` columns)."""
    fields = [pa.field(c.name, arrow_type(c), nullable=True) for c in lake_columns()]
    if with_source:
        fields += [pa.field(name, typ) for name, typ in SOURCE_COLUMNS]
    return pa.schema(fields)
