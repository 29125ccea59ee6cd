"""CSV for people: every string cell reads as data in a spreadsheet, never as a formula.

A spreadsheet evaluates a cell that begins with ``=``, ``+``, ``-`` or ``@`` — and some also
one that begins with a tab or a carriage return — as a formula, quoted or not: a tag value
``=HYPERLINK("http://evil","x")`` from a provider's bill would become a live link in finance's
copy of a download (CSV injection). Following OWASP's guidance, :func:`write_csv` prefixes such a
*string* cell with a single quote (``'=HYPERLINK(...)``) and quotes every string cell, so
commas, quotes and line breaks stay inside it.

Only string columns are touched. Numbers, decimals, dates and timestamps are typed and are
written as they are: ``-12.50`` in a cost column stays a number a spreadsheet can sum. A string
that merely looks like a number (a tag value ``-5``) is still a string and is prefixed
(``'-5``): from the first character alone there is no telling ``-5`` from ``-5+A1``.

Machine formats stay exact and never come through here: Parquet downloads, the ``.json`` twins
and the FOCUS export (see docs/csv-safety.md).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["PREFIX", "TRIGGERS", "neutralise", "neutralised_sql", "safe_table", "write_csv"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: What goes in front of such a cell: a spreadsheet shows the rest as text.
PREFIX = "'"
_PATTERN = "^[=+\\-@\t\r]"


def neutralise(value: str) -> str:
    """``'=1+1'`` -> ``"'=1+1"``; any other string unchanged."""
    return PREFIX + value if value.startswith(TRIGGERS) else value


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _column(column: Any) -> Any:
    """A string column with its formula-like cells prefixed; any other column as it is."""
    kind = column.type
    if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
        column, kind = column.cast(kind.value_type), kind.value_type
    if not _is_text(kind):
        return column
    risky = pc.fill_null(pc.match_substring_regex(column, _PATTERN), False)
    joined = pc.binary_join_element_wise(pa.scalar(PREFIX, kind), column, pa.scalar("", kind))
    return pc.if_else(risky, joined, column)


def safe_table(table: pa.Table) -> pa.Table:
    """``table`` with every string cell (and column name) safe to open in a spreadsheet."""
    columns = [_column(table.column(i)) for i in range(table.num_columns)]
    names = [neutralise(name) for name in table.column_names]
    return pa.table(columns, names=names)


def write_csv(table: pa.Table, sink: Any) -> None:
    """Write ``table`` as CSV for people: header, string cells quoted and neutralised."""
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    pacsv.write_csv(safe_table(table), sink, options)


def neutralised_sql(expression: str) -> str:
    """The DuckDB/Spark SQL of a VARCHAR ``expression`` made safe the same way (for ``COPY``)."""
    firsts = ", ".join(["'='", "'+'", "'-'", "'@'", "chr(9)", "chr(13)"])
    return (
        f"CASE WHEN substr({expression}, 1, 1) IN ({firsts}) "
        f"THEN '{PREFIX * 2}' || {expression} ELSE {expression} END"
    )
