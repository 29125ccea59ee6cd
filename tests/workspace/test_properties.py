"""Hypothesis: ingest is idempotent, order-free, and a restatement replaces exactly one period."""

from __future__ import annotations

import itertools
import os
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import ingest
from tests.conftest import lake_rows
from tests.factories import Charge, restated, write_focus

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

money = st.decimals(
    min_value=Decimal("-50"),
    max_value=Decimal("5000"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
).map(str)
charge = st.builds(
    Charge,
    cost=money,
    account=st.sampled_from(["111", "222"]),
    period=st.sampled_from(["2026-09", "2026-10", "2026-11"]),
    day=st.integers(1, 28),
)
exports = st.lists(st.lists(charge, min_size=1, max_size=6), min_size=1, max_size=4)


def _lake(files: list[Path]) -> list[tuple[object, ...]]:
    with tempfile.TemporaryDirectory() as d:
        ws = Workspace.init(Path(d) / "ws")
        for f in files:
            ingest(ws, [f])
        return lake_rows(
            ws,
            "SELECT BillingAccountId, strftime(BillingPeriodStart, '%Y-%m') p,"
            " count(*), sum(BilledCost) FROM costs GROUP BY ALL ORDER BY 1, 2",
        )


def _write(folder: Path, batches: list[list[Charge]]) -> list[Path]:
    paths = []
    for i, batch in enumerate(batches):
        path = write_focus(folder / f"export-{i}.csv", batch)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
        paths.append(path)
    return paths


@SETTINGS
@given(batches=exports, data=st.data())
def test_the_order_of_files_does_not_change_the_lake(
    batches: list[list[Charge]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as d:
        files = _write(Path(d), batches)
        order = data.draw(st.permutations(files))
        assert _lake(list(order)) == _lake(files)


@SETTINGS
@given(batches=exports)
def test_ingest_is_idempotent(batches: list[list[Charge]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        files = _write(Path(d), batches)
        assert _lake(files + files) == _lake(files)


@SETTINGS
@given(batch=st.lists(charge, min_size=2, max_size=10), factor=st.sampled_from(["0.5", "2", "-1"]))
def test_a_restatement_replaces_exactly_one_period(batch: list[Charge], factor: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        first = _write(Path(d), [batch])
        target = batch[0]
        slice_rows = [c for c in batch if (c.account, c.period) == (target.account, target.period)]
        newer = write_focus(Path(d) / "restated.csv", restated(slice_rows, factor))
        os.utime(newer, (1_900_000_000, 1_900_000_000))
        before = {(r[0], r[1]): r for r in _lake(first)}
        after = {(r[0], r[1]): r for r in _lake([*first, newer])}
        key = (target.account, target.period)
        assert {k: v for k, v in after.items() if k != key} == {
            k: v for k, v in before.items() if k != key
        }
        expected = sum((Decimal(c.cost) for c in slice_rows), Decimal(0)) * Decimal(factor)
        assert after[key][2:] == (len(slice_rows), expected)
        assert list(itertools.chain(before)) and key in before


def test_an_export_delivered_again_later_is_the_newest(tmp_path: Path) -> None:
    """The same bytes delivered again after another export of the same periods are the newest
    export (found by the property above): whatever the order of ingest, the lake holds them."""
    first = [Charge(cost="0.4174", account="111", period="2026-11", day=11)]
    other = [Charge(cost="51.0510", account="111", period="2026-11", day=16)]
    files = _write(tmp_path, [first, other, first])  # export-2 repeats export-0, two seconds on
    expected = [("111", "2026-11", 1, Decimal("0.4174"))]
    for order in itertools.permutations(files):
        assert _lake(list(order)) == expected, [f.name for f in order]
    assert _lake(files[:2]) == [("111", "2026-11", 1, Decimal("51.0510"))]
