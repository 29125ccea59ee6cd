"""Reading price tables back in tests: rows by key, and the validity ranges of a timeline."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pyarrow as pa

Row = dict[str, object]


def rows(table: pa.Table, provider: str, model: str, tier: str = "standard") -> list[Row]:
    """The rows of one pair and tier, in ``valid_from`` order (open start first)."""
    found = [
        r
        for r in table.to_pylist()
        if (r["provider"], r["model"], r["service_tier"]) == (provider, model, tier)
    ]
    return sorted(found, key=lambda r: (r["valid_from"] is not None, r["valid_from"] or 0))


def price(row: Row, kind: str) -> Decimal | None:
    value = row[f"{kind}_per_mtok"]
    assert value is None or isinstance(value, Decimal)
    return value


def timelines(table: pa.Table) -> dict[tuple[str, str, str], list[tuple[object, object]]]:
    """(valid_from, valid_to) of every row, grouped by pair and tier, in table order."""
    out: dict[tuple[str, str, str], list[tuple[object, object]]] = defaultdict(list)
    for r in table.to_pylist():
        out[(str(r["provider"]), str(r["model"]), str(r["service_tier"]))].append(
            (r["valid_from"], r["valid_to"])
        )
    return out


def assert_chained(ranges: list[tuple[object, object]]) -> None:
    """The ranges start at the open start, end at the open end, and each ends where the next starts."""
    assert ranges[0][0] is None and ranges[-1][1] is None, ranges
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert isinstance(end, datetime) and end == start, ranges


def assert_disjoint(ranges: list[tuple[object, object]]) -> None:
    """No two half-open ranges share an instant (``None`` = open)."""
    lo = datetime.min.replace(tzinfo=None)
    bounds = sorted((_naive(start) or lo, _naive(end) or datetime.max) for start, end in ranges)
    for (_, end), (start, _) in itertools.pairwise(bounds):
        assert end <= start, ranges


def _naive(moment: object) -> datetime | None:
    assert moment is None or isinstance(moment, datetime)
    return None if moment is None else moment.replace(tzinfo=None)
