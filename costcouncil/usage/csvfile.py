"""Reading one CSV into DuckDB exactly as a mapping's ``csv:`` options say.

The header is read with the standard library's ``csv`` module (from ``.gz`` files too); DuckDB
then reads the file with exactly those columns, every value as text, without sniffing, in strict
RFC 4180 mode, so that a ragged row or an unterminated quote is an error naming its line rather
than a guess. Empty cells (and the mapping's ``null`` strings) are missing values. Three virtual
columns are added: ``x_file_stem`` (``vc6YE`` for ``vc6YE.csv``), ``x_file_name`` and ``x_row``,
the 1-based data row every message names.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import IO

import duckdb

from costcouncil.errors import FormatError
from costcouncil.schema.sql import lit
from costcouncil.usage.mapping import CsvOptions

#: Columns every row has besides the file's own.
VIRTUAL = ("x_file_stem", "x_file_name", "x_row")


def load_csv(con: duckdb.DuckDBPyConnection, path: Path, options: CsvOptions) -> tuple[str, ...]:
    """Load ``path`` into the TEMP TABLE ``src`` (text columns + virtual ones); returns its header."""
    header = read_header(path, options)
    reserved = sorted(set(header) & set(VIRTUAL))
    if reserved:
        raise FormatError(
            f"{path}: has columns named {', '.join(reserved)}, which the CSV source adds"
        )
    stem, name = file_stem(path), path.name
    virtual = (
        f"{lit(stem)} AS x_file_stem, {lit(name)} AS x_file_name, row_number() OVER () AS x_row"
    )
    try:
        con.execute(
            f"CREATE TEMP TABLE src AS SELECT *, {virtual} FROM {_reader(path, options, header)}"
        )
    except duckdb.Error as e:
        raise FormatError(f"{path}: {_csv_error(e)}{_dialect(path, options)}") from e
    return header


def read_header(path: Path, options: CsvOptions) -> tuple[str, ...]:
    """The column names: the header row's (an empty name is ``column<i>``), else ``column1…``."""
    try:
        with _text(path, options) as f:
            for _ in range(options.skip):
                f.readline()
            first = next(csv.reader(f, delimiter=options.separator(path), quotechar=options.quote))
    except StopIteration:
        raise FormatError(f"{path}: is empty (expected a CSV{_dialect(path, options)})") from None
    except (OSError, UnicodeError, csv.Error, EOFError) as e:
        raise FormatError(f"{path}: cannot be read as CSV ({e}){_dialect(path, options)}") from e
    names = tuple(
        n.strip() if options.header and n.strip() else f"column{i}" for i, n in enumerate(first, 1)
    )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FormatError(f"{path}: the header names {', '.join(map(repr, twice))} more than once")
    return names


def _text(path: Path, options: CsvOptions) -> IO[str]:
    encoding = "utf-8-sig" if options.encoding == "utf-8" else options.encoding
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def file_stem(path: Path) -> str:
    """``vc6YE.csv`` -> ``vc6YE``; ``calls.csv.gz`` -> ``calls``."""
    name = path.name[: -len(".gz")] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def _reader(path: Path, options: CsvOptions, header: tuple[str, ...]) -> str:
    columns = ", ".join(f"{lit(n)}: 'VARCHAR'" for n in header)
    nulls = ", ".join(lit(s) for s in ["", *options.nulls])
    settings = {
        "columns": f"{{{columns}}}",
        "header": "true" if options.header else "false",
        "skip": str(options.skip),
        "delim": lit(options.separator(path)),
        "quote": lit(options.quote),
        "escape": lit(options.escape or options.quote),
        "nullstr": f"[{nulls}]",
        "encoding": lit(options.encoding),
    }
    given = "".join(f", {k} = {v}" for k, v in settings.items())
    return f"read_csv({lit(str(path))}, auto_detect = false, strict_mode = true{given})"


def _csv_error(error: duckdb.Error) -> str:
    """DuckDB's CSV error without its list of fixes (they name DuckDB options, not ours)."""
    lines = [line.strip() for line in str(error).splitlines()]
    if "Possible fixes:" in lines:
        lines = lines[: lines.index("Possible fixes:")]
    return "; ".join(line for line in lines[:4] if line)


def _dialect(path: Path, options: CsvOptions) -> str:
    shown = "tab" if options.separator(path) == "\t" else repr(options.separator(path))
    header = "a header row" if options.header else "no header row"
    return (
        f" — the mapping reads {options.encoding} text separated by {shown}, quoted with "
        f"{options.quote!r}, with {header}; set csv.delimiter, csv.quote or csv.header to match"
    )
