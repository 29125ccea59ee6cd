"""A budget's amount for a period: fixed, a plan per month pro rata, or auto from history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from costcouncil.budgets import Amount, Budget, Window, amount_for, windows_between

D = Decimal


def w(start: str, end: str) -> Window:
    return Window(date.fromisoformat(start), date.fromisoformat(end))


def planned(plan: dict[str, Decimal], period: str = "monthly", *windows: Window) -> Budget:
    return Budget("p", "org", Amount("plan", plan=plan), period=period, windows=windows)


def auto(months: int = 3, factor: str = "1") -> Budget:
    return Budget("a", "org", Amount("auto", months=months, factor=D(factor)))


def test_fixed_is_its_value_in_every_window() -> None:
    b = Budget("f", "org", Amount("fixed", D("5000.50")))
    assert amount_for(b, w("2026-01-01", "2026-02-01"), {}) == D("5000.50")


def test_plan_for_a_month_a_quarter_and_a_month_without_a_plan() -> None:
    plan = {"2026-01": D(4000), "2026-02": D(3000), "2026-04": D(1000)}
    assert amount_for(planned(plan), w("2026-02-01", "2026-03-01"), {}) == D(3000)
    assert amount_for(planned(plan), w("2026-03-01", "2026-04-01"), {}) is None
    q1 = amount_for(planned(plan, "quarterly"), w("2026-01-01", "2026-04-01"), {})
    assert q1 == D(7000)  # March has no plan: it counts 0


def test_plan_is_pro_rata_for_a_custom_window_covering_months_in_part() -> None:
    plan = {"2026-01": D(3100), "2026-02": D(2800)}
    ten_days = w("2026-01-10", "2026-01-20")
    b = planned(plan, "custom", ten_days)
    assert amount_for(b, ten_days, {}) == D(1000)  # 10/31 of 3100
    across = w("2026-01-22", "2026-02-08")  # 10 days of January, 7 of February
    assert amount_for(planned(plan, "custom", across), across, {}) == D(1700)
    thirds = w("2026-01-01", "2026-01-11")  # 10/31 of 1000 = 322.580...
    assert amount_for(planned({"2026-01": D(1000)}, "custom", thirds), thirds, {}) == D("322.58")


cents = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)


@given(st.integers(2000, 2100), st.integers(1, 12), st.lists(cents, min_size=1, max_size=30))
def test_monthly_plan_amounts_sum_to_the_plans_total(
    year: int, month: int, values: list[Decimal]
) -> None:
    index = year * 12 + month - 1
    keys = [f"{(index + i) // 12:04d}-{(index + i) % 12 + 1:02d}" for i in range(len(values))]
    plan = dict(zip(keys, values, strict=True))
    for period in ("monthly", "quarterly", "annual"):
        b = planned(plan, period)
        windows = windows_between(b, date(year, month, 1), date(year + 4, 1, 1))
        total = sum((amount_for(b, x, {}) or D(0) for x in windows), D(0))
        assert total == sum(values, D(0)), period


def test_auto_is_the_mean_of_the_last_n_windows_before_times_the_factor() -> None:
    history = {
        w("2025-10-01", "2025-11-01"): D(900),
        w("2025-11-01", "2025-12-01"): D(1000),
        w("2025-12-01", "2026-01-01"): D(2000),
        w("2026-01-01", "2026-02-01"): D(3000),
        w("2026-02-01", "2026-03-01"): D(99999),  # the current period: not used
    }
    february = w("2026-02-01", "2026-03-01")
    assert amount_for(auto(3), february, history) == D(2000)
    assert amount_for(auto(2, "1.1"), february, history) == D("2750.00")
    assert amount_for(auto(12), february, history) == D("1725.00")  # fewer than N: those there are
    assert amount_for(auto(3, "1.0001"), february, history) == D("2000.20")  # rounded to cents


def test_auto_without_history_before_the_window_has_no_amount() -> None:
    january = w("2026-01-01", "2026-02-01")
    assert amount_for(auto(), january, {}) is None
    assert amount_for(auto(), january, {w("2026-01-01", "2026-02-01"): D(10)}) is None
