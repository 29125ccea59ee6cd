"""Run the attribution pipeline on an engine over plain Arrow inputs, and compare results."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from costcouncil.attribution import build_plan, parse_rules, run_plan
from costcouncil.engine.base import Engine

AMOUNTS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


def run(
    engine: Engine,
    tables: dict[str, pa.Table],
    rules: dict[str, Any],
    owner_keys: list[str],
    aliases: dict[str, list[str]],
    split_parts: int = 1,
    spool: Path | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Allocation and reconciliation rows of ``rules`` over ``tables`` on ``engine`` (parts
    spooled to files in ``spool`` when given)."""
    for name, table in tables.items():
        engine.load_arrow(name, table)
    parsed = parse_rules(yaml.safe_dump(rules, sort_keys=False), "rules.yaml", owner_keys)
    plan = build_plan(parsed, aliases, tables["costs"].column_names, split_parts)
    run_plan(engine, plan, spool=spool)
    allocations = engine.fetch("SELECT * FROM cc_allocations").to_pylist()
    reconciliation = engine.fetch("SELECT * FROM cc_reconciliation").to_pylist()
    return allocations, reconciliation


def key(row: dict[str, Any], owner_keys: list[str]) -> tuple[Any, ...]:
    owners = tuple(row.get(f"x_{k}") for k in owner_keys)
    return (row["x_source_file"], row["x_source_row"], owners, row["x_rule"], row["x_method"])


def by_key(
    rows: list[dict[str, Any]], owner_keys: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    counts = Counter(key(r, owner_keys) for r in rows)
    dupes = [k for k, n in counts.items() if n > 1]
    assert not dupes, f"allocation keys are not unique: {dupes}"
    return {key(r, owner_keys): r for r in rows}


def assert_matches(
    actual: list[dict[str, Any]], expected: list[dict[str, Any]], owner_keys: list[str]
) -> None:
    """Same allocation keys; every field an expected row names is equal (amounts as Decimal)."""
    got, want = by_key(actual, owner_keys), by_key(expected, owner_keys)
    missing, extra = set(want) - set(got), set(got) - set(want)
    assert not missing and not extra, (
        f"missing {sorted(missing, key=str)}; unexpected {sorted(extra, key=str)}"
    )
    for k, row in want.items():
        for field, value in row.items():
            assert _norm(got[k].get(field)) == _norm(value), (
                f"{k}: {field} {got[k].get(field)!r} != {value!r}"
            )


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def assert_same(a: list[dict[str, Any]], b: list[dict[str, Any]], owner_keys: list[str]) -> None:
    """Two engines' (or engine and reference) allocations agree to the last digit."""
    ka, kb = by_key(a, owner_keys), by_key(b, owner_keys)
    only_a, only_b = set(ka) - set(kb), set(kb) - set(ka)
    assert not only_a and not only_b, (
        f"only first {sorted(only_a, key=str)}; only second {sorted(only_b, key=str)}"
    )
    for k, row in ka.items():
        for m in AMOUNTS:
            assert _norm(row[m]) == _norm(kb[k][m]), f"{k}: {m} {row[m]} != {kb[k][m]}"
        assert row["x_usage_weight"] == kb[k]["x_usage_weight"], (
            k,
            row["x_usage_weight"],
            kb[k]["x_usage_weight"],
        )
        assert row["x_usage_count"] == kb[k]["x_usage_count"], k
