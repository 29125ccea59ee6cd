"""Golden attribution cases (``tests/cases/attribution/*.yaml``): load one as plain Python data for
the reference and as Arrow tables for an engine. The format is described in the folder's README.

``load_case(path)`` -> :class:`Case`; ``all_cases()`` -> the case files; ``expected_rows(case)``
-> the expected allocation rows in the shape of ``reference.allocate``'s output, holding only the
columns the case checks. ``costs_table`` / ``jobs_table`` / ``llm_table`` / ``prices_table``
turn plain rows (as the reference takes them) into the tables an engine reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from costcouncil.documents import Yaml12Loader
from costcouncil.schema.arrow import DECIMAL, TIMESTAMP, focus_schema
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA

CASES_DIR = Path(__file__).resolve().parents[1] / "cases" / "attribution"
DEFAULT_OWNER_KEYS = ("team", "project", "model", "run", "environment")
DEFAULT_START = datetime(2026, 10, 1, tzinfo=UTC)
METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
SENTINELS = ("__idle__", "__unallocated__")
PRICE_COLUMNS = (
    "input_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "output_per_mtok",
    "reasoning_per_mtok",
)
PRICES_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string()),
        pa.field("model", pa.string()),
        pa.field("service_tier", pa.string()),
        pa.field("valid_from", TIMESTAMP),
        pa.field("valid_to", TIMESTAMP),
        *[pa.field(c, DECIMAL) for c in PRICE_COLUMNS],
        pa.field("currency", pa.string()),
        pa.field("source", pa.string()),
        pa.field("catalog_model", pa.string()),
    ]
)
_EXPECTED_KEYS = {"charge", "owner", "rule", "method", "usage_weight", "usage_count", *METRICS}
_CASE_KEYS = {
    "description",
    "owner_keys",
    "aliases",
    "metrics",
    "charges",
    "jobs",
    "llm",
    "prices",
    "rules",
    "expected",
}


YamlLoader = Yaml12Loader  # YAML 1.2 booleans: the rules key `on` stays a key


class Inputs:
    """What a case or a generated scenario feeds the reference and the engines."""

    charges: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    llm: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    rules: dict[str, Any]
    aliases: dict[str, list[str]]
    owner_keys: list[str]

    def reference_inputs(self) -> dict[str, Any]:
        """Keyword arguments for ``reference.allocate``."""
        return {
            "charges": self.charges,
            "jobs": self.jobs,
            "llm": self.llm,
            "prices": self.prices,
            "rules": self.rules,
            "aliases": self.aliases,
            "owner_keys": self.owner_keys,
        }

    def tables(self) -> dict[str, pa.Table]:
        """``costs``, ``jobs``, ``llm`` and ``prices`` as an engine reads them."""
        return {
            "costs": costs_table(self.charges),
            "jobs": jobs_table(self.jobs),
            "llm": llm_table(self.llm),
            "prices": prices_table(self.prices),
        }


@dataclass(frozen=True)
class Case(Inputs):
    """One golden case: its inputs (plain and Arrow) and what the allocation must give."""

    path: Path
    description: str
    owner_keys: list[str]
    aliases: dict[str, list[str]]
    rules: dict[str, Any]
    charges: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    llm: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    #: charge id -> x_source_row
    rows: dict[str, int]
    expected: list[dict[str, Any]]
    expected_reconciliation: list[dict[str, Any]] | None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def keys(self) -> list[str]:
        """The owner keys in force: the rules' own, else the case's."""
        return list(self.rules.get("owner_keys") or self.owner_keys)


def all_cases() -> list[Path]:
    return sorted(CASES_DIR.glob("*.yaml"))


def load_case(path: Path) -> Case:
    doc = yaml.load(path.read_text(), Loader=YamlLoader)
    unknown = set(doc) - _CASE_KEYS
    if unknown or "description" not in doc or "rules" not in doc:
        raise ValueError(f"{path.name}: needs description and rules; unknown keys {unknown}")
    owner_keys = list(doc.get("owner_keys") or DEFAULT_OWNER_KEYS)
    keys = list(doc["rules"].get("owner_keys") or owner_keys)
    raw_charges = doc.get("charges") or []
    rows = {str(c["id"]): i for i, c in enumerate(raw_charges, start=1)}
    if len(rows) != len(raw_charges):
        raise ValueError(f"{path.name}: charge ids are not unique")
    expected = doc.get("expected") or {}
    allocations = [
        _expected(path, e, rows, keys, doc.get("metrics") or [])
        for e in expected.get("allocations") or []
    ]
    recon = expected.get("reconciliation")
    return Case(
        path=path,
        description=str(doc["description"]).strip(),
        owner_keys=owner_keys,
        aliases=dict(doc.get("aliases") or {}),
        rules=doc["rules"],
        charges=[charge_row(c, path.name, i) for i, c in enumerate(raw_charges, start=1)],
        jobs=[job_row(j, i) for i, j in enumerate(doc.get("jobs") or [], start=1)],
        llm=[llm_row(r, i) for i, r in enumerate(doc.get("llm") or [], start=1)],
        prices=[price_row(p) for p in doc.get("prices") or []],
        rows=rows,
        expected=allocations,
        expected_reconciliation=None if recon is None else [_recon(r) for r in recon],
    )


# --- plain rows ----------------------------------------------------------------------------------


def utc(value: Any) -> datetime | None:
    """A YAML timestamp, date or ISO string as an aware UTC datetime (naive = UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def count(value: Any) -> float | None:
    """A job count: a number, or a fraction written as text (``1/7``)."""
    return None if value is None else float(Fraction(str(value)))


def json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _next_month(day: datetime) -> datetime:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def charge_row(raw: Mapping[str, Any], file: str, number: int) -> dict[str, Any]:
    """A case charge with the defaults filled in (see the README)."""
    row: dict[str, Any] = {k: v for k, v in raw.items() if k != "id"}
    start = utc(row.get("ChargePeriodStart")) or DEFAULT_START
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    billing = utc(row.get("BillingPeriodStart")) or month
    row |= {
        "x_source_format": "case",
        "x_source_file": file,
        "x_source_row": number,
        "BillingCurrency": row.get("BillingCurrency", "USD"),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": utc(row.get("ChargePeriodEnd")) or start + timedelta(hours=1),
        "BillingPeriodStart": billing,
        "BillingPeriodEnd": utc(row.get("BillingPeriodEnd")) or _next_month(billing),
    }
    billed = money(row.get("BilledCost", "0"))
    row["BilledCost"] = billed
    for metric in ("EffectiveCost", "ListCost"):
        row[metric] = money(row[metric]) if metric in row else billed
    row["ContractedCost"] = money(row.get("ContractedCost"))
    for column, value in row.items():
        row[column] = _typed(column, value)
    return row


_LAKE_TYPES = {f.name: f.type for f in focus_schema(with_source=True)}


def _typed(column: str, value: Any) -> Any:
    """A charge value as the lake types it: decimals, UTC timestamps, everything else text."""
    type_ = _LAKE_TYPES.get(column, pa.string())
    if pa.types.is_decimal(type_):
        return money(value)
    if pa.types.is_timestamp(type_):
        return utc(value)
    if pa.types.is_integer(type_):
        return value
    return json_text(value)


def job_row(raw: Mapping[str, Any], number: int) -> dict[str, Any]:
    row = {f.name: raw.get(f.name) for f in JOBS_SCHEMA}
    row |= {
        "job_id": str(raw.get("job_id", f"job-{number}")),
        "source": raw.get("source", "case"),
        "start": utc(raw["start"]),
        "end": utc(raw.get("end")),
        "attributes": json_text(raw.get("attributes")),
    }
    for column in ("accelerator_count", "cpu_cores", "memory_gib"):
        row[column] = count(raw.get(column))
    return row


def llm_row(raw: Mapping[str, Any], number: int) -> dict[str, Any]:
    row = {f.name: raw.get(f.name) for f in LLM_SCHEMA}
    row |= {
        "request_id": str(raw.get("request_id", f"req-{number}")),
        "source": raw.get("source", "case"),
        "time": utc(raw["time"]),
        "cost": money(raw.get("cost")),
        "attributes": json_text(raw.get("attributes")),
    }
    return row


def price_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "provider": raw["provider"],
        "model": raw["model"],
        "service_tier": raw.get("service_tier") or "standard",
        "valid_from": utc(raw.get("valid_from", "2026-01-01T00:00:00Z")),
        "valid_to": utc(raw.get("valid_to")),
        **{c: money(raw.get(c)) for c in PRICE_COLUMNS},
        "currency": raw.get("currency", "USD"),
        "source": raw.get("source", "case"),
        "catalog_model": raw.get("catalog_model", raw["model"]),
    }


# --- Arrow tables --------------------------------------------------------------------------------


def costs_table(charges: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The lake's cost schema (FOCUS 1.2 + 1.3 extras + ``x_source_*``); unknown columns as strings."""
    schema = focus_schema(with_source=True)
    extra = sorted({k for c in charges for k in c} - set(schema.names))
    schema = pa.schema([*schema, *[pa.field(name, pa.string()) for name in extra]])
    return _table(charges, schema)


def jobs_table(jobs: Sequence[Mapping[str, Any]]) -> pa.Table:
    return _table(jobs, JOBS_SCHEMA)


def llm_table(llm: Sequence[Mapping[str, Any]]) -> pa.Table:
    return _table(llm, LLM_SCHEMA)


def prices_table(prices: Sequence[Mapping[str, Any]]) -> pa.Table:
    return _table(prices, PRICES_SCHEMA)


def _table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    columns = {f.name: [_cell(r.get(f.name), f.type) for r in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def _cell(value: Any, type_: pa.DataType) -> Any:
    if value is None or not pa.types.is_string(type_):
        return value
    return value if isinstance(value, str) else json_text(value)


# --- expectations --------------------------------------------------------------------------------


def owner_tuple(owner: Any, keys: Sequence[str]) -> tuple[str | None, ...]:
    """``{team: vision}`` (other keys null) or a sentinel name (in every key)."""
    if isinstance(owner, str):
        if owner not in SENTINELS:
            raise ValueError(f"owner {owner!r} is neither a mapping nor one of {SENTINELS}")
        return tuple(owner for _ in keys)
    unknown = set(owner) - set(keys)
    if unknown:
        raise ValueError(f"owner keys {unknown} are not owner keys {list(keys)}")
    return tuple(None if owner.get(k) is None else str(owner[k]) for k in keys)


def _expected(
    path: Path,
    raw: Mapping[str, Any],
    rows: Mapping[str, int],
    keys: Sequence[str],
    metrics: Sequence[str],
) -> dict[str, Any]:
    unknown = set(raw) - _EXPECTED_KEYS
    missing = {"charge", "owner", "rule", "method", *metrics} - set(raw)
    if unknown or missing or str(raw["charge"]) not in rows:
        raise ValueError(f"{path.name}: expected {raw}: unknown {unknown}, missing {missing}")
    out = {
        "x_source_file": path.name,
        "x_source_row": rows[str(raw["charge"])],
        **dict(zip([f"x_{k}" for k in keys], owner_tuple(raw["owner"], keys), strict=True)),
        "x_rule": raw["rule"],
        "x_method": raw["method"],
    }
    out |= {m: money(raw[m]) for m in METRICS if m in raw}
    if "usage_weight" in raw:
        out["x_usage_weight"] = int(raw["usage_weight"])
    if "usage_count" in raw:
        out["x_usage_count"] = int(raw["usage_count"])
    return out


def _recon(raw: Mapping[str, Any]) -> dict[str, Any]:
    day = raw["day"]
    return {
        "x_rule": raw["rule"],
        "ProviderName": raw.get("provider"),
        "model": raw.get("model"),
        "day": day if isinstance(day, date) else date.fromisoformat(str(day)),
        "BillingCurrency": raw.get("currency", "USD"),
        "invoiced": money(raw["invoiced"]),
        "priced": money(raw.get("priced")),
        "gap": money(raw.get("gap")),
        "requests": int(raw["requests"]),
    }


def expected_rows(case: Case) -> list[dict[str, Any]]:
    """The expected allocation rows, each with only the columns the case checks."""
    return [dict(row) for row in case.expected]


def allocation_key(row: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """The multiset key of an allocation row: cost row, owner tuple, rule, method."""
    owner = tuple(row[f"x_{k}"] for k in keys)
    return row["x_source_file"], row["x_source_row"], owner, row["x_rule"], row["x_method"]


def recon_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["x_rule"], row["ProviderName"], row["model"], row["day"], row["BillingCurrency"]
