"""What the llm sources ``openai``, ``litellm`` and ``otel`` share.

- :func:`json_documents`: a JSON file (one document) or a JSON Lines file (one document a line),
  gzip-compressed or not, with a :class:`~costcouncil.errors.FormatError` naming the file and
  line when neither parses.
- :func:`uncached` and :func:`without`: our token kinds are disjoint (``input_tokens`` excludes
  cached and cache-write tokens, ``output_tokens`` excludes reasoning tokens), while providers
  count those inside their totals.
- :func:`add_named`: adds a row and names its problems by the source's own field names.
- :data:`SERVICE_TIERS`: OpenAI's service-tier spellings as ours.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from costcouncil.errors import FormatError
from costcouncil.usage.base import Rows

#: OpenAI's service tiers (API ``service_tier``, OTel ``openai.response.service_tier``) as ours;
#: ``auto`` says only that OpenAI chose, so it gives no tier.
SERVICE_TIERS: dict[str, str | None] = {
    "default": "standard",
    "standard": "standard",
    "auto": None,
    "scale": "provisioned",
    "provisioned": "provisioned",
    "flex": "flex",
    "priority": "priority",
    "batch": "batch",
}


def read_text(path: Path, expected: str) -> str:
    """The file's text (``.gz`` decompressed), or a FormatError saying what was expected."""
    try:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8-sig")
    except OSError as e:
        raise FormatError(f"{path}: cannot be read ({e}); expected {expected}") from e
    except (UnicodeDecodeError, EOFError) as e:
        raise FormatError(f"{path}: not UTF-8 text ({e}); expected {expected}") from e


def json_documents(
    path: Path, expected: str, text: str | None = None
) -> list[tuple[int | None, Any]]:
    """``(line, document)`` pairs: ``[(None, doc)]`` for a JSON file, one pair a line for JSONL.

    ``text`` is the file's text when the caller has read it already.
    """
    text = read_text(path, expected) if text is None else text
    if not text.strip():
        raise FormatError(f"{path}: the file is empty; expected {expected}")
    try:
        return [(None, json.loads(text))]
    except json.JSONDecodeError as whole:
        if not _first_line_is_json(text):
            where = f"line {whole.lineno} column {whole.colno}"
            raise FormatError(
                f"{path}: not JSON ({whole.msg} at {where}); expected {expected}"
            ) from None
    return _json_lines(path, text, expected)


def _first_line_is_json(text: str) -> bool:
    first = next(line for line in text.splitlines() if line.strip())
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return True


def _json_lines(path: Path, text: str, expected: str) -> list[tuple[int | None, Any]]:
    docs: list[tuple[int | None, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            docs.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            raise FormatError(
                f"{path}, line {n}: not JSON ({e.msg} at column {e.colno}); "
                f"expected {expected}, one JSON document a line"
            ) from None
    return docs


def count(value: Any) -> int | None:
    """A token count as an int, or None when it is absent or not a whole number (Rows says why)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return int(d) if d.is_finite() and d == d.to_integral_value() else None


def uncached(total: Any, cached: Any, written: Any) -> Any:
    """Input tokens without the cache reads and writes a provider counts inside its total.

    When the total is smaller than reads + writes it cannot contain both: it is taken to hold the
    reads only (older LiteLLM versions counted Anthropic cache writes outside ``prompt_tokens``),
    and when smaller than the reads too, to hold neither (a provider that reports uncached input).
    A value that is not a count is passed through for the row builder to report.
    """
    n = count(total)
    if n is None:
        return total
    reads, writes = count(cached) or 0, count(written) or 0
    for rest in (n - reads - writes, n - reads):
        if rest >= 0:
            return rest
    return n


def without(total: Any, part: Any) -> Any:
    """Output tokens without the reasoning tokens counted inside them (kept when smaller)."""
    n, p = count(total), count(part) or 0
    if n is None:
        return total
    return n - p if n >= p else n


def add_named(rows: Rows, row: int, values: Mapping[str, Any], names: Mapping[str, str]) -> bool:
    """``rows.add``, with each problem's column renamed to the source's field (``names``).

    A name that is empty drops that column's problem (the source reported it already).
    """
    before = len(rows.problems)
    if rows.add(row, values):
        return True
    rename(rows, before, names)
    return False


def rename(rows: Rows, before: int, names: Mapping[str, str]) -> None:
    """Rename (or, to an empty name, drop) the columns of the problems after ``before``."""
    renamed = []
    for p in rows.problems[before:]:
        name = names.get(p.column, p.column)
        if name:
            renamed.append(replace(p, column=name))
    rows.problems[before:] = renamed


def present(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The entries that hold something (not None, empty text or an empty list or object)."""
    return {k: v for k, v in mapping.items() if v is not None and v != "" and v != [] and v != {}}
