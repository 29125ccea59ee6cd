"""What the lake holds: billing periods, providers, accounts, rows and cost, from the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from costcouncil.lake.manifest import Slice
from costcouncil.workspace.core import Workspace


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
class Status:
    """The lake at a glance."""

    lines: list[PeriodLine]
    files: int
    rejected_rows: int
    superseded_files: int

    def to_dict(self) -> dict[str, object]:
        return {
            "periods": [
                {
                    "period": ln.period,
                    "provider": ln.provider,
                    "accounts": ln.accounts,
                    "rows": ln.rows,
                    "billed": {k: str(v) for k, v in ln.billed.items()},
                    "as_of": ln.as_of,
                }
                for ln in self.lines
            ],
            "files": self.files,
            "rejected_rows": self.rejected_rows,
            "superseded_files": self.superseded_files,
        }


def status(workspace: Workspace) -> Status:
    manifest = workspace.lake.read()
    groups: dict[tuple[str, str], list[Slice]] = {}
    for s in manifest.slices.values():
        groups.setdefault((s.period, s.provider), []).append(s)
    lines = [
        _line(period, provider, slices) for (period, provider), slices in sorted(groups.items())
    ]
    files = manifest.files.values()
    superseded = sum(1 for f in files if f.superseded and set(f.superseded) == set(f.slices))
    return Status(lines, len(manifest.files), sum(f.rejected for f in files), superseded)


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
