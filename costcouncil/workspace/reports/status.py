"""What the lake holds, from the manifest: cost periods, usage and allocations, each on its own.

The manifest's slices are of several datasets, each with its own meaning of a slice:

- ``costs``: one provider + billing account + billing period, with billed totals per currency;
- ``jobs`` / ``llm``: one usage file (or one origin of a server-backed source), with a time span;
- ``allocations``: one billing period of the last ``allocate`` run;
- ``reconciliation`` and ``rollups``: derived from the allocations, not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal

from costcouncil.lake.manifest import Slice
from costcouncil.workspace.core import Workspace

USAGE_KINDS = ("jobs", "llm")
#: What a usage slice ingested with ``--usage KIND`` (no source adapter) shows as its source.
OWN_SCHEMA = "--usage"


@dataclass(frozen=True)
class PeriodLine:
    """One billing period of one provider."""

    period: str
    provider: str
    accounts: int
    rows: int
    billed: dict[str, Decimal]
    as_of: str


@dataclass(frozen=True)
class UsageLine:
    """The usage of one kind (``jobs``, ``llm``) from one source."""

    kind: str
    source: str
    files: int
    rows: int
    start: str
    end: str
    last_ingested: str


@dataclass(frozen=True)
class AllocationLine:
    """One billing period's allocation: the run that wrote it, when, and its rows."""

    period: str
    run: str
    at: str
    rows: int


@dataclass(frozen=True)
class Status:
    """The lake at a glance."""

    lines: list[PeriodLine]
    files: int
    rejected_rows: int
    superseded_files: int
    usage: list[UsageLine]
    allocations: list[AllocationLine]

    def to_dict(self) -> dict[str, object]:
        return {
            "periods": [_period_dict(ln) for ln in self.lines],
            "files": self.files,
            "rejected_rows": self.rejected_rows,
            "superseded_files": self.superseded_files,
            "usage": [asdict(u) for u in self.usage],
            "allocations": [asdict(a) for a in self.allocations],
        }


def _period_dict(ln: PeriodLine) -> dict[str, object]:
    return {
        "period": ln.period,
        "provider": ln.provider,
        "accounts": ln.accounts,
        "rows": ln.rows,
        "billed": {k: str(v) for k, v in ln.billed.items()},
        "as_of": ln.as_of,
    }


def status(workspace: Workspace) -> Status:
    manifest = workspace.lake.read()
    slices = list(manifest.slices.values())
    files = manifest.files.values()
    superseded = sum(1 for f in files if f.superseded and set(f.superseded) == set(f.slices))
    return Status(
        _cost_lines(s for s in slices if s.dataset == "costs"),
        len(manifest.files),
        sum(f.rejected for f in files),
        superseded,
        _usage_lines(s for s in slices if s.dataset in USAGE_KINDS),
        _allocation_lines(s for s in slices if s.dataset == "allocations"),
    )


def _cost_lines(slices: Iterable[Slice]) -> list[PeriodLine]:
    groups: dict[tuple[str, str], list[Slice]] = {}
    for s in slices:
        groups.setdefault((s.period, s.provider), []).append(s)
    return [_line(period, provider, group) for (period, provider), group in sorted(groups.items())]


def _line(period: str, provider: str, slices: list[Slice]) -> PeriodLine:
    billed: dict[str, Decimal] = {}
    for s in slices:
        for currency, total in s.totals.items():
            billed[currency] = billed.get(currency, Decimal(0)) + Decimal(total["billed"])
    accounts = len({s.billing_account for s in slices})
    return PeriodLine(
        period,
        provider,
        accounts,
        sum(s.rows for s in slices),
        billed,
        max(s.as_of for s in slices),
    )


def _usage_lines(slices: Iterable[Slice]) -> list[UsageLine]:
    groups: dict[tuple[str, str], list[Slice]] = {}
    for s in slices:
        source = OWN_SCHEMA if s.provider == s.dataset else s.provider
        groups.setdefault((s.dataset, source), []).append(s)
    return [_usage(kind, source, group) for (kind, source), group in sorted(groups.items())]


def _usage(kind: str, source: str, slices: list[Slice]) -> UsageLine:
    starts = [_utc(s.charge_start) for s in slices if s.charge_start]
    ends = [_utc(s.charge_end) for s in slices if s.charge_end]
    return UsageLine(
        kind,
        source,
        len(slices),
        sum(s.rows for s in slices),
        min(starts, default=""),
        max(ends, default=""),
        max(s.as_of for s in slices),
    )


def _utc(value: str) -> str:
    """A stored usage time (DuckDB's ``2026-09-01 00:00:00+00`` or ISO 8601) as ISO 8601 UTC."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _allocation_lines(slices: Iterable[Slice]) -> list[AllocationLine]:
    return [
        AllocationLine(s.period, s.export[0] if s.export else "", s.as_of, s.rows)
        for s in sorted(slices, key=lambda s: s.period)
    ]
