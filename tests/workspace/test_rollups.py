"""Rollups: written with every allocation, rebuilt by serve for a lake allocated without them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from costcouncil.lake import manifest as mf
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.figures.filters import Dimensions, parse_filter, total
from costcouncil.workspace.figures.rollup_store import RollupStore
from tests.web.org import build_org


def _everything(store: RollupStore) -> Decimal:
    dims = Dimensions.of(store.workspace.config.tags.owner_keys)
    params = {"from": "2026-01-01", "to": "2027-01-01"}
    return total(store, parse_filter(params, dims, "USD", date(2026, 10, 31)))


def test_refresh_rebuilds_what_an_older_lake_lacks(tmp_path: Path) -> None:
    ws = build_org(tmp_path)
    manifest = ws.lake.read()
    assert rollups.stale_periods(manifest) == []
    before = _everything(RollupStore(ws))
    assert before == Decimal("423.00")  # the organisation's two months, every dollar
    for key in [k for k, s in manifest.slices.items() if s.dataset == rollups.DATASET]:
        del manifest.slices[key]
    mf.save(manifest, ws.lake.manifest_path)
    assert rollups.stale_periods(ws.lake.read()) == ["2026-09", "2026-10"]
    assert rollups.refresh(ws) == ["2026-09", "2026-10"]
    assert rollups.refresh(ws) == []
    assert _everything(RollupStore(ws)) == before
