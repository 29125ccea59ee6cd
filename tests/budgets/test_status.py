"""Where a budget stands: thresholds crossed on actual and forecast, states, history rows."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from costcouncil.budgets import (
    Amount,
    Budget,
    PeriodRow,
    Projection,
    Threshold,
    Window,
    history,
    status,
)

D = Decimal
MARCH = Window(date(2026, 3, 1), date(2026, 4, 1))
BUDGET = Budget("research", "team=research", Amount("fixed", D(1000)))


def projection(total: str) -> Projection:
    t = D(total)
    return Projection(t, t - 100, t + 100, t - 200, t + 200, date(2026, 3, 23), date(2026, 3, 20))


def crossed(spent: str, total: str | None = None) -> list[str]:
    p = None if total is None else projection(total)
    s = status(BUDGET, MARCH, D(1000), D(spent), p)
    return [f"{c.threshold.percent}% {c.threshold.basis} at {c.at}" for c in s.crossed]


def test_actual_thresholds_are_crossed_from_their_share_of_the_amount() -> None:
    assert crossed("499.99") == []
    assert crossed("500") == ["50% actual at 500"]
    assert crossed("800") == ["50% actual at 500", "80% actual at 800"]


def test_the_forecast_threshold_uses_the_projections_total() -> None:
    assert crossed("100", total="999.99") == []
    assert crossed("100", total="1000") == ["100% forecast at 1000"]
    assert crossed("1000") == ["50% actual at 500", "80% actual at 800", "100% actual at 1000"]


@pytest.mark.parametrize(
    "spent, total, state",
    [("100", None, "ok"), ("100", "900", "ok"), ("600", None, "warning"),
     ("100", "1200", "warning"), ("1000", None, "over"), ("1500", "1400", "over")],
)  # fmt: skip
def test_states(spent: str, total: str | None, state: str) -> None:
    p = None if total is None else projection(total)
    assert status(BUDGET, MARCH, D(1000), D(spent), p).state == state


def test_figures_remaining_and_used_percent() -> None:
    s = status(BUDGET, MARCH, D(1000), D("1234.56"), None)
    assert (s.remaining, s.used_pct) == (D("-234.56"), D("123.5"))
    s = status(BUDGET, MARCH, D(3), D(1), None)
    assert (s.remaining, s.used_pct) == (D(2), D("33.3"))


def test_a_threshold_above_100_percent_and_none_at_all() -> None:
    high = Budget("b", "org", BUDGET.amount, thresholds=(Threshold(D(120), "actual"),))
    assert [c.at for c in status(high, MARCH, D(1000), D(1200), None).crossed] == [D(1200)]
    assert status(high, MARCH, D(1000), D(1199), None).crossed == ()
    silent = Budget("b", "org", BUDGET.amount, thresholds=())
    assert status(silent, MARCH, D(1000), D(900), None).state == "ok"


def test_no_amount_and_a_zero_amount() -> None:
    s = status(BUDGET, MARCH, None, D(50), None)
    assert (s.state, s.remaining, s.used_pct, s.crossed) == ("no_amount", None, None, ())
    zero = status(BUDGET, MARCH, D(0), D(0), None)
    assert (zero.state, zero.crossed, zero.used_pct) == ("ok", (), None)
    assert status(BUDGET, MARCH, D(0), D("0.01"), None).state == "over"


def test_as_dict_is_json_ready() -> None:
    s = status(BUDGET, MARCH, D(1000), D(850), projection("1100"))
    data = json.loads(json.dumps(s.as_dict()))
    assert data["window"] == {"start": "2026-03-01", "end": "2026-04-01"}
    assert (data["amount"], data["spent"], data["used_pct"], data["state"]) == (
        "1000",
        "850",
        "85.0",
        "warning",
    )
    assert data["projection"]["crosses_on"] == "2026-03-23"
    assert data["projection"]["latest"] is None
    assert data["crossed"][-1] == {"percent": "100", "basis": "forecast", "at": "1000"}


def m(year: int, month: int) -> Window:
    return Window(date(year, month, 1), date(year + month // 12, month % 12 + 1, 1))


def test_history_rows_oldest_first_with_a_gap_filled() -> None:
    actuals = {m(2026, 1): D(900), m(2025, 11): D(1200)}
    amounts: dict[Window, Decimal | None] = {m(2025, 11): D(1000), m(2026, 1): D(1000)}
    rows = history(BUDGET, actuals, amounts=amounts)
    assert rows == [
        PeriodRow(m(2025, 11), D(1000), D(1200), D("120.0")),
        PeriodRow(m(2025, 12), None, D(0), None),
        PeriodRow(m(2026, 1), D(1000), D(900), D("90.0")),
    ]
    assert history(BUDGET, {}, amounts={}) == []


def test_history_of_a_period_with_an_amount_and_no_spend_yet() -> None:
    rows = history(BUDGET, {}, amounts={m(2026, 2): D(500)})
    assert rows == [PeriodRow(m(2026, 2), D(500), D(0), D("0.0"))]
