"""Budget.validate and scope_keys: every problem named, each with its field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costcouncil.budgets import DEFAULT_THRESHOLDS, Amount, Budget, Threshold, Window, scope_keys
from costcouncil.budgets.model import budget_problems
from costcouncil.errors import ConfigError

D = Decimal


def fixed(value: str = "100") -> Amount:
    return Amount("fixed", D(value))


def paths(budget: Budget) -> list[tuple[str | int, ...]]:
    return [issue.path for issue in budget_problems(budget)]


def test_a_valid_budget_passes() -> None:
    Budget("research", "team=research", fixed()).validate()
    windows = (
        Window(date(2026, 1, 5), date(2026, 2, 1)),
        Window(date(2026, 2, 1), date(2026, 3, 1)),
    )
    Budget("launch", "org", fixed(), period="custom", windows=windows).validate()


def test_default_thresholds_are_50_80_100_actual_and_100_forecast() -> None:
    shown = [(int(t.percent), t.basis) for t in DEFAULT_THRESHOLDS]
    assert shown == [(50, "actual"), (80, "actual"), (100, "actual"), (100, "forecast")]


@pytest.mark.parametrize(
    "budget, path, words",
    [
        (Budget(" ", "org", fixed()), ("name",), "must not be empty"),
        (Budget("b", "org", fixed("-5")), ("amount",), "above 0"),
        (Budget("b", "org", fixed("0")), ("amount",), "above 0"),
        (Budget("b", "org", Amount("fixed")), ("amount",), "above 0"),
        (Budget("b", "org", Amount("plan", plan={"2026-01": D(-1)})), ("amount", "plan", "2026-01"), "0 or above"),
        (Budget("b", "org", Amount("plan", plan={"2026-1": D(1)})), ("amount", "plan", "2026-1"), "YYYY-MM"),
        (Budget("b", "org", Amount("plan", plan={"2026-13": D(1)})), ("amount", "plan", "2026-13"), "YYYY-MM"),
        (Budget("b", "org", Amount("plan")), ("amount", "plan"), "names no month"),
        (Budget("b", "org", Amount("auto", months=0)), ("amount", "auto", "months"), "1 or more"),
        (Budget("b", "org", Amount("auto", factor=D(0))), ("amount", "auto", "factor"), "above 0"),
        (Budget("b", "org", Amount("fixd", D(1))), ("amount",), "did you mean 'fixed'"),
        (Budget("b", "org", fixed(), period="montly"), ("period",), "did you mean 'monthly'"),
        (Budget("b", "org", fixed(), metric="ListPrice"), ("metric",), "one of EffectiveCost"),
        (Budget("b", "org", fixed(), currency="usd"), ("currency",), "ISO 4217"),
        (Budget("b", "team", fixed()), ("scope",), "KEY=VALUE"),
        (Budget("b", "org", fixed(), thresholds=(Threshold(D(0), "actual"),)), ("thresholds", 0), "above 0"),
        (Budget("b", "org", fixed(), thresholds=(Threshold(D(80), "forcast"),)), ("thresholds", 0), "did you mean 'forecast'"),
        (Budget("b", "org", fixed(), thresholds=(Threshold(D(80), "actual"), Threshold(D("80.0"), "actual"))), ("thresholds", 1), "twice"),
        (Budget("b", "org", fixed(), period="custom"), ("windows",), "at least one window"),
        (Budget("b", "org", fixed(), windows=(Window(date(2026, 1, 1), date(2026, 2, 1)),)), ("windows",), "only a custom period"),
    ],
)  # fmt: skip
def test_each_mistake_is_named_with_its_field(
    budget: Budget, path: tuple[str | int, ...], words: str
) -> None:
    issues = budget_problems(budget)
    assert [i.path for i in issues] == [path]
    assert words in str(issues[0])
    with pytest.raises(ConfigError, match=repr(budget.name)):
        budget.validate()


def test_every_problem_is_raised_at_once() -> None:
    budget = Budget("", "org", fixed("-1"), period="weekly", metric="Cost", currency="XXXX")
    with pytest.raises(ConfigError) as caught:
        budget.validate()
    message = str(caught.value)
    assert "5 problem(s)" in message
    for field in ("name:", "amount:", "period:", "metric:", "currency:"):
        assert field in message


def custom(*spans: tuple[str, str]) -> Budget:
    windows = tuple(Window(date.fromisoformat(a), date.fromisoformat(b)) for a, b in spans)
    return Budget("c", "org", fixed(), period="custom", windows=windows)


def test_overlapping_windows_name_the_later_one_and_the_one_it_overlaps() -> None:
    budget = custom(("2026-01-05", "2026-02-01"), ("2026-01-31", "2026-03-01"))
    [issue] = budget_problems(budget)
    assert issue.path == ("windows", 1)
    assert "overlaps 2026-01-05..2026-02-01" in str(issue)


def test_adjacent_windows_do_not_overlap_but_empty_and_unsorted_ones_are_errors() -> None:
    assert paths(custom(("2026-01-01", "2026-02-01"), ("2026-02-01", "2026-03-01"))) == []
    assert paths(custom(("2026-01-01", "2026-01-01"))) == [("windows", 0)]
    unsorted = budget_problems(custom(("2026-03-01", "2026-04-01"), ("2026-01-01", "2026-02-01")))
    assert [(i.path, "starts before" in i.message) for i in unsorted] == [(("windows", 1), True)]


def test_window_days_contains_and_order() -> None:
    window = Window(date(2024, 2, 1), date(2024, 3, 1))
    assert window.days == 29  # a leap February
    assert window.contains(date(2024, 2, 29)) and not window.contains(date(2024, 3, 1))
    assert sorted([window, Window(date(2024, 1, 1), date(2024, 2, 1))])[0].start == date(2024, 1, 1)


def test_scope_keys() -> None:
    assert scope_keys("org") == []
    assert scope_keys("team=a,model=b") == [("team", "a"), ("model", "b")]
    assert scope_keys(" team = a , tag:cost-center=42 ") == [
        ("team", "a"),
        ("tag:cost-center", "42"),
    ]


@pytest.mark.parametrize(
    "scope", ["", "team", "team=", "=a", "team=a,", "team=a,team=b", "org,team=a"]
)
def test_malformed_scopes_are_config_errors(scope: str) -> None:
    with pytest.raises(ConfigError, match="scope"):
        scope_keys(scope)
