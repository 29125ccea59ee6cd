"""Recognise a cost file: its container (CSV, gzipped CSV, Parquet), delimiter, header and format.

Only the head of a file is read here (at most :data:`HEAD_BYTES` decompressed bytes), so a file
with a 2 GB line or a truncated gzip stream is recognised or refused without reading it whole.
"""

from __future__ import annotations

import difflib
import gzip
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from costcouncil.errors import FormatError
from costcouncil.ingest.sources.base import Converter

HEAD_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")

Container = Literal["csv", "parquet"]


@dataclass(frozen=True)
class Sniffed:
    """What the head of a file says about it."""

    path: Path
    container: Container
    compression: str  # none or gzip
    delimiter: str
    header: tuple[str, ...]

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.header)


def sniff(path: Path, delimiter: str | None = None) -> Sniffed:
    """Read the head of ``path`` and describe it; raise :class:`FormatError` if unreadable."""
    magic = _magic(path)
    if magic.startswith(b"PAR1"):
        return Sniffed(path, "parquet", "none", ",", _parquet_header(path))
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        raise FormatError(f"{path}: zstd-compressed files are not supported yet; gunzip or gzip it")
    compression = "gzip" if magic.startswith(b"\x1f\x8b") else "none"
    first = _first_line(path, compression)
    chosen = delimiter or _guess_delimiter(first)
    return Sniffed(path, "csv", compression, chosen, _split_header(first, chosen, path))


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(4)
    except OSError as e:
        raise FormatError(f"{path}: cannot be read ({e.strerror})") from e


def _parquet_header(path: Path) -> tuple[str, ...]:
    import pyarrow.parquet as pq

    try:
        return tuple(pq.read_schema(path).names)
    except Exception as e:  # pyarrow raises several types for broken footers
        raise FormatError(f"{path}: not a readable Parquet file ({e})") from e


def _first_line(path: Path, compression: str) -> str:
    head = _head(path, compression)
    if not head.strip():
        raise FormatError(f"{path}: the file is empty (no header row)")
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if len(line) >= HEAD_BYTES - 1 and b"\n" not in head:
        raise FormatError(f"{path}, row 0: the header line is longer than {HEAD_BYTES} bytes")
    return line.decode("utf-8-sig", errors="replace")


def _head(path: Path, compression: str) -> bytes:
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as g:
                return g.read(HEAD_BYTES)
        with path.open("rb") as f:
            return f.read(HEAD_BYTES)
    except (OSError, EOFError, zlib.error) as e:
        raise FormatError(f"{path}: the {compression} stream is broken or truncated ({e})") from e


def _guess_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _split_header(line: str, delimiter: str, path: Path) -> tuple[str, ...]:
    import csv

    names = next(csv.reader([line], delimiter=delimiter))
    names = [n.strip() for n in names]
    if any(not n for n in names):
        raise FormatError(f"{path}, row 0: the header has an empty column name: {line[:200]!r}")
    return tuple(names)


def detect(sniffed: Sniffed, converters: Mapping[str, Converter]) -> Converter:
    """The converter whose signature the header carries; the most specific wins."""
    header = sniffed.columns
    matches = [c for c in converters.values() if c.matches(header)]
    if matches:
        return max(matches, key=lambda c: (c.priority, len(c.signature)))
    raise FormatError(_unknown_format(sniffed, converters.values()))


def _unknown_format(sniffed: Sniffed, converters: Iterable[Converter]) -> str:
    header = sniffed.columns
    ranked = sorted(converters, key=lambda c: len(c.signature - header))
    closest = ranked[0] if ranked else None
    lines = [f"{sniffed.path}, row 0: not a cost export CostCouncil recognises."]
    if len(sniffed.header) == 1 and any(d in sniffed.header[0] for d in DELIMITERS):
        lines.append(
            f"The header is one column {sniffed.header[0][:120]!r}: wrong delimiter?"
            " Pass --delimiter with the file's separator."
        )
    if closest is not None:
        missing = sorted(closest.signature - header)
        near = [difflib.get_close_matches(m, sniffed.header, n=1) for m in missing]
        hints = [
            f"{m} (did you mean {n[0]!r}?)" if n else m for m, n in zip(missing, near, strict=True)
        ]
        lines.append(
            f"Closest format: {closest.name} ({closest.title}); missing: {', '.join(hints)}."
        )
    lines.append(
        "Known formats: "
        + ", ".join(sorted(c.name for c in converters))
        + ". Name one with --format."
    )
    return "\n".join(lines)
